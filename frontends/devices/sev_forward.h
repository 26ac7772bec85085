// /dev/sev's ioctl, forwarded: the caller's memory the command can touch is staged
// (uapi::PlanSevIssueCmdRegions), one SEV_IOCTL frame runs hypervisor::SevDevice in the daemon
// over the copies, and the regions it wrote are copied back, then the struct when the kernel
// would copy it back (docs/devices.md "/dev/sev"). `caller` is the shim's own memory or the
// traced program's under `sevemu run`.
#pragma once

#include <cstdint>

#include "sevemu/uapi/linux_sev.h"

namespace sevemu::devices {

// 0 or -errno, as sev_ioctl returns; -EIO when the daemon connection `conn` is lost.
int ForwardSevIoctl(int conn, bool writable, unsigned long request, std::uint64_t arg,
                    uapi::UserMemory& caller);

}  // namespace sevemu::devices
