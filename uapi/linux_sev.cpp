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

}  // namespace sevemu::uapi
