// The sevemu socket protocol, version 1 (docs/protocol.md): length-prefixed frames over a Unix
// stream socket between the daemon (`sevemu serve`) and its clients (the preload shim, the CLI).
//
//   frame  = header payload
//   header = magic "SEVM" | u16 version | u16 type | u32 request_id | u32 payload_length
//
// All integers little-endian. Each request frame gets exactly one reply frame with the same
// request_id: type | 0x80 on success, kError otherwise. The first frame on a connection must be
// kHello, which binds the connection to a role (host, or guest of one named guest) for its life.
//
// Encoding and decoding are pure functions (fuzzed): malformed input is an error, never a
// crash. The daemon answers a bad header (or a frame before HELLO) with kError and closes the
// connection, since it can no longer find frame boundaries; a bad payload gets kError
// ("bad_payload") and the connection stays usable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/uapi/linux_sev.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::protocol {

constexpr std::uint16_t kVersion = 1;
constexpr std::size_t kHeaderSize = 16;
// The largest payload either side accepts: a 16 MiB firmware image plus its JSON.
constexpr std::uint32_t kMaxPayload = (16u << 20) + (64u << 10);

enum class MsgType : std::uint16_t {
  kHello = 0x01,           // JSON {"role": "host"|"guest", "platform"?, "guest"?, "writable"?}
  kWhoAmI = 0x02,          // after hello: the hello reply again plus "role" and "writable", for a
                           // process that inherited the connection across exec
  kSevIoctl = 0x10,        // host: ioctl on /dev/sev (SevIoctlRequest)
  kManage = 0x11,          // host: management operation (JSON + optional blob)
  kTraceSubscribe = 0x12,  // host: no payload; acknowledged, then trace lines as kTraceEvent
  kTraceEvent = 0x13,      // daemon to a subscriber: one trace line (JSON, docs/trace.md)
  kGuestMemRead = 0x20,    // guest: u64 gpa, u32 length
  kGuestMemWrite = 0x21,   // guest: u64 gpa, bytes
  kGuestRequest = 0x22,    // guest: the SNP guest-request exit (GuestRequestMsg)
  // 0x23 and 0x24 were GUEST_LOCK / GUEST_UNLOCK (the driver mutex held across a client's
  // frames); they are retired: the guest kernel's driver runs in the daemon (kGuestIoctl), so a
  // request is one frame and no lock outlives it. The numbers are not reused.
  kGuestIoctl = 0x25,      // guest: ioctl on /dev/sev-guest, run by the daemon's guest driver
                           // (GuestIoctlRequest)
  kGuestTsmReport = 0x26,  // guest: configfs-tsm report_new (TsmReportRequest)
  kError = 0x7F,           // reply: JSON {"code": "...", "message": "..."}
};
constexpr std::uint16_t kReplyBit = 0x80;
const char* MsgTypeName(MsgType t);

struct FrameHeader {
  std::uint16_t version = kVersion;
  MsgType type = MsgType::kHello;
  std::uint32_t request_id = 0;
  std::uint32_t payload_length = 0;
};

std::array<std::uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& h);
// kInvalidArgument for a bad magic, an unsupported version or a payload above kMaxPayload.
Result<FrameHeader> DecodeHeader(ByteSpan bytes);
Bytes EncodeFrame(MsgType type, std::uint32_t request_id, ByteSpan payload);

// ---- payloads ----

// A JSON document followed by an opaque blob: u32 json_length | json | blob.
struct JsonBlob {
  std::string json;
  Bytes blob;
};
Bytes EncodeJsonBlob(const JsonBlob& m);
Result<JsonBlob> DecodeJsonBlob(ByteSpan payload);

struct SevIoctlRequest {
  std::uint64_t request = 0;  // the ioctl request number
  bool writable = false;      // informational: the daemon uses the connection's writability
  uapi::SevIssueCmdArg arg{};
  std::vector<uapi::UserRegion> regions;  // staged user memory
};
struct SevIoctlReply {
  std::int32_t ret = 0;  // 0 or -errno
  bool copy_back = false;
  uapi::SevIssueCmdArg arg{};
  std::vector<uapi::UserRegion> written;
};
Bytes EncodeSevIoctlRequest(const SevIoctlRequest& m);
Result<SevIoctlRequest> DecodeSevIoctlRequest(ByteSpan payload);
Bytes EncodeSevIoctlReply(const SevIoctlReply& m);
Result<SevIoctlReply> DecodeSevIoctlReply(ByteSpan payload);

struct GuestMemRead {
  std::uint64_t gpa = 0;
  std::uint32_t length = 0;
};
Bytes EncodeGuestMemRead(const GuestMemRead& m);
Result<GuestMemRead> DecodeGuestMemRead(ByteSpan payload);

struct GuestMemWrite {
  std::uint64_t gpa = 0;
  Bytes data;
};
Bytes EncodeGuestMemWrite(const GuestMemWrite& m);
Result<GuestMemWrite> DecodeGuestMemWrite(ByteSpan payload);

struct GuestRequestMsg {
  std::optional<std::uint32_t> cert_buffer_len;  // set: an extended request
  Bytes request;                                 // at most 4 KiB
};
struct GuestRequestReplyMsg {
  std::uint32_t fw_error = 0;
  std::uint32_t vmm_error = 0;
  std::uint32_t certs_needed = 0;
  Bytes response;
  Bytes certs;
};
Bytes EncodeGuestRequest(const GuestRequestMsg& m);
Result<GuestRequestMsg> DecodeGuestRequest(ByteSpan payload);
Bytes EncodeGuestRequestReply(const GuestRequestReplyMsg& m);
Result<GuestRequestReplyMsg> DecodeGuestRequestReply(ByteSpan payload);

// An ioctl on /dev/sev-guest. The guest kernel's sev-guest driver runs in the daemon, against
// the caller's memory as staged by uapi::PlanSnpGuestIoctlRegions, so a request is sealed,
// sent, checked and its message counter stored in one step that no client can interrupt.
struct GuestIoctlRequest {
  std::uint64_t request = 0;  // the ioctl request number
  std::uint64_t arg = 0;      // the user pointer to struct snp_guest_request_ioctl
  std::vector<uapi::UserRegion> regions;
};
struct GuestIoctlReply {
  std::int32_t ret = 0;  // 0 or -errno, as snp_guest_ioctl returns
  std::vector<uapi::UserRegion> written;
};
Bytes EncodeGuestIoctlRequest(const GuestIoctlRequest& m);
Result<GuestIoctlRequest> DecodeGuestIoctlRequest(ByteSpan payload);
Bytes EncodeGuestIoctlReply(const GuestIoctlReply& m);
Result<GuestIoctlReply> DecodeGuestIoctlReply(ByteSpan payload);

// configfs-tsm's report_new for one entry: u32 privlevel | blob inblob (at most 64 bytes).
// Reply: i32 ret | blob outblob | blob auxblob.
struct TsmReportRequest {
  std::uint32_t privlevel = 0;
  Bytes inblob;
};
struct TsmReportReply {
  std::int32_t ret = 0;  // 0 or the -errno a read of outblob/auxblob returns
  Bytes outblob;
  Bytes auxblob;
};
Bytes EncodeTsmReportRequest(const TsmReportRequest& m);
Result<TsmReportRequest> DecodeTsmReportRequest(ByteSpan payload);
Bytes EncodeTsmReportReply(const TsmReportReply& m);
Result<TsmReportReply> DecodeTsmReportReply(ByteSpan payload);

// Error replies.
Bytes EncodeError(const std::string& code, const std::string& message);
// The message of a kError payload, as one plain line for people (the payload as it came if it is
// not the documented JSON object).
std::string DecodeError(ByteSpan payload);

// Where clients and the daemon meet: $SEVEMU_SOCKET, else $XDG_RUNTIME_DIR/sevemu/sevemu.sock,
// else /tmp/sevemu-<uid>/sevemu.sock.
std::string DefaultSocketPath();

}  // namespace sevemu::protocol
