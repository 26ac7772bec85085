// The migration-agent guest messages' payloads (SEV-SNP ABI "VM Export" .. "VMRK Message";
// AMD-ASPFW sev_rmp.h snp_msg_export_req_t .. snp_msg_vmrk_rsp_t) and the exported guest
// context they carry (snp_msg_gctx_t: 0x300 bytes, version 3). Offsets only: the firmware, the
// tests and a migration agent read and write the same bytes (docs/migration.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sevemu::emulator {

// The exported guest context, SNP_GMSG_MAX_XPORT_GCTX_VERSION 3.
constexpr std::size_t kGctxExportSize = 0x300;
constexpr std::uint32_t kGctxExportVersion = 3;
namespace gctx {
constexpr std::size_t kLd = 0x000;  // launch digest (48)
constexpr std::size_t kOek = 0x030;
constexpr std::size_t kVmpck0 = 0x050;  // VMPCK0..3, 32 bytes each
constexpr std::size_t kVmrk = 0x0D0;
constexpr std::size_t kHostData = 0x0F0;
constexpr std::size_t kIdKeyDigest = 0x110;      // 48
constexpr std::size_t kAuthorKeyDigest = 0x140;  // 48
constexpr std::size_t kReportId = 0x170;
constexpr std::size_t kImd = 0x190;          // IMI digest (48)
constexpr std::size_t kMsgCount0 = 0x1C0;    // msg_count0..3, u64 each
constexpr std::size_t kRootMdEntry = 0x1E0;  // 64-byte metadata entry; bit 0 of +0x20 VALID
constexpr std::size_t kFlags = 0x220;        // bit 0 AUTHOR_KEY_EN, 1 ID_BLOCK_EN, 2 VCEK_DIS
constexpr std::size_t kPolicy = 0x228;
constexpr std::size_t kState = 0x230;  // the guest state when exported (u8)
constexpr std::size_t kOekIvCount = 0x238;
constexpr std::size_t kIdBlock = 0x240;         // 0x60
constexpr std::size_t kGosvw = 0x2A0;           // 16
constexpr std::size_t kDesiredTscFreq = 0x2B0;  // u32
constexpr std::size_t kPspTscOffset = 0x2B8;
constexpr std::size_t kLaunchTcb = 0x2C0;
constexpr std::size_t kRootMdValid = kRootMdEntry + 0x20;  // byte holding mdata_entry.VALID
}  // namespace gctx

// MSG_EXPORT_REQ: u64 gctx_paddr, u32 bit 0 IMI_EN (bits 31:1 reserved), u32 reserved.
constexpr std::size_t kExportReqSize = 0x10;
// MSG_EXPORT_RSP: u32 status, u32 gctx_size, u32 gctx_version, reserved to 0x20, the context;
// the firmware sends the whole 4 KiB page's payload (0x1000 - 0x60 bytes).
constexpr std::size_t kExportRspSize = 0x1000 - 0x60;
constexpr std::size_t kExportRspGctx = 0x20;
// MSG_IMPORT_REQ and MSG_ABSORB_REQ: u64 gctx_paddr, u32 in_gctx_size, u32 in_gctx_version,
// reserved to 0x20, the context. MSG_ABSORB_NOMA_REQ: the same with the first u64 reserved.
constexpr std::size_t kImportReqSize = 0x20 + kGctxExportSize;
constexpr std::size_t kImportReqGctx = 0x20;
// MSG_VMRK_REQ: u64 gctx_paddr, reserved to 0x20, the 32-byte VMRK.
constexpr std::size_t kVmrkReqSize = 0x40;
// MSG_IMPORT_RSP, MSG_ABSORB_RSP, MSG_VMRK_RSP, MSG_ABSORB_NOMA_RSP: u32 status, reserved.
constexpr std::size_t kMaStatusRspSize = 0x10;

}  // namespace sevemu::emulator
