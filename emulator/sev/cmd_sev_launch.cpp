// Legacy SEV / SEV-ES launch: LAUNCH_START, LAUNCH_UPDATE_DATA, LAUNCH_UPDATE_VMSA,
// LAUNCH_MEASURE, LAUNCH_UPDATE_SECRET, LAUNCH_FINISH and ATTESTATION. Check order and statuses
// follow AMD-ASPFW sev_mcmd.c (sev_mcmd_launch_start, launch_update_common,
// sev_mcmd_launch_update_vmsa, sev_mcmd_launch_measure, sev_mcmd_launch_secret,
// sev_mcmd_launch_finish, sev_mcmd_attestation), sev_channel.c (sev_channel_open_server),
// sev_cert.c (sev_cert_sanity_check) and sev_guest.c (sev_guest_verify_policy,
// sev_guest_measure); docs/sev-commands.md lists them. The channel crypto is sev_channel.h's.
// Every check precedes the first state change.
#include <cstring>

#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using statemachine::SevGuestEvent;
using statemachine::SevGuestState;
using statemachine::SevPlatformEvent;
using statemachine::SevPlatformState;

constexpr std::uint32_t kSevScratchBufLen = 0x5000;  // sev_globals.h SEV_SCRATCH_BUF_LEN

// A guest launched without a session has an all-zero channel, as AMD's (the sev_guest_t is
// zeroed and only sev_channel_open_server fills it): its measurement and any LAUNCH_SECRET are
// keyed with zero TEK/TIK.
SevTransportKeys ChannelKeys(const SevGuest& g) {
  if (g.channel) return *g.channel;
  return {SecretBytes(kSevKeySize), SecretBytes(kSevKeySize)};
}

}  // namespace

SevApiVersion SevApi(const FirmwareState& s) {
  const auto& fw = s.platform.state.current_fw;
  return {fw.major, fw.minor, fw.build};
}

Result<crypto::PublicKey> SevDhCertKey(ByteSpan cert_bytes) {
  SEVEMU_ASSIGN_OR_RETURN(SevCert cert, SevCert::Decode(cert_bytes));
  if (cert.version != kSevCertVersion) {
    return Error(ErrorCode::kInvalidArgument, "DH certificate version");
  }
  SEVEMU_RETURN_IF_ERROR(cert.pubkey.Validate());
  if (cert.pubkey.usage != sev_usage::kPdh || cert.pubkey.algo != sev_algo::kEcdhSha256) {
    return Error(ErrorCode::kInvalidArgument, "DH certificate usage or algorithm");
  }
  return cert.pubkey.ToCrypto();
}

std::uint32_t SevFreeHandle(const FirmwareState& s) {
  for (std::uint32_t h = 1; h <= kSevGuestCountMax; ++h) {
    if (s.sev.guests.count(h) == 0) return h;
  }
  return 0;
}

void SevAddGuest(FirmwareState& s, std::uint32_t handle, std::unique_ptr<SevGuest> guest,
                 SevGuestEvent start) {
  guest->machine.Process(start);
  s.sev.machine.Process(SevPlatformEvent::kGuestLaunched);
  s.sev.guests[handle] = std::move(guest);
  ++s.sev.guest_count;
}

// LAUNCH_START: INIT or WORKING. With a GODH certificate: session length 0x80 and certificate
// length 0x824 (INVALID_LENGTH), both readable (INVALID_ADDRESS), the certificate sane
// (INVALID_CERTIFICATE), WRAP_MAC (kSevWrapMacStatus), POLICY_MAC (kSevPolicyMacStatus), the
// policy's API minimum and reserved bits (POLICY_FAILURE) — without a session AMD checks no
// policy rule here. handle != 0: a valid guest (INVALID_GUEST) with the same policy and NOKS
// clear (POLICY_FAILURE), whose memory key is shared. A free handle (RESOURCE_LIMIT). ES needs a
// platform initialised with SEV-ES (UNSUPPORTED). The new handle is written back.
FwStatus SevLaunchStart(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevLaunchStartBuf>(buf);
  const SevPlatformState ps = s.sev.machine.state();
  if (ps != SevPlatformState::kInit && ps != SevPlatformState::kWorking) {
    return FwStatus::kInvalidPlatformState;
  }
  auto guest = std::make_unique<SevGuest>();
  if (io.dh_cert_paddr != 0) {
    if (io.session_len != kSevSessionSize) return FwStatus::kInvalidLength;
    std::array<std::uint8_t, kSevSessionSize> session_bytes{};
    if (!s.memory.FirmwareRead(io.session_paddr, session_bytes).ok()) {
      return FwStatus::kInvalidAddress;
    }
    if (io.dh_cert_len != kSevCertSize) return FwStatus::kInvalidLength;
    SevCertBytes cert{};
    if (!s.memory.FirmwareRead(io.dh_cert_paddr, cert).ok()) return FwStatus::kInvalidAddress;
    if (!s.sev.identity.pdh) return FwStatus::kInvalidCertificate;  // no PDH key pair
    auto godh = SevDhCertKey(cert);
    if (!godh.ok()) return FwStatus::kInvalidCertificate;
    auto session = ParseSevSession(session_bytes);
    if (!session.ok()) return FwStatus::kInvalidLength;
    auto keys = OpenSevSession(*s.sev.identity.pdh, *godh, *session);
    if (!keys.ok()) {
      switch (keys.error().code()) {
        case ErrorCode::kAuthFailed:
          return kSevWrapMacStatus;
        case ErrorCode::kInvalidKey:
          return FwStatus::kInvalidCertificate;
        default:
          return FwStatus::kHwErrorPlatform;
      }
    }
    if (!CheckSevPolicyMac(keys->tik, io.policy, session->policy_mac).ok()) {
      return kSevPolicyMacStatus;
    }
    if (CheckSevPolicy(io.policy, SevApi(s))) return FwStatus::kPolicyFailure;
    guest->channel = std::move(keys).value();
  }
  guest->policy = io.policy;
  if (io.handle == 0) {
    auto vek = FirmwareRandom(s, 32);
    if (!vek.ok()) return FwStatus::kHwErrorPlatform;
    guest->vek = std::move(vek).value();
  } else {
    const SevGuest* shared = SevGuestAt(s, io.handle);
    if (shared == nullptr) return FwStatus::kInvalidGuest;
    if (io.policy != shared->policy || (shared->policy & sev_policy::kNoKs)) {
      return FwStatus::kPolicyFailure;
    }
    guest->vek = shared->vek;
  }
  const std::uint32_t handle = SevFreeHandle(s);
  if (handle == 0) return FwStatus::kResourceLimit;
  guest->handle = handle;
  auto ld = crypto::Hasher::Create(crypto::HashAlg::kSha256);
  if (!ld.ok()) return FwStatus::kHwErrorPlatform;
  guest->ld = std::move(ld).value();
  if (io.policy & sev_policy::kEs) {
    if (!(s.sev.config_flags & sev_flags::kConfigEs)) return FwStatus::kUnsupported;
    guest->es = true;
  }
  if (!s.sev.machine.Accepts(SevPlatformEvent::kGuestLaunched)) {
    return FwStatus::kInvalidPlatformState;
  }
  // ---- nothing above changed state ----
  SevAddGuest(s, handle, std::move(guest), SevGuestEvent::kLaunchStart);
  io.handle = handle;
  std::memcpy(buf.data(), &io, sizeof io);
  return FwStatus::kSuccess;
}

namespace {

// launch_update_common: WORKING; handle (INVALID_GUEST); LUPDATE (INVALID_GUEST_STATE); VMSA
// only for SEV-ES guests (UNSUPPORTED); the guest holds an ASID, pending or active (INACTIVE);
// address 16-aligned (INVALID_ADDRESS); length 16-aligned and not 0 (INVALID_LENGTH); the range
// firmware-writable once SNP is up. The plaintext is measured, then encrypted in place with the
// guest's key. The VMSA's checksum block in the TMR (sev_es_setup_vmsa) is not modelled.
FwStatus LaunchUpdate(FirmwareState& s, MutableByteSpan buf, bool vmsa) {
  const auto in = ReadBuf<SevLaunchUpdateBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kLaunchUpdate)) return FwStatus::kInvalidGuestState;
  if (vmsa && !g->es) return FwStatus::kUnsupported;
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  if (!Aligned16(in.paddr)) return FwStatus::kInvalidAddress;
  if (!Aligned16(in.length) || in.length == 0) return FwStatus::kInvalidLength;
  if (FwStatus st = SevCheckWritable(s, in.paddr, in.length); st != FwStatus::kSuccess) return st;
  Bytes plain(in.length);
  if (!s.memory.FirmwareRead(in.paddr, plain).ok()) return FwStatus::kInvalidAddress;
  // ---- nothing above changed state ----
  const bool ok = g->ld->Update(plain).ok() &&
                  s.memory.FirmwareWriteGuest(g->asid, in.paddr, plain) == rmp::RmpViolation::kNone;
  SecureZero(plain.data(), plain.size());
  if (!ok) return FwStatus::kHwErrorPlatform;
  g->measured_bytes += in.length;
  if (vmsa) ++g->num_vmsas;
  g->machine.Process(SevGuestEvent::kLaunchUpdate);
  return FwStatus::kSuccess;
}

}  // namespace

FwStatus SevLaunchUpdateData(FirmwareState& s, MutableByteSpan buf) {
  return LaunchUpdate(s, buf, false);
}

// LAUNCH_UPDATE_VMSA: the length must be one VMSA (INVALID_LENGTH) before anything else.
FwStatus SevLaunchUpdateVmsa(FirmwareState& s, MutableByteSpan buf) {
  if (ReadBuf<SevLaunchUpdateBuf>(buf).length != kSevVmsaSize) return FwStatus::kInvalidLength;
  return LaunchUpdate(s, buf, true);
}

// LAUNCH_MEASURE: WORKING; handle; LUPDATE (INVALID_GUEST_STATE); a length below 0x30 is
// INVALID_LENGTH with 0x30 written back; the output firmware-writable once SNP is up. The launch
// digest is finalised, a fresh mnonce drawn and HMAC(TIK, ...) written; LSECRET.
FwStatus SevLaunchMeasure(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevLaunchMeasureBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, io.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kLaunchMeasure)) return FwStatus::kInvalidGuestState;
  if (io.measure_len < kSevMeasureOutSize) {
    io.measure_len = kSevMeasureOutSize;
    std::memcpy(buf.data(), &io, sizeof io);
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = SevCheckWritable(s, io.measure_paddr, io.measure_len);
      st != FwStatus::kSuccess) {
    return st;
  }
  auto mnonce_bytes = FirmwareRandom(s, kSevNonceSize);
  if (!mnonce_bytes.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state (the firmware's RNG aside) ----
  auto digest = g->ld->Finish();
  if (!digest.ok() || digest->size() != kSevDigestSize) return FwStatus::kHwErrorPlatform;
  SevMeasureOut out;
  std::memcpy(out.mnonce.data(), mnonce_bytes->data(), kSevNonceSize);
  SevDigest ld{};
  std::memcpy(ld.data(), digest->data(), kSevDigestSize);
  auto mac = ComputeSevMeasurement(ChannelKeys(*g).tik, SevApi(s), g->policy, ld, out.mnonce);
  if (!mac.ok()) return FwStatus::kHwErrorPlatform;
  out.measurement = *mac;
  const auto bytes = SerializeSevMeasureOut(out);
  if (!s.memory.FirmwareWrite(io.measure_paddr, bytes).ok()) return FwStatus::kInvalidAddress;
  g->ld.reset();
  g->launch_digest = ld;
  g->measurement = out.measurement;
  g->machine.Process(SevGuestEvent::kLaunchMeasure);
  return FwStatus::kSuccess;
}

// LAUNCH_UPDATE_SECRET: WORKING; handle; guest address 16-aligned (INVALID_ADDRESS); header
// 0x34 bytes, guest length 16-aligned, not 0, at most the scratch buffer and equal to the
// transport length (INVALID_LENGTH); LSECRET (INVALID_GUEST_STATE); an ASID (INACTIVE); the
// guest range firmware-writable once SNP is up; header and ciphertext readable
// (INVALID_ADDRESS); the MAC (kSevSecretMacStatus); a compressed packet (UNSUPPORTED). The secret
// lands in the guest's memory, encrypted with its key.
FwStatus SevLaunchSecret(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevLaunchSecretBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!Aligned16(in.guest_paddr)) return FwStatus::kInvalidAddress;
  if (in.hdr_len != kSevPacketHeaderSize || !Aligned16(in.guest_len) || in.guest_len == 0 ||
      in.guest_len > kSevScratchBufLen || in.guest_len != in.trans_len) {
    return FwStatus::kInvalidLength;
  }
  if (!g->machine.Accepts(SevGuestEvent::kLaunchSecret)) return FwStatus::kInvalidGuestState;
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  if (FwStatus st = SevCheckWritable(s, in.guest_paddr, in.guest_len); st != FwStatus::kSuccess) {
    return st;
  }
  std::array<std::uint8_t, kSevPacketHeaderSize> hdr_bytes{};
  if (!s.memory.FirmwareRead(in.hdr_paddr, hdr_bytes).ok()) return FwStatus::kInvalidAddress;
  Bytes trans(in.trans_len);
  if (!s.memory.FirmwareRead(in.trans_paddr, trans).ok()) return FwStatus::kInvalidAddress;
  auto hdr = ParseSevPacketHeader(hdr_bytes);
  if (!hdr.ok()) return FwStatus::kInvalidLength;
  const SevApiVersion api = SevApi(s);
  const std::optional<SevMac> measurement =
      SevApiHasMeasureContext(api.major, api.minor) ? g->measurement : std::nullopt;
  auto secret = OpenSevLaunchSecret(ChannelKeys(*g), *hdr, in.guest_len, trans, measurement);
  if (!secret.ok()) {
    return secret.error().code() == ErrorCode::kAuthFailed ? kSevSecretMacStatus
                                                           : FwStatus::kHwErrorPlatform;
  }
  if (hdr->flags & kSevPacketCompressed) return FwStatus::kUnsupported;
  // ---- nothing above changed state ----
  if (s.memory.FirmwareWriteGuest(g->asid, in.guest_paddr, secret->span()) !=
      rmp::RmpViolation::kNone) {
    return FwStatus::kHwErrorPlatform;
  }
  g->machine.Process(SevGuestEvent::kLaunchSecret);
  return FwStatus::kSuccess;
}

// LAUNCH_FINISH: WORKING; handle; LSECRET (INVALID_GUEST_STATE). A pending activation
// completes (the ASID becomes in use); the channel's keys and the digest context are dropped;
// RUNNING.
FwStatus SevLaunchFinish(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevHandleBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kLaunchFinish)) return FwStatus::kInvalidGuestState;
  // ---- nothing above changed state ----
  if (g->activation == SevActivation::kPending) {
    g->activation = SevActivation::kActive;
    s.asid_use[g->asid] = AsidUse::kInUse;
  }
  g->channel.reset();
  g->ld.reset();
  g->machine.Process(SevGuestEvent::kLaunchFinish);
  return FwStatus::kSuccess;
}

// ATTESTATION: WORKING; handle; LSECRET, RUNNING, SUPDATE or SENT (INVALID_GUEST_STATE); a
// length below 0xD0 is INVALID_LENGTH with 0xD0 written back; the output firmware-writable once
// SNP is up. The report (the caller's mnonce, the launch digest, the policy) is signed by the
// PEK with its certificate's usage and algorithm; 0xD0 is written back as the length.
FwStatus SevAttestation(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevAttestationBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, io.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kAttestation)) return FwStatus::kInvalidGuestState;
  if (io.length < kSevAttestationReportSize) {
    io.length = kSevAttestationReportSize;
    std::memcpy(buf.data(), &io, sizeof io);
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = SevCheckWritable(s, io.paddr, io.length); st != FwStatus::kSuccess) return st;
  if (!s.sev.identity.pek) return FwStatus::kHwErrorPlatform;
  SevAttestationReport report;
  std::memcpy(report.mnonce.data(), io.mnonce, kSevNonceSize);
  report.launch_digest = g->launch_digest;
  report.policy = g->policy;
  report.sig_usage = s.sev.identity.pek_cert.pubkey.usage;
  report.sig_algo = s.sev.identity.pek_cert.pubkey.algo;
  if (!SignSevAttestationReport(report, *s.sev.identity.pek).ok()) {
    return FwStatus::kHwErrorPlatform;
  }
  // ---- nothing above changed state ----
  const auto bytes = EncodeSevAttestationReport(report);
  if (!s.memory.FirmwareWrite(io.paddr, bytes).ok()) return FwStatus::kInvalidAddress;
  io.length = kSevAttestationReportSize;
  std::memcpy(buf.data(), &io, sizeof io);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
