// The legacy SEV API's certificates (SEV-ABI-FACTS.md 9.1):
//  * the fixed-size SEV certificate (0x824 bytes) of the platform chain PDH <- PEK <- (OCA, CEK),
//    and of a guest owner's Diffie-Hellman key;
//  * AMD's own "CA cert v1" format for the ARK and ASK (0x640 bytes with RSA-4096 keys).
// The chain is PDH <- PEK <- {OCA (self-signed), CEK <- ASK <- ARK}.
//
// All integers are little-endian, as are the keys and signatures in their fixed-size fields.
// Sources: AMD-ASPFW fw/psp_bl_uapps/sev_uapp/src/ sev_cert.{h,c} (layout, sev_cert_validate,
// sev_cert_set_sig), amd_cert.{h,c} (CA cert layout, amd_cert_validate), sev_plat.c (which key
// signs which slot); virtee/sev src/certs/sev/{sev,ca}/**; AMDESE/sev-tool src/sevcert.cpp.
// The code is sevemu's own.
//
// Decoding is lossless (any 0x824 bytes decode, so the firmware can apply its own checks in its
// own order); Parse additionally refuses every malformed field with a message naming it. Both
// are pure functions (fuzzable). Thread-safe: no shared state.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::emulator {

struct AmdRoot;  // amd_root.h

constexpr std::size_t kSevCertSize = 0x824;
constexpr std::size_t kSevCertBodySize = 0x414;  // the signed bytes: version .. public key
constexpr std::size_t kSevCertKeySize = 0x404;
constexpr std::size_t kSevCertSigSize = 0x200;
constexpr std::uint32_t kSevCertVersion = 1;
using SevCertBytes = std::array<std::uint8_t, kSevCertSize>;

// Public key usage (AMD-ASPFW sev_cert.h enum sev_cert_usage).
namespace sev_usage {
constexpr std::uint32_t kArk = 0x0000;
constexpr std::uint32_t kAsk = 0x0013;
constexpr std::uint32_t kInvalid = 0x1000;  // also: an empty signature slot
constexpr std::uint32_t kOca = 0x1001;
constexpr std::uint32_t kPek = 0x1002;
constexpr std::uint32_t kPdh = 0x1003;
constexpr std::uint32_t kCek = 0x1004;
}  // namespace sev_usage

// Public key / signature algorithm (enum sev_cert_algo).
namespace sev_algo {
constexpr std::uint32_t kInvalid = 0x000;
constexpr std::uint32_t kRsaSha256 = 0x001;
constexpr std::uint32_t kEcdsaSha256 = 0x002;
constexpr std::uint32_t kEcdhSha256 = 0x003;
constexpr std::uint32_t kRsaSha384 = 0x101;
constexpr std::uint32_t kEcdsaSha384 = 0x102;
constexpr std::uint32_t kEcdhSha384 = 0x103;
}  // namespace sev_algo

// Curve ids in an ECDSA/ECDH key (ecc.h ECC_CURVE_NAME_*).
constexpr std::uint32_t kSevCurveP256 = 1;
constexpr std::uint32_t kSevCurveP384 = 2;

const char* SevUsageName(std::uint32_t usage);  // "PEK", ...; "unknown" otherwise

// A public key with its usage and algorithm (AMD sev_cert_pubkey_t): 8 bytes + the 0x404-byte
// key field. ECDSA/ECDH: u32 curve @0, qx[72] @4, qy[72] @0x4C; RSA: u32 modulus_bits @0,
// pub_exp[512] @4, modulus[512] @0x204; the rest zero.
struct SevPubKey {
  std::uint32_t usage = sev_usage::kInvalid;
  std::uint32_t algo = sev_algo::kInvalid;
  std::array<std::uint8_t, kSevCertKeySize> key{};

  // A known usage, a key algorithm and a well-formed key of that algorithm: curve P-256 or
  // P-384 with coordinates that fit (a P-384 point on the curve), or RSA with a 2048- or
  // 4096-bit modulus; unused bytes zero. kInvalidArgument / kInvalidKey naming the field.
  Status Validate() const;
  // The key for the crypto layer. P-256 keys parse but have no crypto key (kRefused).
  Result<crypto::PublicKey> ToCrypto() const;
  // Encodes a P-384 or RSA key. kInvalidKey for other keys.
  static Result<SevPubKey> FromCrypto(const crypto::PublicKey& key, std::uint32_t usage,
                                      std::uint32_t algo);
};

// One signature slot: usage and algorithm of the signing key, then 0x200 bytes: ECDSA r[72],
// s[72]; RSA s[modulus bytes]; both little-endian, zero padded. Empty: usage INVALID, algo 0.
struct SevCertSig {
  std::uint32_t usage = sev_usage::kInvalid;
  std::uint32_t algo = sev_algo::kInvalid;
  std::array<std::uint8_t, kSevCertSigSize> sig{};

  bool empty() const { return usage == sev_usage::kInvalid && algo == sev_algo::kInvalid; }
};

struct SevCert {
  std::uint32_t version = kSevCertVersion;
  std::uint8_t api_major = 0;
  std::uint8_t api_minor = 0;
  std::array<std::uint8_t, 2> reserved{};
  SevPubKey pubkey;
  std::array<SevCertSig, 2> sigs;

  // Any 0x824 bytes; kInvalidArgument for another size.
  static Result<SevCert> Decode(ByteSpan bytes);
  // Decode + Validate.
  static Result<SevCert> Parse(ByteSpan bytes);
  // Version 1, reserved zero, the public key valid (SevPubKey::Validate), each slot empty or
  // with a known usage and a signature algorithm (not ECDH), and an empty slot all zero.
  Status Validate() const;
  SevCertBytes Encode() const;
  // The 0x414 bytes every signature covers.
  Bytes Body() const;

  // A certificate for `key` with both slots empty (AMD sev_cert_create without a signer).
  static Result<SevCert> Create(const crypto::PublicKey& key, std::uint32_t usage,
                                std::uint32_t algo, std::uint8_t api_major, std::uint8_t api_minor);
  // Signs Body() with `key` (whose certificate says `signer_usage`, `signer_algo`) into the
  // first empty slot, as AMD's sev_cert_sign: ECDSA-SHA256/384 with a P-384 key, or RSA-PSS
  // SHA-256/384 (salt = digest length) with an RSA key. kInvalidArgument if both slots are
  // taken or the algorithm does not sign; kInvalidKey if the key does not fit the algorithm.
  Status Sign(const crypto::PrivateKey& key, std::uint32_t signer_usage, std::uint32_t signer_algo);
  // Puts `sig` in the first empty slot (sev_cert_set_sig); kInvalidArgument if none is empty.
  Status AddSignature(const SevCertSig& sig);
};

// AMD's check of `cert` against the key that should have signed it (AMD-ASPFW sev_cert.c
// sev_cert_validate), in its order:
//  1. the signer's key is valid;                                          else kInvalidArgument
//  2. each slot: usage and algorithm both empty or both set;              else kAuthFailed
//     a slot naming the signer's usage and algorithm must verify          else kAuthFailed
//     (ECDH as signer: kRefused); no such slot at all:                         kInvalidArgument
//  3. the body: version 1 and a valid key;                                else kInvalidArgument
//  4. the signer may sign this usage: PDH by PEK, PEK by OCA or CEK, OCA by itself, CEK by ASK
//                                                                         else kInvalidArgument
// The firmware answers kInvalidArgument with INVALID_CERTIFICATE, kAuthFailed with
// BAD_SIGNATURE, kRefused with UNSUPPORTED (SevCertStatusCode in the firmware).
Status ValidateSevCert(const SevCert& cert, const SevPubKey& signer);

// ---- AMD "CA cert v1": the ARK and the ASK ----

constexpr std::size_t kAmdCertFixedSize = 0x40;
constexpr std::uint32_t kAmdCertVersion = 1;
constexpr std::size_t kAmdCertIdSize = 16;

// u32 version @0, key_id[16] @4, certifying_id[16] @0x14, u32 key_usage @0x24, reserved[16]
// @0x28, u32 pub_exp_bits @0x38, u32 modulus_bits @0x3C, pub_exp (bits/8 LE), modulus (bits/8
// LE), signature (modulus bits/8, LE). RSA-PSS over everything before the signature: SHA-384
// for 4096-bit keys (AMD-ASPFW amd_cert_validate_sig), SHA-256 for 2048-bit (Naples, virtee).
struct AmdCaCert {
  std::uint32_t version = kAmdCertVersion;
  std::array<std::uint8_t, kAmdCertIdSize> key_id{};
  std::array<std::uint8_t, kAmdCertIdSize> certifying_id{};
  std::uint32_t key_usage = sev_usage::kArk;
  std::array<std::uint8_t, 16> reserved{};
  std::uint32_t pub_exp_bits = 0;
  std::uint32_t modulus_bits = 0;
  Bytes pub_exp;  // little-endian, pub_exp_bits / 8 bytes
  Bytes modulus;  // little-endian, modulus_bits / 8 bytes
  Bytes signature;

  // Exactly one certificate: version 1, both sizes 2048 or 4096, usage ARK or ASK, reserved
  // zero, the length the sizes give. kInvalidArgument naming the field.
  static Result<AmdCaCert> Parse(ByteSpan bytes);
  Bytes Encode() const;
  Bytes SignedBytes() const;  // everything before the signature
  Result<crypto::PublicKey> PublicKey() const;
  // The key as a SEV certificate signer (amd_cert_export_pubkey: RSA-SHA384, usage = key_usage).
  Result<SevPubKey> AsSigner() const;

  // An unsigned certificate for an RSA `key` (exponent field as wide as the modulus, as AMD's).
  static Result<AmdCaCert> Create(const crypto::PublicKey& key, std::uint32_t usage,
                                  const std::array<std::uint8_t, kAmdCertIdSize>& key_id,
                                  const std::array<std::uint8_t, kAmdCertIdSize>& certifying_id);
  Status Sign(const crypto::PrivateKey& issuer);
  // AMD's amd_cert_validate: the signature by `issuer` (kAuthFailed), then version and sizes,
  // then usage == `expected_usage` and certifying_id == issuer's key_id (kInvalidArgument).
  Status Validate(const AmdCaCert& issuer, std::uint32_t expected_usage) const;
};

// sevemu's key ids: the first 16 bytes of SHA-256 over the little-endian modulus (real AMD key
// ids are assigned by AMD; only their equality along the chain matters to verifiers).
std::array<std::uint8_t, kAmdCertIdSize> AmdKeyId(const crypto::PublicKey& key);

// The AMD-format ARK (self-signed) and ASK (signed by the ARK) of a simulated root: the same
// RSA-4096 keys as its X.509 ARK and ASK, as on real parts.
Result<AmdCaCert> MakeAmdArk(const AmdRoot& root);
Result<AmdCaCert> MakeAmdAsk(const AmdRoot& root);

// The CEK certificate as AMD's KDS serves it (kdsintf.amd.com/cek/id/{GET_ID}): usage CEK,
// ECDSA-SHA256, a P-384 key, sig1 by the ASK (usage 0x13, RSA-SHA384). The firmware itself
// exports the CEK unsigned (PDH_CERT_EXPORT); its body is the same.
Result<SevCert> MakeSignedCekCert(const crypto::PrivateKey& cek, const AmdRoot& root,
                                  std::uint8_t api_major, std::uint8_t api_minor);

// The whole legacy chain: PDH by PEK, PEK by OCA and by CEK, OCA self-signed, CEK by ASK, ASK by
// ARK, ARK by itself (ValidateSevCert / AmdCaCert::Validate). The first failure, naming it.
Status VerifySevChain(const SevCert& pdh, const SevCert& pek, const SevCert& oca,
                      const SevCert& cek, const AmdCaCert& ask, const AmdCaCert& ark);

}  // namespace sevemu::emulator
