// The CPUID page check: AMD's policy rules, the corrections written back, the quirks.
#include "sevemu/emulator/snp/cpuid_page.h"

#include <doctest/doctest.h>

#include "firmware_fixture.h"

namespace sevemu::emulator {
namespace {

constexpr std::uint32_t kHostFms = 0x00A10F11;  // Genoa B1

struct Entry {
  std::uint32_t leaf, subleaf, eax, ebx, ecx, edx;
  std::uint64_t xcr0 = 0, xss = 0, reserved = 0;
};

Bytes Page(const std::vector<Entry>& entries) {
  Bytes page(4096, 0);
  StoreLe32(page.data(), static_cast<std::uint32_t>(entries.size()));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::uint8_t* e = page.data() + 0x10 + i * kCpuidEntrySize;
    const Entry& x = entries[i];
    StoreLe32(e, x.leaf);
    StoreLe32(e + 4, x.subleaf);
    StoreLe64(e + 8, x.xcr0);
    StoreLe64(e + 0x10, x.xss);
    StoreLe32(e + 0x18, x.eax);
    StoreLe32(e + 0x1C, x.ebx);
    StoreLe32(e + 0x20, x.ecx);
    StoreLe32(e + 0x24, x.edx);
    StoreLe64(e + 0x28, x.reserved);
  }
  return page;
}

std::uint32_t Reg(const Bytes& page, int entry, int reg) {
  return LoadLe32(page.data() + 0x10 + entry * kCpuidEntrySize + 0x18 + 4 * reg);
}

const std::vector<Entry> kGood = {
    {0x0, 0, 0x10, 0x68747541, 0x444D4163, 0x69746E65},  // max leaf 0x10, "AuthenticAMD"
    {0x1, 0, 0x00A00F11, 0x00010800, 0x80000001, 0x178BFBFF},
    {0xD, 0, 0x7, 0x340, 0x988, 0, 0x7},               // AVX state: 0x340 bytes
    {0xD, 1, 0x1, 0x340 + 0x10, 0, 0, 0x7, 1u << 11},  // XSAVES with CET_U
    {0x8000001F, 0, 0x1, 0x33 | (4u << 12), 509, 100},
    {0x40000000, 0, 0xFFFFFFFF, 1, 2, 3, 0, 0, 5},  // hypervisor leaf: not checked
};

}  // namespace

TEST_CASE("a table within AMD's policy passes unchanged") {
  Bytes page = Page(kGood);
  const Bytes before = page;
  REQUIRE(CpuidPageHeaderValid(page));
  CHECK(SanitizeCpuidPage(page, kHostFms));
  CHECK(page == before);
}

TEST_CASE("each rule kind corrects what fails, as the firmware does") {
  struct Row {
    const char* what;
    Entry entry;
    int reg;
    std::uint32_t corrected;
  };
  const Row rows[] = {
      {"AT_MOST: max standard leaf", {0x0, 0, 0x20, 0, 0, 0}, 0, 0x10},
      {"EXACT: leaf 6 EBX", {0x6, 0, 0, 5, 0, 0}, 1, 0},
      {"MASK: leaf 1 EDX", {0x1, 0, 0x00A00F11, 0x800, 0, 0x178BFBFF | (1u << 10)}, 3, 0x178BFBFF},
      {"FMS above the chip's", {0x1, 0, 0x00B00F21, 0x800, 0, 0}, 0, kHostFms},
      {"CLFLUSH size", {0x1, 0, 0x00A00F11, 0x0400, 0, 0}, 1, 0x0800},
      {"XSAVE size follows xcr0_in", {0xD, 0, 0x7, 0x240, 0, 0, 0x7}, 1, 0x340},
      {"x87/SSE always present", {0xD, 0, 0x4, 0x240, 0, 0, 0x1}, 0, 0x7},
      {"unknown leaf reads zero", {0x1F, 0, 1, 2, 3, 4}, 2, 0},
      {"C-bit quirk: 0x34 becomes 0x37", {0x8000001F, 0, 1, 0x34, 0, 0}, 1, 0x37},
      {"VMPL count at most 4", {0x8000001F, 0, 1, 0x33 | (7u << 12), 0, 0}, 1, 0x33 | (4u << 12)},
      {"leaf 7 EDX quirk: written back as 0", {0x7, 0, 0, 0, 0, 0x10000010 | 2}, 3, 0},
      {"address sizes at most 52/57", {0x80000008, 0, 0x3930, 0, 0, 0}, 0, 0x3930},
      {"address sizes above the limit", {0x80000008, 0, 0x3A35, 0, 0, 0}, 0, 0x3934},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    Bytes page = Page({r.entry});
    const bool ok = SanitizeCpuidPage(page, kHostFms);
    CHECK(Reg(page, 0, r.reg) == r.corrected);
    // Rows whose value is already allowed must pass.
    CHECK(ok == (std::string(r.what) == "address sizes at most 52/57"));
  }
  // A non-zero entry reserved field fails but is not corrected.
  Bytes page = Page({{0x0, 0, 0x10, 0, 0, 0, 0, 0, 9}});
  CHECK_FALSE(SanitizeCpuidPage(page, kHostFms));
  CHECK(LoadLe64(page.data() + 0x10 + 0x28) == 9);
  // Every entry is checked: two failures, both corrected.
  page = Page({{0x0, 0, 0x20, 0, 0, 0}, {0x6, 0, 0, 5, 0, 0}});
  CHECK_FALSE(SanitizeCpuidPage(page, kHostFms));
  CHECK(Reg(page, 0, 0) == 0x10);
  CHECK(Reg(page, 1, 1) == 0);
}

TEST_CASE("CPUID page header checks") {
  Bytes page = Page(kGood);
  StoreLe32(page.data(), 65);
  CHECK_FALSE(CpuidPageHeaderValid(page));
  page = Page(kGood);
  page[4] = 1;
  CHECK_FALSE(CpuidPageHeaderValid(page));
  page = Page(kGood);
  page[15] = 1;
  CHECK_FALSE(CpuidPageHeaderValid(page));
  CHECK(CpuidPageHeaderValid(Page({})));
}

TEST_CASE("SNP_LAUNCH_UPDATE with a CPUID page: accepted, or corrected and written back") {
  test::FirmwareFixture f(Product::kGenoa);
  f.InitPlatform();
  f.StartGuest(0x100000, 1);
  const std::uint32_t fms = f.fw->platform_state().chip.cpuid_fms();
  Bytes bad = Page({{0x1, 0, fms, 0x0800, 0, 0}, {0x6, 0, 0, 5, 0, 0}});
  f.MakePreGuestPage(0x400000, 0x5000, 1, bad);
  auto upd = f.UpdateBuf(0x100000, 0x400000, PageType::kCpuid);
  CHECK(f.Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kInvalidParam);
  Bytes back(4096);
  REQUIRE(f.fw->memory().FirmwareRead(0x400000, back).ok());
  CHECK(Reg(back, 1, 1) == 0);  // the VMM reads the corrected table in plaintext
  CHECK(f.fw->memory().rmp().Get(0x400000).State() == rmp::PageState::kPreGuest);
  // The VMM retries with the corrected table: accepted.
  CHECK(f.Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(0x400000).State() == rmp::PageState::kGuestValid);
  // A header the firmware cannot read is refused without a write-back.
  Bytes header = Page({});
  StoreLe32(header.data(), 70);
  f.MakePreGuestPage(0x401000, 0x6000, 1, header);
  CHECK(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(0x100000, 0x401000, PageType::kCpuid)) ==
        FwStatus::kInvalidParam);
  REQUIRE(f.fw->memory().FirmwareRead(0x401000, back).ok());
  CHECK(back == header);
}

}  // namespace sevemu::emulator
