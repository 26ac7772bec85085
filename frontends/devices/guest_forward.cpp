#include "devices/guest_forward.h"

#include <optional>

#include "devices/daemon_call.h"
#include "sevemu/guest/guest_platform.h"
#include "sevemu/guest/sev_guest_driver.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::devices {

namespace {

Error DaemonError(const protocol::Reply& r) {
  return Error(ErrorCode::kRefused, protocol::DecodeError(r.payload));
}

// What the guest kernel reaches, over a guest connection.
class ConnGuestPlatform final : public guest::GuestPlatform {
 public:
  ConnGuestPlatform(int fd, std::uint64_t secrets_gpa) : fd_(fd), secrets_gpa_(secrets_gpa) {}
  Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) override {
    auto r = CallOn(fd_, protocol::MsgType::kGuestMemRead,
                    protocol::EncodeGuestMemRead({gpa, static_cast<std::uint32_t>(len)}));
    if (!r.ok()) return r.error();
    if (!r->ok()) return DaemonError(*r);
    if (r->payload.size() != len) return Error(ErrorCode::kIo, "short guest memory read");
    return std::move(r->payload);
  }
  Status WriteMemory(std::uint64_t gpa, ByteSpan data) override {
    auto r = CallOn(fd_, protocol::MsgType::kGuestMemWrite,
                    protocol::EncodeGuestMemWrite({gpa, Bytes(data.begin(), data.end())}));
    if (!r.ok()) return r.error();
    if (!r->ok()) return DaemonError(*r);
    return {};
  }
  Result<guest::GuestRequestReply> GuestRequest(
      ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) override {
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
  Status Lock() override {
    auto r = CallOn(fd_, protocol::MsgType::kGuestLock, {});
    if (!r.ok()) return r.error();
    if (!r->ok()) return DaemonError(*r);
    return {};
  }
  void Unlock() override { (void)CallOn(fd_, protocol::MsgType::kGuestUnlock, {}); }
  std::uint64_t SecretsGpa() const override { return secrets_gpa_; }

 private:
  int fd_;
  std::uint64_t secrets_gpa_;
};

}  // namespace

int ForwardGuestIoctl(int conn, std::uint64_t secrets_gpa, unsigned long request, std::uint64_t arg,
                      uapi::UserMemory& caller) {
  ConnGuestPlatform platform(conn, secrets_gpa);
  guest::SevGuestDriver driver(platform, 0);
  return driver.Ioctl(request, arg, caller);
}

}  // namespace sevemu::devices
