// The Linux user ABI of /dev/sev and /dev/sev-guest (include/uapi/linux/psp-sev.h and
// sev-guest.h; SEV-ABI-FACTS.md 1-2), mirrored so that the shim and the simulated drivers agree
// on every byte without depending on the installed kernel headers (Debian 12's 6.1 headers lack
// the SNP host commands). Layouts are pinned with static_asserts; tests compare them with the
// system's own <linux/psp-sev.h> and <linux/sev-guest.h> where those have them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sevemu/common/bytes.h"

namespace sevemu::uapi {

// ioctl request numbers: _IOWR('S', nr, struct).
constexpr unsigned long kSevIssueCmd = 0xC0105300;       // struct sev_issue_cmd (16 B)
constexpr unsigned long kSnpGetReport = 0xC0205300;      // struct snp_guest_request_ioctl
constexpr unsigned long kSnpGetDerivedKey = 0xC0205301;  // (32 B)
constexpr unsigned long kSnpGetExtReport = 0xC0205302;

// The kernel-internal ENOTSUPP (include/linux/errno.h), which user space sees as errno 524.
constexpr int kEnotsupp = 524;
// SEV_FW_BLOB_MAX_SIZE: the largest blob the kernel copies for a user command.
constexpr std::uint32_t kSevFwBlobMaxSize = 0x4000;

// SEV_ISSUE_CMD user command ids (enum in uapi psp-sev.h).
enum class SevUserCmd : std::uint32_t {
  kFactoryReset = 0,
  kPlatformStatus = 1,
  kPekGen = 2,
  kPekCsr = 3,
  kPdhGen = 4,
  kPdhCertExport = 5,
  kPekCertImport = 6,
  kGetId = 7,  // deprecated
  kGetId2 = 8,
  kSnpPlatformStatus = 9,
  kSnpCommit = 10,
  kSnpSetConfig = 11,
  kSnpVlekLoad = 12,
  kMax = 13,
};
const char* SevUserCmdName(std::uint32_t cmd);  // "SEV_CMD_UNKNOWN" for unknown ids
// "SNP_GET_REPORT", "SNP_GET_DERIVED_KEY", "SNP_GET_EXT_REPORT", else "SNP_GUEST_IOCTL_UNKNOWN".
const char* SnpGuestIoctlName(unsigned long request);

#pragma pack(push, 1)
struct SevIssueCmdArg {  // struct sev_issue_cmd
  std::uint32_t cmd;
  std::uint64_t data;   // user pointer
  std::uint32_t error;  // firmware status, out
};
static_assert(sizeof(SevIssueCmdArg) == 16);

struct SevUserDataStatus {  // SEV_PLATFORM_STATUS
  std::uint8_t api_major;
  std::uint8_t api_minor;
  std::uint8_t state;
  std::uint32_t flags;
  std::uint8_t build;
  std::uint32_t guest_count;
};
static_assert(sizeof(SevUserDataStatus) == 12);

struct SevUserDataPekCsr {
  std::uint64_t address;
  std::uint32_t length;
};
static_assert(sizeof(SevUserDataPekCsr) == 12);

struct SevUserDataPekCertImport {
  std::uint64_t pek_cert_address;
  std::uint32_t pek_cert_len;
  std::uint64_t oca_cert_address;
  std::uint32_t oca_cert_len;
};
static_assert(sizeof(SevUserDataPekCertImport) == 24);

struct SevUserDataPdhCertExport {
  std::uint64_t pdh_cert_address;
  std::uint32_t pdh_cert_len;
  std::uint64_t cert_chain_address;
  std::uint32_t cert_chain_len;
};
static_assert(sizeof(SevUserDataPdhCertExport) == 24);

struct SevUserDataGetId {
  std::uint8_t socket1[64];
  std::uint8_t socket2[64];
};
static_assert(sizeof(SevUserDataGetId) == 128);

struct SevUserDataGetId2 {
  std::uint64_t address;
  std::uint32_t length;
};
static_assert(sizeof(SevUserDataGetId2) == 12);

struct SevUserDataSnpStatus {  // SNP_PLATFORM_STATUS (the firmware's status page, verbatim)
  std::uint8_t api_major;
  std::uint8_t api_minor;
  std::uint8_t state;
  std::uint8_t is_rmp_initialized;
  std::uint32_t build_id;
  std::uint32_t feature_bits;  // bit0 mask_chip_id, bit1 mask_chip_key, bit2 vlek_en, ...
  std::uint32_t guest_count;
  std::uint64_t current_tcb_version;
  std::uint64_t reported_tcb_version;
};
static_assert(sizeof(SevUserDataSnpStatus) == 32);

struct SevUserDataSnpConfig {  // SNP_SET_CONFIG = the firmware's SNP_CONFIG buffer
  std::uint64_t reported_tcb;
  std::uint32_t flags;  // bit0 mask_chip_id, bit1 mask_chip_key
  std::uint8_t reserved[52];
};
static_assert(sizeof(SevUserDataSnpConfig) == 64);

struct SevUserDataSnpVlekLoad {
  std::uint32_t len;                  // must be sizeof(*this)
  std::uint8_t vlek_wrapped_version;  // must be 0
  std::uint8_t rsvd[3];
  std::uint64_t vlek_wrapped_address;  // user pointer to 432 bytes
};
static_assert(sizeof(SevUserDataSnpVlekLoad) == 16);
constexpr std::uint32_t kVlekWrappedSize = 0x1B0;
#pragma pack(pop)

// sev-guest.h: natural alignment, not packed.
struct SnpGuestRequestIoctl {
  std::uint8_t msg_version;
  std::uint8_t pad[7];
  std::uint64_t req_data;   // user pointer
  std::uint64_t resp_data;  // user pointer
  std::uint64_t exitinfo2;  // fw_error (bits 31:0), vmm_error (bits 63:32)
};
static_assert(sizeof(SnpGuestRequestIoctl) == 32);
static_assert(offsetof(SnpGuestRequestIoctl, exitinfo2) == 24);

constexpr std::uint32_t kSnpGuestVmmErrInvalidLen = 1;  // SNP_GUEST_VMM_ERR_INVALID_LEN
constexpr std::uint32_t kSnpGuestVmmErrBusy = 2;        // SNP_GUEST_VMM_ERR_BUSY

struct SnpReportReq {
  std::uint8_t user_data[64];
  std::uint32_t vmpl;
  std::uint8_t rsvd[28];
};
static_assert(sizeof(SnpReportReq) == 96);

struct SnpReportResp {
  std::uint8_t data[4000];
};

struct SnpDerivedKeyReq {
  std::uint32_t root_key_select;
  std::uint32_t rsvd;
  std::uint64_t guest_field_select;
  std::uint32_t vmpl;
  std::uint32_t guest_svn;
  std::uint64_t tcb_version;
};
static_assert(sizeof(SnpDerivedKeyReq) == 32);

struct SnpDerivedKeyResp {
  std::uint8_t data[64];
};

struct SnpExtReportReq {
  SnpReportReq data;
  std::uint64_t certs_address;  // user pointer
  std::uint32_t certs_len;      // in/out
};
static_assert(sizeof(SnpExtReportReq) == 112);
static_assert(offsetof(SnpExtReportReq, certs_len) == 104);

// copy_from_user / copy_to_user: the address space of the process that issued the ioctl.
// Read/Write return false where the kernel's copy would fault (EFAULT).
class UserMemory {
 public:
  virtual ~UserMemory() = default;
  virtual bool Read(std::uint64_t addr, MutableByteSpan out) = 0;
  virtual bool Write(std::uint64_t addr, ByteSpan data) = 0;
};

}  // namespace sevemu::uapi
