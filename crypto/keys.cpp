#include "sevemu/crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>

#include "key_impl.h"
#include "ossl_util.h"
#include "sevemu/crypto/ecdsa_digest.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/rsa_pss.h"

namespace sevemu::crypto {
using internal::OsslError;

namespace {

constexpr char kP384GroupName[] = "secp384r1";

Result<KeyKind> ClassifyKey(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) return KeyKind::kRsa;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) == 1 &&
        std::strcmp(group, kP384GroupName) == 0) {
      return KeyKind::kEcP384;
    }
    return Error(ErrorCode::kInvalidKey, "EC key is not on P-384");
  }
  return Error(ErrorCode::kInvalidKey, "key is neither P-384 nor RSA");
}

Result<PublicKey> WrapPublic(internal::EvpPkeyPtr pkey) {
  SEVEMU_RETURN_IF_ERROR(ClassifyKey(pkey.get()));
  auto impl = std::make_shared<PublicKey::Impl>();
  impl->pkey = std::move(pkey);
  return PublicKey(std::move(impl));
}

Result<PrivateKey> WrapPrivate(internal::EvpPkeyPtr pkey) {
  SEVEMU_RETURN_IF_ERROR(ClassifyKey(pkey.get()));
  auto impl = std::make_shared<PrivateKey::Impl>();
  impl->pkey = std::move(pkey);
  return PrivateKey(std::move(impl));
}

// Big-endian, left-padded to `size`. kInvalidArgument if the number does not fit.
Status BnToFixed(const BIGNUM* bn, std::uint8_t* out, std::size_t size) {
  if (BN_bn2binpad(bn, out, static_cast<int>(size)) != static_cast<int>(size)) {
    return Error(ErrorCode::kInvalidArgument, "integer does not fit its field");
  }
  return Status::Ok();
}

Result<Bytes> GetBnParam(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return OsslError("read key parameter");
  internal::BnPtr bn(raw);
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

// Configures a DigestSign/DigestVerify context for RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48,
// the parameters of every AMD certificate (see docs/certificates.md).

Result<internal::EvpPkeyPtr> DecodeKey(std::string_view pem, const char* structure, int selection) {
  EVP_PKEY* raw = nullptr;
  OSSL_DECODER_CTX* dctx =
      OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", structure, nullptr, selection, nullptr, nullptr);
  if (dctx == nullptr) return OsslError("decoder");
  const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
  std::size_t len = pem.size();
  const int ok = OSSL_DECODER_from_data(dctx, &data, &len);
  OSSL_DECODER_CTX_free(dctx);
  if (ok != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return OsslError("not a valid PEM key", ErrorCode::kInvalidKey);
  }
  return internal::EvpPkeyPtr(raw);
}

}  // namespace

// ---- EcdsaP384Signature ----

Result<Bytes> EcdsaP384Signature::ToDer() const {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (sig == nullptr) return OsslError("ECDSA_SIG_new");
  BIGNUM* br = BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr);
  BIGNUM* bs = BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr);
  if (br == nullptr || bs == nullptr || ECDSA_SIG_set0(sig, br, bs) != 1) {
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(sig);
    return OsslError("ECDSA_SIG_set0");
  }
  auto der = internal::ToDerBytes<ECDSA_SIG>(sig, i2d_ECDSA_SIG, "i2d_ECDSA_SIG");
  ECDSA_SIG_free(sig);
  return der;
}

Result<EcdsaP384Signature> EcdsaP384Signature::FromDer(ByteSpan der) {
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr || p != der.data() + der.size()) {
    ECDSA_SIG_free(sig);
    return OsslError("malformed DER ECDSA signature", ErrorCode::kInvalidArgument);
  }
  EcdsaP384Signature out;
  const Status a = BnToFixed(ECDSA_SIG_get0_r(sig), out.r.data(), out.r.size());
  const Status b = BnToFixed(ECDSA_SIG_get0_s(sig), out.s.data(), out.s.size());
  ECDSA_SIG_free(sig);
  if (!a.ok() || !b.ok()) return Error(ErrorCode::kInvalidArgument, "ECDSA r or s too large");
  return out;
}

std::array<std::uint8_t, 2 * kFirmwareIntSize> EcdsaP384Signature::ToFirmwareLayout() const {
  std::array<std::uint8_t, 2 * kFirmwareIntSize> out{};
  std::reverse_copy(r.begin(), r.end(), out.begin());
  std::reverse_copy(s.begin(), s.end(), out.begin() + kFirmwareIntSize);
  return out;
}

Result<EcdsaP384Signature> EcdsaP384Signature::FromFirmwareLayout(ByteSpan data) {
  if (data.size() < 2 * kFirmwareIntSize) {
    return Error(ErrorCode::kInvalidArgument, "firmware signature shorter than 144 bytes");
  }
  for (std::size_t half = 0; half < 2; ++half) {
    const auto* base = data.data() + half * kFirmwareIntSize;
    if (std::any_of(base + kP384ScalarSize, base + kFirmwareIntSize,
                    [](std::uint8_t b) { return b != 0; })) {
      return Error(ErrorCode::kInvalidArgument, "firmware signature value exceeds 384 bits");
    }
  }
  EcdsaP384Signature out;
  std::reverse_copy(data.data(), data.data() + kP384ScalarSize, out.r.begin());
  std::reverse_copy(data.data() + kFirmwareIntSize,
                    data.data() + kFirmwareIntSize + kP384ScalarSize, out.s.begin());
  return out;
}

// ---- PublicKey ----

Result<PublicKey> PublicKey::FromDer(ByteSpan spki) {
  const unsigned char* p = spki.data();
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  if (raw == nullptr || p != spki.data() + spki.size()) {
    EVP_PKEY_free(raw);
    return OsslError("malformed SubjectPublicKeyInfo", ErrorCode::kInvalidKey);
  }
  return WrapPublic(internal::EvpPkeyPtr(raw));
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  SEVEMU_ASSIGN_OR_RETURN(auto pkey, DecodeKey(pem, "SubjectPublicKeyInfo", EVP_PKEY_PUBLIC_KEY));
  return WrapPublic(std::move(pkey));
}

Result<PublicKey> PublicKey::FromEcP384Point(ByteSpan x, ByteSpan y) {
  if (x.size() != kP384ScalarSize || y.size() != kP384ScalarSize) {
    return Error(ErrorCode::kInvalidKey, "P-384 coordinates must be 48 bytes each");
  }
  std::uint8_t point[1 + 2 * kP384ScalarSize];
  point[0] = 0x04;  // uncompressed (SEC 1, 2.3.3)
  std::memcpy(point + 1, x.data(), kP384ScalarSize);
  std::memcpy(point + 1 + kP384ScalarSize, y.data(), kP384ScalarSize);
  char group[] = "secp384r1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
      OSSL_PARAM_construct_end(),
  };
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    return OsslError("point is not on P-384", ErrorCode::kInvalidKey);
  }
  internal::EvpPkeyPtr pkey(raw);
  // fromdata does not always check the point; do it explicitly. The quick check (coordinates
  // below p, not the point at infinity, on the curve: SEC 1 3.2.2.1 steps 1-3) is the whole
  // check on P-384: its cofactor is 1, so every point on the curve but infinity has order n and
  // the full check's extra step (n*Q = infinity, a scalar multiplication costing about 40% of
  // a daemon start that loads a few dozen keys) cannot fail after it.
  internal::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
    return OsslError("point is not on P-384", ErrorCode::kInvalidKey);
  }
  return WrapPublic(std::move(pkey));
}

KeyKind PublicKey::kind() const {
  return *ClassifyKey(impl_->pkey.get());
}
int PublicKey::bits() const {
  return EVP_PKEY_get_bits(impl_->pkey.get());
}

Result<Bytes> PublicKey::ToDer() const {
  return internal::ToDerBytes<EVP_PKEY>(impl_->pkey.get(), i2d_PUBKEY, "i2d_PUBKEY");
}

Result<std::string> PublicKey::ToPem() const {
  return internal::ToPemString(
      [this](BIO* bio) { return PEM_write_bio_PUBKEY(bio, impl_->pkey.get()); },
      "PEM_write_bio_PUBKEY");
}

Result<PublicKey::EcPoint> PublicKey::EcP384Point() const {
  if (kind() != KeyKind::kEcP384) return Error(ErrorCode::kInvalidKey, "not a P-384 key");
  std::uint8_t point[1 + 2 * kP384ScalarSize];
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(impl_->pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
                                      sizeof(point), &len) != 1 ||
      len != sizeof(point) || point[0] != 0x04) {
    // Keys decoded from compressed points are re-encoded uncompressed.
    if (EVP_PKEY_set_utf8_string_param(
            impl_->pkey.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") != 1 ||
        EVP_PKEY_get_octet_string_param(impl_->pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
                                        sizeof(point), &len) != 1 ||
        len != sizeof(point)) {
      return OsslError("read P-384 point");
    }
  }
  EcPoint out;
  std::memcpy(out.x.data(), point + 1, kP384ScalarSize);
  std::memcpy(out.y.data(), point + 1 + kP384ScalarSize, kP384ScalarSize);
  return out;
}

Result<Bytes> PublicKey::RsaModulus() const {
  if (kind() != KeyKind::kRsa) return Error(ErrorCode::kInvalidKey, "not an RSA key");
  return GetBnParam(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_N);
}

Result<Bytes> PublicKey::RsaPublicExponent() const {
  if (kind() != KeyKind::kRsa) return Error(ErrorCode::kInvalidKey, "not an RSA key");
  return GetBnParam(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_E);
}

Status PublicKey::VerifyEcdsaSha384(ByteSpan message, const EcdsaP384Signature& sig) const {
  return VerifyEcdsaP384(*this, HashAlg::kSha384, message, sig);
}

Status PublicKey::VerifyRsaPssSha384(ByteSpan message, ByteSpan signature) const {
  return VerifyRsaPss(*this, HashAlg::kSha384, message, signature);
}

bool PublicKey::operator==(const PublicKey& other) const {
  return EVP_PKEY_eq(impl_->pkey.get(), other.impl_->pkey.get()) == 1;
}

// ---- PrivateKey ----

Result<PrivateKey> PrivateKey::GenerateEcP384() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kP384GroupName);
  if (raw == nullptr) return OsslError("P-384 key generation");
  return WrapPrivate(internal::EvpPkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::GenerateRsa(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return Error(ErrorCode::kInvalidArgument, "unsupported RSA size " + std::to_string(bits));
  }
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
  if (raw == nullptr) return OsslError("RSA key generation");
  return WrapPrivate(internal::EvpPkeyPtr(raw));
}

namespace {

// The first probable prime p >= candidate with gcd(p - 1, e) = 1, for 65537 prime: p mod e != 1.
Result<internal::BnPtr> NextPrime(const SecretBytes& candidate, BN_CTX* ctx) {
  internal::BnPtr p(BN_secure_new());
  if (!p || BN_bin2bn(candidate.data(), static_cast<int>(candidate.size()), p.get()) == nullptr) {
    return OsslError("prime candidate");
  }
  const int bits = static_cast<int>(candidate.size() * 8);
  // Top two bits set so that p*q has exactly 2*bits bits; odd.
  if (BN_set_bit(p.get(), bits - 1) != 1 || BN_set_bit(p.get(), bits - 2) != 1 ||
      BN_set_bit(p.get(), 0) != 1) {
    return OsslError("prime candidate");
  }
  for (int tries = 0; tries < 100000; ++tries) {
    const int prime = BN_check_prime(p.get(), ctx, nullptr);
    if (prime < 0) return OsslError("primality test");
    if (prime == 1 && BN_mod_word(p.get(), 65537) != 1) return p;
    if (BN_add_word(p.get(), 2) != 1) return OsslError("prime search");
  }
  return Error(ErrorCode::kCrypto, "no prime found");
}

}  // namespace

Result<PrivateKey> PrivateKey::RsaFromSeed(const SecretBytes& seed, int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return Error(ErrorCode::kInvalidArgument, "unsupported RSA size " + std::to_string(bits));
  }
  if (seed.size() < 32) return Error(ErrorCode::kInvalidArgument, "RSA seed shorter than 32 bytes");
  const std::size_t half = static_cast<std::size_t>(bits / 16);
  internal::BnCtxPtr ctx(BN_CTX_secure_new());
  if (!ctx) return OsslError("BN_CTX");
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes cp, SevKdf(seed.span(), "sevemu-rsa-prime-p", {}, half));
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes cq, SevKdf(seed.span(), "sevemu-rsa-prime-q", {}, half));
  SEVEMU_ASSIGN_OR_RETURN(internal::BnPtr p, NextPrime(cp, ctx.get()));
  SEVEMU_ASSIGN_OR_RETURN(internal::BnPtr q, NextPrime(cq, ctx.get()));
  if (BN_cmp(p.get(), q.get()) == 0) return Error(ErrorCode::kCrypto, "p equals q");
  internal::BnPtr n(BN_new()), e(BN_new()), d(BN_secure_new()), p1(BN_secure_new()),
      q1(BN_secure_new()), lambda(BN_secure_new()), g(BN_secure_new()), dp(BN_secure_new()),
      dq(BN_secure_new()), qinv(BN_secure_new()), phi(BN_secure_new());
  if (!n || !e || !d || !p1 || !q1 || !lambda || !g || !dp || !dq || !qinv || !phi ||
      BN_set_word(e.get(), 65537) != 1 || BN_mul(n.get(), p.get(), q.get(), ctx.get()) != 1 ||
      BN_sub(p1.get(), p.get(), BN_value_one()) != 1 ||
      BN_sub(q1.get(), q.get(), BN_value_one()) != 1 ||
      BN_mul(phi.get(), p1.get(), q1.get(), ctx.get()) != 1 ||
      BN_gcd(g.get(), p1.get(), q1.get(), ctx.get()) != 1 ||
      BN_div(lambda.get(), nullptr, phi.get(), g.get(), ctx.get()) != 1 ||
      BN_mod_inverse(d.get(), e.get(), lambda.get(), ctx.get()) == nullptr ||
      BN_mod(dp.get(), d.get(), p1.get(), ctx.get()) != 1 ||
      BN_mod(dq.get(), d.get(), q1.get(), ctx.get()) != 1 ||
      BN_mod_inverse(qinv.get(), q.get(), p.get(), ctx.get()) == nullptr) {
    return OsslError("RSA key arithmetic");
  }
  if (BN_num_bits(n.get()) != bits) return Error(ErrorCode::kCrypto, "RSA modulus size");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()) != 1 ||
      (params = OSSL_PARAM_BLD_to_param(bld)) == nullptr) {
    OSSL_PARAM_BLD_free(bld);
    return OsslError("RSA key parameters");
  }
  OSSL_PARAM_BLD_free(bld);
  internal::EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  const bool ok = kctx && EVP_PKEY_fromdata_init(kctx.get()) == 1 &&
                  EVP_PKEY_fromdata(kctx.get(), &raw, EVP_PKEY_KEYPAIR, params) == 1;
  OSSL_PARAM_free(params);  // secure BIGNUMs: the builder's block is cleared on free
  if (!ok) return OsslError("RSA key import");
  internal::EvpPkeyPtr pkey(raw);
  internal::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_pairwise_check(check.get()) != 1) return OsslError("RSA key check");
  return WrapPrivate(std::move(pkey));
}

Result<PrivateKey> PrivateKey::EcP384FromSeed(const SecretBytes& seed) {
  if (seed.size() < kP384ScalarSize + 8) {
    return Error(ErrorCode::kInvalidArgument, "P-384 key seed shorter than 56 bytes");
  }
  internal::EcGroupPtr group(EC_GROUP_new_by_curve_name(NID_secp384r1));
  internal::BnCtxPtr bn_ctx(BN_CTX_secure_new());
  internal::BnPtr d(BN_secure_new());
  internal::BnPtr n_minus_1(BN_new());
  internal::BnPtr c(BN_secure_new());
  if (!group || !bn_ctx || !d || !n_minus_1 || !c) return OsslError("P-384 derivation setup");
  if (BN_copy(n_minus_1.get(), EC_GROUP_get0_order(group.get())) == nullptr ||
      BN_sub_word(n_minus_1.get(), 1) != 1 ||
      BN_bin2bn(seed.data(), static_cast<int>(seed.size()), c.get()) == nullptr ||
      BN_mod(d.get(), c.get(), n_minus_1.get(), bn_ctx.get()) != 1 ||
      BN_add_word(d.get(), 1) != 1) {
    return OsslError("P-384 scalar reduction");
  }
  internal::EcPointPtr q(EC_POINT_new(group.get()));
  std::uint8_t point[1 + 2 * kP384ScalarSize];
  if (!q || EC_POINT_mul(group.get(), q.get(), d.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(group.get(), q.get(), POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point),
                         bn_ctx.get()) != sizeof(point)) {
    return OsslError("P-384 public point");
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  if (bld == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, kP384GroupName, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1 ||
      (params = OSSL_PARAM_BLD_to_param(bld)) == nullptr) {
    OSSL_PARAM_BLD_free(bld);
    return OsslError("P-384 key parameters");
  }
  OSSL_PARAM_BLD_free(bld);
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  const bool ok = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                  EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params) == 1;
  // d is a secure BIGNUM, so the builder put it in the secure block that OSSL_PARAM_free clears.
  OSSL_PARAM_free(params);
  if (!ok) return OsslError("P-384 key import");
  return WrapPrivate(internal::EvpPkeyPtr(raw));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  SEVEMU_ASSIGN_OR_RETURN(auto pkey, DecodeKey(pem, nullptr, EVP_PKEY_KEYPAIR));
  return WrapPrivate(std::move(pkey));
}

KeyKind PrivateKey::kind() const {
  return *ClassifyKey(impl_->pkey.get());
}
int PrivateKey::bits() const {
  return EVP_PKEY_get_bits(impl_->pkey.get());
}

PublicKey PrivateKey::Public() const {
  // Copy only the public half so the PublicKey never holds the private scalar: exported as
  // parameters and imported into a new key of the same type (a DER round trip did the same
  // through OpenSSL's decoder search, ten times the cost: 10% of issuing a VCEK certificate).
  EVP_PKEY* pub = nullptr;
  OSSL_PARAM* params = nullptr;
  if (EVP_PKEY_todata(impl_->pkey.get(), EVP_PKEY_PUBLIC_KEY, &params) == 1) {
    internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pub, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      pub = nullptr;
    }
  }
  OSSL_PARAM_free(params);
  if (pub == nullptr) {  // the DER round trip
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(impl_->pkey.get(), &der);
    const unsigned char* p = der;
    pub = len > 0 ? d2i_PUBKEY(nullptr, &p, len) : nullptr;
    OPENSSL_free(der);
  }
  auto impl = std::make_shared<PublicKey::Impl>();
  // i2d/d2i of a key we built cannot fail short of memory exhaustion; fall back to sharing the
  // keypair object rather than returning an empty key.
  if (pub == nullptr) {
    EVP_PKEY_up_ref(impl_->pkey.get());
    pub = impl_->pkey.get();
  }
  impl->pkey.reset(pub);
  return PublicKey(std::move(impl));
}

Result<SecretBytes> PrivateKey::ToPem() const {
  OSSL_ENCODER_CTX* ectx = OSSL_ENCODER_CTX_new_for_pkey(impl_->pkey.get(), EVP_PKEY_KEYPAIR, "PEM",
                                                         "PrivateKeyInfo", nullptr);
  if (ectx == nullptr) return OsslError("encoder");
  unsigned char* data = nullptr;
  std::size_t len = 0;
  const int ok = OSSL_ENCODER_to_data(ectx, &data, &len);
  OSSL_ENCODER_CTX_free(ectx);
  if (ok != 1) return OsslError("encode private key");
  SecretBytes out(ByteSpan(data, len));
  OPENSSL_clear_free(data, len);
  return out;
}

Result<EcdsaP384Signature> PrivateKey::SignEcdsaSha384(ByteSpan message) const {
  return SignEcdsaP384(*this, HashAlg::kSha384, message);
}

Result<Bytes> PrivateKey::SignRsaPssSha384(ByteSpan message) const {
  return SignRsaPss(*this, HashAlg::kSha384, message);
}

Result<SecretBytes> PrivateKey::EcdhP384(const PublicKey& peer) const {
  if (kind() != KeyKind::kEcP384 || peer.kind() != KeyKind::kEcP384) {
    return Error(ErrorCode::kInvalidKey, "ECDH needs two P-384 keys");
  }
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.impl().pkey.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1 || len != kP384ScalarSize) {
    return OsslError("ECDH", ErrorCode::kInvalidKey);
  }
  SecretBytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1) return OsslError("ECDH");
  return out;
}

}  // namespace sevemu::crypto
