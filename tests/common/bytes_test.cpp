#include "sevemu/common/bytes.h"

#include <doctest/doctest.h>

namespace sevemu {

TEST_CASE("hex round trip and rejection of malformed hex") {
  const Bytes data{0x00, 0x01, 0xab, 0xff};
  CHECK(HexEncode(data) == "0001abff");
  auto back = HexDecode("0001ABff");
  REQUIRE(back.ok());
  CHECK(*back == data);
  CHECK(HexDecode("abc").error().code() == ErrorCode::kInvalidArgument);
  CHECK(HexDecode("zz").error().code() == ErrorCode::kInvalidArgument);
  CHECK(HexDecode("").ok());
}

TEST_CASE("little-endian loads and stores are the firmware's byte order") {
  std::uint8_t buf[8];
  StoreLe64(buf, 0x0807060504030201ULL);
  for (int i = 0; i < 8; ++i) CHECK(buf[i] == i + 1);
  CHECK(LoadLe64(buf) == 0x0807060504030201ULL);
  StoreLe32(buf, 0xA1B2C3D4);
  CHECK(buf[0] == 0xD4);
  CHECK(LoadLe32(buf) == 0xA1B2C3D4);
}

TEST_CASE("SecretBytes compares by content and zeroes on move") {
  SecretBytes a(ByteSpan(Bytes{1, 2, 3}));
  SecretBytes b(ByteSpan(Bytes{1, 2, 3}));
  SecretBytes c(ByteSpan(Bytes{1, 2, 4}));
  CHECK(a == b);
  CHECK_FALSE(a == c);
  CHECK_FALSE(a == SecretBytes(ByteSpan(Bytes{1, 2})));
  SecretBytes moved(std::move(a));
  CHECK(moved.size() == 3);
  CHECK(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
}

TEST_CASE("ConstantTimeEquals") {
  CHECK(ConstantTimeEquals(Bytes{}, Bytes{}));
  CHECK(ConstantTimeEquals(Bytes{9, 9}, Bytes{9, 9}));
  CHECK_FALSE(ConstantTimeEquals(Bytes{9, 9}, Bytes{9, 8}));
  CHECK_FALSE(ConstantTimeEquals(Bytes{9}, Bytes{9, 9}));
}

}  // namespace sevemu
