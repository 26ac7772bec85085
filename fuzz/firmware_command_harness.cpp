// firmware_command_fuzz's input runner (firmware_command_harness.h). It fuzzes the SNP
// firmware's command interface: input = u16 command id, u8 setup selector, then the command
// buffer. Each input runs against a freshly booted, initialised platform that has a
// guest in LAUNCH with an activated ASID, a FIRMWARE page and a PRE_GUEST page, so the fuzzer
// reaches deep checks. The boot reuses keys derived once (BootKeys): the state is rebuilt, the
// fuses' keys are not. Any status is fine; a crash, sanitizer report or a changed state on a
// refusal is not.
#include "firmware_command_harness.h"

#include <cstdint>
#include <cstdlib>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
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
  auto fw = sevemu::emulator::Firmware::Boot(BasePlatform(), cfg, BaseKeys());
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
  const auto cmd = static_cast<SnpCmd>(data[0] | data[1] << 8);
  sevemu::Bytes buffer(data + 3, data + size);
  const sevemu::Bytes before = f.StateDigest();
  const FwStatus st = f.Execute(cmd, buffer);
  if (st != FwStatus::kSuccess && f.StateDigest() != before)
    std::abort();  // refusals change nothing
}

}  // namespace sevemu::fuzz
