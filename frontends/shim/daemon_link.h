// The shim's side of the daemon protocol: hellos built from the environment (SEVEMU_SOCKET,
// SEVEMU_PLATFORM, SEVEMU_GUEST), connections and calls on a descriptor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

// secrets_gpa from a guest hello reply; 0 if absent.
std::uint64_t SecretsGpaOf(const std::string& hello_reply);

}  // namespace sevemu::shim
