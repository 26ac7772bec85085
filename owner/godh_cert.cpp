// GODH certificates through emulator/manufacturing/sev_cert.h (SEV-ABI-FACTS.md 9.1).
#include "sevemu/owner/godh_cert.h"

namespace sevemu::owner {

using emulator::SevCert;
namespace sev_algo = emulator::sev_algo;
namespace sev_usage = emulator::sev_usage;

Result<SevCertBytes> EncodeGodhCertificate(const crypto::PublicKey& godh, std::uint8_t api_major,
                                           std::uint8_t api_minor) {
  if (godh.kind() != crypto::KeyKind::kEcP384) {
    return Error(ErrorCode::kInvalidKey, "GODH key must be a P-384 key");
  }
  SEVEMU_ASSIGN_OR_RETURN(SevCert c, SevCert::Create(godh, sev_usage::kPdh, sev_algo::kEcdhSha256,
                                                     api_major, api_minor));
  return c.Encode();
}

Result<crypto::PublicKey> DecodeGodhCertificate(ByteSpan cert) {
  auto parsed = SevCert::Parse(cert);
  if (!parsed) return parsed.error().Context("GODH certificate");
  const SevCert& c = *parsed;
  if (c.pubkey.usage != sev_usage::kPdh) {
    return Error(ErrorCode::kInvalidArgument, "GODH certificate usage is not PDH (0x1003)");
  }
  // sev_channel_open_server checks the GODH with sev_cert_sanity_check(PDH, ECDH_SHA256).
  if (c.pubkey.algo != sev_algo::kEcdhSha256) {
    return Error(ErrorCode::kInvalidArgument, "GODH certificate algorithm is not ECDH-SHA256");
  }
  if (LoadLe32(c.pubkey.key.data()) != emulator::kSevCurveP384) {
    return Error(ErrorCode::kInvalidArgument, "GODH certificate curve is not P-384");
  }
  return c.pubkey.ToCrypto();
}

}  // namespace sevemu::owner
