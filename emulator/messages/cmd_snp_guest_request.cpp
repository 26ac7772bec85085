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

using guestmsg::GuestMsgHeader;
using guestmsg::GuestMsgType;
using guestmsg::kGuestMsgHeaderSize;
using guestmsg::OpenGuestMsg;
using guestmsg::ParseGuestMsgHeader;
using guestmsg::SealGuestMsg;
using guestmsg::SerializeGuestMsgHeader;
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

using MsgHandler = Bytes (*)(const MsgContext&, ByteSpan);
// Migration-agent messages: their effect is returned in `commit`, run once the response is
// sealed, so a transport failure after the handler changes nothing.
using MaHandler = Bytes (*)(const MaContext&, ByteSpan, MaCommit&);

// The request types (SEV-ABI-FACTS.md 3.3) and who answers them; a null handler is a request
// type this firmware recognises but does not model (UNSUPPORTED). Any other type is not a
// request (INVALID_PARAM).
struct GuestMsgSpec {
  GuestMsgType type;
  const char* name;  // the ABI's name (SEV-SNP ABI, "Guest Message Types")
  MsgHandler handler;
  MaHandler ma_handler = nullptr;
};
// clang-format off
constexpr GuestMsgSpec kGuestMessages[] = {
  {GuestMsgType::kCpuidReq,      "MSG_CPUID_REQ",       nullptr},  // not yet modelled
  {GuestMsgType::kKeyReq,        "MSG_KEY_REQ",         &HandleKeyReq},
  {GuestMsgType::kReportReq,     "MSG_REPORT_REQ",      &HandleReportReq},
  {GuestMsgType::kExportReq,     "MSG_EXPORT_REQ",      nullptr, &HandleExportReq},
  {GuestMsgType::kImportReq,     "MSG_IMPORT_REQ",      nullptr, &HandleImportReq},
  {GuestMsgType::kAbsorbReq,     "MSG_ABSORB_REQ",      nullptr, &HandleAbsorbReq},
  {GuestMsgType::kVmrkReq,       "MSG_VMRK_REQ",        nullptr, &HandleVmrkReq},
  {GuestMsgType::kAbsorbNomaReq, "MSG_ABSORB_NOMA_REQ", nullptr, &HandleAbsorbNomaReq},
  {GuestMsgType::kTscInfoReq,    "MSG_TSC_INFO_REQ",    &HandleTscInfoReq},
};
// clang-format on

}  // namespace

std::vector<ImplementedGuestMessage> ImplementedGuestMessages() {
  std::vector<ImplementedGuestMessage> out;
  for (const auto& m : kGuestMessages) {
    if (m.handler != nullptr || m.ma_handler != nullptr) {
      out.push_back({static_cast<std::uint8_t>(m.type), m.name});
    }
  }
  return out;
}

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
  const MaContext ma{s, *g, in.gctx_paddr, h.vmpck};
  MaCommit commit;  // a migration-agent message's effect, run once the response is sealed
  const GuestMsgSpec* spec = nullptr;
  for (const auto& m : kGuestMessages) {
    if (m.type == h.type) spec = &m;
  }
  if (spec == nullptr) return FwStatus::kInvalidParam;  // not a request type
  if (spec->handler == nullptr && spec->ma_handler == nullptr) {
    return FwStatus::kUnsupported;  // not yet modelled
  }
  Bytes response = spec->handler != nullptr ? spec->handler(ctx, plain->span())
                                            : spec->ma_handler(ma, plain->span(), commit);
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
  if (commit) commit();
  // A guest that exported itself with IMI_EN=0 is gone; otherwise its counter moves (after an
  // ABSORB_NOMA, the counter it took from the incoming context: AMD-ASPFW increments through
  // the same pointer after the copy).
  if (s.guests.count(in.gctx_paddr) != 0) g->msg_count[h.vmpck] += 2;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
