#include "devices/daemon_call.h"

#include <cerrno>
#include <nlohmann/json.hpp>

namespace sevemu::devices {

std::string HostHello(const std::string& platform, bool writable) {
  nlohmann::json j = {{"role", "host"}, {"writable", writable}};
  if (!platform.empty()) j["platform"] = platform;
  return j.dump();
}

std::string GuestHello(const std::string& platform, const std::string& guest) {
  nlohmann::json j = {{"role", "guest"}, {"guest", guest}};
  if (!platform.empty()) j["platform"] = platform;
  return j.dump();
}

int ConnectDaemon(const std::string& hello, bool cloexec, std::string* reply_json) {
  auto c = protocol::Client::Connect(protocol::DefaultSocketPath(), hello, cloexec);
  if (!c.ok()) {
    // No daemon, or it has no such platform/guest: the device does not exist.
    if (c.error().code() == ErrorCode::kNotFound || c.error().code() == ErrorCode::kRefused) {
      return -ENOENT;
    }
    return -EIO;
  }
  if (reply_json != nullptr) *reply_json = c->hello();
  return c->Release();
}

Result<protocol::Reply> CallOn(int fd, protocol::MsgType type, ByteSpan payload) {
  protocol::Client c(fd);
  std::optional<Result<protocol::Reply>> r;
  try {
    r.emplace(c.Call(type, payload));
  } catch (...) {
    (void)c.Release();
    return Error(ErrorCode::kIo, "out of memory talking to the daemon");
  }
  (void)c.Release();
  return std::move(*r);
}

namespace {

nlohmann::json GuestOf(const std::string& hello_reply) {
  auto j = nlohmann::json::parse(hello_reply, nullptr, false);
  if (!j.is_object() || !j.contains("guest") || !j["guest"].is_object()) return {};
  return j["guest"];
}

}  // namespace

std::uint64_t SecretsGpaOf(const std::string& hello_reply) {
  const auto g = GuestOf(hello_reply);
  if (!g.is_object() || !g.contains("secrets_gpa") || !g["secrets_gpa"].is_number_unsigned()) {
    return 0;
  }
  return g["secrets_gpa"].get<std::uint64_t>();
}

std::string GuestTypeOf(const std::string& hello_reply) {
  const auto g = GuestOf(hello_reply);
  if (!g.is_object() || !g.contains("type") || !g["type"].is_string()) return "";
  return g["type"].get<std::string>();
}

}  // namespace sevemu::devices
