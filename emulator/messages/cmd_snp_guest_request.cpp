// SNP_GUEST_REQUEST: the transport of guest messages (SEV-ABI-FACTS.md 3.2, AMD-ASPFW
// snp_mcmd_guest_request). Failures of the transport — context, state, pages, header,
// authentication, sequence number, type, version — fail the command and change nothing (the
// sequence counter does not move). Failures of the requested operation are reported inside an
// encrypted, successfully delivered response.
#include <cstring>

#include "firmware_state.h"
#include "messages/guest_msg_handlers.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpGuestEvent;
using statemachine::SnpPlatformEvent;

// The highest MSG_VERSION the running ABI accepts for a request type (AMD-ASPFW checks only
// the request types it knows; others fail later, as unknown types).
std::uint8_t MaxMsgVersion(const FirmwareState& s, GuestMsgType type) {
  const FirmwareAbi& abi = Abi(s);
  switch (type) {
    case GuestMsgType::kKeyReq:
      return abi.max_key_req_version;
    case GuestMsgType::kReportReq:
      return abi.max_report_req_version;
    default:
      return 1;
  }
}

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
  if (h.msg_version == 0 || h.msg_version > MaxMsgVersion(s, h.type)) {
    return FwStatus::kInvalidParam;
  }

  MsgContext ctx{s, *g, h.vmpck};
  ctx.msg_version = h.msg_version;
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
    case GuestMsgType::kCpuidReq:
    case GuestMsgType::kExportReq:
    case GuestMsgType::kImportReq:
    case GuestMsgType::kAbsorbReq:
    case GuestMsgType::kVmrkReq:
    case GuestMsgType::kAbsorbNomaReq:
      return FwStatus::kUnsupported;  // CPUID and migration-agent messages: not yet modelled
    default:
      return FwStatus::kInvalidParam;  // not a request type
  }
  GuestMsgHeader rsp;
  rsp.seqno = h.seqno + 1;
  rsp.type = static_cast<GuestMsgType>(static_cast<std::uint8_t>(h.type) + 1);
  // The response answers in the request's version: Linux's sev-guest accepts a response only
  // if its MSG_VERSION equals the request's (verify_and_dec_payload).
  rsp.msg_version = h.msg_version;
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
  g->msg_count[h.vmpck] += 2;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
