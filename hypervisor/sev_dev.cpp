// placeholder until the sev-dev work lands (lead's temporary file; replace freely)
#include "sevemu/hypervisor/sev_dev.h"

#include <cerrno>

namespace sevemu::hypervisor {
SevDevice::SevDevice(emulator::Firmware& firmware, std::uint64_t scratch_spa)
    : fw_(firmware), scratch_(scratch_spa) {}
SevIoctlResult SevDevice::Ioctl(unsigned long, uapi::SevIssueCmdArg&, uapi::UserMemory&, bool) {
  return {-EINVAL, false};
}
}  // namespace sevemu::hypervisor
