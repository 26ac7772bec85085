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

Error DaemonError(const protocol::Reply& r) {
  return Error(ErrorCode::kRefused, protocol::DecodeError(r.payload));
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

Result<Bytes> SocketGuestPlatform::ReadMemory(std::uint64_t gpa, std::size_t len) {
  auto r = CallOn(fd_, protocol::MsgType::kGuestMemRead,
                  protocol::EncodeGuestMemRead({gpa, static_cast<std::uint32_t>(len)}));
  if (!r.ok()) return r.error();
  if (!r->ok()) return DaemonError(*r);
  if (r->payload.size() != len) return Error(ErrorCode::kIo, "short guest memory read");
  return std::move(r->payload);
}

Status SocketGuestPlatform::WriteMemory(std::uint64_t gpa, ByteSpan data) {
  auto r = CallOn(fd_, protocol::MsgType::kGuestMemWrite,
                  protocol::EncodeGuestMemWrite({gpa, Bytes(data.begin(), data.end())}));
  if (!r.ok()) return r.error();
  if (!r->ok()) return DaemonError(*r);
  return {};
}

Result<guest::GuestRequestReply> SocketGuestPlatform::GuestRequest(
    ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) {
  protocol::GuestRequestMsg m{cert_buffer_len, Bytes(request.begin(), request.end())};
  auto r = CallOn(fd_, protocol::MsgType::kGuestRequest, protocol::EncodeGuestRequest(m));
  if (!r.ok()) return r.error();
  if (!r->ok()) return DaemonError(*r);
  auto d = protocol::DecodeGuestRequestReply(r->payload);
  if (!d.ok()) return d.error();
  guest::GuestRequestReply out;
  out.fw_error = d->fw_error;
  out.vmm_error = d->vmm_error;
  out.certs_needed = d->certs_needed;
  out.response = std::move(d->response);
  out.certs = std::move(d->certs);
  return out;
}

Status SocketGuestPlatform::Lock() {
  auto r = CallOn(fd_, protocol::MsgType::kGuestLock, {});
  if (!r.ok()) return r.error();
  if (!r->ok()) return DaemonError(*r);
  return {};
}

void SocketGuestPlatform::Unlock() {
  (void)CallOn(fd_, protocol::MsgType::kGuestUnlock, {});
}

}  // namespace sevemu::shim
