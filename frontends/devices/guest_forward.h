// /dev/sev-guest's ioctl over a guest connection: the guest kernel's sev-guest driver runs in
// the daemon (GUEST_IOCTL), so the request completes there whatever happens to the caller;
// here the caller's memory is staged (uapi::PlanSnpGuestIoctlRegions) and the regions the
// driver wrote are copied out. `caller` is the shim's own memory or the traced program's.
#pragma once

#include <cstdint>

#include "sevemu/uapi/linux_sev.h"

namespace sevemu::devices {

// 0 or -errno, as the sev-guest driver returns; -EIO when the daemon or the guest went away.
int ForwardGuestIoctl(int conn, unsigned long request, std::uint64_t arg, uapi::UserMemory& caller);

}  // namespace sevemu::devices
