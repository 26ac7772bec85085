// Legacy SEV / SEV-ES migration: SEND_START, SEND_UPDATE_DATA, SEND_UPDATE_VMSA, SEND_FINISH,
// SEND_CANCEL, RECEIVE_START, RECEIVE_UPDATE_DATA, RECEIVE_UPDATE_VMSA, RECEIVE_FINISH. Check
// order and statuses follow AMD-ASPFW fw/psp_bl_uapps/sev_uapp/src/sev_mcmd.c
// (sev_mcmd_send_start with validate_platform and validate_domain, sev_mcmd_send_update,
// sev_mcmd_send_finish/cancel, sev_mcmd_receive_start, sev_mcmd_receive_update,
// sev_mcmd_receive_finish), sev_channel.c (sev_channel_open_client/_server) and amd_cert.c
// (amd_cert_validate_ark, amd_cert_chain_length_is_valid); docs/sev-commands.md lists them.
// The channel crypto is sev_channel.h's. Every check precedes the first state change.
//
// What the firmware carries across: the policy (bound by the session's POLICY_MAC) and the
// guest's memory and VMSAs re-encrypted under the transport keys. Nothing else: the receiver's
// guest has a fresh memory key, and its launch digest stays zero — AMD's RECEIVE_* never set
// guest->launch_digest, so an ATTESTATION on the receiver reports zeros there.
#include <cstring>

#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using statemachine::SevGuestEvent;
using statemachine::SevPlatformEvent;
using statemachine::SevPlatformState;

constexpr std::uint32_t kSevScratchBufLen = 0x5000;  // sev_globals.h SEV_SCRATCH_BUF_LEN

// amd_cert_chain_length_is_valid: ASK ‖ ARK, each a 2048- or 4096-bit key. AMD's formula
// counts the ASK's key twice and the ARK's four times (2*fixed + 2*ask + 4*ark); with the
// exponent field as wide as the modulus, a cert is fixed + 3*modulus, so the equal-size cases
// are exact and the mixed ones are what AMD accepts.
bool AmdChainLengthValid(std::uint32_t len) {
  constexpr std::uint32_t k2 = 2048 / 8, k4 = 4096 / 8, f = kAmdCertFixedSize;
  for (std::uint32_t ask : {k2, k4}) {
    for (std::uint32_t ark : {k2, k4}) {
      if (len == 2 * f + 2 * ask + 4 * ark) return true;
    }
  }
  return false;
}

// amd_cert_init on the bytes at the front of `b`: the size its header gives, then the cert.
Result<AmdCaCert> FrontAmdCert(ByteSpan b, std::size_t& used) {
  if (b.size() < kAmdCertFixedSize) return Error(ErrorCode::kInvalidArgument, "AMD cert short");
  const std::size_t exp_bytes = LoadLe32(b.data() + 0x38) / 8;
  const std::size_t mod_bytes = LoadLe32(b.data() + 0x3C) / 8;
  const std::size_t size = kAmdCertFixedSize + exp_bytes + 2 * mod_bytes;
  if (exp_bytes > 512 || mod_bytes > 512 || size > b.size()) {
    return Error(ErrorCode::kInvalidArgument, "AMD cert size");
  }
  used = size;
  return AmdCaCert::Parse(b.first(size));
}

// The certificates SEND_START reads (AMD send_start_scratch_t).
struct ReceiverCerts {
  SevCertBytes pdh{};
  std::array<std::uint8_t, kSevCertChainSize> chain{};  // PEK ‖ OCA ‖ CEK
  bool loaded = false;
  SevCert Pek() const { return *SevCert::Decode(ByteSpan(chain).subspan(0, kSevCertSize)); }
  SevCert Oca() const {
    return *SevCert::Decode(ByteSpan(chain).subspan(kSevCertSize, kSevCertSize));
  }
  SevCert Cek() const {
    return *SevCert::Decode(ByteSpan(chain).subspan(2 * kSevCertSize, kSevCertSize));
  }
  SevCert Pdh() const { return *SevCert::Decode(pdh); }
};

FwStatus LoadChain(const FirmwareState& s, const SevSendStartBuf& in, ReceiverCerts& c) {
  if (!s.memory.FirmwareRead(in.plat_certs_paddr, c.chain).ok()) return FwStatus::kInvalidAddress;
  if (!s.memory.FirmwareRead(in.pdh_cert_paddr, c.pdh).ok()) return FwStatus::kInvalidAddress;
  c.loaded = true;
  return FwStatus::kSuccess;
}

// validate_platform: lengths (INVALID_LENGTH), the three buffers readable, ASK ‖ ARK parsed,
// the ARK self-signed with this part's root key id and the key whose hash is fused
// (INVALID_CERTIFICATE), the ASK by the ARK, then CEK by ASK, PEK by CEK, PDH by PEK.
FwStatus ValidatePlatform(const FirmwareState& s, const SevSendStartBuf& in, ReceiverCerts& c) {
  if (in.plat_certs_len != kSevCertChainSize || in.pdh_cert_len != kSevCertSize ||
      !AmdChainLengthValid(in.amd_certs_len)) {
    return FwStatus::kInvalidLength;
  }
  if (FwStatus st = LoadChain(s, in, c); st != FwStatus::kSuccess) return st;
  Bytes amd(in.amd_certs_len);
  if (!s.memory.FirmwareRead(in.amd_certs_paddr, amd).ok()) return FwStatus::kInvalidAddress;
  std::size_t ask_size = 0, ark_size = 0;
  auto ask = FrontAmdCert(amd, ask_size);
  if (!ask.ok()) return FwStatus::kInvalidCertificate;
  auto ark = FrontAmdCert(ByteSpan(amd).subspan(ask_size), ark_size);
  if (!ark.ok()) return FwStatus::kInvalidCertificate;
  if (FwStatus st = SevCertStatus(ark->Validate(*ark, sev_usage::kArk)); st != FwStatus::kSuccess) {
    return st;
  }
  // amd_root_key_id and sev_hal_get_root_key_hash: the fused hash is of the ARK's fixed
  // header, exponent and modulus — the bytes before its signature.
  const crypto::PublicKey root = s.platform.root.ark_key.Public();
  const auto root_id = AmdKeyId(root);
  auto fused = AmdCaCert::Create(root, sev_usage::kArk, root_id, root_id);
  if (!fused.ok()) return FwStatus::kHwErrorPlatform;
  if (ark->key_id != root_id || ark->SignedBytes() != fused->SignedBytes()) {
    return FwStatus::kInvalidCertificate;
  }
  if (FwStatus st = SevCertStatus(ask->Validate(*ark, sev_usage::kAsk)); st != FwStatus::kSuccess) {
    return st;
  }
  auto ask_signer = ask->AsSigner();
  if (!ask_signer.ok()) return FwStatus::kInvalidCertificate;
  const SevCert cek = c.Cek(), pek = c.Pek();
  if (FwStatus st = SevCertStatus(ValidateSevCert(cek, *ask_signer)); st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = SevCertStatus(ValidateSevCert(pek, cek.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  return SevCertStatus(ValidateSevCert(c.Pdh(), pek.pubkey));
}

// validate_domain: lengths; the certificates (reused if validate_platform read them); OCA
// self-signed, PEK by OCA, PDH by PEK; then the OCA must be this platform's, byte for byte
// (POLICY_FAILURE).
FwStatus ValidateDomain(const FirmwareState& s, const SevSendStartBuf& in, ReceiverCerts& c) {
  if (in.plat_certs_len != kSevCertChainSize || in.pdh_cert_len != kSevCertSize) {
    return FwStatus::kInvalidLength;
  }
  if (!c.loaded) {
    if (FwStatus st = LoadChain(s, in, c); st != FwStatus::kSuccess) return st;
  }
  const SevCert oca = c.Oca(), pek = c.Pek();
  if (FwStatus st = SevCertStatus(ValidateSevCert(oca, oca.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = SevCertStatus(ValidateSevCert(pek, oca.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = SevCertStatus(ValidateSevCert(c.Pdh(), pek.pubkey)); st != FwStatus::kSuccess) {
    return st;
  }
  const SevCertBytes ours = s.sev.identity.oca_cert.Encode();
  if (std::memcmp(ours.data(), c.chain.data() + kSevCertSize, kSevCertSize) != 0) {
    return FwStatus::kPolicyFailure;
  }
  return FwStatus::kSuccess;
}

Result<SevTransportKeys> RandomKeys(FirmwareState& s) {
  SevTransportKeys k;
  SEVEMU_ASSIGN_OR_RETURN(k.tek, FirmwareRandom(s, kSevKeySize));
  SEVEMU_ASSIGN_OR_RETURN(k.tik, FirmwareRandom(s, kSevKeySize));
  return k;
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> RandomArray(FirmwareState& s) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes r, FirmwareRandom(s, N));
  std::array<std::uint8_t, N> out{};
  std::memcpy(out.data(), r.data(), N);
  return out;
}

}  // namespace

// SEND_START: WORKING; handle (INVALID_GUEST); session length 0x80, else INVALID_LENGTH with
// 0x80 written back (Linux's length query); RUNNING (INVALID_GUEST_STATE); NOSEND
// (POLICY_FAILURE); policy SEV: the receiver's chain to this part's ARK (validate_platform) and
// its PEK's API version at least the policy's (POLICY_FAILURE); the session writable once SNP
// is up; policy DOMAIN: the receiver's PEK and PDH under this platform's OCA (validate_domain);
// neither bit: only the PDH's length (INVALID_LENGTH) and sanity — any PDH is accepted, so the
// guest goes wherever the host points it. The receiver's PDH sane (INVALID_CERTIFICATE), fresh
// TEK/TIK wrapped for it, the session written, the policy written back; SUPDATE.
FwStatus SevSendStart(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevSendStartBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, io.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (io.session_len != kSevSessionSize) {
    io.session_len = kSevSessionSize;
    std::memcpy(buf.data(), &io, sizeof io);
    return FwStatus::kInvalidLength;
  }
  if (!g->machine.Accepts(SevGuestEvent::kSendStart)) return FwStatus::kInvalidGuestState;
  if (g->policy & sev_policy::kNoSend) return FwStatus::kPolicyFailure;
  ReceiverCerts certs;
  if (g->policy & sev_policy::kSev) {
    if (FwStatus st = ValidatePlatform(s, io, certs); st != FwStatus::kSuccess) return st;
    const SevCert pek = certs.Pek();
    const auto major = static_cast<std::uint8_t>(g->policy >> sev_policy::kApiMajorShift);
    const auto minor = static_cast<std::uint8_t>(g->policy >> sev_policy::kApiMinorShift);
    if (pek.api_major < major || (pek.api_major == major && pek.api_minor < minor)) {
      return FwStatus::kPolicyFailure;
    }
  }
  // Covers the session range always (a write outside memory would fail after the RNG draws);
  // the page states only once SNP is up, as AMD's check_page_range_firmware_writable.
  if (FwStatus st = SevCheckWritable(s, io.session_paddr, io.session_len);
      st != FwStatus::kSuccess) {
    return st;
  }
  if (g->policy & sev_policy::kDomain) {
    if (FwStatus st = ValidateDomain(s, io, certs); st != FwStatus::kSuccess) return st;
  }
  if (!certs.loaded) {
    if (io.pdh_cert_len != kSevCertSize) return FwStatus::kInvalidLength;
    if (!s.memory.FirmwareRead(io.pdh_cert_paddr, certs.pdh).ok()) {
      return FwStatus::kInvalidAddress;
    }
  }
  // sev_channel_open_client: this platform's PDH key pair, then the receiver's PDH.
  if (!s.sev.identity.pdh) return FwStatus::kInvalidCertificate;
  auto receiver = SevDhCertKey(certs.pdh);
  if (!receiver.ok()) return FwStatus::kInvalidCertificate;
  // create_channel's and create_session's draws, in their order: TEK, TIK, nonce, wrap IV.
  auto keys = RandomKeys(s);
  if (!keys.ok()) return FwStatus::kHwErrorPlatform;
  auto nonce = RandomArray<kSevNonceSize>(s);
  auto wrap_iv = RandomArray<kSevIvSize>(s);
  if (!nonce.ok() || !wrap_iv.ok()) return FwStatus::kHwErrorPlatform;
  auto session =
      MakeSevSendSession(*s.sev.identity.pdh, *receiver, *nonce, *wrap_iv, *keys, g->policy);
  if (!session.ok()) return FwStatus::kInvalidCertificate;
  // ---- nothing above changed state (the firmware's RNG aside) ----
  const auto bytes = SerializeSevSession(*session);
  if (!s.memory.FirmwareWrite(io.session_paddr, bytes).ok()) return FwStatus::kInvalidAddress;
  io.policy = g->policy;
  std::memcpy(buf.data(), &io, sizeof io);
  g->channel = std::move(keys).value();
  g->machine.Process(SevGuestEvent::kSendStart);
  return FwStatus::kSuccess;
}

namespace {

// sev_mcmd_send_update: WORKING; a header length below 0x34 is INVALID_LENGTH with 0x34 written
// back (before the handle: Linux's length query); handle; SUPDATE (INVALID_GUEST_STATE); VMSA
// only for SEV-ES guests (UNSUPPORTED); an ASID (INACTIVE); guest length 16-aligned, not 0, at
// most the scratch buffer, transport length not 0 and not below it (INVALID_LENGTH); guest
// address 16-aligned (INVALID_ADDRESS); header and transport buffers firmware-writable. The
// guest's plaintext is read with its key, encrypted under the TEK with a fresh IV, MACed; the
// packet (guest_len bytes), the header and the header length are written. AMD writes no
// trans_len back (the SEV API says both lengths; the firmware source is the authority).
// The VMSA's checksum check (sev_es_validate_vmsa) is not modelled, as at launch.
FwStatus SendUpdate(FirmwareState& s, MutableByteSpan buf, bool vmsa) {
  auto io = ReadBuf<SevTransportBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  if (io.hdr_len < kSevPacketHeaderSize) {
    io.hdr_len = kSevPacketHeaderSize;
    std::memcpy(buf.data(), &io, sizeof io);
    return FwStatus::kInvalidLength;
  }
  SevGuest* g = SevGuestAt(s, io.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kSendUpdate)) return FwStatus::kInvalidGuestState;
  if (vmsa && !g->es) return FwStatus::kUnsupported;
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  if (io.guest_len == 0 || io.guest_len > kSevScratchBufLen || !Aligned16(io.guest_len) ||
      io.trans_len == 0 || io.trans_len < io.guest_len) {
    return FwStatus::kInvalidLength;
  }
  if (!Aligned16(io.guest_paddr)) return FwStatus::kInvalidAddress;
  if (FwStatus st = SevCheckWritable(s, io.hdr_paddr, io.hdr_len); st != FwStatus::kSuccess) {
    return st;
  }
  if (FwStatus st = SevCheckWritable(s, io.trans_paddr, io.trans_len); st != FwStatus::kSuccess) {
    return st;
  }
  SecretBytes plain(io.guest_len);
  if (s.memory.FirmwareReadGuest(g->asid, io.guest_paddr,
                                 MutableByteSpan(plain.data(), plain.size())) !=
      rmp::RmpViolation::kNone) {
    return FwStatus::kInvalidAddress;
  }
  auto iv = RandomArray<kSevIvSize>(s);
  if (!iv.ok() || !g->channel) return FwStatus::kHwErrorPlatform;
  auto packet = SealSevTransportPacket(*g->channel, *iv, plain.span());
  if (!packet.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state (the firmware's RNG aside) ----
  const auto hdr = SerializeSevPacketHeader(packet->header);
  if (!s.memory.FirmwareWrite(io.trans_paddr, packet->ciphertext).ok() ||
      !s.memory.FirmwareWrite(io.hdr_paddr, hdr).ok()) {
    return FwStatus::kInvalidAddress;
  }
  io.hdr_len = kSevPacketHeaderSize;
  std::memcpy(buf.data(), &io, sizeof io);
  g->machine.Process(SevGuestEvent::kSendUpdate);
  return FwStatus::kSuccess;
}

// SEND_FINISH / SEND_CANCEL (the same code in AMD's source): WORKING; handle; SUPDATE
// (INVALID_GUEST_STATE); the channel closed; SENT or RUNNING.
FwStatus SendEnd(FirmwareState& s, MutableByteSpan buf, SevGuestEvent e) {
  const auto in = ReadBuf<SevHandleBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(e)) return FwStatus::kInvalidGuestState;
  // ---- nothing above changed state ----
  g->channel.reset();
  g->machine.Process(e);
  return FwStatus::kSuccess;
}

}  // namespace

FwStatus SevSendUpdateData(FirmwareState& s, MutableByteSpan buf) {
  return SendUpdate(s, buf, false);
}
FwStatus SevSendUpdateVmsa(FirmwareState& s, MutableByteSpan buf) {
  return SendUpdate(s, buf, true);
}
FwStatus SevSendFinish(FirmwareState& s, MutableByteSpan buf) {
  return SendEnd(s, buf, SevGuestEvent::kSendFinish);
}
FwStatus SevSendCancel(FirmwareState& s, MutableByteSpan buf) {
  return SendEnd(s, buf, SevGuestEvent::kSendCancel);
}

// RECEIVE_START: INIT or WORKING; session length 0x80 (INVALID_LENGTH), readable
// (INVALID_ADDRESS); the sender's PDH 0x824 bytes, readable; the session opened with this
// platform's PDH (sev_channel_open_server: INVALID_CERTIFICATE, WRAP_MAC kSevWrapMacStatus) —
// a session made for another platform fails here; POLICY_MAC (kSevPolicyMacStatus), the
// policy's API minimum and reserved bits against this firmware (POLICY_FAILURE); handle != 0:
// a valid guest (INVALID_GUEST) with the same policy and NOKS clear (POLICY_FAILURE) to share
// its key with; a free handle (RESOURCE_LIMIT); ES needs an SEV-ES platform (UNSUPPORTED). A
// new guest in RUPDATE with a fresh memory key; the platform WORKING; the handle written back.
FwStatus SevReceiveStart(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevReceiveStartBuf>(buf);
  const SevPlatformState ps = s.sev.machine.state();
  if (ps != SevPlatformState::kInit && ps != SevPlatformState::kWorking) {
    return FwStatus::kInvalidPlatformState;
  }
  if (io.session_len != kSevSessionSize) return FwStatus::kInvalidLength;
  std::array<std::uint8_t, kSevSessionSize> session_bytes{};
  if (!s.memory.FirmwareRead(io.session_paddr, session_bytes).ok()) {
    return FwStatus::kInvalidAddress;
  }
  if (io.dh_cert_len != kSevCertSize) return FwStatus::kInvalidLength;
  SevCertBytes cert{};
  if (!s.memory.FirmwareRead(io.dh_cert_paddr, cert).ok()) return FwStatus::kInvalidAddress;
  if (!s.sev.identity.pdh) return FwStatus::kInvalidCertificate;
  auto sender = SevDhCertKey(cert);
  if (!sender.ok()) return FwStatus::kInvalidCertificate;
  auto session = ParseSevSession(session_bytes);
  if (!session.ok()) return FwStatus::kInvalidLength;
  auto keys = OpenSevSession(*s.sev.identity.pdh, *sender, *session);
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
  auto guest = std::make_unique<SevGuest>();
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
  if (io.policy & sev_policy::kEs) {
    if (!(s.sev.config_flags & sev_flags::kConfigEs)) return FwStatus::kUnsupported;
    guest->es = true;
  }
  if (!s.sev.machine.Accepts(SevPlatformEvent::kGuestLaunched)) {
    return FwStatus::kInvalidPlatformState;
  }
  // ---- nothing above changed state (the firmware's RNG aside) ----
  guest->channel = std::move(keys).value();
  SevAddGuest(s, handle, std::move(guest), SevGuestEvent::kReceiveStart);
  io.handle = handle;
  std::memcpy(buf.data(), &io, sizeof io);
  return FwStatus::kSuccess;
}

namespace {

// sev_mcmd_receive_update: WORKING; handle; RUPDATE (INVALID_GUEST_STATE); VMSA only for SEV-ES
// guests (UNSUPPORTED); an ASID, pending or active (INACTIVE); transport length not 0, at most
// the scratch buffer, equal to the guest length, 16-aligned, header at least 0x34
// (INVALID_LENGTH); guest address 16-aligned (INVALID_ADDRESS); the guest range
// firmware-writable once SNP is up; header readable; a compressed packet (UNSUPPORTED);
// transport readable; the MAC (kSevTransportMacStatus). The plaintext lands in the guest's
// memory under its key.
FwStatus ReceiveUpdate(FirmwareState& s, MutableByteSpan buf, bool vmsa) {
  const auto in = ReadBuf<SevTransportBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kReceiveUpdate)) return FwStatus::kInvalidGuestState;
  if (vmsa && !g->es) return FwStatus::kUnsupported;
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  if (in.trans_len == 0 || in.trans_len > kSevScratchBufLen || in.guest_len == 0 ||
      in.guest_len != in.trans_len || !Aligned16(in.guest_len) ||
      in.hdr_len < kSevPacketHeaderSize) {
    return FwStatus::kInvalidLength;
  }
  if (!Aligned16(in.guest_paddr)) return FwStatus::kInvalidAddress;
  if (FwStatus st = SevCheckWritable(s, in.guest_paddr, in.guest_len); st != FwStatus::kSuccess) {
    return st;
  }
  std::array<std::uint8_t, kSevPacketHeaderSize> hdr_bytes{};
  if (!s.memory.FirmwareRead(in.hdr_paddr, hdr_bytes).ok()) return FwStatus::kInvalidAddress;
  auto hdr = ParseSevPacketHeader(hdr_bytes);
  if (!hdr.ok()) return FwStatus::kInvalidLength;
  if (hdr->flags & kSevPacketCompressed) return FwStatus::kUnsupported;
  Bytes trans(in.trans_len);
  if (!s.memory.FirmwareRead(in.trans_paddr, trans).ok()) return FwStatus::kInvalidAddress;
  if (!g->channel) return FwStatus::kHwErrorPlatform;
  auto plain = OpenSevTransportPacket(*g->channel, *hdr, trans);
  if (!plain.ok()) {
    return plain.error().code() == ErrorCode::kAuthFailed ? kSevTransportMacStatus
                                                          : FwStatus::kHwErrorPlatform;
  }
  // ---- nothing above changed state ----
  if (s.memory.FirmwareWriteGuest(g->asid, in.guest_paddr, plain->span()) !=
      rmp::RmpViolation::kNone) {
    return FwStatus::kHwErrorPlatform;
  }
  if (vmsa) ++g->num_vmsas;
  g->machine.Process(SevGuestEvent::kReceiveUpdate);
  return FwStatus::kSuccess;
}

}  // namespace

FwStatus SevReceiveUpdateData(FirmwareState& s, MutableByteSpan buf) {
  return ReceiveUpdate(s, buf, false);
}
FwStatus SevReceiveUpdateVmsa(FirmwareState& s, MutableByteSpan buf) {
  return ReceiveUpdate(s, buf, true);
}

// RECEIVE_FINISH: WORKING; handle; RUPDATE (INVALID_GUEST_STATE). A pending activation
// completes (the ASID becomes in use); the channel is closed; RUNNING.
FwStatus SevReceiveFinish(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevHandleBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SevGuestEvent::kReceiveFinish)) return FwStatus::kInvalidGuestState;
  // ---- nothing above changed state ----
  if (g->activation == SevActivation::kPending) {
    g->activation = SevActivation::kActive;
    s.asid_use[g->asid] = AsidUse::kInUse;
  }
  g->channel.reset();
  g->machine.Process(SevGuestEvent::kReceiveFinish);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
