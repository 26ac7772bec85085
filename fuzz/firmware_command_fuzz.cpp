// Fuzzes the SNP firmware's command interface: input = u16 command id, u8 setup selector, then
// the command buffer. Each input runs against a freshly booted, initialised platform that has a
// guest in LAUNCH with an activated ASID, a FIRMWARE page and a PRE_GUEST page, so the fuzzer
// reaches deep checks. Setup bit 1 adds what page swapping needs: a METADATA page (0x300000),
// a PRE_SWAP guest page (0x210000, GPA 0x2000), a page swapped out into 0x400000 with its
// entry in the metadata page's slot 0, and a FIRMWARE page for ciphertext (0x401000). Setup
// bit 2 takes the next 64 input bytes as the metadata entry in slot 1 (0x300040), so entries
// are fuzzed too. Any status is fine; a crash, sanitizer report or a changed state on a
// refusal is not.
#include <cstdint>
#include <cstdlib>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::emulator::FwStatus;
using sevemu::emulator::SnpCmd;

const sevemu::emulator::Platform& BasePlatform() {
  static const sevemu::emulator::Platform platform = [] {
    auto root = sevemu::emulator::AmdRoot::FromFiles(sevemu::fixtures::TestRootFiles("milan"), "");
    if (!root.ok()) std::abort();
    sevemu::emulator::ProvisionOptions opts;
    opts.seed = sevemu::Bytes{7};
    auto p = sevemu::emulator::Provision(opts, std::move(root).value());
    if (!p.ok()) std::abort();
    return std::move(p).value();
  }();
  return platform;
}

// SNP_PAGE_MD_INIT, two launched data pages frozen (PRE_SWAP), one of them swapped out.
void SwapSetup(sevemu::emulator::Firmware& f) {
  using sevemu::emulator::SwapFlags;
  using sevemu::emulator::SwapPageType;
  auto& rmp = f.memory().rmp();
  for (std::uint64_t spa : {0x300000ull, 0x400000ull, 0x401000ull}) {
    sevemu::rmp::RmpUpdate(rmp, spa, {0, true, false, true, 0});
  }
  sevemu::emulator::SnpPageMdInitBuf md{0x100000, 0x300000};
  f.Execute(SnpCmd::kPageMdInit, md);
  for (std::uint64_t i = 0; i < 2; ++i) {
    const std::uint64_t spa = 0x210000 + i * 0x1000, gpa = 0x2000 + i * 0x1000;
    sevemu::rmp::RmpUpdate(rmp, spa, {gpa, true, false, true, 1});
    sevemu::emulator::SnpLaunchUpdateBuf upd{};
    upd.gctx_paddr = 0x100000;
    upd.address = spa;
    upd.page_info = static_cast<std::uint32_t>(sevemu::emulator::PageType::kNormal) << 1;
    f.Execute(SnpCmd::kLaunchUpdate, upd);
    sevemu::rmp::RmpUpdate(rmp, spa, {gpa, true, false, true, 1});  // GUEST_VALID -> PRE_SWAP
  }
  sevemu::emulator::SnpPageSwapOutBuf out{0x100000, 0x211000, 0x400000,
                                          0x300000, 0,        SwapFlags(SwapPageType::kData)};
  f.Execute(SnpCmd::kPageSwapOut, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  sevemu::emulator::FirmwareConfig cfg;
  cfg.memory_size = 16ull << 20;
  auto fw = sevemu::emulator::Firmware::Boot(BasePlatform(), cfg);
  if (!fw.ok()) std::abort();
  auto& f = **fw;
  if (data[2] & 1) {  // an initialised platform with a guest in LAUNCH
    f.Execute(SnpCmd::kInit, sevemu::MutableByteSpan{});
    f.Wbinvd();
    f.Execute(SnpCmd::kDfFlush, sevemu::MutableByteSpan{});
    sevemu::rmp::RmpUpdate(f.memory().rmp(), 0x100000, {0, true, false, true, 0});
    sevemu::rmp::RmpUpdate(f.memory().rmp(), 0x101000, {0, true, false, true, 0});
    sevemu::emulator::SnpAddrBuf gctx{0x100000};
    f.Execute(SnpCmd::kGctxCreate, gctx);
    sevemu::emulator::SnpLaunchStartBuf start{};
    start.gctx_paddr = 0x100000;
    start.policy = 0x30000 | (1ull << 19);
    f.Execute(SnpCmd::kLaunchStart, start);
    sevemu::emulator::SnpActivateBuf act{0x100000, 1};
    f.Execute(SnpCmd::kActivate, act);
    sevemu::rmp::RmpUpdate(f.memory().rmp(), 0x200000, {0x1000, true, false, true, 1});
  }
  std::size_t at = 3;
  if ((data[2] & 3) == 3) SwapSetup(f);
  if ((data[2] & 7) == 7) {
    if (size < at + 64) return 0;
    (void)f.memory().FirmwareWrite(0x300040, sevemu::ByteSpan(data + at, 64));
    at += 64;
  }
  const auto cmd = static_cast<SnpCmd>(data[0] | data[1] << 8);
  sevemu::Bytes buffer(data + at, data + size);
  const sevemu::Bytes before = f.StateDigest();
  const FwStatus st = f.Execute(cmd, buffer);
  if (st != FwStatus::kSuccess && f.StateDigest() != before)
    std::abort();  // refusals change nothing
  return 0;
}
