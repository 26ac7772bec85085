#include "sevemu/protocol/wire.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

namespace sevemu::protocol {

namespace {

constexpr std::uint8_t kMagic[4] = {'S', 'E', 'V', 'M'};

class Writer {
 public:
  void U8(std::uint8_t v) { out_.push_back(v); }
  void U32(std::uint32_t v) {
    std::uint8_t b[4];
    StoreLe32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void U64(std::uint64_t v) {
    std::uint8_t b[8];
    StoreLe64(b, v);
    out_.insert(out_.end(), b, b + 8);
  }
  void Raw(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  // u32 length | bytes
  void Blob(ByteSpan b) {
    U32(static_cast<std::uint32_t>(b.size()));
    Raw(b);
  }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

// Reads from a payload; any read past the end sets failed() and returns zeros.
class Reader {
 public:
  explicit Reader(ByteSpan in) : in_(in) {}
  std::uint8_t U8() {
    if (!Need(1)) return 0;
    return in_[pos_++];
  }
  std::uint32_t U32() {
    if (!Need(4)) return 0;
    const std::uint32_t v = LoadLe32(in_.data() + pos_);
    pos_ += 4;
    return v;
  }
  std::uint64_t U64() {
    if (!Need(8)) return 0;
    const std::uint64_t v = LoadLe64(in_.data() + pos_);
    pos_ += 8;
    return v;
  }
  bool Raw(MutableByteSpan out) {
    if (!Need(out.size())) return false;
    if (!out.empty()) std::memcpy(out.data(), in_.data() + pos_, out.size());
    pos_ += out.size();
    return true;
  }
  Bytes Blob(std::size_t max) {
    const std::uint32_t n = U32();
    if (failed_ || n > max || !Need(n)) {
      failed_ = true;
      return {};
    }
    Bytes b(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
            in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return b;
  }
  Bytes Rest() {
    Bytes b(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.end());
    pos_ = in_.size();
    return b;
  }
  // A complete, well-formed payload: nothing failed and nothing left over.
  bool Done() const { return !failed_ && pos_ == in_.size(); }
  bool failed() const { return failed_; }
  void Fail() { failed_ = true; }

 private:
  bool Need(std::size_t n) {
    if (failed_ || in_.size() - pos_ < n) {
      failed_ = true;
      return false;
    }
    return true;
  }
  ByteSpan in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

Error Malformed(const char* what) {
  return Error(ErrorCode::kInvalidArgument, std::string("malformed ") + what + " payload");
}

constexpr std::size_t kMaxRegions = 8;
constexpr std::size_t kPage = 4096;

void PutRegions(Writer& w, const std::vector<uapi::UserRegion>& regions) {
  w.U32(static_cast<std::uint32_t>(regions.size()));
  for (const auto& r : regions) {
    w.U64(r.addr);
    w.Blob(r.bytes);
  }
}

std::vector<uapi::UserRegion> GetRegions(Reader& r) {
  std::vector<uapi::UserRegion> out;
  const std::uint32_t n = r.U32();
  if (n > kMaxRegions) {
    r.Fail();
    return out;
  }
  for (std::uint32_t i = 0; i < n && !r.failed(); ++i) {
    uapi::UserRegion reg;
    reg.addr = r.U64();
    reg.bytes = r.Blob(uapi::kSevFwBlobMaxSize);
    out.push_back(std::move(reg));
  }
  return out;
}

}  // namespace

const char* MsgTypeName(MsgType t) {
  switch (static_cast<MsgType>(static_cast<std::uint16_t>(t) & ~kReplyBit)) {
    case MsgType::kHello:
      return "HELLO";
    case MsgType::kWhoAmI:
      return "WHOAMI";
    case MsgType::kSevIoctl:
      return "SEV_IOCTL";
    case MsgType::kManage:
      return "MANAGE";
    case MsgType::kTraceSubscribe:
      return "TRACE_SUBSCRIBE";
    case MsgType::kTraceEvent:
      return "TRACE_EVENT";
    case MsgType::kGuestMemRead:
      return "GUEST_MEM_READ";
    case MsgType::kGuestMemWrite:
      return "GUEST_MEM_WRITE";
    case MsgType::kGuestRequest:
      return "GUEST_REQUEST";
    case MsgType::kGuestIoctl:
      return "GUEST_IOCTL";
    case MsgType::kGuestTsmReport:
      return "GUEST_TSM_REPORT";
    case MsgType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

std::array<std::uint8_t, kHeaderSize> EncodeHeader(const FrameHeader& h) {
  std::array<std::uint8_t, kHeaderSize> b{};
  std::memcpy(b.data(), kMagic, 4);
  b[4] = static_cast<std::uint8_t>(h.version);
  b[5] = static_cast<std::uint8_t>(h.version >> 8);
  const auto type = static_cast<std::uint16_t>(h.type);
  b[6] = static_cast<std::uint8_t>(type);
  b[7] = static_cast<std::uint8_t>(type >> 8);
  StoreLe32(b.data() + 8, h.request_id);
  StoreLe32(b.data() + 12, h.payload_length);
  return b;
}

Result<FrameHeader> DecodeHeader(ByteSpan bytes) {
  if (bytes.size() < kHeaderSize) return Error(ErrorCode::kInvalidArgument, "short frame header");
  if (std::memcmp(bytes.data(), kMagic, 4) != 0) {
    return Error(ErrorCode::kInvalidArgument, "not a sevemu frame (bad magic)");
  }
  FrameHeader h;
  h.version = static_cast<std::uint16_t>(bytes[4] | bytes[5] << 8);
  h.type = static_cast<MsgType>(bytes[6] | bytes[7] << 8);
  h.request_id = LoadLe32(bytes.data() + 8);
  h.payload_length = LoadLe32(bytes.data() + 12);
  if (h.version != kVersion) {
    return Error(ErrorCode::kInvalidArgument,
                 "unsupported protocol version " + std::to_string(h.version) + " (this is 1)");
  }
  if (h.payload_length > kMaxPayload) {
    return Error(ErrorCode::kInvalidArgument, "frame payload too large");
  }
  return h;
}

Bytes EncodeFrame(MsgType type, std::uint32_t request_id, ByteSpan payload) {
  FrameHeader h;
  h.type = type;
  h.request_id = request_id;
  h.payload_length = static_cast<std::uint32_t>(payload.size());
  const auto hdr = EncodeHeader(h);
  Bytes out(hdr.begin(), hdr.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes EncodeJsonBlob(const JsonBlob& m) {
  Writer w;
  w.Blob(AsBytes(m.json));
  w.Raw(m.blob);
  return w.Take();
}

Result<JsonBlob> DecodeJsonBlob(ByteSpan payload) {
  Reader r(payload);
  const Bytes json = r.Blob(1u << 20);
  if (r.failed()) return Malformed("JSON");
  JsonBlob m;
  m.json.assign(json.begin(), json.end());
  m.blob = r.Rest();
  return m;
}

Bytes EncodeSevIoctlRequest(const SevIoctlRequest& m) {
  Writer w;
  w.U64(m.request);
  w.U8(m.writable ? 1 : 0);
  w.Raw({reinterpret_cast<const std::uint8_t*>(&m.arg), sizeof m.arg});
  PutRegions(w, m.regions);
  return w.Take();
}

Result<SevIoctlRequest> DecodeSevIoctlRequest(ByteSpan payload) {
  Reader r(payload);
  SevIoctlRequest m;
  m.request = r.U64();
  m.writable = r.U8() != 0;
  (void)r.Raw({reinterpret_cast<std::uint8_t*>(&m.arg), sizeof m.arg});
  m.regions = GetRegions(r);
  if (!r.Done()) return Malformed("SEV_IOCTL");
  return m;
}

Bytes EncodeSevIoctlReply(const SevIoctlReply& m) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(m.ret));
  w.U8(m.copy_back ? 1 : 0);
  w.Raw({reinterpret_cast<const std::uint8_t*>(&m.arg), sizeof m.arg});
  PutRegions(w, m.written);
  return w.Take();
}

Result<SevIoctlReply> DecodeSevIoctlReply(ByteSpan payload) {
  Reader r(payload);
  SevIoctlReply m;
  m.ret = static_cast<std::int32_t>(r.U32());
  m.copy_back = r.U8() != 0;
  (void)r.Raw({reinterpret_cast<std::uint8_t*>(&m.arg), sizeof m.arg});
  m.written = GetRegions(r);
  if (!r.Done()) return Malformed("SEV_IOCTL reply");
  return m;
}

Bytes EncodeGuestMemRead(const GuestMemRead& m) {
  Writer w;
  w.U64(m.gpa);
  w.U32(m.length);
  return w.Take();
}

Result<GuestMemRead> DecodeGuestMemRead(ByteSpan payload) {
  Reader r(payload);
  GuestMemRead m;
  m.gpa = r.U64();
  m.length = r.U32();
  if (!r.Done() || m.length > (1u << 20)) return Malformed("GUEST_MEM_READ");
  return m;
}

Bytes EncodeGuestMemWrite(const GuestMemWrite& m) {
  Writer w;
  w.U64(m.gpa);
  w.Raw(m.data);
  return w.Take();
}

Result<GuestMemWrite> DecodeGuestMemWrite(ByteSpan payload) {
  Reader r(payload);
  GuestMemWrite m;
  m.gpa = r.U64();
  m.data = r.Rest();
  if (r.failed() || m.data.size() > (1u << 20)) return Malformed("GUEST_MEM_WRITE");
  return m;
}

Bytes EncodeGuestRequest(const GuestRequestMsg& m) {
  Writer w;
  w.U8(m.cert_buffer_len ? 1 : 0);
  w.U32(m.cert_buffer_len.value_or(0));
  w.Blob(m.request);
  return w.Take();
}

Result<GuestRequestMsg> DecodeGuestRequest(ByteSpan payload) {
  Reader r(payload);
  GuestRequestMsg m;
  const std::uint8_t ext = r.U8();
  const std::uint32_t len = r.U32();
  m.request = r.Blob(kPage);
  if (!r.Done() || ext > 1) return Malformed("GUEST_REQUEST");
  if (ext) m.cert_buffer_len = len;
  return m;
}

Bytes EncodeGuestRequestReply(const GuestRequestReplyMsg& m) {
  Writer w;
  w.U32(m.fw_error);
  w.U32(m.vmm_error);
  w.U32(m.certs_needed);
  w.Blob(m.response);
  w.Blob(m.certs);
  return w.Take();
}

Result<GuestRequestReplyMsg> DecodeGuestRequestReply(ByteSpan payload) {
  Reader r(payload);
  GuestRequestReplyMsg m;
  m.fw_error = r.U32();
  m.vmm_error = r.U32();
  m.certs_needed = r.U32();
  m.response = r.Blob(kPage);
  m.certs = r.Blob(uapi::kSevFwBlobMaxSize);
  if (!r.Done()) return Malformed("GUEST_REQUEST reply");
  return m;
}

Bytes EncodeGuestIoctlRequest(const GuestIoctlRequest& m) {
  Writer w;
  w.U64(m.request);
  w.U64(m.arg);
  PutRegions(w, m.regions);
  return w.Take();
}

Result<GuestIoctlRequest> DecodeGuestIoctlRequest(ByteSpan payload) {
  Reader r(payload);
  GuestIoctlRequest m;
  m.request = r.U64();
  m.arg = r.U64();
  m.regions = GetRegions(r);
  if (!r.Done()) return Malformed("GUEST_IOCTL");
  return m;
}

Bytes EncodeGuestIoctlReply(const GuestIoctlReply& m) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(m.ret));
  PutRegions(w, m.written);
  return w.Take();
}

Result<GuestIoctlReply> DecodeGuestIoctlReply(ByteSpan payload) {
  Reader r(payload);
  GuestIoctlReply m;
  m.ret = static_cast<std::int32_t>(r.U32());
  m.written = GetRegions(r);
  if (!r.Done()) return Malformed("GUEST_IOCTL reply");
  return m;
}

// TSM_INBLOB_MAX (include/linux/tsm.h).
constexpr std::size_t kTsmInblobMax = 64;

Bytes EncodeTsmReportRequest(const TsmReportRequest& m) {
  Writer w;
  w.U32(m.privlevel);
  w.Blob(m.inblob);
  return w.Take();
}

Result<TsmReportRequest> DecodeTsmReportRequest(ByteSpan payload) {
  Reader r(payload);
  TsmReportRequest m;
  m.privlevel = r.U32();
  m.inblob = r.Blob(kTsmInblobMax);
  if (!r.Done()) return Malformed("GUEST_TSM_REPORT");
  return m;
}

Bytes EncodeTsmReportReply(const TsmReportReply& m) {
  Writer w;
  w.U32(static_cast<std::uint32_t>(m.ret));
  w.Blob(m.outblob);
  w.Blob(m.auxblob);
  return w.Take();
}

Result<TsmReportReply> DecodeTsmReportReply(ByteSpan payload) {
  Reader r(payload);
  TsmReportReply m;
  m.ret = static_cast<std::int32_t>(r.U32());
  m.outblob = r.Blob(kPage);
  m.auxblob = r.Blob(uapi::kSevFwBlobMaxSize);
  if (!r.Done()) return Malformed("GUEST_TSM_REPORT reply");
  return m;
}

namespace {
// Minimal JSON string escaping for error replies (the codec has no JSON library: the shim
// links it).
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}
}  // namespace

Bytes EncodeError(const std::string& code, const std::string& message) {
  const std::string json =
      "{\"code\":" + JsonString(code) + ",\"message\":" + JsonString(message) + "}";
  return Bytes(json.begin(), json.end());
}

std::string DecodeError(ByteSpan payload) {
  // People see the message; the code is for programs. A payload that is not the documented
  // object (another daemon, a bug) is shown as it came.
  const auto j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, false);
  std::string s(payload.begin(), payload.end());
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    s = j["message"].get<std::string>();
  }
  // One line, whatever the peer sent.
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return s.empty() ? "daemon error (no details)" : s;
}

std::string DefaultSocketPath() {
  if (const char* s = std::getenv("SEVEMU_SOCKET"); s != nullptr && *s != '\0') return s;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0') {
    return std::string(x) + "/sevemu/sevemu.sock";
  }
  return "/tmp/sevemu-" + std::to_string(getuid()) + "/sevemu.sock";
}

}  // namespace sevemu::protocol
