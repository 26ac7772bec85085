#include "sevemu/launch/vmsa.h"

#include <doctest/doctest.h>

#include "sevemu/common/bytes.h"

namespace sevemu {
namespace {

namespace o = launch::vmsa_offset;

std::uint64_t At64(const launch::VmsaPage& v, std::size_t off) {
  return LoadLe64(v.data() + off);
}

}  // namespace

TEST_CASE("CPUID signatures of QEMU's EPYC models") {
  CHECK(launch::CpuidSignature(23, 1, 2) == 0x00800F12);
  CHECK(launch::CpuidSignature(6, 0x55, 4) == 0x00050654);  // family <= 0xF: no extended family
  struct Row {
    const char* name;
    std::uint32_t want;
  };
  const Row rows[] = {
      {"EPYC", 0x00800F12},          {"EPYC-v4", 0x00800F12},      {"EPYC-IBPB", 0x00800F12},
      {"EPYC-Rome", 0x00830F10},     {"EPYC-Rome-v3", 0x00830F10}, {"EPYC-Milan", 0x00A00F11},
      {"EPYC-Milan-v2", 0x00A00F11}, {"EPYC-Genoa", 0x00A10F10},   {"EPYC-Turin", 0x00B00F00},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      auto sig = launch::VcpuSignatureOf(r.name);
      REQUIRE(sig.ok());
      CHECK(*sig == r.want);
    }
  }
  for (const char* bad : {"", "Skylake-Server", "EPYC-v", "EPYC-vx", "epyc", "EPYC-Milan-"}) {
    auto sig = launch::VcpuSignatureOf(bad);
    REQUIRE_FALSE(sig.ok());
    CHECK(sig.error().code() == ErrorCode::kNotFound);
  }
}

TEST_CASE("the BSP VMSA starts at CS 0xFFFF0000, RIP 0xFFF0 in real mode") {
  const auto v =
      launch::BuildVmsa({launch::kBspResetEip, 0x00A00F11, launch::kSevFeatureSnpActive});
  CHECK(LoadLe32(v.data() + o::kCs) == 0x009BF000);  // selector 0xF000, attrib 0x9B
  CHECK(LoadLe32(v.data() + o::kCs + 4) == 0xFFFF);
  CHECK(At64(v, o::kCs + 8) == 0xFFFF0000);
  CHECK(At64(v, o::kRip) == 0xFFF0);
  CHECK(At64(v, o::kRdx) == 0x00A00F11);
  CHECK(At64(v, o::kSevFeatures) == 1);
  CHECK(At64(v, o::kRflags) == 2);
  CHECK(At64(v, o::kEfer) == 0x1000);
  CHECK(At64(v, o::kCr0) == 0x10);
  CHECK(At64(v, o::kXcr0) == 1);
  CHECK(LoadLe32(v.data() + o::kMxcsr) == 0x1F80);
  CHECK(v[o::kTr + 2] == 0x8B);
  CHECK(v[o::kLdtr + 2] == 0x82);
  for (std::size_t seg : {o::kEs, o::kSs, o::kDs, o::kFs, o::kGs}) CHECK(v[seg + 2] == 0x93);
  // GUEST_TSC_SCALE/OFFSET stay zero: the firmware ignores them when measuring.
  CHECK(At64(v, 0x2F0) == 0);
  CHECK(At64(v, 0x2F8) == 0);
}

TEST_CASE("an AP VMSA starts at the SEV-ES reset address") {
  const auto v = launch::BuildVmsa({0x0080B004, 0x00800F12, 0x21});
  CHECK(At64(v, o::kCs + 8) == 0x00800000);
  CHECK(At64(v, o::kRip) == 0xB004);
  CHECK(At64(v, o::kSevFeatures) == 0x21);
  const auto bsp = launch::BuildVmsa({launch::kBspResetEip, 0x00800F12, 0x21});
  // Only CS.base and RIP differ between the BSP and an AP.
  int differing = 0;
  for (std::size_t i = 0; i < v.size(); ++i) differing += v[i] != bsp[i];
  CHECK(differing == 4);  // CS.base bytes 2 (0x80 vs 0xFF) and 3 (0x00 vs 0xFF); RIP bytes 0, 1
}

}  // namespace sevemu
