// Fuzzes guest-message parsing and dispatch behind the crypto: the harness plays the guest
// driver of one launched guest (it knows the VMPCKs), so every input reaches the message
// handlers. Input: u8 type, u8 msg_version, u8 vmpck, then the payload (padded to 16 bytes).
// Also fuzzes the header parser on the raw input. A crash, a sanitizer report, or a refused
// request that changed firmware state aborts.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/messages/guest_message.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::Bytes;
using sevemu::MutableByteSpan;
using namespace sevemu::emulator;

constexpr std::uint64_t kGctx = 0x100000, kSecrets = 0x200000, kReq = 0x300000, kRsp = 0x301000;

struct World {
  std::unique_ptr<Firmware> fw;
  std::array<Bytes, 4> vmpck;
  std::array<std::uint64_t, 4> seqno{};
};

World& TheWorld() {
  static World w = [] {
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
    return x;
  }();
  return w;
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
  } else if (w.fw->StateDigest() != before) {
    std::abort();  // a refused request changed state
  }
  return 0;
}
