// firmware_command_fuzz's input runner (firmware_command_harness.h). It fuzzes the firmware's
// command interface: input = u16 command id, u8 setup selector, then the
// command buffer. Selector bit 1 clear: an SNP command (Firmware::Execute) on a freshly booted
// platform, with bit 0 initialised and holding a guest in LAUNCH with an activated ASID, a
// FIRMWARE page and a PRE_GUEST page. Bit 1 set: a legacy SEV command (Firmware::ExecuteSev) on
// a platform INIT with SEV-ES whose guest 1 is being sent to the platform itself (SUPDATE, the
// session at 0x302000, the PDH at 0x300000, one transport packet at 0x304000/0x305000) and
// whose guest 2 receives it (RUPDATE, activated), so SEND_* and RECEIVE_* reach their deep
// checks. Any status is fine; a crash, sanitizer report or a changed state on a refusal is not.
// The boot reuses keys derived once (BootKeys): the state is rebuilt per input, the fuses'
// keys are not.
#include "firmware_command_harness.h"

#include <cstdint>
#include <cstdlib>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::emulator::FwStatus;
using sevemu::emulator::SevCmd;
using sevemu::emulator::SnpCmd;

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

}  // namespace

namespace sevemu::fuzz {

void RunFirmwareCommandInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return;
  sevemu::emulator::FirmwareConfig cfg;
  cfg.memory_size = 16ull << 20;
  cfg.snp_enabled = (data[2] & 2) == 0;  // legacy INIT without an RMP
  auto fw = sevemu::emulator::Firmware::Boot(BasePlatform(), cfg, BaseKeys());
  if (!fw.ok()) std::abort();
  auto& f = **fw;
  if ((data[2] & 3) == 1) {  // an initialised platform with a guest in LAUNCH
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
  const bool legacy = (data[2] & 2) != 0;
  if (legacy) LegacySetup(f);
  const auto id = static_cast<std::uint32_t>(data[0] | data[1] << 8);
  sevemu::Bytes buffer(data + 3, data + size);
  const sevemu::Bytes before = f.StateDigest();
  const FwStatus st = legacy ? f.ExecuteSev(static_cast<SevCmd>(id), buffer)
                             : f.Execute(static_cast<SnpCmd>(id), buffer);
  if (st != FwStatus::kSuccess && f.StateDigest() != before)
    std::abort();  // refusals change nothing
}

}  // namespace sevemu::fuzz
