// Asymmetric keys: ECDSA/ECDH on P-384 and RSA (RSASSA-PSS with SHA-384), the algorithms of
// the SEV-SNP key hierarchy. Objects are immutable once built and safe to share between threads;
// every factory validates before it constructs, so no half-built key escapes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto {

constexpr std::size_t kP384ScalarSize = 48;
// The firmware stores P-384 integers in 72-byte little-endian fields (SEV-SNP ABI, "ECDSA
// signature" and "ECC public key" formats: 576-bit fields, upper bytes zero).
constexpr std::size_t kFirmwareIntSize = 72;

// An ECDSA P-384 signature as the pair (r, s), each 48 bytes big-endian.
struct EcdsaP384Signature {
  std::array<std::uint8_t, kP384ScalarSize> r{};
  std::array<std::uint8_t, kP384ScalarSize> s{};

  // ASN.1 DER (SEQUENCE { INTEGER r, INTEGER s }), as X.509 and TLS carry it.
  Result<Bytes> ToDer() const;
  static Result<EcdsaP384Signature> FromDer(ByteSpan der);

  // The firmware's layout: r as 72 bytes little-endian at 0, s likewise at 72 (144 bytes).
  std::array<std::uint8_t, 2 * kFirmwareIntSize> ToFirmwareLayout() const;
  // Reads the first 144 bytes; kInvalidArgument if shorter or if a value uses bytes 48..71.
  static Result<EcdsaP384Signature> FromFirmwareLayout(ByteSpan data);
};

enum class KeyKind { kEcP384, kRsa };

class PublicKey {
 public:
  // SubjectPublicKeyInfo in DER or PEM. Only P-384 EC keys and RSA keys are accepted.
  static Result<PublicKey> FromDer(ByteSpan spki);
  static Result<PublicKey> FromPem(std::string_view pem);
  // An uncompressed P-384 point from big-endian coordinates; kInvalidKey if not on the curve.
  static Result<PublicKey> FromEcP384Point(ByteSpan x, ByteSpan y);

  KeyKind kind() const;
  int bits() const;
  Result<Bytes> ToDer() const;
  Result<std::string> ToPem() const;

  struct EcPoint {
    std::array<std::uint8_t, kP384ScalarSize> x{};  // big-endian
    std::array<std::uint8_t, kP384ScalarSize> y{};
  };
  // REQUIRES kind() == kEcP384, else kInvalidKey.
  Result<EcPoint> EcP384Point() const;
  // Big-endian modulus and public exponent. REQUIRES kind() == kRsa, else kInvalidKey.
  Result<Bytes> RsaModulus() const;
  Result<Bytes> RsaPublicExponent() const;

  // SHA-384 then ECDSA. kAuthFailed if the signature does not verify.
  Status VerifyEcdsaSha384(ByteSpan message, const EcdsaP384Signature& sig) const;
  // RSASSA-PSS, SHA-384, MGF1-SHA-384, salt length 48. kAuthFailed if it does not verify.
  Status VerifyRsaPssSha384(ByteSpan message, ByteSpan signature) const;

  bool operator==(const PublicKey& other) const;

  struct Impl;  // holds the EVP_PKEY; defined in crypto/keys.cpp
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

class PrivateKey {
 public:
  static Result<PrivateKey> GenerateEcP384();
  // RSA with public exponent 65537. bits must be 2048, 3072 or 4096.
  static Result<PrivateKey> GenerateRsa(int bits);
  // A deterministic RSA key (e = 65537) from `seed` (at least 32 bytes): each prime is the first
  // probable prime (BN_check_prime) at or above an odd candidate with its top two bits set,
  // drawn from SevKdf(seed, "sevemu-rsa-prime-p"/"-q"); d = e^-1 mod lcm(p-1, q-1). Same seed,
  // same key. For reproducible simulated roots, not for real-world keys.
  static Result<PrivateKey> RsaFromSeed(const SecretBytes& seed, int bits);
  // The P-384 key d = (seed mod (n-1)) + 1, which is uniform when `seed` has at least 64 bits
  // more than n (FIPS 186-4 B.4.1, "key pair generation using extra random bits").
  // kInvalidArgument unless seed is at least 56 bytes.
  static Result<PrivateKey> EcP384FromSeed(const SecretBytes& seed);
  // PKCS#8 or traditional PEM, decoded with OSSL_DECODER. Only P-384 and RSA keys.
  static Result<PrivateKey> FromPem(std::string_view pem);

  KeyKind kind() const;
  int bits() const;
  PublicKey Public() const;
  // Unencrypted PKCS#8 PEM. The result is secret.
  Result<SecretBytes> ToPem() const;

  // SHA-384 then ECDSA with a fresh random nonce. REQUIRES kind() == kEcP384.
  Result<EcdsaP384Signature> SignEcdsaSha384(ByteSpan message) const;
  // RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt. REQUIRES kind() == kRsa.
  Result<Bytes> SignRsaPssSha384(ByteSpan message) const;
  // ECDH on P-384: the 48-byte big-endian x coordinate of d * peer.
  Result<SecretBytes> EcdhP384(const PublicKey& peer) const;

  struct Impl;
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace sevemu::crypto
