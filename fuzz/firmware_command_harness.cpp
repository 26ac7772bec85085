// firmware_command_fuzz's input runner (firmware_command_harness.h). It fuzzes the firmware's
// command interface: input = u16 command id, u8 setup selector, then the
// command buffer. Selector bit 1 clear: an SNP command (Firmware::Execute) on a freshly booted
// platform, with bit 0 initialised and holding a guest in LAUNCH with an activated ASID, a
// FIRMWARE page and a PRE_GUEST page. Bit 1 set: a legacy SEV command (Firmware::ExecuteSev) on
// a platform INIT with SEV-ES whose guest 1 is being sent to the platform itself (SUPDATE, the
// session at 0x302000, the PDH at 0x300000, one transport packet at 0x304000/0x305000) and
// whose guest 2 receives it (RUPDATE, activated), so SEND_* and RECEIVE_* reach their deep
// checks. With bit 0 and bit 2 (bit 1 clear), what page swapping needs is added: a METADATA
// page (0x300000), a PRE_SWAP guest page (0x210000, GPA 0x2000), a page swapped out into
// 0x400000 with its entry in the metadata page's slot 0, and a FIRMWARE page for ciphertext
// (0x401000); bit 3 then takes the next 64 input bytes as the metadata entry in slot 1
// (0x300040), so entries are fuzzed too. Any status is fine; a crash, sanitizer report or a
// changed state on a refusal is not.
// Each of the four setups (plain, guest, guest + swap, legacy) is booted and built once, with
// keys derived once (BootKeys), and every input runs on a Firmware::Clone of it: the same state
// a fresh build gives (the platform is deterministic; tests/emulator/firmware_clone_test.cpp),
// without a boot or the setup's commands per input (docs/fuzzing.md).
#include "firmware_command_harness.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::emulator::FwStatus;
using sevemu::emulator::SevCmd;
using sevemu::emulator::SnpCmd;

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

// The legacy setup (selector bit 1): guest 1 RUNNING -> SUPDATE for this platform's own PDH,
// guest 2 RUPDATE from that session; a packet of guest 1's first page.
void LegacySetup(sevemu::emulator::Firmware& f) {
  namespace em = sevemu::emulator;
  em::SevInitBuf init{};
  init.flags = em::sev_flags::kConfigEs;
  init.tmr_paddr = 0x800000;
  init.tmr_length = em::kSevEsTmrSize;
  f.ExecuteSev(SevCmd::kInit, init);
  f.Wbinvd();
  f.ExecuteSev(SevCmd::kDfFlush, sevemu::MutableByteSpan{});
  em::SevLaunchStartBuf ls{};  // no session: AMD's all-zero channel
  f.ExecuteSev(SevCmd::kLaunchStart, ls);
  em::SevActivateBuf act{1, 300};  // SEV guests from min_sev_asid (Milan: 254)
  f.ExecuteSev(SevCmd::kActivate, act);
  em::SevLaunchUpdateBuf up{1, 0, 0x400000, 0x1000};
  f.ExecuteSev(SevCmd::kLaunchUpdateData, up);
  em::SevLaunchMeasureBuf lm{1, 0, 0x306000, 0x30};
  f.ExecuteSev(SevCmd::kLaunchMeasure, lm);
  em::SevHandleBuf fin{1};
  f.ExecuteSev(SevCmd::kLaunchFinish, fin);
  em::SevPdhCertExportBuf ex{0x300000, 0x824, 0, 0x301000, 0x186C};
  f.ExecuteSev(SevCmd::kPdhCertExport, ex);
  em::SevSendStartBuf ss{};
  ss.handle = 1;
  ss.pdh_cert_paddr = 0x300000;
  ss.pdh_cert_len = 0x824;
  ss.session_paddr = 0x302000;
  ss.session_len = 0x80;
  f.ExecuteSev(SevCmd::kSendStart, ss);
  em::SevReceiveStartBuf rs{0, 0, 0x300000, 0x824, 0, 0x302000, 0x80};
  f.ExecuteSev(SevCmd::kReceiveStart, rs);
  em::SevActivateBuf act2{2, 301};
  f.ExecuteSev(SevCmd::kActivate, act2);
  em::SevTransportBuf su{1, 0, 0x304000, 0x34, 0, 0x400000, 0x1000, 0, 0x305000, 0x1000};
  f.ExecuteSev(SevCmd::kSendUpdateData, su);
}

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

// The boot ROM's keys, derived once: without them each input would spend most of its time
// re-deriving the same hash sticks and VCEK (docs/performance.md).
const sevemu::emulator::BootKeys& BaseKeys() {
  static const sevemu::emulator::BootKeys keys = [] {
    auto k = sevemu::emulator::BootKeys::Derive(BasePlatform());
    if (!k.ok()) std::abort();
    return std::move(k).value();
  }();
  return keys;
}

enum Setup { kPlain, kGuest, kSwap, kLegacy, kSetups };

Setup SetupOf(std::uint8_t selector) {
  if (selector & 2) return kLegacy;
  if ((selector & 7) == 5) return kSwap;
  return (selector & 3) == 1 ? kGuest : kPlain;
}

// Boots and builds one setup (what every input got before the snapshots).
std::unique_ptr<sevemu::emulator::Firmware> Build(Setup setup) {
  sevemu::emulator::FirmwareConfig cfg;
  cfg.memory_size = 16ull << 20;
  cfg.snp_enabled = setup != kLegacy;  // legacy INIT without an RMP
  auto fw = sevemu::emulator::Firmware::Boot(BasePlatform(), cfg, BaseKeys());
  if (!fw.ok()) std::abort();
  auto& f = **fw;
  if (setup == kGuest || setup == kSwap) {  // an initialised platform with a guest in LAUNCH
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
  if (setup == kLegacy) LegacySetup(f);
  if (setup == kSwap) SwapSetup(f);
  return std::move(fw).value();
}

// A built setup and its state digest (what a refusal must leave unchanged), both made once.
struct Snapshot {
  std::unique_ptr<sevemu::emulator::Firmware> fw;
  sevemu::Bytes digest;
};

const Snapshot& SnapshotOf(Setup setup) {
  static std::array<Snapshot, kSetups> snapshots;
  Snapshot& s = snapshots[setup];
  if (!s.fw) {
    s.fw = Build(setup);
    s.digest = s.fw->StateDigest();
  }
  return s;
}

}  // namespace

namespace sevemu::fuzz {

void RunFirmwareCommandInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return;
  const Setup setup = SetupOf(data[2]);
  const Snapshot& snapshot = SnapshotOf(setup);
  const auto fw = snapshot.fw->Clone();
  auto& f = *fw;
  const bool legacy = setup == kLegacy;
  std::size_t at = 3;
  if ((data[2] & 15) == 13) {
    if (size < at + 64) return;
    (void)f.memory().FirmwareWrite(0x300040, sevemu::ByteSpan(data + at, 64));
    at += 64;
  }
  const auto id = static_cast<std::uint32_t>(data[0] | data[1] << 8);
  sevemu::Bytes buffer(data + at, data + size);
  const sevemu::Bytes before = at == 3 ? snapshot.digest : f.StateDigest();
  const FwStatus st = legacy ? f.ExecuteSev(static_cast<SevCmd>(id), buffer)
                             : f.Execute(static_cast<SnpCmd>(id), buffer);
  if (st != FwStatus::kSuccess && f.StateDigest() != before)
    std::abort();  // refusals change nothing
}

}  // namespace sevemu::fuzz
