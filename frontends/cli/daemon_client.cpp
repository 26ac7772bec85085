#include "daemon_client.h"

#include <cstring>

#include "sevemu/emulator/fw_status.h"

namespace sevemu::cli {

Result<protocol::Client> ConnectHost(const std::string& socket, const std::string& platform) {
  nlohmann::json hello = {{"role", "host"}, {"writable", true}};
  if (!platform.empty()) hello["platform"] = platform;
  return protocol::Client::Connect(socket.empty() ? protocol::DefaultSocketPath() : socket,
                                   hello.dump());
}

Result<nlohmann::json> ManageCall(protocol::Client& c, const nlohmann::json& request,
                                  ByteSpan blob_in, Bytes* blob_out) {
  protocol::JsonBlob m{request.dump(), Bytes(blob_in.begin(), blob_in.end())};
  auto reply = c.Call(protocol::MsgType::kManage, protocol::EncodeJsonBlob(m));
  if (!reply.ok()) return reply.error();
  if (!reply->ok()) return Error(ErrorCode::kRefused, protocol::DecodeError(reply->payload));
  auto body = protocol::DecodeJsonBlob(reply->payload);
  if (!body.ok()) return body.error();
  auto j = nlohmann::json::parse(body->json, nullptr, false);
  if (j.is_discarded()) return Error(ErrorCode::kCorrupt, "daemon sent malformed JSON");
  if (blob_out != nullptr) *blob_out = std::move(body->blob);
  return j;
}

Result<HostIoctl> IssueSevCmd(protocol::Client& c, uapi::SevUserCmd cmd, Bytes data,
                              std::vector<uapi::UserRegion> extra) {
  // The CLI has no user pointers of its own: it names the struct at a fixed pseudo-address
  // and stages it, exactly as the shim stages a program's memory.
  constexpr std::uint64_t kDataAddr = 0x10000;
  protocol::SevIoctlRequest req;
  req.request = uapi::kSevIssueCmd;
  req.writable = true;
  req.arg.cmd = static_cast<std::uint32_t>(cmd);
  req.arg.data = data.empty() ? 0 : kDataAddr;
  if (!data.empty()) req.regions.push_back({kDataAddr, data});
  for (auto& r : extra) req.regions.push_back(std::move(r));
  auto reply = c.Call(protocol::MsgType::kSevIoctl, protocol::EncodeSevIoctlRequest(req));
  if (!reply.ok()) return reply.error();
  if (!reply->ok()) return Error(ErrorCode::kRefused, protocol::DecodeError(reply->payload));
  auto r = protocol::DecodeSevIoctlReply(reply->payload);
  if (!r.ok()) return r.error();
  HostIoctl out;
  out.ret = r->ret;
  out.fw_error = r->copy_back ? r->arg.error : 0;
  out.data = std::move(data);
  for (const auto& w : r->written) {
    if (w.addr == kDataAddr && w.bytes.size() == out.data.size()) out.data = w.bytes;
  }
  out.written = std::move(r->written);
  return out;
}

std::string DescribeIoctl(uapi::SevUserCmd cmd, const HostIoctl& r) {
  std::string s = uapi::SevUserCmdName(static_cast<std::uint32_t>(cmd));
  if (r.ret == 0) return s + ": success";
  if (r.ret == -EIO) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", r.fw_error);
    return s + ": firmware status " +
           emulator::FwStatusName(static_cast<emulator::FwStatus>(r.fw_error)) + " (" + code + ")";
  }
  return s + ": " + std::strerror(-r.ret);
}

}  // namespace sevemu::cli
