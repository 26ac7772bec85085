// The shim's side of the daemon protocol: hellos built from the environment (SEVEMU_SOCKET,
// SEVEMU_PLATFORM, SEVEMU_GUEST). Connections and calls on a descriptor are the ones `sevemu run`
// uses too (devices/daemon_call.h).
#pragma once

#include <optional>
#include <string>

#include "devices/daemon_call.h"

namespace sevemu::shim {

using devices::CallOn;
using devices::ConnectDaemon;
using devices::SecretsGpaOf;

std::string HostHello(bool writable);
// nullopt when SEVEMU_GUEST is unset: there is no guest to act in.
std::optional<std::string> GuestHello();

}  // namespace sevemu::shim
