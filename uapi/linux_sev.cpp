#include "sevemu/uapi/linux_sev.h"

#include <string>

namespace sevemu::uapi {

const char* SevUserCmdName(std::uint32_t cmd) {
  // Names as in include/uapi/linux/psp-sev.h.
  static const char* const kNames[] = {
      "SEV_FACTORY_RESET", "SEV_PLATFORM_STATUS", "SEV_PEK_GEN",         "SEV_PEK_CSR",
      "SEV_PDH_GEN",       "SEV_PDH_CERT_EXPORT", "SEV_PEK_CERT_IMPORT", "SEV_GET_ID",
      "SEV_GET_ID2",       "SNP_PLATFORM_STATUS", "SNP_COMMIT",          "SNP_SET_CONFIG",
      "SNP_VLEK_LOAD"};
  if (cmd < static_cast<std::uint32_t>(SevUserCmd::kMax)) return kNames[cmd];
  return "SEV_CMD_UNKNOWN";
}

const char* SnpGuestIoctlName(unsigned long request) {
  // The kernel compares the low 32 bits (unsigned int cmd).
  switch (static_cast<std::uint32_t>(request)) {
    case static_cast<std::uint32_t>(kSnpGetReport):
      return "SNP_GET_REPORT";
    case static_cast<std::uint32_t>(kSnpGetDerivedKey):
      return "SNP_GET_DERIVED_KEY";
    case static_cast<std::uint32_t>(kSnpGetExtReport):
      return "SNP_GET_EXT_REPORT";
    default:
      return "SNP_GUEST_IOCTL_UNKNOWN";
  }
}

}  // namespace sevemu::uapi
