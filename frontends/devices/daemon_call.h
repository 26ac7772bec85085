// Hellos and calls on a daemon connection the caller owns as a plain descriptor (the program's
// device descriptor in the shim; the supervisor's copy of it under `sevemu run`).
#pragma once

#include <optional>
#include <string>

#include "sevemu/common/result.h"
#include "sevemu/protocol/client.h"

namespace sevemu::devices {

// The hello of a /dev/sev open (writable unless O_RDONLY) and of a /dev/sev-guest open in
// `guest`; `platform` empty: the daemon's first.
std::string HostHello(const std::string& platform, bool writable);
std::string GuestHello(const std::string& platform, const std::string& guest);

// Connects to the daemon at protocol::DefaultSocketPath() and says `hello`. The descriptor, or
// -ENOENT when no daemon answers or it refuses the hello (a machine without the device), or
// -EIO for other failures.
int ConnectDaemon(const std::string& hello, bool cloexec, std::string* reply_json);

// One request/reply on `fd`, which stays the caller's whatever happens.
Result<protocol::Reply> CallOn(int fd, protocol::MsgType type, ByteSpan payload);

// secrets_gpa and type ("snp", "sev-es", "sev") from a guest hello reply; 0 / "" if absent.
std::uint64_t SecretsGpaOf(const std::string& hello_reply);
std::string GuestTypeOf(const std::string& hello_reply);

}  // namespace sevemu::devices
