// Fuzzes guest-message parsing and dispatch behind the crypto: the harness plays the guest
// driver of one launched guest (it knows the VMPCKs), so every input reaches the message
// handlers. That guest is a migration agent: the platform also holds its bound guest
// (RUNNING, kBound), a bound guest still in LAUNCH (kLaunching, for MSG_VMRK_REQ), an IMI guest
// in LAUNCH (kImi, for MSG_ABSORB_REQ) and an empty context (kEmpty, for MSG_IMPORT_REQ), so
// the migration-agent messages reach their effects; after each delivered one the platform is
// built again. Input: u8 type, u8 msg_version, u8
// vmpck, then the payload (padded to 16 bytes). Also fuzzes the header parser on the raw input.
// A crash, a sanitizer report, or a refused request that changed firmware state aborts.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::Bytes;
using sevemu::MutableByteSpan;
using namespace sevemu::emulator;
using namespace sevemu::guestmsg;

constexpr std::uint64_t kGctx = 0x100000, kSecrets = 0x200000, kReq = 0x300000, kRsp = 0x301000;
constexpr std::uint64_t kBound = 0x102000, kLaunching = 0x103000, kImi = 0x104000,
                        kEmpty = 0x105000;

struct World {
  std::unique_ptr<Firmware> fw;
  std::array<Bytes, 4> vmpck;
  std::array<std::uint64_t, 4> seqno{};
};

// GCTX_CREATE and LAUNCH_START (and ACTIVATE, LAUNCH_FINISH) of one more context.
void Launch(Firmware& f, std::uint64_t gctx, std::uint32_t flags, std::uint32_t asid, bool finish) {
  sevemu::rmp::RmpUpdate(f.memory().rmp(), gctx, {0, true, false, true, 0});
  SnpAddrBuf create{gctx};
  if (f.Execute(SnpCmd::kGctxCreate, create) != FwStatus::kSuccess) std::abort();
  if (asid == 0) return;  // left in INIT
  SnpLaunchStartBuf start{};
  start.gctx_paddr = gctx;
  start.policy = 0x30000 | (1u << 18);  // MIGRATE_MA
  start.ma_gctx_paddr = kGctx;
  start.flags = flags;
  SnpActivateBuf act{gctx, asid};
  SnpLaunchFinishBuf fin{gctx, 0, 0, 0, {}};
  if (f.Execute(SnpCmd::kLaunchStart, start) != FwStatus::kSuccess ||
      f.Execute(SnpCmd::kActivate, act) != FwStatus::kSuccess ||
      (finish && f.Execute(SnpCmd::kLaunchFinish, fin) != FwStatus::kSuccess)) {
    std::abort();
  }
}

World MakeWorld() {
  World x;
  auto root = AmdRoot::FromFiles(sevemu::fixtures::TestRootFiles("milan"), "");
  ProvisionOptions opts;
  opts.seed = Bytes{9};
  auto p = Provision(opts, std::move(root).value());
  FirmwareConfig cfg;
  cfg.memory_size = 16ull << 20;
  auto fw = Firmware::Boot(std::move(p).value(), cfg);
  if (!fw.ok()) std::abort();
  x.fw = std::move(fw).value();
  Firmware& f = *x.fw;
  f.Execute(SnpCmd::kInit, MutableByteSpan{});
  f.Wbinvd();
  f.Execute(SnpCmd::kDfFlush, MutableByteSpan{});
  auto& rmp = f.memory().rmp();
  sevemu::rmp::RmpUpdate(rmp, kGctx, {0, true, false, true, 0});
  sevemu::rmp::RmpUpdate(rmp, kRsp, {0, true, false, true, 0});
  SnpAddrBuf gctx{kGctx};
  SnpLaunchStartBuf start{};
  start.gctx_paddr = kGctx;
  start.policy = 0x30000;
  SnpActivateBuf act{kGctx, 1};
  SnpLaunchUpdateBuf upd{};
  upd.gctx_paddr = kGctx;
  upd.address = kSecrets;
  upd.page_info = static_cast<std::uint32_t>(PageType::kSecrets) << 1;
  SnpLaunchFinishBuf fin{kGctx, 0, 0, 0, {}};
  if (f.Execute(SnpCmd::kGctxCreate, gctx) != FwStatus::kSuccess ||
      f.Execute(SnpCmd::kLaunchStart, start) != FwStatus::kSuccess ||
      f.Execute(SnpCmd::kActivate, act) != FwStatus::kSuccess) {
    std::abort();
  }
  // The secrets page becomes the guest's only after ACTIVATE (an ASID owning pages is refused).
  sevemu::rmp::RmpUpdate(rmp, kSecrets, {0x1000, true, false, true, 1});
  if (f.Execute(SnpCmd::kLaunchUpdate, upd) != FwStatus::kSuccess ||
      f.Execute(SnpCmd::kLaunchFinish, fin) != FwStatus::kSuccess) {
    std::abort();
  }
  Bytes page(4096);
  if (f.memory().FirmwareReadGuest(1, kSecrets, page) != sevemu::rmp::RmpViolation::kNone) {
    std::abort();
  }
  for (int i = 0; i < 4; ++i)
    x.vmpck[i].assign(page.begin() + 0x20 + 32 * i, page.begin() + 0x40 + 32 * i);
  Launch(f, kBound, 1, 2, true);       // MA_EN, RUNNING
  Launch(f, kLaunching, 1, 3, false);  // MA_EN, LAUNCH
  Launch(f, kImi, 3, 4, false);        // MA_EN and IMI_EN, LAUNCH (an empty LD)
  Launch(f, kEmpty, 0, 0, false);      // INIT
  return x;
}

World& TheWorld() {
  static World w = MakeWorld();
  return w;
}

// The agent is gone (it exported itself with IMI_EN=0): nothing more would reach a handler.
bool AgentGone(Firmware& f) {
  return f.memory().rmp().Get(kGctx).State() != sevemu::rmp::PageState::kContext;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)ParseGuestMsgHeader({data, size});
  if (size < 3 || size > 3 + kGuestMsgMaxPayload) return 0;
  World& w = TheWorld();
  const std::uint8_t vmpck = data[2] & 3;
  Bytes payload(data + 3, data + size);
  payload.resize(std::max<std::size_t>(16, (payload.size() + 15) / 16 * 16), 0);
  GuestMsgHeader h;
  h.seqno = w.seqno[vmpck] + 1;
  h.type = static_cast<GuestMsgType>(data[0]);
  h.msg_version = data[1];
  h.msg_size = static_cast<std::uint16_t>(payload.size());
  h.vmpck = vmpck;
  auto ct = SealGuestMsg(h, payload, w.vmpck[vmpck]);
  if (!ct.ok()) std::abort();
  Bytes page(4096, 0);
  const auto hdr = SerializeGuestMsgHeader(h);
  std::memcpy(page.data(), hdr.data(), hdr.size());
  std::memcpy(page.data() + kGuestMsgHeaderSize, ct->data(), ct->size());
  if (w.fw->memory().HvWrite(kReq, page) != sevemu::rmp::RmpViolation::kNone) std::abort();
  const Bytes before = w.fw->StateDigest();
  SnpGuestRequestBuf req{kGctx, kReq, kRsp};
  const FwStatus st = w.fw->Execute(SnpCmd::kGuestRequest, req);
  if (st == FwStatus::kSuccess) {
    w.seqno[vmpck] += 2;
    // A migration-agent message may have moved a context on (exported, imported, absorbed):
    // the next input starts from the same platform again, so that a crash reproduces alone.
    const std::uint8_t t = data[0];
    if ((t >= 7 && t <= 15 && (t & 1)) || AgentGone(*w.fw)) w = MakeWorld();
  } else if (w.fw->StateDigest() != before) {
    std::abort();  // a refused request changed state
  }
  return 0;
}
