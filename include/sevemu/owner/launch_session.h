// What a guest owner does for a legacy SEV / SEV-ES launch, as sev-tool (generate_launch_blob,
// calc_measurement, package_secret, validate_attestation) and virtee/sev (session::Session,
// sevctl session/measurement/secret) do it:
//   1. MakeLaunchSession: from the platform's PDH public key, a fresh GODH key pair, random TEK,
//      TIK, nonce and IV -> the GODH certificate and the 0x80-byte session blob for
//      LAUNCH_START, plus the TEK/TIK the owner keeps (never given to the host);
//   2. LegacyLaunchDigest / VerifyMeasurement: predict the LAUNCH_MEASURE value and compare it
//      with the firmware's in constant time;
//   3. PackageLaunchSecret: the 0x34-byte header and ciphertext for LAUNCH_SECRET;
//   4. VerifyLegacyAttestationReport: check a 0xD0-byte ATTESTATION report with the PEK.
// The byte formats and the crypto are emulator/sev/sev_channel.h's, shared with the firmware.
//
// Thread-safe: no shared state. TEK/TIK are SecretBytes and never appear in errors.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/owner/godh_cert.h"

namespace sevemu::owner {

// Everything the owner chooses for a session. Random in MakeLaunchSession; explicit here so
// tests and reproducible tooling can fix them.
struct SessionInputs {
  crypto::PrivateKey godh;          // the owner's P-384 DH key; not needed after the session
  emulator::SevTransportKeys keys;  // TEK, TIK (16 bytes each)
  emulator::SevNonce nonce{};
  emulator::SevIv wrap_iv{};
};
// Fresh randomness (OpenSSL's CSPRNG; TEK/TIK from the private DRBG).
Result<SessionInputs> RandomSessionInputs();

struct LaunchSession {
  std::uint32_t policy = 0;
  emulator::SevSession session;     // LAUNCH_START session_address / session_len 0x80
  SevCertBytes godh_cert{};         // LAUNCH_START dh_cert_address / dh_cert_len 0x824
  emulator::SevTransportKeys keys;  // the owner's secrets (sev-tool tmp_tk.bin; virtee tek/tik)

  std::array<std::uint8_t, emulator::kSevSessionSize> SessionBytes() const {
    return emulator::SerializeSevSession(session);
  }
};

// Z = ECDH(GODH private, PDH public); master secret, KEK, KIK; wrap TEK ‖ TIK; WRAP_MAC;
// POLICY_MAC. kInvalidKey if `pdh` or the GODH key is not P-384; kInvalidArgument for
// TEK/TIK sizes other than 16. `api_major/minor` go into the GODH certificate only.
Result<LaunchSession> MakeLaunchSession(const crypto::PublicKey& pdh, std::uint32_t policy,
                                        const SessionInputs& in, std::uint8_t api_major = 0,
                                        std::uint8_t api_minor = 0);
// As above with RandomSessionInputs().
Result<LaunchSession> MakeLaunchSession(const crypto::PublicKey& pdh, std::uint32_t policy);

// SHA-256 over the plaintext the VMM passes to LAUNCH_UPDATE_DATA and LAUNCH_UPDATE_VMSA, in
// that order (SEV-ABI-FACTS.md 9.3): the launch digest the measurement covers.
Result<emulator::SevDigest> LegacyLaunchDigest(std::span<const ByteSpan> measured_in_order);

// The measurement the firmware must report (emulator::ComputeSevMeasurement with the owner's
// TIK), for the platform's API version/build from PLATFORM_STATUS.
Result<emulator::SevMac> ExpectedMeasurement(const emulator::SevTransportKeys& keys,
                                             const emulator::SevApiVersion& api,
                                             std::uint32_t policy,
                                             const emulator::SevDigest& launch_digest,
                                             const emulator::SevNonce& mnonce);
// Recomputes the measurement from LAUNCH_MEASURE's mnonce and compares in constant time.
// kAuthFailed ("launch measurement does not match") on a mismatch.
Status VerifyMeasurement(const emulator::SevTransportKeys& keys, const emulator::SevApiVersion& api,
                         std::uint32_t policy, const emulator::SevDigest& launch_digest,
                         const emulator::SevMeasureOut& reported);

struct LaunchSecretPacket {
  emulator::SevPacketHeader header;
  Bytes ciphertext;  // LAUNCH_SECRET trans_address / trans_len; guest_len is the same

  std::array<std::uint8_t, emulator::kSevPacketHeaderSize> HeaderBytes() const {
    return emulator::SerializeSevPacketHeader(header);
  }
};
// AES-128-CTR(TEK, iv, secret) and the header MAC over it and, for API >= 0.17, the verified
// measurement. `iv` random unless given. kInvalidArgument unless the secret is a non-zero
// multiple of 16 bytes (LAUNCH_SECRET refuses anything else with INVALID_LENGTH; pad first).
Result<LaunchSecretPacket> PackageLaunchSecret(const emulator::SevTransportKeys& keys,
                                               const emulator::SevApiVersion& api,
                                               const emulator::SevMac& measurement,
                                               const SecretBytes& secret,
                                               const std::optional<emulator::SevIv>& iv = {});

// What the owner expects a legacy ATTESTATION report to say; unset fields are not compared.
struct AttestationExpectations {
  std::optional<emulator::SevNonce> mnonce;  // the one passed to ATTESTATION
  std::optional<emulator::SevDigest> launch_digest;
  std::optional<std::uint32_t> policy;
};
// Parses the 0xD0 bytes, verifies the PEK signature over bytes 0x00..0x33 (ECDSA P-384 with the
// report's sig_algo digest), then compares the expectations. Returns the parsed report.
// kInvalidArgument for a malformed report; kAuthFailed for a bad signature; kRefused naming the
// first field that differs from the expectations.
Result<emulator::SevAttestationReport> VerifyLegacyAttestationReport(
    ByteSpan report, const crypto::PublicKey& pek, const AttestationExpectations& expect = {});

}  // namespace sevemu::owner
