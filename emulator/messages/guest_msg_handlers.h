// Private to emulator/: the guest-message handlers SNP_GUEST_REQUEST dispatches to. Each takes
// the decrypted request payload and returns the response payload; errors of the requested
// operation go in the payload's status, as the firmware does ("a valid response no matter
// what"), so each returns a payload even when it refuses.
#pragma once

#include "firmware_state.h"
#include "sevemu/guestmsg/guest_message.h"

namespace sevemu::emulator {

struct MsgContext {
  const FirmwareState& s;
  const SnpGuest& guest;
  std::uint8_t requester_vmpl;   // = the VMPCK the request came under
  std::uint8_t msg_version = 1;  // the request header's MSG_VERSION (already checked)
};

// Response payload sizes (SEV-ABI-FACTS.md 3.4-3.6).
constexpr std::size_t kReportReqSize = 0x60;
constexpr std::size_t kReportRspSize = 0x4C0;  // status, size, reserved, report
constexpr std::size_t kKeyReqSize = 0x20;      // version 1; version 2 adds LAUNCH_MIT_VECTOR@0x20
constexpr std::size_t kKeyRspSize = 0x40;
constexpr std::size_t kTscInfoSize = 0x80;

Bytes HandleReportReq(const MsgContext& c, ByteSpan req);
Bytes HandleKeyReq(const MsgContext& c, ByteSpan req);
Bytes HandleTscInfoReq(const MsgContext& c, ByteSpan req);

// The unsigned-then-signed report a guest gets at `vmpl` with `report_data` (also used by
// tests and, later, extended reports). Refuses (returns a status) as MSG_REPORT_REQ does.
FwStatus BuildSignedReport(const MsgContext& c, ByteSpan report_data, std::uint32_t vmpl,
                           std::uint32_t key_sel, std::array<std::uint8_t, 0x4A0>& out);

}  // namespace sevemu::emulator
