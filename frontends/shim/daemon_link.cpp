#include "daemon_link.h"

#include <cstdlib>

namespace sevemu::shim {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

std::string HostHello(bool writable) {
  return devices::HostHello(Env("SEVEMU_PLATFORM"), writable);
}

std::optional<std::string> GuestHello() {
  const std::string g = Env("SEVEMU_GUEST");
  if (g.empty()) return std::nullopt;
  return devices::GuestHello(Env("SEVEMU_PLATFORM"), g);
}

}  // namespace sevemu::shim
