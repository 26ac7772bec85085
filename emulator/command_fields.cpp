// The field tables of the command buffers (snp_abi.h, sev_abi.h; AMD SEV-SNP ABI spec 56860
// chapter 8 and SEV API spec 55766 chapters 5-6 for the names). A field missing here does not
// reach the trace; reserved fields are left out on purpose.
#include "sevemu/emulator/command_fields.h"

#include <cstddef>
#include <cstring>
#include <span>

namespace sevemu::emulator {
namespace {

using Kind = CommandField::Kind;

struct FieldSpec {
  std::string_view name;
  Kind kind;
  std::size_t offset;
  std::size_t size;
};

struct Layout {
  std::uint32_t id;
  std::size_t size;
  std::span<const FieldSpec> fields;
};

#define SEVEMU_FIELD(S, m, k)                 \
  FieldSpec {                                 \
#m, Kind::k, offsetof(S, m), sizeof(S::m) \
  }

// clang-format off
constexpr FieldSpec kSnpInitEx[] = {SEVEMU_FIELD(SnpInitExBuf, flags, kNumber),
                                    SEVEMU_FIELD(SnpInitExBuf, list_paddr, kAddress),
                                    SEVEMU_FIELD(SnpInitExBuf, max_snp_asid, kNumber)};
constexpr FieldSpec kSnpShutdownEx[] = {SEVEMU_FIELD(SnpShutdownExBuf, length, kNumber),
                                        SEVEMU_FIELD(SnpShutdownExBuf, flags, kNumber)};
constexpr FieldSpec kSnpAddr[] = {SEVEMU_FIELD(SnpAddrBuf, paddr, kAddress)};
constexpr FieldSpec kSnpConfig[] = {SEVEMU_FIELD(SnpConfigBuf, reported_tcb, kNumber),
                                    SEVEMU_FIELD(SnpConfigBuf, flags, kNumber)};
constexpr FieldSpec kSnpCommit[] = {SEVEMU_FIELD(SnpCommitBuf, length, kNumber)};
constexpr FieldSpec kSnpActivate[] = {SEVEMU_FIELD(SnpActivateBuf, gctx_paddr, kAddress),
                                      SEVEMU_FIELD(SnpActivateBuf, asid, kNumber)};
constexpr FieldSpec kSnpActivateEx[] = {SEVEMU_FIELD(SnpActivateExBuf, ex_len, kNumber),
                                        SEVEMU_FIELD(SnpActivateExBuf, gctx_paddr, kAddress),
                                        SEVEMU_FIELD(SnpActivateExBuf, asid, kNumber),
                                        SEVEMU_FIELD(SnpActivateExBuf, numids, kNumber),
                                        SEVEMU_FIELD(SnpActivateExBuf, ids_paddr, kAddress)};
constexpr FieldSpec kSnpGuestStatus[] = {SEVEMU_FIELD(SnpGuestStatusBuf, gctx_paddr, kAddress),
                                         SEVEMU_FIELD(SnpGuestStatusBuf, status_paddr, kAddress)};
constexpr FieldSpec kSnpGuestRequest[] = {SEVEMU_FIELD(SnpGuestRequestBuf, gctx_paddr, kAddress),
                                          SEVEMU_FIELD(SnpGuestRequestBuf, req_paddr, kAddress),
                                          SEVEMU_FIELD(SnpGuestRequestBuf, res_paddr, kAddress)};
constexpr FieldSpec kSnpLaunchStart[] = {SEVEMU_FIELD(SnpLaunchStartBuf, gctx_paddr, kAddress),
                                         SEVEMU_FIELD(SnpLaunchStartBuf, policy, kNumber),
                                         SEVEMU_FIELD(SnpLaunchStartBuf, ma_gctx_paddr, kAddress),
                                         SEVEMU_FIELD(SnpLaunchStartBuf, flags, kNumber),
                                         SEVEMU_FIELD(SnpLaunchStartBuf, desired_tsc_khz, kNumber),
                                         SEVEMU_FIELD(SnpLaunchStartBuf, gosvw, kBytes)};
constexpr FieldSpec kSnpLaunchUpdate[] = {SEVEMU_FIELD(SnpLaunchUpdateBuf, gctx_paddr, kAddress),
                                          SEVEMU_FIELD(SnpLaunchUpdateBuf, page_info, kNumber),
                                          SEVEMU_FIELD(SnpLaunchUpdateBuf, address, kAddress),
                                          SEVEMU_FIELD(SnpLaunchUpdateBuf, vmpl_perms, kNumber)};
constexpr FieldSpec kSnpLaunchFinish[] = {SEVEMU_FIELD(SnpLaunchFinishBuf, gctx_paddr, kAddress),
                                          SEVEMU_FIELD(SnpLaunchFinishBuf, id_block_paddr, kAddress),
                                          SEVEMU_FIELD(SnpLaunchFinishBuf, id_auth_paddr, kAddress),
                                          SEVEMU_FIELD(SnpLaunchFinishBuf, flags, kNumber),
                                          SEVEMU_FIELD(SnpLaunchFinishBuf, host_data, kBytes)};
constexpr FieldSpec kSnpDbg[] = {SEVEMU_FIELD(SnpDbgBuf, gctx_paddr, kAddress),
                                 SEVEMU_FIELD(SnpDbgBuf, src_addr, kAddress),
                                 SEVEMU_FIELD(SnpDbgBuf, dst_addr, kAddress)};
// SNP_PAGE_SWAP_OUT / SWAP_IN (AMD-ASPFW sev_mcmd.h snp_mcmd_swap_out_t / snp_mcmd_swap_in_t):
// addresses, the hypervisor's software_data (SWAP_OUT only; reserved in SWAP_IN) and the flags.
// The page's ciphertext at dst_paddr and the entry's IV and tag at mdata_paddr are never read.
constexpr FieldSpec kSnpPageSwapOut[] = {SEVEMU_FIELD(SnpPageSwapBuf, gctx_paddr, kAddress),
                                         SEVEMU_FIELD(SnpPageSwapBuf, src_paddr, kAddress),
                                         SEVEMU_FIELD(SnpPageSwapBuf, dst_paddr, kAddress),
                                         SEVEMU_FIELD(SnpPageSwapBuf, mdata_paddr, kAddress),
                                         SEVEMU_FIELD(SnpPageSwapBuf, software_data, kNumber),
                                         SEVEMU_FIELD(SnpPageSwapBuf, flags, kNumber)};
constexpr FieldSpec kSnpPageSwapIn[] = {SEVEMU_FIELD(SnpPageSwapBuf, gctx_paddr, kAddress),
                                        SEVEMU_FIELD(SnpPageSwapBuf, src_paddr, kAddress),
                                        SEVEMU_FIELD(SnpPageSwapBuf, dst_paddr, kAddress),
                                        SEVEMU_FIELD(SnpPageSwapBuf, mdata_paddr, kAddress),
                                        SEVEMU_FIELD(SnpPageSwapBuf, flags, kNumber)};
constexpr FieldSpec kSnpPageMove[] = {SEVEMU_FIELD(SnpPageMoveBuf, gctx_paddr, kAddress),
                                      SEVEMU_FIELD(SnpPageMoveBuf, page_size, kNumber),
                                      SEVEMU_FIELD(SnpPageMoveBuf, src_paddr, kAddress),
                                      SEVEMU_FIELD(SnpPageMoveBuf, dst_paddr, kAddress)};
constexpr FieldSpec kSnpPageMdInit[] = {SEVEMU_FIELD(SnpPageMdInitBuf, gctx_paddr, kAddress),
                                        SEVEMU_FIELD(SnpPageMdInitBuf, page_paddr, kAddress)};
constexpr FieldSpec kSnpPageSetState[] = {SEVEMU_FIELD(SnpPageSetStateBuf, length, kNumber),
                                          SEVEMU_FIELD(SnpPageSetStateBuf, list_paddr, kAddress)};
constexpr FieldSpec kSnpDownloadFirmwareEx[] = {
    SEVEMU_FIELD(SnpDownloadFirmwareExBuf, length, kNumber),
    SEVEMU_FIELD(SnpDownloadFirmwareExBuf, fw_paddr, kAddress),
    SEVEMU_FIELD(SnpDownloadFirmwareExBuf, fw_len, kNumber),
    SEVEMU_FIELD(SnpDownloadFirmwareExBuf, flags, kNumber)};
constexpr FieldSpec kSnpFeatureInfo[] = {
    SEVEMU_FIELD(SnpFeatureInfoBuf, length, kNumber),
    SEVEMU_FIELD(SnpFeatureInfoBuf, ecx_in, kNumber),
    SEVEMU_FIELD(SnpFeatureInfoBuf, feature_info_paddr, kAddress)};
constexpr FieldSpec kSnpVerifyMitigation[] = {
    SEVEMU_FIELD(SnpVerifyMitigationBuf, length, kNumber),
    SEVEMU_FIELD(SnpVerifyMitigationBuf, subcommand, kNumber),
    SEVEMU_FIELD(SnpVerifyMitigationBuf, vector, kNumber),
    SEVEMU_FIELD(SnpVerifyMitigationBuf, flags, kNumber),
    SEVEMU_FIELD(SnpVerifyMitigationBuf, src_paddr, kAddress),
    SEVEMU_FIELD(SnpVerifyMitigationBuf, dst_paddr, kAddress)};
// The wrapped VLEK itself lies at vlek_wrapped_paddr and is never read for the trace.
constexpr FieldSpec kSnpVlekLoad[] = {SEVEMU_FIELD(SnpVlekLoadBuf, length, kNumber),
                                      SEVEMU_FIELD(SnpVlekLoadBuf, vlek_wrapped_version, kNumber),
                                      SEVEMU_FIELD(SnpVlekLoadBuf, vlek_wrapped_paddr, kAddress)};

#define SNP(cmd, Buf, fields) Layout{static_cast<std::uint32_t>(SnpCmd::cmd), sizeof(Buf), fields}
#define SNP_NO_BUFFER(cmd) Layout{static_cast<std::uint32_t>(SnpCmd::cmd), 0, {}}
constexpr Layout kSnpLayouts[] = {
  SNP_NO_BUFFER(kInit),
  SNP_NO_BUFFER(kShutdown),
  SNP_NO_BUFFER(kDfFlush),
  SNP(kInitEx, SnpInitExBuf, kSnpInitEx),
  SNP(kShutdownEx, SnpShutdownExBuf, kSnpShutdownEx),
  SNP(kPlatformStatus, SnpAddrBuf, kSnpAddr),
  SNP(kDecommission, SnpAddrBuf, kSnpAddr),
  SNP(kGctxCreate, SnpAddrBuf, kSnpAddr),
  SNP(kPageReclaim, SnpAddrBuf, kSnpAddr),
  SNP(kPageUnsmash, SnpAddrBuf, kSnpAddr),
  SNP(kConfig, SnpConfigBuf, kSnpConfig),
  SNP(kCommit, SnpCommitBuf, kSnpCommit),
  SNP(kActivate, SnpActivateBuf, kSnpActivate),
  SNP(kActivateEx, SnpActivateExBuf, kSnpActivateEx),
  SNP(kGuestStatus, SnpGuestStatusBuf, kSnpGuestStatus),
  SNP(kGuestRequest, SnpGuestRequestBuf, kSnpGuestRequest),
  SNP(kLaunchStart, SnpLaunchStartBuf, kSnpLaunchStart),
  SNP(kLaunchUpdate, SnpLaunchUpdateBuf, kSnpLaunchUpdate),
  SNP(kLaunchFinish, SnpLaunchFinishBuf, kSnpLaunchFinish),
  SNP(kDbgDecrypt, SnpDbgBuf, kSnpDbg),
  SNP(kDbgEncrypt, SnpDbgBuf, kSnpDbg),
  SNP(kPageSwapOut, SnpPageSwapOutBuf, kSnpPageSwapOut),
  SNP(kPageSwapIn, SnpPageSwapInBuf, kSnpPageSwapIn),
  SNP(kPageMove, SnpPageMoveBuf, kSnpPageMove),
  SNP(kPageMdInit, SnpPageMdInitBuf, kSnpPageMdInit),
  SNP(kVerifyMitigation, SnpVerifyMitigationBuf, kSnpVerifyMitigation),
  SNP(kPageSetState, SnpPageSetStateBuf, kSnpPageSetState),
  SNP(kDownloadFirmwareEx, SnpDownloadFirmwareExBuf, kSnpDownloadFirmwareEx),
  SNP(kFeatureInfo, SnpFeatureInfoBuf, kSnpFeatureInfo),
  SNP(kVlekLoad, SnpVlekLoadBuf, kSnpVlekLoad),
};
#undef SNP_NO_BUFFER
#undef SNP

constexpr FieldSpec kSevInit[] = {SEVEMU_FIELD(SevInitBuf, flags, kNumber),
                                  SEVEMU_FIELD(SevInitBuf, tmr_paddr, kAddress),
                                  SEVEMU_FIELD(SevInitBuf, tmr_length, kNumber)};
constexpr FieldSpec kSevInitEx[] = {SEVEMU_FIELD(SevInitExBuf, length, kNumber),
                                    SEVEMU_FIELD(SevInitExBuf, flags, kNumber),
                                    SEVEMU_FIELD(SevInitExBuf, tmr_paddr, kAddress),
                                    SEVEMU_FIELD(SevInitExBuf, tmr_length, kNumber),
                                    SEVEMU_FIELD(SevInitExBuf, nv_paddr, kAddress),
                                    SEVEMU_FIELD(SevInitExBuf, nv_length, kNumber)};
constexpr FieldSpec kSevPlatformStatus[] = {
    SEVEMU_FIELD(SevPlatformStatusBuf, api_major, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, api_minor, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, state, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, platform_flags, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, config_flags, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, build, kNumber),
    SEVEMU_FIELD(SevPlatformStatusBuf, guest_count, kNumber)};
constexpr FieldSpec kSevAddrLen[] = {SEVEMU_FIELD(SevAddrLenBuf, paddr, kAddress),
                                     SEVEMU_FIELD(SevAddrLenBuf, length, kNumber)};
constexpr FieldSpec kSevPekCertImport[] = {
    SEVEMU_FIELD(SevPekCertImportBuf, pek_cert_paddr, kAddress),
    SEVEMU_FIELD(SevPekCertImportBuf, pek_cert_len, kNumber),
    SEVEMU_FIELD(SevPekCertImportBuf, oca_cert_paddr, kAddress),
    SEVEMU_FIELD(SevPekCertImportBuf, oca_cert_len, kNumber)};
constexpr FieldSpec kSevPdhCertExport[] = {
    SEVEMU_FIELD(SevPdhCertExportBuf, pdh_cert_paddr, kAddress),
    SEVEMU_FIELD(SevPdhCertExportBuf, pdh_cert_len, kNumber),
    SEVEMU_FIELD(SevPdhCertExportBuf, cert_chain_paddr, kAddress),
    SEVEMU_FIELD(SevPdhCertExportBuf, cert_chain_len, kNumber)};
constexpr FieldSpec kSevDownloadFirmware[] = {
    SEVEMU_FIELD(SevDownloadFirmwareBuf, firmware_paddr, kAddress),
    SEVEMU_FIELD(SevDownloadFirmwareBuf, firmware_len, kNumber)};
constexpr FieldSpec kSevHandle[] = {SEVEMU_FIELD(SevHandleBuf, handle, kNumber)};
constexpr FieldSpec kSevActivate[] = {SEVEMU_FIELD(SevActivateBuf, handle, kNumber),
                                      SEVEMU_FIELD(SevActivateBuf, asid, kNumber)};
constexpr FieldSpec kSevGuestStatus[] = {SEVEMU_FIELD(SevGuestStatusBuf, handle, kNumber),
                                         SEVEMU_FIELD(SevGuestStatusBuf, policy, kNumber),
                                         SEVEMU_FIELD(SevGuestStatusBuf, asid, kNumber),
                                         SEVEMU_FIELD(SevGuestStatusBuf, state, kNumber)};
// The session blob (nonce, wrapped TEK/TIK) lies at session_paddr and is never read here.
constexpr FieldSpec kSevLaunchStart[] = {SEVEMU_FIELD(SevLaunchStartBuf, handle, kNumber),
                                         SEVEMU_FIELD(SevLaunchStartBuf, policy, kNumber),
                                         SEVEMU_FIELD(SevLaunchStartBuf, dh_cert_paddr, kAddress),
                                         SEVEMU_FIELD(SevLaunchStartBuf, dh_cert_len, kNumber),
                                         SEVEMU_FIELD(SevLaunchStartBuf, session_paddr, kAddress),
                                         SEVEMU_FIELD(SevLaunchStartBuf, session_len, kNumber)};
constexpr FieldSpec kSevLaunchUpdate[] = {SEVEMU_FIELD(SevLaunchUpdateBuf, handle, kNumber),
                                          SEVEMU_FIELD(SevLaunchUpdateBuf, paddr, kAddress),
                                          SEVEMU_FIELD(SevLaunchUpdateBuf, length, kNumber)};
constexpr FieldSpec kSevLaunchMeasure[] = {
    SEVEMU_FIELD(SevLaunchMeasureBuf, handle, kNumber),
    SEVEMU_FIELD(SevLaunchMeasureBuf, measure_paddr, kAddress),
    SEVEMU_FIELD(SevLaunchMeasureBuf, measure_len, kNumber)};
// The secret itself (the trans packet) lies at trans_paddr and is never read here.
constexpr FieldSpec kSevLaunchSecret[] = {SEVEMU_FIELD(SevLaunchSecretBuf, handle, kNumber),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, hdr_paddr, kAddress),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, hdr_len, kNumber),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, guest_paddr, kAddress),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, guest_len, kNumber),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, trans_paddr, kAddress),
                                          SEVEMU_FIELD(SevLaunchSecretBuf, trans_len, kNumber)};
constexpr FieldSpec kSevAttestation[] = {SEVEMU_FIELD(SevAttestationBuf, handle, kNumber),
                                         SEVEMU_FIELD(SevAttestationBuf, paddr, kAddress),
                                         SEVEMU_FIELD(SevAttestationBuf, mnonce, kBytes),
                                         SEVEMU_FIELD(SevAttestationBuf, length, kNumber)};
constexpr FieldSpec kSevDbg[] = {SEVEMU_FIELD(SevDbgBuf, handle, kNumber),
                                 SEVEMU_FIELD(SevDbgBuf, src_paddr, kAddress),
                                 SEVEMU_FIELD(SevDbgBuf, dst_paddr, kAddress),
                                 SEVEMU_FIELD(SevDbgBuf, length, kNumber)};
// SEND_START (AMD-ASPFW sev_mcmd_send_start_t): the receiver's certificates and the session's
// addresses and lengths; the session itself (nonce, TEK/TIK wrapped under the KEK, their MAC)
// lies at session_paddr and is never read here, nor are the certificates.
constexpr FieldSpec kSevSendStart[] = {SEVEMU_FIELD(SevSendStartBuf, handle, kNumber),
                                       SEVEMU_FIELD(SevSendStartBuf, policy, kNumber),
                                       SEVEMU_FIELD(SevSendStartBuf, pdh_cert_paddr, kAddress),
                                       SEVEMU_FIELD(SevSendStartBuf, pdh_cert_len, kNumber),
                                       SEVEMU_FIELD(SevSendStartBuf, plat_certs_paddr, kAddress),
                                       SEVEMU_FIELD(SevSendStartBuf, plat_certs_len, kNumber),
                                       SEVEMU_FIELD(SevSendStartBuf, amd_certs_paddr, kAddress),
                                       SEVEMU_FIELD(SevSendStartBuf, amd_certs_len, kNumber),
                                       SEVEMU_FIELD(SevSendStartBuf, session_paddr, kAddress),
                                       SEVEMU_FIELD(SevSendStartBuf, session_len, kNumber)};

#define SEV_NO_BUFFER(cmd) Layout{static_cast<std::uint32_t>(SevCmd::cmd), 0, {}}
#define SEV(cmd, Buf, fields) Layout{static_cast<std::uint32_t>(SevCmd::cmd), sizeof(Buf), fields}
constexpr Layout kSevLayouts[] = {
  SEV(kInit, SevInitBuf, kSevInit),
  SEV_NO_BUFFER(kShutdown),
  SEV_NO_BUFFER(kPlatformReset),
  SEV_NO_BUFFER(kPekGen),
  SEV_NO_BUFFER(kPdhGen),
  SEV_NO_BUFFER(kDfFlush),
  SEV(kInitEx, SevInitExBuf, kSevInitEx),
  SEV(kPlatformStatus, SevPlatformStatusBuf, kSevPlatformStatus),
  SEV(kPekCsr, SevAddrLenBuf, kSevAddrLen),
  SEV(kGetId, SevAddrLenBuf, kSevAddrLen),
  SEV(kPekCertImport, SevPekCertImportBuf, kSevPekCertImport),
  SEV(kPdhCertExport, SevPdhCertExportBuf, kSevPdhCertExport),
  SEV(kDownloadFirmware, SevDownloadFirmwareBuf, kSevDownloadFirmware),
  SEV(kDecommission, SevHandleBuf, kSevHandle),
  SEV(kDeactivate, SevHandleBuf, kSevHandle),
  SEV(kLaunchFinish, SevHandleBuf, kSevHandle),
  SEV(kActivate, SevActivateBuf, kSevActivate),
  SEV(kGuestStatus, SevGuestStatusBuf, kSevGuestStatus),
  SEV(kLaunchStart, SevLaunchStartBuf, kSevLaunchStart),
  SEV(kLaunchUpdateData, SevLaunchUpdateBuf, kSevLaunchUpdate),
  SEV(kLaunchUpdateVmsa, SevLaunchUpdateBuf, kSevLaunchUpdate),
  SEV(kLaunchMeasure, SevLaunchMeasureBuf, kSevLaunchMeasure),
  SEV(kLaunchUpdateSecret, SevLaunchSecretBuf, kSevLaunchSecret),
  SEV(kAttestation, SevAttestationBuf, kSevAttestation),
  // Migration: the transport packets' header (IV, flags, MAC) lies at hdr_paddr and the
  // ciphertext at trans_paddr; neither is read here (the transport layout is LAUNCH_SECRET's).
  SEV(kSendStart, SevSendStartBuf, kSevSendStart),
  SEV(kSendUpdateData, SevTransportBuf, kSevLaunchSecret),
  SEV(kSendUpdateVmsa, SevTransportBuf, kSevLaunchSecret),
  SEV(kSendFinish, SevHandleBuf, kSevHandle),
  SEV(kSendCancel, SevHandleBuf, kSevHandle),
  SEV(kReceiveStart, SevReceiveStartBuf, kSevLaunchStart),
  SEV(kReceiveUpdateData, SevTransportBuf, kSevLaunchSecret),
  SEV(kReceiveUpdateVmsa, SevTransportBuf, kSevLaunchSecret),
  SEV(kReceiveFinish, SevHandleBuf, kSevHandle),
  SEV(kDbgDecrypt, SevDbgBuf, kSevDbg),
  SEV(kDbgEncrypt, SevDbgBuf, kSevDbg),
};
#undef SEV_NO_BUFFER
#undef SEV
#undef SEVEMU_FIELD
// clang-format on

const Layout* Find(std::span<const Layout> layouts, std::uint32_t id) {
  for (const Layout& l : layouts) {
    if (l.id == id) return &l;
  }
  return nullptr;
}

std::vector<CommandField> Decode(std::span<const Layout> layouts, std::uint32_t id,
                                 ByteSpan buffer) {
  std::vector<CommandField> out;
  const Layout* l = Find(layouts, id);
  if (l == nullptr || buffer.size() != l->size) return out;
  for (const FieldSpec& f : l->fields) {
    CommandField field{f.name, f.kind, 0, {}};
    const ByteSpan bytes = buffer.subspan(f.offset, f.size);
    if (f.kind == Kind::kBytes) {
      field.bytes.assign(bytes.begin(), bytes.end());
    } else if (f.kind == Kind::kRedacted) {
      field.number = f.size;
    } else {
      std::memcpy(&field.number, bytes.data(), bytes.size());  // little-endian, <= 8 bytes
    }
    out.push_back(std::move(field));
  }
  return out;
}

}  // namespace

std::vector<CommandField> DecodeSnpCommand(SnpCmd cmd, ByteSpan buffer) {
  return Decode(kSnpLayouts, static_cast<std::uint32_t>(cmd), buffer);
}

std::vector<CommandField> DecodeSevCommand(SevCmd cmd, ByteSpan buffer) {
  return Decode(kSevLayouts, static_cast<std::uint32_t>(cmd), buffer);
}

std::optional<std::size_t> SnpFieldTableSize(SnpCmd cmd) {
  const Layout* l = Find(kSnpLayouts, static_cast<std::uint32_t>(cmd));
  return l == nullptr ? std::nullopt : std::optional<std::size_t>(l->size);
}

std::optional<std::size_t> SevFieldTableSize(SevCmd cmd) {
  const Layout* l = Find(kSevLayouts, static_cast<std::uint32_t>(cmd));
  return l == nullptr ? std::nullopt : std::optional<std::size_t>(l->size);
}

}  // namespace sevemu::emulator
