// The legacy SEV secure channel. Byte layouts and orders follow AMD-ASPFW
// fw/psp_bl_uapps/sev_uapp/src/sev_channel.c (sev_session_t, sev_packet_header_t,
// sev_channel_hmac), sev_guest.c (sev_guest_measure) and sev_mcmd.c (attestation report); see
// include/sevemu/emulator/sev/sev_channel.h for the contracts.
#include "sevemu/emulator/sev/sev_channel.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/ecdsa_digest.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/kdf.h"

namespace sevemu::emulator {

namespace {

constexpr char kMasterSecretLabel[] = "sev-master-secret";
constexpr char kKekLabel[] = "sev-kek";
constexpr char kKikLabel[] = "sev-kik";

// Session blob offsets (SEV-ABI-FACTS.md 9.2).
constexpr std::size_t kOffNonce = 0x00;
constexpr std::size_t kOffWrapTk = 0x10;
constexpr std::size_t kOffWrapIv = 0x30;
constexpr std::size_t kOffWrapMac = 0x40;
constexpr std::size_t kOffPolicyMac = 0x60;
static_assert(kOffPolicyMac + kSevMacSize == kSevSessionSize);

// Packet header offsets (9.4).
constexpr std::size_t kOffFlags = 0x00;
constexpr std::size_t kOffIv = 0x04;
constexpr std::size_t kOffMac = 0x14;
static_assert(kOffMac + kSevMacSize == kSevPacketHeaderSize);

// Attestation report offsets (9.5).
constexpr std::size_t kOffRepMnonce = 0x00;
constexpr std::size_t kOffRepDigest = 0x10;
constexpr std::size_t kOffRepPolicy = 0x30;
constexpr std::size_t kOffRepSigUsage = 0x34;
constexpr std::size_t kOffRepSigAlgo = 0x38;
constexpr std::size_t kOffRepReserved = 0x3C;
constexpr std::size_t kOffRepSig = 0x40;
static_assert(kOffRepSigUsage == kSevAttestationSignedSize);
static_assert(kOffRepSig + 144 == kSevAttestationReportSize);

static_assert(sizeof(SevSession::wrap_tk) == 2 * kSevKeySize);

template <std::size_t N>
void CopyOut(std::array<std::uint8_t, N>& dst, ByteSpan src, std::size_t off) {
  std::memcpy(dst.data(), src.data() + off, N);
}
template <std::size_t N>
void CopyIn(std::uint8_t* dst, const std::array<std::uint8_t, N>& src) {
  std::memcpy(dst, src.data(), N);
}

Status RequireKey(const SecretBytes& key, const char* name) {
  if (key.size() != kSevKeySize) {
    return Error(ErrorCode::kInvalidArgument, std::string(name) + " must be 16 bytes");
  }
  return Status::Ok();
}

Result<SevMac> HmacSha256(const SecretBytes& key, ByteSpan data) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes mac,
                          crypto::Hmac(crypto::HashAlg::kSha256, key.span(), data));
  SevMac out{};
  std::memcpy(out.data(), mac.data(), out.size());
  return out;
}

// Recomputes HMAC(key, data) and compares with `expected` in constant time.
Status VerifyHmac(const SecretBytes& key, ByteSpan data, const SevMac& expected, const char* what) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes mac,
                          crypto::Hmac(crypto::HashAlg::kSha256, key.span(), data));
  if (!ConstantTimeEquals(mac.span(), expected)) {
    return Error(ErrorCode::kAuthFailed, std::string(what) + " does not verify");
  }
  return Status::Ok();
}

std::array<std::uint8_t, 4> Le32(std::uint32_t v) {
  std::array<std::uint8_t, 4> out{};
  StoreLe32(out.data(), v);
  return out;
}

}  // namespace

// ---- policy ----

std::uint32_t SevPolicy::ToU32() const {
  using namespace sev_policy;
  std::uint32_t p = 0;
  if (nodbg) p |= kNoDbg;
  if (noks) p |= kNoKs;
  if (es) p |= kEs;
  if (nosend) p |= kNoSend;
  if (domain) p |= kDomain;
  if (sev) p |= kSev;
  p |= static_cast<std::uint32_t>(api_major) << kApiMajorShift;
  p |= static_cast<std::uint32_t>(api_minor) << kApiMinorShift;
  return p;
}

Result<SevPolicy> ParseSevPolicy(std::uint32_t p) {
  using namespace sev_policy;
  if ((p & kReservedMask) != 0) {
    return Error(ErrorCode::kInvalidArgument, "SEV policy has reserved bits 15:6 set");
  }
  SevPolicy out;
  out.nodbg = (p & kNoDbg) != 0;
  out.noks = (p & kNoKs) != 0;
  out.es = (p & kEs) != 0;
  out.nosend = (p & kNoSend) != 0;
  out.domain = (p & kDomain) != 0;
  out.sev = (p & kSev) != 0;
  out.api_major = static_cast<std::uint8_t>(p >> kApiMajorShift);
  out.api_minor = static_cast<std::uint8_t>(p >> kApiMinorShift);
  return out;
}

const char* SevPolicyRuleName(SevPolicyRule r) {
  switch (r) {
    case SevPolicyRule::kApiTooNew:
      return "policy API version above the firmware's";
    case SevPolicyRule::kReservedBits:
      return "policy reserved bits 15:6 set";
  }
  return "unknown";
}

std::optional<SevPolicyRule> CheckSevPolicy(std::uint32_t policy, const SevApiVersion& fw) {
  // AMD-ASPFW sev_guest_verify_policy: API version first (api_version_supported), then the
  // reserved bits.
  const auto major = static_cast<std::uint8_t>(policy >> sev_policy::kApiMajorShift);
  const auto minor = static_cast<std::uint8_t>(policy >> sev_policy::kApiMinorShift);
  const bool supported = fw.major > major || (fw.major == major && fw.minor >= minor);
  if (!supported) return SevPolicyRule::kApiTooNew;
  if ((policy & sev_policy::kReservedMask) != 0) return SevPolicyRule::kReservedBits;
  return std::nullopt;
}

// ---- key schedule ----

Result<SecretBytes> DeriveSevMasterSecret(const SecretBytes& z, ByteSpan nonce) {
  if (z.empty()) return Error(ErrorCode::kInvalidArgument, "ECDH shared secret is empty");
  if (nonce.size() != kSevNonceSize) {
    return Error(ErrorCode::kInvalidArgument, "session nonce must be 16 bytes");
  }
  return crypto::SevKdf(z.span(), kMasterSecretLabel, nonce, kSevKeySize);
}

Result<SevWrapKeys> DeriveSevWrapKeys(const SecretBytes& master) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(master, "master secret"));
  SevWrapKeys out;
  SEVEMU_ASSIGN_OR_RETURN(out.kek, crypto::SevKdf(master.span(), kKekLabel, {}, kSevKeySize));
  SEVEMU_ASSIGN_OR_RETURN(out.kik, crypto::SevKdf(master.span(), kKikLabel, {}, kSevKeySize));
  return out;
}

// ---- session ----

Result<SevSession> ParseSevSession(ByteSpan b) {
  if (b.size() != kSevSessionSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "SEV session must be 0x80 bytes, got " + std::to_string(b.size()));
  }
  SevSession s;
  CopyOut(s.nonce, b, kOffNonce);
  CopyOut(s.wrap_tk, b, kOffWrapTk);
  CopyOut(s.wrap_iv, b, kOffWrapIv);
  CopyOut(s.wrap_mac, b, kOffWrapMac);
  CopyOut(s.policy_mac, b, kOffPolicyMac);
  return s;
}

std::array<std::uint8_t, kSevSessionSize> SerializeSevSession(const SevSession& s) {
  std::array<std::uint8_t, kSevSessionSize> out{};
  CopyIn(out.data() + kOffNonce, s.nonce);
  CopyIn(out.data() + kOffWrapTk, s.wrap_tk);
  CopyIn(out.data() + kOffWrapIv, s.wrap_iv);
  CopyIn(out.data() + kOffWrapMac, s.wrap_mac);
  CopyIn(out.data() + kOffPolicyMac, s.policy_mac);
  return out;
}

Result<SevSession> MakeSevSession(const SecretBytes& master, const SevNonce& nonce,
                                  const SevIv& wrap_iv, const SevTransportKeys& keys,
                                  std::uint32_t policy) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(keys.tek, "TEK"));
  SEVEMU_RETURN_IF_ERROR(RequireKey(keys.tik, "TIK"));
  SEVEMU_ASSIGN_OR_RETURN(SevWrapKeys wk, DeriveSevWrapKeys(master));
  SecretBytes tk(2 * kSevKeySize);
  std::memcpy(tk.data(), keys.tek.data(), kSevKeySize);
  std::memcpy(tk.data() + kSevKeySize, keys.tik.data(), kSevKeySize);
  SEVEMU_ASSIGN_OR_RETURN(Bytes wrapped, crypto::Aes128Ctr(wk.kek.span(), wrap_iv, tk.span()));
  SevSession s;
  s.nonce = nonce;
  s.wrap_iv = wrap_iv;
  std::memcpy(s.wrap_tk.data(), wrapped.data(), s.wrap_tk.size());
  SEVEMU_ASSIGN_OR_RETURN(s.wrap_mac, HmacSha256(wk.kik, s.wrap_tk));
  SEVEMU_ASSIGN_OR_RETURN(s.policy_mac, HmacSha256(keys.tik, Le32(policy)));
  return s;
}

Status CheckSevWrapMac(const SecretBytes& kik, const SevSession& session) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(kik, "KIK"));
  return VerifyHmac(kik, session.wrap_tk, session.wrap_mac, "WRAP_MAC");
}

Result<SevTransportKeys> UnwrapSevTransportKeys(const SecretBytes& kek, const SevSession& session) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(kek, "KEK"));
  SEVEMU_ASSIGN_OR_RETURN(Bytes plain,
                          crypto::Aes128Ctr(kek.span(), session.wrap_iv, session.wrap_tk));
  // Aes128Ctr returns Bytes; move the key material into SecretBytes and wipe the temporary.
  SevTransportKeys keys;
  keys.tek = SecretBytes(ByteSpan(plain.data(), kSevKeySize));
  keys.tik = SecretBytes(ByteSpan(plain.data() + kSevKeySize, kSevKeySize));
  SecureZero(plain.data(), plain.size());
  return keys;
}

Result<SevTransportKeys> OpenSevSession(const crypto::PrivateKey& pdh,
                                        const crypto::PublicKey& godh, const SevSession& session) {
  if (pdh.kind() != crypto::KeyKind::kEcP384 || godh.kind() != crypto::KeyKind::kEcP384) {
    return Error(ErrorCode::kInvalidKey, "PDH and GODH must be P-384 keys");
  }
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes z, pdh.EcdhP384(godh));
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes master, DeriveSevMasterSecret(z, session.nonce));
  SEVEMU_ASSIGN_OR_RETURN(SevWrapKeys wk, DeriveSevWrapKeys(master));
  // establish_channel: WRAP_MAC before the keys are unwrapped.
  SEVEMU_RETURN_IF_ERROR(CheckSevWrapMac(wk.kik, session));
  return UnwrapSevTransportKeys(wk.kek, session);
}

Status CheckSevPolicyMac(const SecretBytes& tik, std::uint32_t policy, const SevMac& mac) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(tik, "TIK"));
  return VerifyHmac(tik, Le32(policy), mac, "POLICY_MAC");
}

// ---- measurement ----

Result<SevMac> ComputeSevMeasurement(const SecretBytes& tik, const SevApiVersion& api,
                                     std::uint32_t policy, const SevDigest& launch_digest,
                                     const SevNonce& mnonce) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(tik, "TIK"));
  Bytes in;
  in.reserve(4 + 4 + kSevDigestSize + kSevNonceSize);
  if (SevApiHasMeasureContext(api.major, api.minor)) {
    in.push_back(static_cast<std::uint8_t>(SevChannelCtx::kMeasure));
    in.push_back(api.major);
    in.push_back(api.minor);
    in.push_back(api.build);
  }
  const auto p = Le32(policy);
  in.insert(in.end(), p.begin(), p.end());
  in.insert(in.end(), launch_digest.begin(), launch_digest.end());
  in.insert(in.end(), mnonce.begin(), mnonce.end());
  return HmacSha256(tik, in);
}

std::array<std::uint8_t, kSevMeasureOutSize> SerializeSevMeasureOut(const SevMeasureOut& m) {
  std::array<std::uint8_t, kSevMeasureOutSize> out{};
  CopyIn(out.data(), m.measurement);
  CopyIn(out.data() + kSevMacSize, m.mnonce);
  return out;
}

Result<SevMeasureOut> ParseSevMeasureOut(ByteSpan b) {
  if (b.size() < kSevMeasureOutSize) {
    return Error(ErrorCode::kInvalidArgument, "LAUNCH_MEASURE output shorter than 0x30 bytes");
  }
  SevMeasureOut m;
  CopyOut(m.measurement, b, 0);
  CopyOut(m.mnonce, b, kSevMacSize);
  return m;
}

// ---- LAUNCH_SECRET ----

Result<SevPacketHeader> ParseSevPacketHeader(ByteSpan b) {
  if (b.size() != kSevPacketHeaderSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "packet header must be 0x34 bytes, got " + std::to_string(b.size()));
  }
  SevPacketHeader h;
  h.flags = LoadLe32(b.data() + kOffFlags);
  CopyOut(h.iv, b, kOffIv);
  CopyOut(h.mac, b, kOffMac);
  return h;
}

std::array<std::uint8_t, kSevPacketHeaderSize> SerializeSevPacketHeader(const SevPacketHeader& h) {
  std::array<std::uint8_t, kSevPacketHeaderSize> out{};
  StoreLe32(out.data() + kOffFlags, h.flags);
  CopyIn(out.data() + kOffIv, h.iv);
  CopyIn(out.data() + kOffMac, h.mac);
  return out;
}

namespace {

// sev_channel_hmac's and send_receive_update_aad_t's common input: ctx ‖ flags ‖ iv ‖
// uncompressed size ‖ size ‖ data (‖ trailer).
Result<SevMac> PacketMac(const SecretBytes& tik, SevChannelCtx ctx, const SevPacketHeader& header,
                         std::uint32_t uncompressed_len, ByteSpan ciphertext, ByteSpan trailer) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(tik, "TIK"));
  if (ciphertext.size() > std::numeric_limits<std::uint32_t>::max()) {
    return Error(ErrorCode::kInvalidArgument, "packet ciphertext too large");
  }
  Bytes in;
  in.reserve(1 + 4 + kSevIvSize + 8 + ciphertext.size() + trailer.size());
  in.push_back(static_cast<std::uint8_t>(ctx));
  const auto flags = Le32(header.flags);
  in.insert(in.end(), flags.begin(), flags.end());
  in.insert(in.end(), header.iv.begin(), header.iv.end());
  const auto glen = Le32(uncompressed_len);
  in.insert(in.end(), glen.begin(), glen.end());
  const auto tlen = Le32(static_cast<std::uint32_t>(ciphertext.size()));
  in.insert(in.end(), tlen.begin(), tlen.end());
  in.insert(in.end(), ciphertext.begin(), ciphertext.end());
  in.insert(in.end(), trailer.begin(), trailer.end());
  return HmacSha256(tik, in);
}

}  // namespace

Result<SevMac> ComputeSevSecretMac(const SecretBytes& tik, const SevPacketHeader& header,
                                   std::uint32_t guest_len, ByteSpan ciphertext,
                                   const std::optional<SevMac>& measurement) {
  // sev_channel_hmac: the SECRET context, then the measurement (API >= 0.17).
  return PacketMac(tik, SevChannelCtx::kSecret, header, guest_len, ciphertext,
                   measurement ? ByteSpan(*measurement) : ByteSpan());
}

Result<SecretBytes> OpenSevLaunchSecret(const SevTransportKeys& keys, const SevPacketHeader& header,
                                        std::uint32_t guest_len, ByteSpan ciphertext,
                                        const std::optional<SevMac>& measurement) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(keys.tek, "TEK"));
  SEVEMU_ASSIGN_OR_RETURN(
      SevMac want, ComputeSevSecretMac(keys.tik, header, guest_len, ciphertext, measurement));
  if (!ConstantTimeEquals(want, header.mac)) {
    return Error(ErrorCode::kAuthFailed, "LAUNCH_SECRET packet MAC does not verify");
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes plain, crypto::Aes128Ctr(keys.tek.span(), header.iv, ciphertext));
  SecretBytes out(plain);
  SecureZero(plain.data(), plain.size());
  return out;
}

// ---- migration ----

Result<SevSession> MakeSevSendSession(const crypto::PrivateKey& pdh,
                                      const crypto::PublicKey& receiver_pdh, const SevNonce& nonce,
                                      const SevIv& wrap_iv, const SevTransportKeys& keys,
                                      std::uint32_t policy) {
  if (pdh.kind() != crypto::KeyKind::kEcP384 || receiver_pdh.kind() != crypto::KeyKind::kEcP384) {
    return Error(ErrorCode::kInvalidKey, "both PDH keys must be P-384");
  }
  // create_channel: derive_master_secret over the ECDH X coordinate and the fresh nonce.
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes z, pdh.EcdhP384(receiver_pdh));
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes master, DeriveSevMasterSecret(z, nonce));
  return MakeSevSession(master, nonce, wrap_iv, keys, policy);
}

Result<SevMac> ComputeSevTransportMac(const SecretBytes& tik, const SevPacketHeader& header,
                                      ByteSpan ciphertext) {
  // The firmware passes trans_len as both sizes (no compression, CSF-832).
  return PacketMac(tik, SevChannelCtx::kData, header, static_cast<std::uint32_t>(ciphertext.size()),
                   ciphertext, {});
}

Result<SevTransportPacket> SealSevTransportPacket(const SevTransportKeys& keys, const SevIv& iv,
                                                  ByteSpan plaintext) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(keys.tek, "TEK"));
  if (plaintext.empty() || plaintext.size() % 16 != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "transport plaintext must be a non-zero multiple of 16 bytes");
  }
  SevTransportPacket p;
  p.header.iv = iv;
  SEVEMU_ASSIGN_OR_RETURN(p.ciphertext, crypto::Aes128Ctr(keys.tek.span(), iv, plaintext));
  SEVEMU_ASSIGN_OR_RETURN(p.header.mac, ComputeSevTransportMac(keys.tik, p.header, p.ciphertext));
  return p;
}

Result<SecretBytes> OpenSevTransportPacket(const SevTransportKeys& keys,
                                           const SevPacketHeader& header, ByteSpan ciphertext) {
  SEVEMU_RETURN_IF_ERROR(RequireKey(keys.tek, "TEK"));
  SEVEMU_ASSIGN_OR_RETURN(SevMac want, ComputeSevTransportMac(keys.tik, header, ciphertext));
  if (!ConstantTimeEquals(want, header.mac)) {
    return Error(ErrorCode::kAuthFailed, "transport packet MAC does not verify");
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes plain, crypto::Aes128Ctr(keys.tek.span(), header.iv, ciphertext));
  SecretBytes out(plain);
  SecureZero(plain.data(), plain.size());
  return out;
}

// ---- ATTESTATION ----

std::array<std::uint8_t, kSevAttestationReportSize> EncodeSevAttestationReport(
    const SevAttestationReport& r) {
  std::array<std::uint8_t, kSevAttestationReportSize> out{};
  CopyIn(out.data() + kOffRepMnonce, r.mnonce);
  CopyIn(out.data() + kOffRepDigest, r.launch_digest);
  StoreLe32(out.data() + kOffRepPolicy, r.policy);
  StoreLe32(out.data() + kOffRepSigUsage, r.sig_usage);
  StoreLe32(out.data() + kOffRepSigAlgo, r.sig_algo);
  StoreLe32(out.data() + kOffRepReserved, 0);
  CopyIn(out.data() + kOffRepSig, r.sig);
  return out;
}

Result<SevAttestationReport> ParseSevAttestationReport(ByteSpan b) {
  if (b.size() != kSevAttestationReportSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "legacy attestation report must be 0xD0 bytes, got " + std::to_string(b.size()));
  }
  SevAttestationReport r;
  CopyOut(r.mnonce, b, kOffRepMnonce);
  CopyOut(r.launch_digest, b, kOffRepDigest);
  r.policy = LoadLe32(b.data() + kOffRepPolicy);
  r.sig_usage = LoadLe32(b.data() + kOffRepSigUsage);
  r.sig_algo = LoadLe32(b.data() + kOffRepSigAlgo);
  CopyOut(r.sig, b, kOffRepSig);
  return r;
}

ByteSpan SevAttestationSignedRegion(ByteSpan report) {
  return report.first(std::min(report.size(), kSevAttestationSignedSize));
}

namespace {
Result<crypto::HashAlg> ReportDigest(std::uint32_t sig_algo) {
  if (sig_algo == kSevReportAlgoEcdsaSha256) return crypto::HashAlg::kSha256;
  if (sig_algo == kSevReportAlgoEcdsaSha384) return crypto::HashAlg::kSha384;
  return Error(ErrorCode::kInvalidArgument,
               "attestation report sig_algo " + std::to_string(sig_algo) + " is not ECDSA");
}
}  // namespace

Status SignSevAttestationReport(SevAttestationReport& r, const crypto::PrivateKey& pek) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::HashAlg alg, ReportDigest(r.sig_algo));
  const auto bytes = EncodeSevAttestationReport(r);
  SEVEMU_ASSIGN_OR_RETURN(crypto::EcdsaP384Signature sig,
                          crypto::SignEcdsaP384(pek, alg, SevAttestationSignedRegion(bytes)));
  r.sig = sig.ToFirmwareLayout();
  return Status::Ok();
}

Status VerifySevAttestationReport(const SevAttestationReport& r, const crypto::PublicKey& pek) {
  if (r.sig_usage != kSevReportUsagePek) {
    return Error(ErrorCode::kInvalidArgument, "attestation report is not signed by a PEK");
  }
  SEVEMU_ASSIGN_OR_RETURN(crypto::HashAlg alg, ReportDigest(r.sig_algo));
  SEVEMU_ASSIGN_OR_RETURN(crypto::EcdsaP384Signature sig,
                          crypto::EcdsaP384Signature::FromFirmwareLayout(r.sig));
  const auto bytes = EncodeSevAttestationReport(r);
  return crypto::VerifyEcdsaP384(pek, alg, SevAttestationSignedRegion(bytes), sig);
}

}  // namespace sevemu::emulator
