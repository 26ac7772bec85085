// The legacy SEV secure channel between a guest owner and the firmware (SEV API chapter
// "Secure Channel"; SEV-ABI-FACTS.md 9.2-9.5, 5.3): the key schedule from the ECDH shared secret,
// the LAUNCH_START session blob, the launch measurement, LAUNCH_SECRET packets, the legacy
// ATTESTATION report and the legacy guest policy. Pure functions over typed inputs: no platform
// state, no I/O, so the firmware's handlers and the guest-owner tools (owner/) share them.
//
// Sources: AMD-ASPFW fw/psp_bl_uapps/sev_uapp/src/ sev_channel.c (derive_master_secret,
// create_session, establish_channel, sev_channel_hmac), nist_kdf.c, sev_guest.c
// (sev_guest_measure, sev_guest_verify_policy), sev_mcmd.c (sev_mcmd_launch_start,
// sev_mcmd_launch_secret, sev_mcmd_attestation); AMDESE/sev-tool src/commands.cpp
// (calculate_measurement, create_launch_secret_header); virtee/sev src/session/mod.rs.
//
// Secrets (Z, master secret, KEK, KIK, TEK, TIK, secret plaintext) are SecretBytes and never
// appear in an error message. MACs are compared in constant time. Every function is
// thread-safe (no shared state).
//
// Refusals and the status the firmware answers with (the handler maps; this file only tells
// which check failed, by returning it from a function of its own):
//   CheckSevWrapMac / OpenSevSession  kAuthFailed -> BAD_MEASUREMENT  (hmac.c, fact sheet 9.2)
//   CheckSevPolicyMac                 kAuthFailed -> BAD_MEASUREMENT  (AMD-ASPFW 1.55.25
//       sev_guest_verify_policy checks it with hmac_sha256_verify_msg, whose failure is
//       BAD_MEASUREMENT; the fact sheet's POLICY_FAILURE is not what the firmware source does,
//       and the firmware source is the authority)
//   CheckSevPolicy                    a SevPolicyRule -> POLICY_FAILURE
//   OpenSevLaunchSecret               kAuthFailed -> BAD_MEASUREMENT
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/fw_status.h"

namespace sevemu::emulator {

// ---- sizes (sev_channel.h in AMD-ASPFW) ----
constexpr std::size_t kSevNonceSize = 16;
constexpr std::size_t kSevKeySize = 16;  // master secret, KEK, KIK, TEK, TIK: AES-128 / 128 bits
constexpr std::size_t kSevIvSize = 16;
constexpr std::size_t kSevMacSize = 32;     // HMAC-SHA256
constexpr std::size_t kSevDigestSize = 32;  // launch digest, SHA-256
// 0x80, not the 0x90 the fact sheet's heading says: its own offsets end at 0x60 + 32, and
// AMD-ASPFW sev_session_t (checked as `session_len != sizeof(session)`), sev-tool's packed
// sev_session_buf and virtee's repr(C) Session are all 16 + 32 + 16 + 32 + 32 bytes.
constexpr std::size_t kSevSessionSize = 0x80;
constexpr std::size_t kSevPacketHeaderSize = 0x34;
constexpr std::size_t kSevMeasureOutSize = 0x30;  // LAUNCH_MEASURE: measurement ‖ mnonce
constexpr std::size_t kSevAttestationReportSize = 0xD0;
constexpr std::size_t kSevAttestationSignedSize = 0x34;  // mnonce ‖ launch_digest ‖ policy

using SevNonce = std::array<std::uint8_t, kSevNonceSize>;
using SevIv = std::array<std::uint8_t, kSevIvSize>;
using SevMac = std::array<std::uint8_t, kSevMacSize>;
using SevDigest = std::array<std::uint8_t, kSevDigestSize>;

// The first byte of every channel HMAC input (sev_channel.h SEV_CHANNEL_CTX_*).
enum class SevChannelCtx : std::uint8_t {
  kSecret = 0x01,
  kData = 0x02,
  kVmsa = 0x03,
  kMeasure = 0x04
};

// Status the LAUNCH_START / LAUNCH_SECRET handlers answer for each MAC refusal (see top).
constexpr FwStatus kSevWrapMacStatus = FwStatus::kBadMeasurement;
constexpr FwStatus kSevPolicyMacStatus = FwStatus::kBadMeasurement;
constexpr FwStatus kSevSecretMacStatus = FwStatus::kBadMeasurement;

// ---- the API version the channel formats depend on ----

// The firmware's API version and build, as PLATFORM_STATUS reports them.
struct SevApiVersion {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  std::uint8_t build = 0;
};
// True for API >= 0.17, where the measurement and the LAUNCH_SECRET MAC gained fields
// (sev-tool min_api_version(..., 0, 17) in calculate_measurement / create_launch_secret_header).
constexpr bool SevApiHasMeasureContext(std::uint8_t major, std::uint8_t minor) {
  return major > 0 || minor >= 17;
}

// ---- legacy guest policy (u32; SEV-ABI-FACTS.md 5.3; AMD-ASPFW sev_guest.h) ----

namespace sev_policy {
constexpr std::uint32_t kNoDbg = 1u << 0;
constexpr std::uint32_t kNoKs = 1u << 1;
constexpr std::uint32_t kEs = 1u << 2;
constexpr std::uint32_t kNoSend = 1u << 3;
constexpr std::uint32_t kDomain = 1u << 4;
constexpr std::uint32_t kSev = 1u << 5;
constexpr std::uint32_t kReservedMask = 0x0000FFC0u;  // bits 15:6
constexpr unsigned kApiMajorShift = 16;
constexpr unsigned kApiMinorShift = 24;
}  // namespace sev_policy

struct SevPolicy {
  bool nodbg = false;          // debug commands (DBG_DECRYPT/ENCRYPT) refused
  bool noks = false;           // no key sharing with another guest (LAUNCH_START handle != 0)
  bool es = false;             // SEV-ES required
  bool nosend = false;         // SEND_START refused
  bool domain = false;         // send only within the domain (same OCA)
  bool sev = false;            // send only to SEV-capable platforms
  std::uint8_t api_major = 0;  // minimum firmware API version
  std::uint8_t api_minor = 0;

  std::uint32_t ToU32() const;
  bool operator==(const SevPolicy&) const = default;
};

// kInvalidArgument if a reserved bit (15:6) is set; otherwise the fields, losslessly.
Result<SevPolicy> ParseSevPolicy(std::uint32_t policy);

// Why LAUNCH_START refuses a policy whose MAC verified, in the firmware's order
// (AMD-ASPFW sev_guest_verify_policy). Both map to POLICY_FAILURE.
enum class SevPolicyRule {
  kApiTooNew,     // the policy's minimum API version is above the firmware's
  kReservedBits,  // a bit of 15:6 set
};
const char* SevPolicyRuleName(SevPolicyRule r);
// The first rule `policy` breaks on a firmware of API `fw`, or nullopt.
std::optional<SevPolicyRule> CheckSevPolicy(std::uint32_t policy, const SevApiVersion& fw);

// ---- key schedule (sev_channel.c derive_master_secret / create_session; nist_kdf.c) ----
//
// The KDF is crypto::SevKdf (SP 800-108 counter mode, HMAC-SHA256, counter and L little-endian,
// fixed input label ‖ 0x00 ‖ context ‖ L), which is byte for byte AMD-ASPFW nist_kdf.c,
// sev-tool Command::kdf and virtee Key::derive; it is reused, not reimplemented.

// master secret = KDF(Z, "sev-master-secret", context = nonce), 16 bytes. `z` is the ECDH
// shared secret: on LAUNCH_START the 48-byte big-endian X coordinate (PrivateKey::EcdhP384);
// any non-empty length is accepted (virtee's published vector uses 16 zero bytes).
// kInvalidArgument if z is empty or the nonce is not 16 bytes.
Result<SecretBytes> DeriveSevMasterSecret(const SecretBytes& z, ByteSpan nonce);

struct SevWrapKeys {
  SecretBytes kek;  // KDF(master, "sev-kek"), 16 bytes: AES-128-CTR key for wrap_tk
  SecretBytes kik;  // KDF(master, "sev-kik"), 16 bytes: HMAC key for wrap_mac
};
// kInvalidArgument unless master is 16 bytes.
Result<SevWrapKeys> DeriveSevWrapKeys(const SecretBytes& master);

// The transport keys a session carries: TEK encrypts LAUNCH_SECRET payloads (AES-128-CTR), TIK
// keys every channel HMAC (policy, measurement, secret packets).
struct SevTransportKeys {
  SecretBytes tek;  // 16 bytes
  SecretBytes tik;  // 16 bytes
};

// ---- LAUNCH_START session (0x80 bytes; SEV-ABI-FACTS.md 9.2; sev_channel.h sev_session_t) ----

struct SevSession {
  SevNonce nonce{};                        // 0x00
  std::array<std::uint8_t, 32> wrap_tk{};  // 0x10 AES-128-CTR(KEK, wrap_iv, TEK ‖ TIK)
  SevIv wrap_iv{};                         // 0x30
  SevMac wrap_mac{};                       // 0x40 HMAC-SHA256(KIK, wrap_tk)
  SevMac policy_mac{};                     // 0x60 HMAC-SHA256(TIK, policy u32 LE)
  bool operator==(const SevSession&) const = default;
};

// kInvalidArgument unless exactly 0x80 bytes (LAUNCH_START answers INVALID_LENGTH before that).
Result<SevSession> ParseSevSession(ByteSpan bytes);
std::array<std::uint8_t, kSevSessionSize> SerializeSevSession(const SevSession& s);

// Builds a session from chosen inputs, as a guest owner does (and as the firmware does for
// SEND_START, sev_channel.c create_session): wrap_tk, wrap_mac, policy_mac from the master
// secret's KEK/KIK and the transport keys. kInvalidArgument for wrong key sizes.
Result<SevSession> MakeSevSession(const SecretBytes& master, const SevNonce& nonce,
                                  const SevIv& wrap_iv, const SevTransportKeys& keys,
                                  std::uint32_t policy);

// kAuthFailed ("WRAP_MAC does not verify") unless session.wrap_mac == HMAC(KIK, wrap_tk).
Status CheckSevWrapMac(const SecretBytes& kik, const SevSession& session);
// TEK ‖ TIK = AES-128-CTR(KEK, wrap_iv, wrap_tk). No integrity check: call CheckSevWrapMac first.
Result<SevTransportKeys> UnwrapSevTransportKeys(const SecretBytes& kek, const SevSession& session);

// The firmware's side of LAUNCH_START (sev_channel_open_server): Z = ECDH(PDH private, GODH
// public), master secret, KEK/KIK, WRAP_MAC, unwrap. Returns TEK/TIK.
// kInvalidKey if either key is not P-384 (the firmware answers INVALID_CERTIFICATE);
// kAuthFailed on a WRAP_MAC mismatch (kSevWrapMacStatus). The policy MAC is a separate step.
Result<SevTransportKeys> OpenSevSession(const crypto::PrivateKey& pdh,
                                        const crypto::PublicKey& godh, const SevSession& session);

// kAuthFailed ("POLICY_MAC does not verify") unless mac == HMAC-SHA256(TIK, policy u32 LE).
Status CheckSevPolicyMac(const SecretBytes& tik, std::uint32_t policy, const SevMac& mac);

// ---- LAUNCH_MEASURE (SEV-ABI-FACTS.md 9.3; sev_guest.c sev_guest_measure) ----

// HMAC-SHA256(TIK, 0x04 ‖ api_major ‖ api_minor ‖ build ‖ policy u32 LE ‖ launch_digest ‖
// mnonce); for API < 0.17 (SevApiHasMeasureContext false) the first four bytes are omitted.
// kInvalidArgument unless the TIK is 16 bytes.
Result<SevMac> ComputeSevMeasurement(const SecretBytes& tik, const SevApiVersion& api,
                                     std::uint32_t policy, const SevDigest& launch_digest,
                                     const SevNonce& mnonce);

// LAUNCH_MEASURE's output buffer: measurement[32] ‖ mnonce[16].
struct SevMeasureOut {
  SevMac measurement{};
  SevNonce mnonce{};
};
std::array<std::uint8_t, kSevMeasureOutSize> SerializeSevMeasureOut(const SevMeasureOut& m);
// kInvalidArgument unless at least 0x30 bytes (only the first 0x30 are read).
Result<SevMeasureOut> ParseSevMeasureOut(ByteSpan bytes);

// ---- LAUNCH_SECRET (SEV-ABI-FACTS.md 9.4; sev_channel.c sev_channel_hmac / _extract) ----

constexpr std::uint32_t kSevPacketCompressed = 1u << 0;  // FW-src answers UNSUPPORTED

struct SevPacketHeader {
  std::uint32_t flags = 0;  // 0x00
  SevIv iv{};               // 0x04
  SevMac mac{};             // 0x14
  bool operator==(const SevPacketHeader&) const = default;
};
// kInvalidArgument unless exactly 0x34 bytes (the handler answers INVALID_LENGTH first).
Result<SevPacketHeader> ParseSevPacketHeader(ByteSpan bytes);
std::array<std::uint8_t, kSevPacketHeaderSize> SerializeSevPacketHeader(const SevPacketHeader& h);

// HMAC-SHA256(TIK, 0x01 ‖ flags ‖ iv ‖ guest_len u32 LE ‖ trans_len u32 LE ‖ ciphertext ‖
// measurement). trans_len is ciphertext.size(). `measurement` is the LAUNCH_MEASURE value for
// API >= 0.17 and nullopt before (sev-tool create_launch_secret_header). header.mac is ignored.
// kInvalidArgument for a TIK that is not 16 bytes or a ciphertext of 2^32 bytes or more.
Result<SevMac> ComputeSevSecretMac(const SecretBytes& tik, const SevPacketHeader& header,
                                   std::uint32_t guest_len, ByteSpan ciphertext,
                                   const std::optional<SevMac>& measurement);

// The firmware's LAUNCH_SECRET crypto (sev_channel_extract_secret): checks header.mac
// (kAuthFailed, kSevSecretMacStatus), then decrypts AES-128-CTR(TEK, header.iv). Length,
// alignment and compression checks are the handler's, in the firmware's order around this call.
Result<SecretBytes> OpenSevLaunchSecret(const SevTransportKeys& keys, const SevPacketHeader& header,
                                        std::uint32_t guest_len, ByteSpan ciphertext,
                                        const std::optional<SevMac>& measurement);

// ---- migration: the sender's session and the transport packets (SEND_*/RECEIVE_*) ----

// The firmware's side of SEND_START (sev_channel_open_client -> create_channel, create_session):
// Z = ECDH(this platform's PDH private key, the receiver's PDH public key), the master secret
// from `nonce`, then MakeSevSession with fresh transport keys. The receiver opens it with
// OpenSevSession(its PDH, the sender's PDH, session), as LAUNCH_START opens a guest owner's.
// kInvalidKey if either key is not P-384.
Result<SevSession> MakeSevSendSession(const crypto::PrivateKey& pdh,
                                      const crypto::PublicKey& receiver_pdh, const SevNonce& nonce,
                                      const SevIv& wrap_iv, const SevTransportKeys& keys,
                                      std::uint32_t policy);

// SEND_UPDATE / RECEIVE_UPDATE's MAC (AMD-ASPFW sev_mcmd.c send_receive_update_aad_t with
// ccp_direct_cipher.c aesctr_hmac256_encrypt/_decrypt): HMAC-SHA256(TIK, 0x02 ‖ flags u32 ‖
// iv ‖ uncompressed size u32 ‖ trans size u32 ‖ ciphertext), sizes = ciphertext.size(). The
// context byte is DATA for VMSA packets too: the firmware never uses SEV_CHANNEL_CTX_VMSA.
// Encrypt-then-MAC; no sequence number and no address is bound (see OpenSevTransportPacket).
// kInvalidArgument for a TIK that is not 16 bytes or a ciphertext of 2^32 bytes or more.
Result<SevMac> ComputeSevTransportMac(const SecretBytes& tik, const SevPacketHeader& header,
                                      ByteSpan ciphertext);

struct SevTransportPacket {
  SevPacketHeader header;  // flags 0 (no compression), the IV, the MAC
  Bytes ciphertext;        // AES-128-CTR(TEK, iv, plaintext), as long as the plaintext
};
// The sender's side (SEND_UPDATE_DATA/VMSA): encrypts `plaintext` (non-empty, a multiple of 16
// bytes, as aesctr_hmac256_encrypt requires) under the TEK with `iv` and MACs it.
// kInvalidArgument otherwise or for wrong key sizes.
Result<SevTransportPacket> SealSevTransportPacket(const SevTransportKeys& keys, const SevIv& iv,
                                                  ByteSpan plaintext);
// The receiver's side (RECEIVE_UPDATE_DATA/VMSA): MAC first (kAuthFailed; the firmware answers
// BAD_MEASUREMENT), then decrypts. A packet is valid wherever and however often it is
// presented within its session: the firmware keeps no counter, so replay and reordering are
// the hypervisor's to prevent — only another session's keys make it fail.
Result<SecretBytes> OpenSevTransportPacket(const SevTransportKeys& keys,
                                           const SevPacketHeader& header, ByteSpan ciphertext);
constexpr FwStatus kSevTransportMacStatus = FwStatus::kBadMeasurement;

// ---- legacy ATTESTATION report (0xD0 bytes; SEV-ABI-FACTS.md 9.5; sev_mcmd_attestation) ----

constexpr std::uint32_t kSevReportUsagePek = 0x1002;
constexpr std::uint32_t kSevReportAlgoEcdsaSha256 = 0x002;
constexpr std::uint32_t kSevReportAlgoEcdsaSha384 = 0x102;

struct SevAttestationReport {
  SevNonce mnonce{};                                   // 0x00, the caller's
  SevDigest launch_digest{};                           // 0x10
  std::uint32_t policy = 0;                            // 0x30
  std::uint32_t sig_usage = kSevReportUsagePek;        // 0x34
  std::uint32_t sig_algo = kSevReportAlgoEcdsaSha256;  // 0x38, the PEK's algorithm
  std::array<std::uint8_t, 144> sig{};                 // 0x40: r[72] ‖ s[72] little-endian
};
std::array<std::uint8_t, kSevAttestationReportSize> EncodeSevAttestationReport(
    const SevAttestationReport& r);
// kInvalidArgument unless exactly 0xD0 bytes.
Result<SevAttestationReport> ParseSevAttestationReport(ByteSpan bytes);
// Bytes 0x00..0x33 (mnonce ‖ launch_digest ‖ policy): what the PEK signs.
ByteSpan SevAttestationSignedRegion(ByteSpan report);

// Signs the signed region with the PEK using sig_algo's digest (ECDSA-SHA256 or -SHA384 on
// P-384, ecdsa.c sign_verify_msg) and stores (r, s) little-endian. kInvalidArgument for another
// sig_algo; kInvalidKey for a non-P-384 key.
Status SignSevAttestationReport(SevAttestationReport& r, const crypto::PrivateKey& pek);
// kAuthFailed if the signature does not verify with `pek`; kInvalidArgument for a malformed
// signature field or an unknown sig_algo or sig_usage other than PEK.
Status VerifySevAttestationReport(const SevAttestationReport& r, const crypto::PublicKey& pek);

}  // namespace sevemu::emulator
