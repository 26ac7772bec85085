// Legacy SEV firmware command ids and command-buffer layouts (SEV API; Linux
// include/linux/psp-sev.h `sev_data_*`, AMD-ASPFW sev_mcmd.h `sev_mcmd_*_t`,
// reference/SEV-ABI-FACTS.md 1.3, 8.1). All buffers are packed little-endian; sizes and offsets
// are pinned below. Values are ABI: never change.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace sevemu::emulator {

static_assert(std::endian::native == std::endian::little,
              "command buffers are read by memcpy; the ABI is little-endian");

enum class SevCmd : std::uint32_t {
  kInit = 0x001,
  kShutdown = 0x002,
  kPlatformReset = 0x003,  // Linux: SEV_CMD_FACTORY_RESET
  kPlatformStatus = 0x004,
  kPekGen = 0x005,
  kPekCsr = 0x006,
  kPekCertImport = 0x007,
  kPdhCertExport = 0x008,
  kPdhGen = 0x009,
  kDfFlush = 0x00A,
  kDownloadFirmware = 0x00B,
  kGetId = 0x00C,
  kInitEx = 0x00D,
  // Guest commands (cmd_sev_guest.cpp, cmd_sev_launch.cpp).
  kDecommission = 0x020,
  kActivate = 0x021,
  kDeactivate = 0x022,
  kGuestStatus = 0x023,
  kLaunchStart = 0x030,
  kLaunchUpdateData = 0x031,
  kLaunchUpdateVmsa = 0x032,
  kLaunchMeasure = 0x033,
  kLaunchUpdateSecret = 0x034,
  kLaunchFinish = 0x035,
  kAttestation = 0x036,
  // Migration (cmd_sev_migrate.cpp; AMD-ASPFW sev_mcmd.h SEV_MCMD_ID_SEND_* / RECEIVE_*).
  kSendStart = 0x040,
  kSendUpdateData = 0x041,
  kSendUpdateVmsa = 0x042,
  kSendFinish = 0x043,
  kSendCancel = 0x044,
  kReceiveStart = 0x050,
  kReceiveUpdateData = 0x051,
  kReceiveUpdateVmsa = 0x052,
  kReceiveFinish = 0x053,
  kDbgDecrypt = 0x060,
  kDbgEncrypt = 0x061,
};
const char* SevCmdName(SevCmd c);

#pragma pack(push, 1)

// INIT. AMD's layout: u16 flags, reserved[6]; Linux's: u32 flags, u32 reserved (same bytes).
struct SevInitBuf {
  std::uint16_t flags;  // bit 0: SEV-ES (then the TMR is used)
  std::uint8_t reserved[6];
  std::uint64_t tmr_paddr;
  std::uint32_t tmr_length;
};
static_assert(sizeof(SevInitBuf) == 20);
static_assert(offsetof(SevInitBuf, tmr_paddr) == 8);

struct SevInitExBuf {
  std::uint32_t length;  // must be 0x24
  std::uint16_t flags;
  std::uint8_t reserved1[2];
  std::uint64_t tmr_paddr;
  std::uint32_t tmr_length;
  std::uint32_t reserved2;
  std::uint64_t nv_paddr;  // 0: the SPI flash; else a 32 KiB host area for the persistent state
  std::uint32_t nv_length;
};
static_assert(sizeof(SevInitExBuf) == 0x24);
static_assert(offsetof(SevInitExBuf, nv_paddr) == 0x18);

// PLATFORM_STATUS (output only). Linux reads bytes 3..6 as one u32 `flags`: bit 0 OWNER,
// bit 8 (config_flags bit 0) SEV-ES.
struct SevPlatformStatusBuf {
  std::uint8_t api_major;
  std::uint8_t api_minor;
  std::uint8_t state;  // 0 UNINIT, 1 INIT, 2 WORKING
  std::uint8_t platform_flags;
  std::uint16_t config_flags;
  std::uint8_t reserved;
  std::uint8_t build;
  std::uint32_t guest_count;
};
static_assert(sizeof(SevPlatformStatusBuf) == 12);
static_assert(offsetof(SevPlatformStatusBuf, build) == 7);

// PEK_CSR and GET_ID: an address and an in/out length.
struct SevAddrLenBuf {
  std::uint64_t paddr;
  std::uint32_t length;
};
static_assert(sizeof(SevAddrLenBuf) == 12);

struct SevPekCertImportBuf {
  std::uint64_t pek_cert_paddr;
  std::uint32_t pek_cert_len;
  std::uint32_t reserved;
  std::uint64_t oca_cert_paddr;
  std::uint32_t oca_cert_len;
};
static_assert(sizeof(SevPekCertImportBuf) == 28);
static_assert(offsetof(SevPekCertImportBuf, oca_cert_paddr) == 16);

struct SevPdhCertExportBuf {
  std::uint64_t pdh_cert_paddr;
  std::uint32_t pdh_cert_len;  // in/out
  std::uint32_t reserved;
  std::uint64_t cert_chain_paddr;
  std::uint32_t cert_chain_len;  // in/out
};
static_assert(sizeof(SevPdhCertExportBuf) == 28);
static_assert(offsetof(SevPdhCertExportBuf, cert_chain_len) == 24);

struct SevDownloadFirmwareBuf {
  std::uint64_t firmware_paddr;
  std::uint32_t firmware_len;
};
static_assert(sizeof(SevDownloadFirmwareBuf) == 12);

#pragma pack(pop)

namespace sev_flags {
constexpr std::uint16_t kConfigEs = 1u << 0;      // INIT(_EX) flags, PLATFORM_STATUS config
constexpr std::uint8_t kPlatformOwner = 1u << 0;  // PLATFORM_STATUS platform_flags
}  // namespace sev_flags

constexpr std::uint32_t kSevInitExLength = 0x24;        // AMD-ASPFW SEV_INIT_EX_CMD_LEN
constexpr std::uint32_t kSevInitExNvLength = 0x8000;    // SEV_INIT_EX_NV_LEN (32 KiB)
constexpr std::uint32_t kSevEsTmrSize = 0x100000;       // df_regs.h SEV_ES_TMR_SIZE
constexpr std::uint32_t kSevEsTmrSizeSnp = 0x200000;    // SEV_ES_TMR_SIZE_SNP (RMP built)
constexpr std::uint32_t kSevGetIdSize = 64;             // one socket's get_id_t (x[32], y[32])
constexpr std::uint32_t kSevCertChainSize = 3 * 0x824;  // PEK || OCA || CEK

// ---- guest command buffers (Linux psp-sev.h sev_data_*; AMD-ASPFW sev_mcmd.h sev_mcmd_*_t) ----
#pragma pack(push, 1)

// DECOMMISSION, DEACTIVATE, LAUNCH_FINISH: the guest's handle only.
struct SevHandleBuf {
  std::uint32_t handle;
};
static_assert(sizeof(SevHandleBuf) == 4);

struct SevActivateBuf {
  std::uint32_t handle;
  std::uint32_t asid;
};
static_assert(sizeof(SevActivateBuf) == 8);

// GUEST_STATUS: handle in; policy, ASID and state out.
struct SevGuestStatusBuf {
  std::uint32_t handle;
  std::uint32_t policy;
  std::uint32_t asid;
  std::uint8_t state;
};
static_assert(sizeof(SevGuestStatusBuf) == 13);

struct SevLaunchStartBuf {
  std::uint32_t handle;  // in: 0, or a guest to share the memory key with; out: the new handle
  std::uint32_t policy;
  std::uint64_t dh_cert_paddr;  // the guest owner's GODH certificate (0: no session)
  std::uint32_t dh_cert_len;
  std::uint32_t reserved;
  std::uint64_t session_paddr;
  std::uint32_t session_len;
};
static_assert(sizeof(SevLaunchStartBuf) == 0x24);
static_assert(offsetof(SevLaunchStartBuf, session_paddr) == 0x18);

// LAUNCH_UPDATE_DATA and LAUNCH_UPDATE_VMSA.
struct SevLaunchUpdateBuf {
  std::uint32_t handle;
  std::uint32_t reserved;
  std::uint64_t paddr;
  std::uint32_t length;
};
static_assert(sizeof(SevLaunchUpdateBuf) == 20);

// LAUNCH_MEASURE: length in/out (0x30 needed).
struct SevLaunchMeasureBuf {
  std::uint32_t handle;
  std::uint32_t reserved;
  std::uint64_t measure_paddr;
  std::uint32_t measure_len;
};
static_assert(sizeof(SevLaunchMeasureBuf) == 20);

// LAUNCH_UPDATE_SECRET, SEND_UPDATE_DATA/VMSA, RECEIVE_UPDATE_DATA/VMSA: AMD's one
// sev_mcmd_transport_t (Linux sev_data_launch_secret, sev_data_send_update_data,
// sev_data_receive_update_data share its layout).
struct SevLaunchSecretBuf {
  std::uint32_t handle;
  std::uint32_t reserved1;
  std::uint64_t hdr_paddr;
  std::uint32_t hdr_len;
  std::uint32_t reserved2;
  std::uint64_t guest_paddr;
  std::uint32_t guest_len;
  std::uint32_t reserved3;
  std::uint64_t trans_paddr;
  std::uint32_t trans_len;
};
static_assert(sizeof(SevLaunchSecretBuf) == 0x34);
static_assert(offsetof(SevLaunchSecretBuf, guest_paddr) == 0x18);
static_assert(offsetof(SevLaunchSecretBuf, trans_len) == 0x30);

using SevTransportBuf = SevLaunchSecretBuf;

// SEND_START (AMD sev_mcmd_send_start_t, Linux sev_data_send_start): the receiver's PDH, its
// PEK ‖ OCA ‖ CEK, AMD's ASK ‖ ARK; the session written out (length in/out); policy out.
struct SevSendStartBuf {
  std::uint32_t handle;
  std::uint32_t policy;  // out: the guest's policy
  std::uint64_t pdh_cert_paddr;
  std::uint32_t pdh_cert_len;
  std::uint32_t reserved1;
  std::uint64_t plat_certs_paddr;
  std::uint32_t plat_certs_len;
  std::uint32_t reserved2;
  std::uint64_t amd_certs_paddr;
  std::uint32_t amd_certs_len;
  std::uint32_t reserved3;
  std::uint64_t session_paddr;
  std::uint32_t session_len;  // in/out: 0x80 needed
};
static_assert(sizeof(SevSendStartBuf) == 0x44);
static_assert(offsetof(SevSendStartBuf, amd_certs_paddr) == 0x28);
static_assert(offsetof(SevSendStartBuf, session_len) == 0x40);

// RECEIVE_START (AMD sev_mcmd_receive_start_t): LAUNCH_START's layout; pdh_cert is the
// sender's PDH.
using SevReceiveStartBuf = SevLaunchStartBuf;

// ATTESTATION: length in/out (0xD0 needed).
struct SevAttestationBuf {
  std::uint32_t handle;
  std::uint32_t reserved;
  std::uint64_t paddr;
  std::uint8_t mnonce[16];
  std::uint32_t length;
};
static_assert(sizeof(SevAttestationBuf) == 0x24);
static_assert(offsetof(SevAttestationBuf, length) == 0x20);

// DBG_DECRYPT and DBG_ENCRYPT.
struct SevDbgBuf {
  std::uint32_t handle;
  std::uint32_t reserved;
  std::uint64_t src_paddr;
  std::uint64_t dst_paddr;
  std::uint32_t length;
};
static_assert(sizeof(SevDbgBuf) == 28);
static_assert(offsetof(SevDbgBuf, length) == 24);

#pragma pack(pop)

constexpr std::uint32_t kSevVmsaSize = 0x1000;  // AMD-ASPFW sev_es.h VMSA_SIZE

}  // namespace sevemu::emulator
