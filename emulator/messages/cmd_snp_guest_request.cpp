// SNP_GUEST_REQUEST: the transport of guest messages (SEV-ABI-FACTS.md 3.2, AMD-ASPFW
// snp_mcmd_guest_request). Failures of the transport — context, state, pages, header,
// authentication, sequence number, type, version — fail the command and change nothing (the
// sequence counter does not move). Failures of the requested operation are reported inside an
// encrypted, successfully delivered response. The migration-agent messages' effects on guest
// contexts (messages/ma_messages.h) take place only once that response is sealed.
#include <cstring>

#include "firmware_state.h"
#include "messages/guest_msg_handlers.h"
#include "messages/ma_messages.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpGuestEvent;
using statemachine::SnpPlatformEvent;

// The highest message version this firmware speaks for every type (1 in ABI 1.55).
constexpr std::uint8_t kMaxMsgVersion = 1;

}  // namespace

FwStatus SnpGuestRequest(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpGuestRequestBuf>(buf);
  if ((in.gctx_paddr | in.req_paddr | in.res_paddr) & kAddrReservedMask) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SnpGuestEvent::kGuestRequest)) return FwStatus::kInvalidGuestState;
  if (PageStateAt(s, in.res_paddr) != PageState::kFirmware) return FwStatus::kInvalidPageState;
  rmp::Page req{};
  if (!s.memory.FirmwareRead(in.req_paddr, req).ok()) return FwStatus::kInvalidAddress;
  auto header = ParseGuestMsgHeader(req);
  if (!header.ok()) return FwStatus::kInvalidParam;
  const GuestMsgHeader& h = *header;
  auto plain = OpenGuestMsg(h, ByteSpan(req).subspan(kGuestMsgHeaderSize, h.msg_size),
                            g->vmpck[h.vmpck].span());
  // A wrong key or a forged message: refused without revealing which (the public sources do
  // not pin the status; AMD-ASPFW passes an internal error through).
  if (!plain.ok()) return FwStatus::kInvalidParam;
  // Exactly the next sequence number: replays and reordering fail here.
  if (h.seqno != g->msg_count[h.vmpck] + 1 || h.seqno >= ~0ull - 1) return FwStatus::kAeadOverflow;
  if (h.msg_version == 0 || h.msg_version > kMaxMsgVersion) return FwStatus::kInvalidParam;

  const MsgContext ctx{s, *g, h.vmpck};
  const MaContext ma{s, *g, in.gctx_paddr, h.vmpck};
  MaCommit commit;  // a migration-agent message's effect, run once the response is sealed
  Bytes response;
  switch (h.type) {
    case GuestMsgType::kReportReq:
      response = HandleReportReq(ctx, plain->span());
      break;
    case GuestMsgType::kKeyReq:
      response = HandleKeyReq(ctx, plain->span());
      break;
    case GuestMsgType::kTscInfoReq:
      response = HandleTscInfoReq(ctx, plain->span());
      break;
    case GuestMsgType::kExportReq:
      response = HandleExportReq(ma, plain->span(), commit);
      break;
    case GuestMsgType::kImportReq:
      response = HandleImportReq(ma, plain->span(), commit);
      break;
    case GuestMsgType::kAbsorbReq:
      response = HandleAbsorbReq(ma, plain->span(), commit);
      break;
    case GuestMsgType::kVmrkReq:
      response = HandleVmrkReq(ma, plain->span(), commit);
      break;
    case GuestMsgType::kAbsorbNomaReq:
      response = HandleAbsorbNomaReq(ma, plain->span(), commit);
      break;
    case GuestMsgType::kCpuidReq:
      return FwStatus::kUnsupported;  // MSG_CPUID_REQ: not yet modelled
    default:
      return FwStatus::kInvalidParam;  // not a request type
  }
  GuestMsgHeader rsp;
  rsp.seqno = h.seqno + 1;
  rsp.type = static_cast<GuestMsgType>(static_cast<std::uint8_t>(h.type) + 1);
  rsp.msg_version = kMaxMsgVersion;
  rsp.msg_size = static_cast<std::uint16_t>(response.size());
  rsp.vmpck = h.vmpck;
  auto sealed = SealGuestMsg(rsp, response, g->vmpck[h.vmpck].span());
  SecureZero(response.data(), response.size());
  if (!sealed.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  rmp::Page out{};
  const auto hdr = SerializeGuestMsgHeader(rsp);
  std::memcpy(out.data(), hdr.data(), hdr.size());
  std::memcpy(out.data() + kGuestMsgHeaderSize, sealed->data(), sealed->size());
  (void)s.memory.FirmwareWrite(in.res_paddr, out);
  if (commit) commit();
  // A guest that exported itself with IMI_EN=0 is gone; otherwise its counter moves (after an
  // ABSORB_NOMA, the counter it took from the incoming context: AMD-ASPFW increments through
  // the same pointer after the copy).
  if (s.guests.count(in.gctx_paddr) != 0) g->msg_count[h.vmpck] += 2;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
