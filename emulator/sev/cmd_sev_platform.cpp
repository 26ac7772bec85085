// Legacy SEV platform commands: INIT(_EX), SHUTDOWN, PLATFORM_RESET, PLATFORM_STATUS, PEK_GEN,
// PEK_CSR, PEK_CERT_IMPORT, PDH_CERT_EXPORT, PDH_GEN, DF_FLUSH, DOWNLOAD_FIRMWARE, GET_ID.
// Check order and statuses follow AMD-ASPFW sev_mcmd.c (sev_mcmd_init_common and the
// sev_mcmd_* handlers), sev_plat.c (identity generation: sev_oca_generate, sev_pek_generate,
// sev_pdh_generate, sev_cek_derive) and sev_es.c (sev_es_reserve_trusted_region);
// docs/sev-commands.md lists them. Every check precedes the first state change; identities are
// built on a copy and swapped in at the end, as AMD's handlers build theirs in scratch memory;
// a handler that changes the identity (the persistent store, sev_nv_store.h) then sets
// persistent_changed so that the daemon writes sev-nv.json.
#include <cstring>

#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using statemachine::SevPlatformEvent;
using statemachine::SevPlatformState;
using statemachine::SnpPlatformState;

bool SnpInitialized(const FirmwareState& s) {
  return s.snp.state() != SnpPlatformState::kUninit;
}

// Every byte of [paddr, paddr + len) is simulated memory (INVALID_ADDRESS otherwise).
bool InMemory(const FirmwareState& s, std::uint64_t paddr, std::uint64_t len) {
  if (len == 0) return s.memory.rmp().Covers(paddr);
  if (paddr + len < paddr) return false;
  return s.memory.rmp().Covers(paddr) && s.memory.rmp().Covers(paddr + len - 1);
}

// AMD-ASPFW check_page_range_firmware_writable, applied once SNP is initialised: every page of
// the range FIRMWARE or DEFAULT (INVALID_PAGE_STATE); sevemu also needs it in memory first.
FwStatus CheckWritable(const FirmwareState& s, std::uint64_t paddr, std::uint64_t len) {
  if (!InMemory(s, paddr, len)) return FwStatus::kInvalidAddress;
  if (!SnpInitialized(s)) return FwStatus::kSuccess;
  const std::uint64_t first = paddr & ~(rmp::kPageSize - 1);
  const std::uint64_t last = (paddr + (len == 0 ? 1 : len) - 1) & ~(rmp::kPageSize - 1);
  for (std::uint64_t page = first; page <= last; page += rmp::kPageSize) {
    const rmp::PageState st = PageStateAt(s, page);
    if (st != rmp::PageState::kFirmware && st != rmp::PageState::kDefault) {
      return FwStatus::kInvalidPageState;
    }
  }
  return FwStatus::kSuccess;
}

// ---- identity (sev_plat.c) ----

// A fresh P-384 key from the firmware's randomness (deterministic on seeded platforms).
Result<crypto::PrivateKey> NewKey(FirmwareState& s) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes seed, FirmwareRandom(s, 56));
  return crypto::PrivateKey::EcP384FromSeed(seed);
}

std::uint8_t ApiMajor(const FirmwareState& s) {
  return s.platform.state.current_fw.major;
}
std::uint8_t ApiMinor(const FirmwareState& s) {
  return s.platform.state.current_fw.minor;
}

bool HasCert(const SevCert& c) {
  return c.pubkey.usage != sev_usage::kInvalid;  // sev_cert_has_pubkey
}

// sev_oca_generate: a self-signed ECDSA-SHA256 OCA; the platform owns itself again.
Status GenerateOca(FirmwareState& s, SevIdentity& id) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey key, NewKey(s));
  SEVEMU_ASSIGN_OR_RETURN(SevCert cert,
                          SevCert::Create(key.Public(), sev_usage::kOca, sev_algo::kEcdsaSha256,
                                          ApiMajor(s), ApiMinor(s)));
  SEVEMU_RETURN_IF_ERROR(cert.Sign(key, sev_usage::kOca, sev_algo::kEcdsaSha256));
  id.oca = std::move(key);
  id.oca_cert = std::move(cert);
  id.ext_owned = false;
  return Status::Ok();
}

// sev_pek_generate: signed by the (self-owned) OCA into slot 1, then by the CEK into slot 2.
Status GeneratePek(FirmwareState& s, SevIdentity& id, const crypto::PrivateKey& cek) {
  if (!id.oca) return Error(ErrorCode::kInvalidArgument, "no OCA key to sign the PEK");
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey key, NewKey(s));
  SEVEMU_ASSIGN_OR_RETURN(SevCert cert,
                          SevCert::Create(key.Public(), sev_usage::kPek, sev_algo::kEcdsaSha256,
                                          ApiMajor(s), ApiMinor(s)));
  SEVEMU_RETURN_IF_ERROR(cert.Sign(*id.oca, sev_usage::kOca, sev_algo::kEcdsaSha256));
  SEVEMU_RETURN_IF_ERROR(cert.Sign(cek, sev_usage::kCek, sev_algo::kEcdsaSha256));
  id.pek = std::move(key);
  id.pek_cert = std::move(cert);
  return Status::Ok();
}

// sev_pdh_generate: an ECDH-SHA256 key, certificate signed by the PEK.
Status GeneratePdh(FirmwareState& s, SevIdentity& id) {
  if (!id.pek) return Error(ErrorCode::kInvalidArgument, "no PEK to sign the PDH");
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey key, NewKey(s));
  SEVEMU_ASSIGN_OR_RETURN(SevCert cert,
                          SevCert::Create(key.Public(), sev_usage::kPdh, sev_algo::kEcdhSha256,
                                          ApiMajor(s), ApiMinor(s)));
  SEVEMU_RETURN_IF_ERROR(cert.Sign(*id.pek, sev_usage::kPek, id.pek_cert.pubkey.algo));
  id.pdh = std::move(key);
  id.pdh_cert = std::move(cert);
  return Status::Ok();
}

// ---- INIT / INIT_EX (sev_mcmd_init_common) ----

struct InitParams {
  std::uint16_t flags;
  std::uint64_t tmr_paddr;
  std::uint32_t tmr_length;
  std::uint64_t nv_paddr;
};

FwStatus InitCommon(FirmwareState& s, const InitParams& in, bool init_ex, bool buffer_valid,
                    const SevInitExBuf* ex) {
  if (!s.sev.machine.Accepts(SevPlatformEvent::kInit)) return FwStatus::kInvalidPlatformState;
  if (!buffer_valid) return FwStatus::kInvalidConfig;
  // With SNPEn set, the RMP must have been built (it stays built across SNP_SHUTDOWN).
  if (s.config.snp_enabled && !s.rmp_initialized) return FwStatus::kInvalidPlatformState;
  if (init_ex) {
    if (ex->length != kSevInitExLength) return FwStatus::kInvalidLength;
    if (ex->nv_paddr != 0) {
      if (ex->nv_paddr & (rmp::kPageSize - 1)) return FwStatus::kInvalidAddress;
      if (!InMemory(s, ex->nv_paddr, ex->nv_length)) return FwStatus::kInvalidAddress;
      if (ex->nv_length != kSevInitExNvLength) return FwStatus::kInvalidLength;
      if (FwStatus st = CheckWritable(s, ex->nv_paddr, ex->nv_length); st != FwStatus::kSuccess) {
        return st;
      }
    }
  }
  // The CEK is derived at every INIT; missing identity parts are generated in order.
  auto cek = DeriveCek(s.platform.fuses.chip_unique_key);
  if (!cek.ok()) return FwStatus::kHwErrorPlatform;
  if (in.flags & sev_flags::kConfigEs) {
    // sev_es_reserve_trusted_region: 2 MiB size and alignment once the RMP is built, 1 MiB
    // before; the range must be memory and, under SNP, firmware-writable.
    if (SnpInitialized(s)) {
      if (FwStatus st = CheckWritable(s, in.tmr_paddr, in.tmr_length); st != FwStatus::kSuccess) {
        return st;
      }
    }
    const std::uint32_t size = s.rmp_initialized ? kSevEsTmrSizeSnp : kSevEsTmrSize;
    if (in.tmr_paddr % size != 0) return FwStatus::kInvalidAddress;
    if (in.tmr_length != size) return FwStatus::kInvalidLength;
    if (!InMemory(s, in.tmr_paddr, in.tmr_length)) return FwStatus::kInvalidAddress;
  }
  SevIdentity id = s.sev.identity;
  const bool generate = !HasCert(id.oca_cert) || !HasCert(id.pek_cert) || !HasCert(id.pdh_cert);
  if (!HasCert(id.oca_cert)) {
    if (!GenerateOca(s, id).ok()) return FwStatus::kHwErrorPlatform;
    id.pek.reset();  // sev_pek_delete
    id.pek_cert = SevCert{};
  }
  if (!HasCert(id.pek_cert)) {
    if (!GeneratePek(s, id, *cek).ok()) return FwStatus::kHwErrorPlatform;
    id.pdh.reset();  // sev_pdh_delete
    id.pdh_cert = SevCert{};
  }
  if (!HasCert(id.pdh_cert)) {
    if (!GeneratePdh(s, id).ok()) return FwStatus::kHwErrorPlatform;
  }
  // ---- nothing above changed state (the firmware's RNG aside) ----
  if (!SnpInitialized(s)) {
    // ASIDs are (re)initialised only by the first of SEV INIT and SNP_INIT.
    s.asid_use.assign(s.max_asid + 1, AsidUse::kDirty);
    s.wbinvd_done = false;
  }
  s.sev.identity = std::move(id);
  if (generate) s.persistent_changed = true;  // the persistent store gained an identity
  s.sev.cek = std::move(cek).value();
  s.sev.config_flags = in.flags;
  s.sev.tmr_paddr = (in.flags & sev_flags::kConfigEs) ? in.tmr_paddr : 0;
  s.sev.tmr_length = (in.flags & sev_flags::kConfigEs) ? in.tmr_length : 0;
  s.sev.nv_paddr = in.nv_paddr;
  s.sev.machine.Process(SevPlatformEvent::kInit);
  return FwStatus::kSuccess;
}

}  // namespace

FwStatus SevInit(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevInitBuf>(buf);
  const bool valid = (in.flags & ~sev_flags::kConfigEs) == 0 && AllZero(in.reserved);
  return InitCommon(s, {in.flags, in.tmr_paddr, in.tmr_length, 0}, false, valid, nullptr);
}

FwStatus SevInitEx(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevInitExBuf>(buf);
  const bool valid =
      (in.flags & ~sev_flags::kConfigEs) == 0 && AllZero(in.reserved1) && in.reserved2 == 0;
  return InitCommon(s, {in.flags, in.tmr_paddr, in.tmr_length, in.nv_paddr}, true, valid, &in);
}

// SHUTDOWN: allowed in every state. Non-persistent state goes (configuration, TMR, the CEK);
// the identity stays, as it lives in the persistent store.
FwStatus SevShutdown(FirmwareState& s, MutableByteSpan) {
  // Every legacy guest goes with the platform (AMD-ASPFW sev_clear): deactivated (its ASID
  // then needs WBINVD + DF_FLUSH before reuse) and dropped.
  SevClearGuests(s);
  s.sev.machine.Process(SevPlatformEvent::kShutdown);
  s.sev.cek.reset();
  s.sev.config_flags = 0;
  s.sev.tmr_paddr = 0;
  s.sev.tmr_length = 0;
  s.sev.nv_paddr = 0;
  s.sev.guest_count = 0;
  return FwStatus::kSuccess;
}

// PLATFORM_RESET: UNINIT only; erases the persistent store, so the next INIT makes a new OCA,
// PEK and PDH and the platform owns itself again.
FwStatus SevPlatformReset(FirmwareState& s, MutableByteSpan) {
  if (!s.sev.machine.Accepts(SevPlatformEvent::kPlatformReset)) {
    return FwStatus::kInvalidPlatformState;
  }
  s.sev.identity = SevIdentity{};
  s.persistent_changed = true;  // the persistent store is erased (AMD: the SPI store deleted)
  s.sev.machine.Process(SevPlatformEvent::kPlatformReset);
  return FwStatus::kSuccess;
}

// PLATFORM_STATUS: no state rule; owner, ES and guest count read as zero while UNINIT.
FwStatus SevPlatformStatus(FirmwareState& s, MutableByteSpan buf) {
  SevPlatformStatusBuf out{};
  const PlatformState& p = s.platform.state;
  out.api_major = p.current_fw.major;
  out.api_minor = p.current_fw.minor;
  out.state = static_cast<std::uint8_t>(s.sev.machine.state());
  out.build = p.current_fw.build;
  if (s.sev.machine.state() != SevPlatformState::kUninit) {
    out.platform_flags = s.sev.identity.ext_owned ? sev_flags::kPlatformOwner : 0;
    out.config_flags = s.sev.config_flags & sev_flags::kConfigEs;
    out.guest_count = s.sev.guest_count;
  }
  std::memcpy(buf.data(), &out, sizeof out);
  return FwStatus::kSuccess;
}

// PEK_GEN: INIT only. New OCA (self-owned again), PEK and PDH.
FwStatus SevPekGen(FirmwareState& s, MutableByteSpan) {
  if (!s.sev.machine.Accepts(SevPlatformEvent::kPekGen)) return FwStatus::kInvalidPlatformState;
  if (!s.sev.cek) return FwStatus::kHwErrorPlatform;
  SevIdentity id = s.sev.identity;
  if (!GenerateOca(s, id).ok() || !GeneratePek(s, id, *s.sev.cek).ok() ||
      !GeneratePdh(s, id).ok()) {
    return FwStatus::kHwErrorPlatform;
  }
  // ---- nothing above changed state ----
  s.sev.identity = std::move(id);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

// PEK_CSR: INIT or WORKING; a length below 0x824 is INVALID_LENGTH with 0x824 written back.
// The CSR is the PEK's body with both signature slots empty.
FwStatus SevPekCsr(FirmwareState& s, MutableByteSpan buf) {
  auto in = ReadBuf<SevAddrLenBuf>(buf);
  if (!s.sev.machine.Accepts(SevPlatformEvent::kIdentityCommand)) {
    return FwStatus::kInvalidPlatformState;
  }
  if (in.length < kSevCertSize) {
    in.length = kSevCertSize;
    std::memcpy(buf.data(), &in, sizeof in);
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = CheckWritable(s, in.paddr, in.length); st != FwStatus::kSuccess) return st;
  SevCert csr = s.sev.identity.pek_cert;
  csr.sigs = {};
  const SevCertBytes bytes = csr.Encode();
  if (!s.memory.FirmwareWrite(in.paddr, bytes).ok()) return FwStatus::kInvalidAddress;
  in.length = kSevCertSize;
  std::memcpy(buf.data(), &in, sizeof in);
  return FwStatus::kSuccess;
}

// PEK_CERT_IMPORT (sev_mcmd_pek_cert_import): INIT only; not already owned; both lengths 0x824;
// the OCA self-signed and the PEK signed by it (sev_cert_validate's statuses); the PEK's body
// unchanged from this platform's PEK. The PEK keeps its CEK signature, the PDH is regenerated.
FwStatus SevPekCertImport(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevPekCertImportBuf>(buf);
  if (!s.sev.machine.Accepts(SevPlatformEvent::kPekCertImport)) {
    return FwStatus::kInvalidPlatformState;
  }
  if (s.sev.identity.ext_owned) return FwStatus::kAlreadyOwned;
  if (in.pek_cert_len != kSevCertSize || in.oca_cert_len != kSevCertSize) {
    return FwStatus::kInvalidLength;
  }
  SevCertBytes pek_bytes{}, oca_bytes{};
  if (!s.memory.FirmwareRead(in.pek_cert_paddr, pek_bytes).ok() ||
      !s.memory.FirmwareRead(in.oca_cert_paddr, oca_bytes).ok()) {
    return FwStatus::kInvalidAddress;
  }
  SevCert pek = *SevCert::Decode(pek_bytes);
  const SevCert oca = *SevCert::Decode(oca_bytes);
  if (FwStatus st = SevCertStatus(ValidateSevCert(oca, oca.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = SevCertStatus(ValidateSevCert(pek, oca.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  const SevCert& current = s.sev.identity.pek_cert;
  if (pek.Body() != current.Body()) return FwStatus::kInvalidCertificate;
  const SevCertSig* cek_sig = nullptr;
  for (const SevCertSig& slot : current.sigs) {
    if (slot.usage == sev_usage::kCek) {
      cek_sig = &slot;
      break;
    }
  }
  if (cek_sig == nullptr || !pek.AddSignature(*cek_sig).ok()) {
    return FwStatus::kInvalidCertificate;
  }
  SevIdentity id = s.sev.identity;
  id.pek_cert = std::move(pek);
  id.oca_cert = oca;
  id.oca.reset();  // the owner keeps its OCA key
  id.ext_owned = true;
  if (!GeneratePdh(s, id).ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  s.sev.identity = std::move(id);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

// PDH_CERT_EXPORT: INIT or WORKING; either length short is INVALID_LENGTH with both needed
// lengths written back. The chain is PEK || OCA || CEK, the CEK unsigned (AMD-ASPFW
// pdh_cert_chain_init: AMD's KDS serves the ASK-signed one).
FwStatus SevPdhCertExport(FirmwareState& s, MutableByteSpan buf) {
  auto in = ReadBuf<SevPdhCertExportBuf>(buf);
  if (!s.sev.machine.Accepts(SevPlatformEvent::kIdentityCommand)) {
    return FwStatus::kInvalidPlatformState;
  }
  if (in.pdh_cert_len < kSevCertSize || in.cert_chain_len < kSevCertChainSize) {
    in.pdh_cert_len = kSevCertSize;
    in.cert_chain_len = kSevCertChainSize;
    std::memcpy(buf.data(), &in, sizeof in);
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = CheckWritable(s, in.pdh_cert_paddr, in.pdh_cert_len);
      st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = CheckWritable(s, in.cert_chain_paddr, in.cert_chain_len);
      st != FwStatus::kSuccess) {
    return st;
  }
  if (!s.sev.cek) return FwStatus::kHwErrorPlatform;
  auto cek = SevCert::Create(s.sev.cek->Public(), sev_usage::kCek, sev_algo::kEcdsaSha256,
                             ApiMajor(s), ApiMinor(s));
  if (!cek.ok()) return FwStatus::kHwErrorPlatform;
  Bytes chain;
  for (const SevCert* c : {&s.sev.identity.pek_cert, &s.sev.identity.oca_cert, &*cek}) {
    const SevCertBytes b = c->Encode();
    chain.insert(chain.end(), b.begin(), b.end());
  }
  const SevCertBytes pdh = s.sev.identity.pdh_cert.Encode();
  if (!s.memory.FirmwareWrite(in.pdh_cert_paddr, pdh).ok() ||
      !s.memory.FirmwareWrite(in.cert_chain_paddr, chain).ok()) {
    return FwStatus::kInvalidAddress;
  }
  in.pdh_cert_len = kSevCertSize;
  in.cert_chain_len = kSevCertChainSize;
  std::memcpy(buf.data(), &in, sizeof in);
  return FwStatus::kSuccess;
}

// PDH_GEN: INIT or WORKING; a new PDH signed by the PEK.
FwStatus SevPdhGen(FirmwareState& s, MutableByteSpan) {
  if (!s.sev.machine.Accepts(SevPlatformEvent::kIdentityCommand)) {
    return FwStatus::kInvalidPlatformState;
  }
  SevIdentity id = s.sev.identity;
  if (!GeneratePdh(s, id).ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  s.sev.identity = std::move(id);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

// DF_FLUSH: the same flush as SNP_DF_FLUSH (AMD-ASPFW mcmd_df_flush_common); no state rule.
FwStatus SevDfFlush(FirmwareState& s, MutableByteSpan buf) {
  return SnpDfFlush(s, buf);
}

// DOWNLOAD_FIRMWARE: SEV and SNP both UNINIT (so never under a host that initialised SNP, as
// Linux does at boot); the image 32-byte aligned; then the image is checked, loaded and
// committed as SNP_DOWNLOAD_FIRMWARE_EX with its commit flag (SEV_NEWFW_LOAD_AND_COMMIT).
FwStatus SevDownloadFirmware(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevDownloadFirmwareBuf>(buf);
  if (!s.sev.machine.Accepts(SevPlatformEvent::kDownloadFirmware) || SnpInitialized(s)) {
    return FwStatus::kInvalidPlatformState;
  }
  if (in.firmware_paddr & 0x1F) return FwStatus::kInvalidAddress;
  SnpDownloadFirmwareExBuf ex{};
  ex.length = sizeof ex;
  ex.fw_paddr = in.firmware_paddr;
  ex.fw_len = in.firmware_len;
  ex.flags = 1;  // commit
  return SnpDownloadFirmwareEx(s, {reinterpret_cast<std::uint8_t*>(&ex), sizeof ex});
}

// GET_ID (sev_mcmd_get_id): no state rule; a length below 64 is INVALID_LENGTH with 64 written
// back; once SNP is initialised the destination must be firmware-writable (sevemu checks the
// 64 bytes written, AMD the whole id_len range: the driver's bounce pages end at 16 KiB); one
// socket, so 64 bytes of chip ID.
FwStatus SevGetId(FirmwareState& s, MutableByteSpan buf) {
  auto in = ReadBuf<SevAddrLenBuf>(buf);
  if (in.length < kSevGetIdSize) {
    in.length = kSevGetIdSize;
    std::memcpy(buf.data(), &in, sizeof in);
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = CheckWritable(s, in.paddr, kSevGetIdSize); st != FwStatus::kSuccess) {
    return st;
  }
  const Bytes& chip_id = s.platform.state.chip.chip_id;
  if (chip_id.size() != kSevGetIdSize) return FwStatus::kHwErrorPlatform;
  if (!s.memory.FirmwareWrite(in.paddr, chip_id).ok()) return FwStatus::kInvalidAddress;
  in.length = kSevGetIdSize;
  std::memcpy(buf.data(), &in, sizeof in);
  return FwStatus::kSuccess;
}

FwStatus SevCertStatus(const Status& st) {
  if (st.ok()) return FwStatus::kSuccess;
  switch (st.error().code()) {
    case ErrorCode::kAuthFailed:
      return FwStatus::kBadSignature;
    case ErrorCode::kRefused:
      return FwStatus::kUnsupported;
    default:
      return FwStatus::kInvalidCertificate;
  }
}

}  // namespace sevemu::emulator
