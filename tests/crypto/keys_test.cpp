#include "sevemu/crypto/keys.h"

#include <doctest/doctest.h>

#include "sevemu/crypto/hash.h"
#include "test_util.h"

namespace sevemu::crypto {

namespace {
SecretBytes Seed(std::uint8_t fill) {
  return SecretBytes(ByteSpan(Bytes(56, fill)));
}
}  // namespace

TEST_CASE("ECDSA P-384 sign/verify, and tampering is detected") {
  auto key = PrivateKey::GenerateEcP384();
  REQUIRE(key.ok());
  CHECK(key->kind() == KeyKind::kEcP384);
  CHECK(key->bits() == 384);
  auto sig = key->SignEcdsaSha384(AsBytes("report"));
  REQUIRE(sig.ok());
  CHECK(key->Public().VerifyEcdsaSha384(AsBytes("report"), *sig).ok());
  CHECK(key->Public().VerifyEcdsaSha384(AsBytes("rep0rt"), *sig).error().code() ==
        ErrorCode::kAuthFailed);
  auto other = PrivateKey::GenerateEcP384();
  CHECK(other->Public().VerifyEcdsaSha384(AsBytes("report"), *sig).error().code() ==
        ErrorCode::kAuthFailed);
}

TEST_CASE("ECDSA signature encodings: DER and the firmware's 72-byte little-endian fields") {
  EcdsaP384Signature sig;
  for (std::size_t i = 0; i < sig.r.size(); ++i) {
    sig.r[i] = static_cast<std::uint8_t>(i + 1);  // big-endian 0x01 0x02 ... 0x30
    sig.s[i] = static_cast<std::uint8_t>(0xA0 + i % 16);
  }
  const auto fw = sig.ToFirmwareLayout();
  CHECK(fw[0] == 0x30);   // least significant byte of r first
  CHECK(fw[47] == 0x01);  // most significant byte of r
  CHECK(fw[48] == 0);     // bytes 48..71 of each field are zero
  CHECK(fw[71] == 0);
  CHECK(fw[72] == sig.s[47]);
  auto back = EcdsaP384Signature::FromFirmwareLayout(fw);
  REQUIRE(back.ok());
  CHECK(back->r == sig.r);
  CHECK(back->s == sig.s);

  auto bad = fw;
  bad[60] = 1;  // a value wider than 384 bits
  CHECK(EcdsaP384Signature::FromFirmwareLayout(bad).error().code() == ErrorCode::kInvalidArgument);
  CHECK(EcdsaP384Signature::FromFirmwareLayout(ByteSpan(fw.data(), 100)).error().code() ==
        ErrorCode::kInvalidArgument);

  auto der = sig.ToDer();
  REQUIRE(der.ok());
  CHECK((*der)[0] == 0x30);  // SEQUENCE
  auto from_der = EcdsaP384Signature::FromDer(*der);
  REQUIRE(from_der.ok());
  CHECK(from_der->r == sig.r);
  Bytes trailing = *der;
  trailing.push_back(0);
  CHECK_FALSE(EcdsaP384Signature::FromDer(trailing).ok());
  CHECK_FALSE(EcdsaP384Signature::FromDer(Bytes{0x30, 0x03, 0x02}).ok());
}

TEST_CASE("P-384 keys from a seed are deterministic and distinct per seed") {
  auto a1 = PrivateKey::EcP384FromSeed(Seed(1));
  auto a2 = PrivateKey::EcP384FromSeed(Seed(1));
  auto b = PrivateKey::EcP384FromSeed(Seed(2));
  REQUIRE(a1.ok());
  REQUIRE(b.ok());
  CHECK(a1->Public() == a2->Public());
  CHECK_FALSE(a1->Public() == b->Public());
  // The derived key is a working key pair.
  auto sig = a1->SignEcdsaSha384(AsBytes("m"));
  REQUIRE(sig.ok());
  CHECK(a2->Public().VerifyEcdsaSha384(AsBytes("m"), *sig).ok());
  // d = (c mod (n-1)) + 1 is never zero, even for an all-zero seed.
  CHECK(PrivateKey::EcP384FromSeed(Seed(0)).ok());
  CHECK(PrivateKey::EcP384FromSeed(SecretBytes(ByteSpan(Bytes(55, 1)))).error().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("P-384 public points: round trip, and off-curve points are refused") {
  auto key = PrivateKey::GenerateEcP384();
  auto point = key->Public().EcP384Point();
  REQUIRE(point.ok());
  auto rebuilt = PublicKey::FromEcP384Point(point->x, point->y);
  REQUIRE(rebuilt.ok());
  CHECK(*rebuilt == key->Public());
  auto y = point->y;
  y[47] ^= 1;
  CHECK(PublicKey::FromEcP384Point(point->x, y).error().code() == ErrorCode::kInvalidKey);
  CHECK(PublicKey::FromEcP384Point(Bytes(47), Bytes(48)).error().code() == ErrorCode::kInvalidKey);
  // The point at infinity has no affine form; (0, 0) is not on the curve (b != 0).
  CHECK(PublicKey::FromEcP384Point(Bytes(48), Bytes(48)).error().code() == ErrorCode::kInvalidKey);
  // Coordinates above the field prime p are refused, not reduced (all-ones exceeds p).
  CHECK(PublicKey::FromEcP384Point(Bytes(48, 0xff), point->y).error().code() ==
        ErrorCode::kInvalidKey);
  CHECK(PublicKey::FromEcP384Point(point->x, Bytes(48, 0xff)).error().code() ==
        ErrorCode::kInvalidKey);
}

TEST_CASE("ECDH P-384 agrees on both sides") {
  auto a = PrivateKey::GenerateEcP384();
  auto b = PrivateKey::GenerateEcP384();
  auto ab = a->EcdhP384(b->Public());
  auto ba = b->EcdhP384(a->Public());
  REQUIRE(ab.ok());
  REQUIRE(ba.ok());
  CHECK(ab->size() == 48);
  CHECK(*ab == *ba);
}

TEST_CASE("PEM round trips for private and public keys; garbage is a typed error") {
  auto key = PrivateKey::GenerateEcP384();
  auto pem = key->ToPem();
  REQUIRE(pem.ok());
  const std::string text(reinterpret_cast<const char*>(pem->data()), pem->size());
  CHECK(text.find("BEGIN PRIVATE KEY") != std::string::npos);
  auto back = PrivateKey::FromPem(text);
  REQUIRE(back.ok());
  CHECK(back->Public() == key->Public());
  auto pub_pem = key->Public().ToPem();
  REQUIRE(pub_pem.ok());
  CHECK(*PublicKey::FromPem(*pub_pem) == key->Public());
  CHECK(PrivateKey::FromPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .error()
            .code() == ErrorCode::kInvalidKey);
  CHECK_FALSE(PrivateKey::FromPem(text.substr(0, text.size() / 2)).ok());
  CHECK_FALSE(PublicKey::FromDer(Bytes{1, 2, 3}).ok());
}

TEST_CASE("RSA keys from a seed are deterministic, valid and distinct per seed") {
  const SecretBytes seed_a(ByteSpan(Bytes(32, 0xA5)));
  const SecretBytes seed_b(ByteSpan(Bytes(32, 0x5A)));
  auto a1 = PrivateKey::RsaFromSeed(seed_a, 2048);
  auto a2 = PrivateKey::RsaFromSeed(seed_a, 2048);
  auto b = PrivateKey::RsaFromSeed(seed_b, 2048);
  REQUIRE(a1.ok());
  REQUIRE(b.ok());
  CHECK(a1->bits() == 2048);
  CHECK(a1->Public() == a2->Public());
  CHECK_FALSE(a1->Public() == b->Public());
  auto sig = a1->SignRsaPssSha384(AsBytes("m"));
  REQUIRE(sig.ok());
  CHECK(a2->Public().VerifyRsaPssSha384(AsBytes("m"), *sig).ok());
  CHECK(*a1->Public().RsaPublicExponent() == Bytes{0x01, 0x00, 0x01});
  CHECK(PrivateKey::RsaFromSeed(SecretBytes(ByteSpan(Bytes(31, 1))), 2048).error().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(PrivateKey::RsaFromSeed(seed_a, 1024).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("RSA-PSS SHA-384 sign/verify") {
  auto key = PrivateKey::GenerateRsa(2048);  // the size does not change the code path; 2048 is fast
  REQUIRE(key.ok());
  CHECK(key->kind() == KeyKind::kRsa);
  auto sig = key->SignRsaPssSha384(AsBytes("tbs"));
  REQUIRE(sig.ok());
  CHECK(sig->size() == 256);
  CHECK(key->Public().VerifyRsaPssSha384(AsBytes("tbs"), *sig).ok());
  (*sig)[10] ^= 1;
  CHECK(key->Public().VerifyRsaPssSha384(AsBytes("tbs"), *sig).error().code() ==
        ErrorCode::kAuthFailed);
  CHECK(*key->Public().RsaPublicExponent() == Bytes{0x01, 0x00, 0x01});
  CHECK(key->Public().RsaModulus()->size() == 256);
  CHECK(PrivateKey::GenerateRsa(1024).error().code() == ErrorCode::kInvalidArgument);
  // Algorithm confusion is a typed error, not a crash.
  CHECK(key->SignEcdsaSha384(AsBytes("x")).error().code() == ErrorCode::kInvalidKey);
}

}  // namespace sevemu::crypto
