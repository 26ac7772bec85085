#include "sevemu/guestmsg/cert_table.h"

#include <doctest/doctest.h>

#include "emulator_fixture.h"

namespace sevemu::emulator {

using guestmsg::BuildCertTable;
using guestmsg::CertBufferNeeded;
using guestmsg::Guid;
using guestmsg::kGuidArk;
using guestmsg::kGuidAsk;
using guestmsg::kGuidVcek;
using guestmsg::ParseCertTable;

TEST_CASE("certificate table: layout, round trip, and the buffer-size protocol") {
  const auto root = test::TestRoot(Product::kMilan);
  const Bytes ark = *root.ark.ToDer(), ask = *root.ask.ToDer();
  const Bytes vcek(1360, 0x5A);
  auto table = BuildCertTable({{kGuidVcek, vcek}, {kGuidAsk, ask}, {kGuidArk, ark}});
  REQUIRE(table.ok());
  // Three entries and the terminator, then the certificates in order.
  CHECK(Bytes(table->begin(), table->begin() + 16) == Bytes(kGuidVcek.begin(), kGuidVcek.end()));
  CHECK(LoadLe32(table->data() + 16) == 4 * 24);
  CHECK(LoadLe32(table->data() + 20) == vcek.size());
  CHECK(LoadLe32(table->data() + 24 + 16) == 4 * 24 + vcek.size());
  CHECK(Bytes(table->begin() + 72, table->begin() + 96) == Bytes(24, 0));
  CHECK(table->size() == 96 + vcek.size() + ask.size() + ark.size());
  // The ARK GUID in RFC 4122 (string) byte order, as tools expect.
  CHECK(HexEncode(kGuidArk) ==
        "c0b406a4a80349529743"
        "3fb6014cd0ae");
  auto parsed = ParseCertTable(*table);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[0].der == vcek);
  CHECK((*parsed)[2].guid == kGuidArk);
  CHECK(crypto::Certificate::FromDer((*parsed)[2].der)->SubjectCommonName() == "ARK-Milan");
  // A guest's buffer must be whole pages: the driver is told how many.
  CHECK(CertBufferNeeded(table->size()) == 4096 * ((table->size() + 4095) / 4096));
  CHECK(CertBufferNeeded(4096) == 4096);
  CHECK(CertBufferNeeded(4097) == 8192);

  SUBCASE("malformed tables are refused") {
    Bytes bad = *table;
    StoreLe32(bad.data() + 16, 10);  // offset inside the table itself
    CHECK_FALSE(ParseCertTable(bad).ok());
    bad = *table;
    StoreLe32(bad.data() + 20, 0xFFFFFFF0);  // length past the end
    CHECK_FALSE(ParseCertTable(bad).ok());
    CHECK_FALSE(ParseCertTable(ByteSpan(*table).first(50)).ok());  // no terminator
    CHECK(ParseCertTable(Bytes(24, 0))->empty());                  // just the terminator
  }
  SUBCASE("building refuses what no guest could read") {
    CHECK_FALSE(BuildCertTable({{Guid{}, vcek}}).ok());
    CHECK_FALSE(BuildCertTable({{kGuidVcek, Bytes{}}}).ok());
    CHECK_FALSE(BuildCertTable({{kGuidVcek, Bytes(17000, 1)}}).ok());
  }
}

}  // namespace sevemu::emulator
