// /dev/sev-guest's ioctl over a guest connection of the daemon: guest::SevGuestDriver with the
// caller's memory (the shim's own, or the traced program's under `sevemu run`).
#pragma once

#include <cstdint>

#include "sevemu/uapi/linux_sev.h"

namespace sevemu::devices {

// 0 or -errno, as the sev-guest driver returns.
int ForwardGuestIoctl(int conn, std::uint64_t secrets_gpa, unsigned long request, std::uint64_t arg,
                      uapi::UserMemory& caller);

}  // namespace sevemu::devices
