// Published known-answer vectors (fixtures/kat/vectors.json; sources named per entry).
#include <doctest/doctest.h>

#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/kdf.h"
#include "test_util.h"

namespace sevemu::crypto {
using test::Hex;

namespace {
const nlohmann::json& Vectors() {
  static const nlohmann::json v = test::LoadJsonFixture("kat/vectors.json");
  return v;
}
Bytes ToBytes(const SecretBytes& s) {
  return Bytes(s.data(), s.data() + s.size());
}
}  // namespace

TEST_CASE("SHA-256 and SHA-384 known answers") {
  for (const auto& v : Vectors()["sha"]) {
    CAPTURE(v["source"].get<std::string>());
    CHECK(*Sha256(Hex(v["message"].get<std::string>())) == Hex(v["sha256"].get<std::string>()));
    CHECK(*Sha384(Hex(v["message"].get<std::string>())) == Hex(v["sha384"].get<std::string>()));
  }
  // Incremental hashing agrees with one-shot.
  auto h = Hasher::Create(HashAlg::kSha384);
  REQUIRE(h.ok());
  REQUIRE(h->Update(AsBytes("a")).ok());
  REQUIRE(h->Update(AsBytes("bc")).ok());
  CHECK(*h->Finish() == *Sha384(AsBytes("abc")));
  CHECK_FALSE(h->Finish().ok());  // a finished hasher refuses, rather than returning garbage
}

TEST_CASE("HMAC-SHA-256/384 known answers (RFC 4231)") {
  for (const auto& v : Vectors()["hmac"]) {
    CAPTURE(v["name"].get<std::string>());
    const Bytes key = Hex(v["key"].get<std::string>());
    const Bytes data = Hex(v["data"].get<std::string>());
    CHECK(ToBytes(*Hmac(HashAlg::kSha256, key, data)) == Hex(v["sha256"].get<std::string>()));
    CHECK(ToBytes(*Hmac(HashAlg::kSha384, key, data)) == Hex(v["sha384"].get<std::string>()));
  }
}

TEST_CASE("HKDF-SHA-256 known answers (RFC 5869)") {
  for (const auto& v : Vectors()["hkdf"]) {
    CAPTURE(v["name"].get<std::string>());
    auto okm =
        Hkdf(HashAlg::kSha256, Hex(v["ikm"].get<std::string>()), Hex(v["salt"].get<std::string>()),
             Hex(v["info"].get<std::string>()), v["length"].get<std::size_t>());
    REQUIRE(okm.ok());
    CHECK(ToBytes(*okm) == Hex(v["okm"].get<std::string>()));
  }
  CHECK(Hkdf(HashAlg::kSha256, AsBytes("k"), {}, {}, 0).error().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(Hkdf(HashAlg::kSha256, AsBytes("k"), {}, {}, 255 * 32 + 1).error().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("SP 800-108 counter KDF known answers (NIST CAVP, big-endian counter)") {
  for (const auto& v : Vectors()["kbkdf_counter"]) {
    CAPTURE(v["name"].get<std::string>());
    auto out = KbkdfCounterHmacSha256(Hex(v["key"].get<std::string>()),
                                      Hex(v["fixed_input"].get<std::string>()),
                                      v["length_bits"].get<std::size_t>() / 8, Endian::kBig);
    REQUIRE(out.ok());
    CHECK(ToBytes(*out) == Hex(v["output"].get<std::string>()));
  }
}

TEST_CASE("SEV KDF (little-endian counter and L, label || 00 || context || L)") {
  for (const auto& v : Vectors()["sev_kdf"]) {
    CAPTURE(v["source"].get<std::string>());
    auto out =
        SevKdf(Hex(v["key"].get<std::string>()), v["label"].get<std::string>(),
               Hex(v["context"].get<std::string>()), v["length_bits"].get<std::size_t>() / 8);
    REQUIRE(out.ok());
    CHECK(ToBytes(*out) == Hex(v["output"].get<std::string>()));
  }
  // Multi-block output: the first block is the 32-byte output, the counter then advances.
  auto one = SevKdf(AsBytes("key"), "label", AsBytes("ctx"), 32);
  auto two = SevKdf(AsBytes("key"), "label", AsBytes("ctx"), 64);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  // L is part of the input, so a longer output does not extend a shorter one.
  CHECK_FALSE(ToBytes(*one) == Bytes(two->data(), two->data() + 32));
  CHECK(SevKdf(AsBytes("key"), "label", {}, 0).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("AES-256-GCM known answers and tag checking") {
  for (const auto& v : Vectors()["aes256gcm"]) {
    CAPTURE(v["name"].get<std::string>());
    const Bytes key = Hex(v["key"].get<std::string>()), iv = Hex(v["iv"].get<std::string>());
    const Bytes pt = Hex(v["plaintext"].get<std::string>()), aad = Hex(v["aad"].get<std::string>());
    auto sealed = Aes256GcmSeal(key, iv, aad, pt);
    REQUIRE(sealed.ok());
    CHECK(sealed->ciphertext == Hex(v["ciphertext"].get<std::string>()));
    CHECK(Bytes(sealed->tag.begin(), sealed->tag.end()) == Hex(v["tag"].get<std::string>()));
    auto opened = Aes256GcmOpen(key, iv, aad, sealed->ciphertext, sealed->tag);
    REQUIRE(opened.ok());
    CHECK(ToBytes(*opened) == pt);
    // Any flipped bit in tag, ciphertext or AAD is refused with kAuthFailed.
    auto bad_tag = sealed->tag;
    bad_tag[0] ^= 1;
    CHECK(Aes256GcmOpen(key, iv, aad, sealed->ciphertext, bad_tag).error().code() ==
          ErrorCode::kAuthFailed);
    Bytes bad_ct = sealed->ciphertext;
    bad_ct.back() ^= 0x80;
    CHECK(Aes256GcmOpen(key, iv, aad, bad_ct, sealed->tag).error().code() ==
          ErrorCode::kAuthFailed);
    Bytes bad_aad = aad;
    bad_aad.push_back(0);
    CHECK(Aes256GcmOpen(key, iv, bad_aad, sealed->ciphertext, sealed->tag).error().code() ==
          ErrorCode::kAuthFailed);
  }
  CHECK(Aes256GcmSeal(Bytes(16), Bytes(12), {}, {}).error().code() == ErrorCode::kInvalidArgument);
  CHECK(Aes256GcmSeal(Bytes(32), Bytes(16), {}, {}).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("AES-128-CTR known answer (SP 800-38A F.5.1)") {
  for (const auto& v : Vectors()["aes128ctr"]) {
    const Bytes key = Hex(v["key"].get<std::string>()), iv = Hex(v["iv"].get<std::string>());
    auto ct = Aes128Ctr(key, iv, Hex(v["plaintext"].get<std::string>()));
    REQUIRE(ct.ok());
    CHECK(*ct == Hex(v["ciphertext"].get<std::string>()));
    CHECK(*Aes128Ctr(key, iv, *ct) == Hex(v["plaintext"].get<std::string>()));
  }
  CHECK(Aes128Ctr(Bytes(32), Bytes(16), Bytes(4)).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("AES-XTS known answers (IEEE 1619-2007)") {
  for (const auto& v : Vectors()["aesxts"]) {
    CAPTURE(v["name"].get<std::string>());
    const Bytes key = Hex(v["key"].get<std::string>()), tweak = Hex(v["tweak"].get<std::string>());
    const Bytes pt = Hex(v["plaintext"].get<std::string>());
    auto ct = AesXtsEncrypt(key, tweak, pt);
    REQUIRE(ct.ok());
    CHECK(*ct == Hex(v["ciphertext"].get<std::string>()));
    CHECK(*AesXtsDecrypt(key, tweak, *ct) == pt);
  }
  CHECK(AesXtsEncrypt(Bytes(48), Bytes(16), Bytes(16)).error().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(AesXtsEncrypt(Hex(std::string(64, '1')), Bytes(16), Bytes(15)).error().code() ==
        ErrorCode::kInvalidArgument);
}

}  // namespace sevemu::crypto
