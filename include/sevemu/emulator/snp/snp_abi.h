// SEV-SNP firmware command ids and command-buffer layouts (SEV-SNP Firmware ABI; Linux
// include/linux/psp-sev.h `sev_data_snp_*`, reference/SEV-ABI-FACTS.md 8.1-8.2). All buffers
// are packed little-endian; sizes and offsets are pinned below. Values are ABI: never change.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace sevemu::emulator {

static_assert(std::endian::native == std::endian::little,
              "command buffers are read by memcpy; the ABI is little-endian");

enum class SnpCmd : std::uint32_t {
  kInit = 0x081,
  kShutdown = 0x082,
  kPlatformStatus = 0x083,
  kDfFlush = 0x084,
  kInitEx = 0x085,
  kShutdownEx = 0x086,
  kDecommission = 0x090,
  kActivate = 0x091,
  kGuestStatus = 0x092,
  kGctxCreate = 0x093,
  kGuestRequest = 0x094,
  kActivateEx = 0x095,
  kLaunchStart = 0x0A0,
  kLaunchUpdate = 0x0A1,
  kLaunchFinish = 0x0A2,
  kDbgDecrypt = 0x0B0,
  kDbgEncrypt = 0x0B1,
  kVerifyMitigation = 0x0B2,  // ABI 1.58
  kPageSwapOut = 0x0C0,
  kPageSwapIn = 0x0C1,
  kPageMove = 0x0C2,
  kPageMdInit = 0x0C3,
  kPageSetState = 0x0C6,
  kPageReclaim = 0x0C7,
  kPageUnsmash = 0x0C8,
  kConfig = 0x0C9,
  kDownloadFirmwareEx = 0x0CA,
  kCommit = 0x0CB,
  kVlekLoad = 0x0CD,
  kFeatureInfo = 0x0CE,
};
const char* SnpCmdName(SnpCmd c);

#pragma pack(push, 1)

struct SnpInitExBuf {   // SNP_INIT_EX
  std::uint32_t flags;  // bit0 init_rmp, bit1 list_paddr_en, bit2 rapl_dis, bit3
                        // ciphertext_hiding_en, bit4 tio_en
  std::uint32_t reserved0;
  std::uint64_t list_paddr;
  std::uint16_t max_snp_asid;
  std::uint8_t reserved1[0x2E];
};
static_assert(sizeof(SnpInitExBuf) == 0x40);
static_assert(offsetof(SnpInitExBuf, max_snp_asid) == 0x10);

struct SnpShutdownExBuf {  // SNP_SHUTDOWN_EX
  std::uint32_t length;
  std::uint32_t flags;  // bit0 iommu_snp_shutdown, bit1 x86_snp_shutdown
};
static_assert(sizeof(SnpShutdownExBuf) == 8);

struct SnpAddrBuf {  // SNP_PLATFORM_STATUS, GCTX_CREATE, DECOMMISSION, PAGE_RECLAIM, PAGE_UNSMASH
  std::uint64_t paddr;
};
static_assert(sizeof(SnpAddrBuf) == 8);

struct SnpPlatformStatusPage {  // the 32-byte page SNP_PLATFORM_STATUS writes
  std::uint8_t api_major;
  std::uint8_t api_minor;
  std::uint8_t state;
  std::uint8_t is_rmp_initialized;  // bit0; bit1 alias_check_complete
  std::uint32_t build_id;
  std::uint32_t feature_flags;  // bit0 mask_chip_id, bit1 mask_chip_key, bit2 vlek_en
  std::uint32_t guest_count;
  std::uint64_t current_tcb;
  std::uint64_t reported_tcb;
};
static_assert(sizeof(SnpPlatformStatusPage) == 32);
static_assert(offsetof(SnpPlatformStatusPage, current_tcb) == 16);

struct SnpConfigBuf {  // SNP_CONFIG (= the user's sev_user_data_snp_config)
  std::uint64_t reported_tcb;
  std::uint32_t flags;  // bit0 mask_chip_id, bit1 mask_chip_key
  std::uint8_t reserved[52];
};
static_assert(sizeof(SnpConfigBuf) == 64);

struct SnpCommitBuf {    // SNP_COMMIT
  std::uint32_t length;  // must be 4
};
static_assert(sizeof(SnpCommitBuf) == 4);

struct SnpActivateBuf {  // SNP_ACTIVATE
  std::uint64_t gctx_paddr;
  std::uint32_t asid;
};
static_assert(sizeof(SnpActivateBuf) == 12);

struct SnpActivateExBuf {  // SNP_ACTIVATE_EX
  std::uint32_t ex_len;    // 0x20
  std::uint32_t reserved;
  std::uint64_t gctx_paddr;
  std::uint32_t asid;
  std::uint32_t numids;
  std::uint64_t ids_paddr;
};
static_assert(sizeof(SnpActivateExBuf) == 0x20);

struct SnpGuestStatusBuf {  // SNP_GUEST_STATUS
  std::uint64_t gctx_paddr;
  std::uint64_t status_paddr;
};
static_assert(sizeof(SnpGuestStatusBuf) == 16);

struct SnpGuestStatusPage {  // the page SNP_GUEST_STATUS writes
  std::uint64_t policy;
  std::uint32_t asid;
  std::uint8_t state;
  std::uint8_t reserved0[3];
  std::uint32_t flags;  // bit0 vcek_dis
  std::uint32_t reserved1;
  std::uint64_t reserved2;
};
static_assert(sizeof(SnpGuestStatusPage) == 32);

struct SnpGuestRequestBuf {  // SNP_GUEST_REQUEST
  std::uint64_t gctx_paddr;
  std::uint64_t req_paddr;  // request page (header + encrypted payload)
  std::uint64_t res_paddr;  // response page (FIRMWARE state)
};
static_assert(sizeof(SnpGuestRequestBuf) == 0x18);

struct SnpLaunchStartBuf {  // SNP_LAUNCH_START
  std::uint64_t gctx_paddr;
  std::uint64_t policy;
  std::uint64_t ma_gctx_paddr;
  std::uint32_t flags;  // bit0 ma_en, bit1 imi_en
  std::uint32_t desired_tsc_khz;
  std::uint8_t gosvw[16];
};
static_assert(sizeof(SnpLaunchStartBuf) == 0x30);

struct SnpLaunchUpdateBuf {  // SNP_LAUNCH_UPDATE
  std::uint64_t gctx_paddr;
  std::uint32_t page_info;  // bit0 page_size (2 MiB), bits 3:1 page_type, bit4 imi_page
  std::uint32_t reserved0;
  std::uint64_t address;     // SPA of the page (PRE_GUEST)
  std::uint32_t vmpl_perms;  // bits 15:8 VMPL1, 23:16 VMPL2, 31:24 VMPL3
  std::uint32_t reserved1;
};
static_assert(sizeof(SnpLaunchUpdateBuf) == 0x20);

struct SnpLaunchFinishBuf {  // SNP_LAUNCH_FINISH
  std::uint64_t gctx_paddr;
  std::uint64_t id_block_paddr;
  std::uint64_t id_auth_paddr;
  std::uint64_t flags;  // bit0 id_block_en, bit1 auth_key_en, bit2 vcek_disabled
  std::uint8_t host_data[32];
};
static_assert(sizeof(SnpLaunchFinishBuf) == 0x40);

struct SnpDbgBuf {  // SNP_DBG_DECRYPT / SNP_DBG_ENCRYPT
  std::uint64_t gctx_paddr;
  std::uint64_t src_addr;
  std::uint64_t dst_addr;
};
static_assert(sizeof(SnpDbgBuf) == 0x18);

struct SnpPageSetStateBuf {  // SNP_PAGE_SET_STATE
  std::uint32_t length;
  std::uint32_t reserved;
  std::uint64_t list_paddr;
};
static_assert(sizeof(SnpPageSetStateBuf) == 0x10);

struct SnpDownloadFirmwareExBuf {  // SNP_DOWNLOAD_FIRMWARE_EX
  std::uint32_t length;
  std::uint32_t reserved;
  std::uint64_t fw_paddr;  // 32-byte aligned
  std::uint32_t fw_len;
  std::uint32_t flags;  // bit0 commit
};
static_assert(sizeof(SnpDownloadFirmwareExBuf) == 0x18);

struct SnpFeatureInfoBuf {           // SNP_FEATURE_INFO
  std::uint32_t length;              // 0x10
  std::uint32_t ecx_in;              // which leaf: 0 features, 1 guest message types
  std::uint64_t feature_info_paddr;  // receives {u32 eax, ebx, ecx, edx}
};
static_assert(sizeof(SnpFeatureInfoBuf) == 0x10);

// SNP_VERIFY_MITIGATION (ABI 1.58; Linux psp-sev.h sev_data_snp_verify_mitigation, added with
// the /sys/firmware/sev/vulnerabilities interface by "crypto/ccp: Introduce
// SNP_VERIFY_MITIGATION command", applied to cryptodev-2.6 in July 2026).
struct SnpVerifyMitigationBuf {
  std::uint32_t length;      // 0x40
  std::uint16_t subcommand;  // 0 REQ_STATUS, 1 REQ_VERIFY (SNP_MIT_SUBCMD_REQ_*)
  std::uint16_t reserved0;
  std::uint64_t vector;  // REQ_VERIFY: the one mitigation bit to verify
  std::uint32_t flags;   // bit0 dst_paddr_en, bit1 src_paddr_en; 31:2 reserved
  std::uint8_t reserved1[4];
  std::uint64_t src_paddr;  // optional input data (bug-specific)
  std::uint64_t dst_paddr;  // receives SnpVerifyMitigationDst
  std::uint8_t reserved2[24];
};
static_assert(sizeof(SnpVerifyMitigationBuf) == 0x40);
static_assert(offsetof(SnpVerifyMitigationBuf, flags) == 0x10);
static_assert(offsetof(SnpVerifyMitigationBuf, dst_paddr) == 0x20);
constexpr std::uint16_t kMitSubcmdStatus = 0, kMitSubcmdVerify = 1;
constexpr std::uint32_t kMitDstPaddrEn = 1u << 0, kMitSrcPaddrEn = 1u << 1;

struct SnpVerifyMitigationDst {  // what SNP_VERIFY_MITIGATION writes at dst_paddr
  std::uint64_t mit_verified_vector;
  std::uint64_t mit_supported_vector;
  std::uint32_t mit_failure_status;  // REQ_VERIFY: 0, or why the bit was not verified
};
static_assert(sizeof(SnpVerifyMitigationDst) == 20);
// mit_failure_status for a bit the firmware does not know (sevemu's value: no public source
// numbers the failures).
constexpr std::uint32_t kMitFailureUnsupported = 1;

struct SnpVlekLoadBuf {               // SNP_VLEK_LOAD
  std::uint32_t length;               // 16
  std::uint8_t vlek_wrapped_version;  // 0
  std::uint8_t reserved[3];
  std::uint64_t vlek_wrapped_paddr;  // the 0x1B0-byte wrapped VLEK hashstick
};
static_assert(sizeof(SnpVlekLoadBuf) == 16);

// SNP_PAGE_SWAP_OUT / SNP_PAGE_SWAP_IN (AMD-ASPFW sev_mcmd.h snp_mcmd_swap_out_t /
// snp_mcmd_swap_in_t). `flags`: bit0 page_size (2 MiB), bits 2:1 page_type (SwapPageType),
// bit3 reserved (SWAP_OUT) / swap_in_place (SWAP_IN), bit4 root_mdata_en; bits 63:5 reserved.
struct SnpPageSwapBuf {
  std::uint64_t gctx_paddr;
  std::uint64_t src_paddr;
  std::uint64_t dst_paddr;
  std::uint64_t mdata_paddr;    // 64-byte aligned entry in a METADATA page (unless root)
  std::uint64_t software_data;  // SWAP_OUT: copied into the entry; SWAP_IN: reserved
  std::uint64_t flags;
};
static_assert(sizeof(SnpPageSwapBuf) == 0x30);
static_assert(offsetof(SnpPageSwapBuf, flags) == 0x28);
using SnpPageSwapOutBuf = SnpPageSwapBuf;
using SnpPageSwapInBuf = SnpPageSwapBuf;
constexpr std::uint64_t kSwapPageSize2M = 1u << 0;
constexpr std::uint64_t kSwapInPlace = 1u << 3;
constexpr std::uint64_t kSwapRootMdata = 1u << 4;
enum class SwapPageType : std::uint8_t { kData = 0, kMetadata = 1, kVmsa = 2 };
constexpr std::uint64_t SwapFlags(SwapPageType t, bool page_2m = false, bool root = false,
                                  bool in_place = false) {
  return (page_2m ? kSwapPageSize2M : 0) | (std::uint64_t{static_cast<std::uint8_t>(t)} << 1) |
         (in_place ? kSwapInPlace : 0) | (root ? kSwapRootMdata : 0);
}

struct SnpPageMoveBuf {  // SNP_PAGE_MOVE (AMD-ASPFW snp_mcmd_page_move_t)
  std::uint64_t gctx_paddr;
  std::uint32_t page_size;  // bit0: 2 MiB; bits 31:1 reserved
  std::uint32_t reserved;
  std::uint64_t src_paddr;
  std::uint64_t dst_paddr;
};
static_assert(sizeof(SnpPageMoveBuf) == 0x20);

struct SnpPageMdInitBuf {  // SNP_PAGE_MD_INIT (AMD-ASPFW snp_mcmd_md_init_t)
  std::uint64_t gctx_paddr;
  std::uint64_t page_paddr;  // FIRMWARE page to become a METADATA page
};
static_assert(sizeof(SnpPageMdInitBuf) == 0x10);

// The 64-byte metadata entry a swap-out writes into a METADATA page, or into the guest
// context as its root entry (AMD-ASPFW sev_rmp.h snp_metadata_page_t). `entry`: bit0 valid,
// bit1 page_validated, bit2 vmsa, bit3 metadata, bit4 page_size, bits 63:12 the GPA (all ones
// for a metadata page). `vmpl`: the RMP entry's permission qword.
struct SnpMetadataEntry {
  std::uint64_t software_data;
  std::uint64_t iv;  // the guest's OEK IV counter at the swap-out
  std::uint8_t auth_tag[16];
  std::uint64_t entry;
  std::uint64_t vmpl;
  std::uint64_t reserved[2];
};
static_assert(sizeof(SnpMetadataEntry) == 64);
static_assert(offsetof(SnpMetadataEntry, entry) == 0x20);
constexpr std::uint64_t kMdValid = 1u << 0;
constexpr std::uint64_t kMdPageValidated = 1u << 1;
constexpr std::uint64_t kMdVmsa = 1u << 2;
constexpr std::uint64_t kMdMetadata = 1u << 3;
constexpr std::uint64_t kMdPageSize2M = 1u << 4;
constexpr std::uint64_t kMdGpaMask = ~0xFFFull;

#pragma pack(pop)

// SNP guest states (SNP_GUEST_STATUS.state; SEV-ABI-FACTS.md 8.3).
enum class SnpGuestState : std::uint8_t { kInit = 0, kLaunch = 1, kRunning = 2 };

// SNP_LAUNCH_UPDATE page types (SEV-ABI-FACTS.md 7.1).
enum class PageType : std::uint8_t {
  kNormal = 1,
  kVmsa = 2,
  kZero = 3,
  kUnmeasured = 4,
  kSecrets = 5,
  kCpuid = 6,
};

}  // namespace sevemu::emulator
