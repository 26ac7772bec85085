#include "daemon_link.h"

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

namespace sevemu::shim {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

std::string HostHello(bool writable) {
  nlohmann::json j = {{"role", "host"}, {"writable", writable}};
  if (const std::string p = Env("SEVEMU_PLATFORM"); !p.empty()) j["platform"] = p;
  return j.dump();
}

std::optional<std::string> GuestHello() {
  const std::string g = Env("SEVEMU_GUEST");
  if (g.empty()) return std::nullopt;
  nlohmann::json j = {{"role", "guest"}, {"guest", g}};
  if (const std::string p = Env("SEVEMU_PLATFORM"); !p.empty()) j["platform"] = p;
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
    (void)c.Release();  // the descriptor stays the program's, whatever happens
    return Error(ErrorCode::kIo, "out of memory talking to the daemon");
  }
  (void)c.Release();
  return std::move(*r);
}

std::uint64_t SecretsGpaOf(const std::string& hello_reply) {
  const auto j = nlohmann::json::parse(hello_reply, nullptr, false);
  if (!j.is_object() || !j.contains("guest") || !j["guest"].is_object()) return 0;
  const auto& g = j["guest"];
  if (!g.contains("secrets_gpa") || !g["secrets_gpa"].is_number_unsigned()) return 0;
  return g["secrets_gpa"].get<std::uint64_t>();
}

}  // namespace sevemu::shim
