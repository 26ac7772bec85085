// The shim's side of the daemon protocol: hellos built from the environment (SEVEMU_SOCKET,
// SEVEMU_PLATFORM, SEVEMU_GUEST), connections, calls on a descriptor, and the guest platform
// a /dev/sev-guest descriptor stands for.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sevemu/guest/guest_platform.h"
#include "sevemu/protocol/client.h"

namespace sevemu::shim {

std::string HostHello(bool writable);
// nullopt when SEVEMU_GUEST is unset: there is no guest to act in.
std::optional<std::string> GuestHello();

// Connects to the daemon and says `hello`. Returns the descriptor, or -errno: -ENOENT when no
// daemon answers or it refuses the hello (as for a machine without the device).
int ConnectDaemon(const std::string& hello, bool cloexec, std::string* reply_json);

// One request/reply on a descriptor the shim does not own.
Result<protocol::Reply> CallOn(int fd, protocol::MsgType type, ByteSpan payload);

// What the guest kernel reaches, over a guest connection.
class SocketGuestPlatform final : public guest::GuestPlatform {
 public:
  SocketGuestPlatform(int fd, std::uint64_t secrets_gpa) : fd_(fd), secrets_gpa_(secrets_gpa) {}
  Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) override;
  Status WriteMemory(std::uint64_t gpa, ByteSpan data) override;
  Result<guest::GuestRequestReply> GuestRequest(
      ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) override;
  Status Lock() override;
  void Unlock() override;
  std::uint64_t SecretsGpa() const override { return secrets_gpa_; }

 private:
  int fd_;
  std::uint64_t secrets_gpa_;
};

// secrets_gpa from a guest hello reply; 0 if absent.
std::uint64_t SecretsGpaOf(const std::string& hello_reply);

}  // namespace sevemu::shim
