#include "sevemu/crypto/base64.h"

#include <doctest/doctest.h>

namespace sevemu {

TEST_CASE("base64 matches RFC 4648's test vectors both ways") {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : kVectors) {
    CAPTURE(plain);
    const std::string p = plain;
    const Bytes bytes(p.begin(), p.end());
    CHECK(crypto::Base64Encode(bytes) == encoded);
    auto d = crypto::Base64Decode(encoded);
    REQUIRE(d.ok());
    CHECK(*d == bytes);
  }
}

TEST_CASE("base64 decoding accepts line breaks and refuses garbage") {
  Bytes blob(100);
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<std::uint8_t>(i * 7);
  std::string text = crypto::Base64Encode(blob);
  text.insert(64, "\n");
  text += "\n";
  auto d = crypto::Base64Decode(text);
  REQUIRE(d.ok());
  CHECK(*d == blob);
  for (const char* bad : {"Zm9v!", "Zg=a", "Z"}) {
    CAPTURE(bad);
    CHECK_FALSE(crypto::Base64Decode(bad).ok());
  }
}

}  // namespace sevemu
