// Guest-owner side of the legacy SEV channel. The formats and the MAC/KDF code are
// emulator/sev/sev_channel.cpp's, so owner and firmware cannot drift apart.
#include "sevemu/owner/launch_session.h"

#include <cstring>
#include <string>

#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/random.h"

namespace sevemu::owner {

using emulator::SevApiVersion;
using emulator::SevDigest;
using emulator::SevMac;
using emulator::SevTransportKeys;

namespace {
template <std::size_t N>
Status FillRandom(std::array<std::uint8_t, N>& out) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes r, crypto::RandomBytes(N));
  std::memcpy(out.data(), r.data(), N);
  return Status::Ok();
}
}  // namespace

Result<SessionInputs> RandomSessionInputs() {
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey godh, crypto::PrivateKey::GenerateEcP384());
  SessionInputs in{std::move(godh), {}, {}, {}};
  SEVEMU_ASSIGN_OR_RETURN(in.keys.tek, crypto::RandomSecret(emulator::kSevKeySize));
  SEVEMU_ASSIGN_OR_RETURN(in.keys.tik, crypto::RandomSecret(emulator::kSevKeySize));
  SEVEMU_RETURN_IF_ERROR(FillRandom(in.nonce));
  SEVEMU_RETURN_IF_ERROR(FillRandom(in.wrap_iv));
  return in;
}

Result<LaunchSession> MakeLaunchSession(const crypto::PublicKey& pdh, std::uint32_t policy,
                                        const SessionInputs& in, std::uint8_t api_major,
                                        std::uint8_t api_minor) {
  if (pdh.kind() != crypto::KeyKind::kEcP384 || in.godh.kind() != crypto::KeyKind::kEcP384) {
    return Error(ErrorCode::kInvalidKey, "PDH and GODH must be P-384 keys");
  }
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes z, in.godh.EcdhP384(pdh));
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes master, emulator::DeriveSevMasterSecret(z, in.nonce));
  LaunchSession out;
  out.policy = policy;
  SEVEMU_ASSIGN_OR_RETURN(out.session,
                          emulator::MakeSevSession(master, in.nonce, in.wrap_iv, in.keys, policy));
  SEVEMU_ASSIGN_OR_RETURN(out.godh_cert,
                          EncodeGodhCertificate(in.godh.Public(), api_major, api_minor));
  out.keys = in.keys;
  return out;
}

Result<LaunchSession> MakeLaunchSession(const crypto::PublicKey& pdh, std::uint32_t policy) {
  SEVEMU_ASSIGN_OR_RETURN(SessionInputs in, RandomSessionInputs());
  return MakeLaunchSession(pdh, policy, in);
}

Result<SevDigest> LegacyLaunchDigest(std::span<const ByteSpan> measured_in_order) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::Hasher h, crypto::Hasher::Create(crypto::HashAlg::kSha256));
  for (ByteSpan piece : measured_in_order) SEVEMU_RETURN_IF_ERROR(h.Update(piece));
  SEVEMU_ASSIGN_OR_RETURN(Bytes d, h.Finish());
  SevDigest out{};
  std::memcpy(out.data(), d.data(), out.size());
  return out;
}

Result<SevMac> ExpectedMeasurement(const SevTransportKeys& keys, const SevApiVersion& api,
                                   std::uint32_t policy, const SevDigest& launch_digest,
                                   const emulator::SevNonce& mnonce) {
  return emulator::ComputeSevMeasurement(keys.tik, api, policy, launch_digest, mnonce);
}

Status VerifyMeasurement(const SevTransportKeys& keys, const SevApiVersion& api,
                         std::uint32_t policy, const SevDigest& launch_digest,
                         const emulator::SevMeasureOut& reported) {
  SEVEMU_ASSIGN_OR_RETURN(SevMac want,
                          ExpectedMeasurement(keys, api, policy, launch_digest, reported.mnonce));
  if (!ConstantTimeEquals(want, reported.measurement)) {
    return Error(ErrorCode::kAuthFailed, "launch measurement does not match");
  }
  return Status::Ok();
}

Result<LaunchSecretPacket> PackageLaunchSecret(const SevTransportKeys& keys,
                                               const SevApiVersion& api, const SevMac& measurement,
                                               const SecretBytes& secret,
                                               const std::optional<emulator::SevIv>& iv) {
  if (secret.empty() || secret.size() % 16 != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "launch secret must be a non-zero multiple of 16 bytes, got " +
                     std::to_string(secret.size()));
  }
  if (secret.size() > 0xFFFFFFFFu) {
    return Error(ErrorCode::kInvalidArgument, "launch secret too large");
  }
  LaunchSecretPacket p;
  p.header.flags = 0;  // uncompressed: the firmware answers UNSUPPORTED to compression
  if (iv) {
    p.header.iv = *iv;
  } else {
    SEVEMU_RETURN_IF_ERROR(FillRandom(p.header.iv));
  }
  SEVEMU_ASSIGN_OR_RETURN(p.ciphertext,
                          crypto::Aes128Ctr(keys.tek.span(), p.header.iv, secret.span()));
  const std::optional<SevMac> m = emulator::SevApiHasMeasureContext(api.major, api.minor)
                                      ? std::optional(measurement)
                                      : std::nullopt;
  SEVEMU_ASSIGN_OR_RETURN(
      p.header.mac,
      emulator::ComputeSevSecretMac(keys.tik, p.header, static_cast<std::uint32_t>(secret.size()),
                                    p.ciphertext, m));
  return p;
}

Result<emulator::SevAttestationReport> VerifyLegacyAttestationReport(
    ByteSpan report, const crypto::PublicKey& pek, const AttestationExpectations& expect) {
  SEVEMU_ASSIGN_OR_RETURN(emulator::SevAttestationReport r,
                          emulator::ParseSevAttestationReport(report));
  SEVEMU_RETURN_IF_ERROR(emulator::VerifySevAttestationReport(r, pek));
  if (expect.mnonce && *expect.mnonce != r.mnonce) {
    return Error(ErrorCode::kRefused, "attestation report mnonce differs from the one requested");
  }
  if (expect.launch_digest && *expect.launch_digest != r.launch_digest) {
    return Error(ErrorCode::kRefused, "attestation report launch digest differs");
  }
  if (expect.policy && *expect.policy != r.policy) {
    return Error(ErrorCode::kRefused, "attestation report policy differs");
  }
  return r;
}

}  // namespace sevemu::owner
