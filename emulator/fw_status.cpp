#include "sevemu/emulator/fw_status.h"

namespace sevemu::emulator {

const char* FwStatusName(FwStatus s) {
  switch (s) {
    case FwStatus::kSuccess:
      return "SUCCESS";
    case FwStatus::kInvalidPlatformState:
      return "INVALID_PLATFORM_STATE";
    case FwStatus::kInvalidGuestState:
      return "INVALID_GUEST_STATE";
    case FwStatus::kInvalidConfig:
      return "INVALID_CONFIG";
    case FwStatus::kInvalidLength:
      return "INVALID_LENGTH";
    case FwStatus::kAlreadyOwned:
      return "ALREADY_OWNED";
    case FwStatus::kInvalidCertificate:
      return "INVALID_CERTIFICATE";
    case FwStatus::kPolicyFailure:
      return "POLICY_FAILURE";
    case FwStatus::kInactive:
      return "INACTIVE";
    case FwStatus::kInvalidAddress:
      return "INVALID_ADDRESS";
    case FwStatus::kBadSignature:
      return "BAD_SIGNATURE";
    case FwStatus::kBadMeasurement:
      return "BAD_MEASUREMENT";
    case FwStatus::kAsidOwned:
      return "ASID_OWNED";
    case FwStatus::kInvalidAsid:
      return "INVALID_ASID";
    case FwStatus::kWbinvdRequired:
      return "WBINVD_REQUIRED";
    case FwStatus::kDfFlushRequired:
      return "DFFLUSH_REQUIRED";
    case FwStatus::kInvalidGuest:
      return "INVALID_GUEST";
    case FwStatus::kInvalidCommand:
      return "INVALID_COMMAND";
    case FwStatus::kActive:
      return "ACTIVE";
    case FwStatus::kHwErrorPlatform:
      return "HWERROR_PLATFORM";
    case FwStatus::kHwErrorUnsafe:
      return "HWERROR_UNSAFE";
    case FwStatus::kUnsupported:
      return "UNSUPPORTED";
    case FwStatus::kInvalidParam:
      return "INVALID_PARAM";
    case FwStatus::kResourceLimit:
      return "RESOURCE_LIMIT";
    case FwStatus::kSecureDataInvalid:
      return "SECURE_DATA_INVALID";
    case FwStatus::kInvalidPageSize:
      return "INVALID_PAGE_SIZE";
    case FwStatus::kInvalidPageState:
      return "INVALID_PAGE_STATE";
    case FwStatus::kInvalidMdataEntry:
      return "INVALID_MDATA_ENTRY";
    case FwStatus::kInvalidPageOwner:
      return "INVALID_PAGE_OWNER";
    case FwStatus::kAeadOverflow:
      return "AEAD_OFLOW";
    case FwStatus::kExitRingBuffer:
      return "EXIT_RING_BUFFER";
    case FwStatus::kRmpInitRequired:
      return "RMP_INIT_REQUIRED";
    case FwStatus::kBadSvn:
      return "BAD_SVN";
    case FwStatus::kBadVersion:
      return "BAD_VERSION";
    case FwStatus::kShutdownRequired:
      return "SHUTDOWN_REQUIRED";
    case FwStatus::kUpdateFailed:
      return "UPDATE_FAILED";
    case FwStatus::kRestoreRequired:
      return "RESTORE_REQUIRED";
    case FwStatus::kRmpInitializationFailed:
      return "RMP_INITIALIZATION_FAILED";
    case FwStatus::kInvalidKey:
      return "INVALID_KEY";
  }
  return "UNKNOWN";
}

}  // namespace sevemu::emulator
