// Fuzzes what a legacy SEV guest owner reads from the platform's side: the GODH certificate
// decoder (DecodeGodhCertificate, also what LAUNCH_START's dh_cert goes through) and the
// ATTESTATION report check (VerifyLegacyAttestationReport against a fixed PEK, with and without
// expectations). Malformed bytes must give a typed error; nothing verifies without the PEK's
// signature.
#include <cstdint>
#include <cstdlib>

#include "sevemu/crypto/keys.h"
#include "sevemu/owner/godh_cert.h"
#include "sevemu/owner/launch_session.h"

namespace {

const sevemu::crypto::PublicKey& Pek() {
  static const sevemu::crypto::PublicKey pek = [] {
    auto k = sevemu::crypto::PrivateKey::EcP384FromSeed(sevemu::SecretBytes(sevemu::Bytes(56, 3)));
    if (!k.ok()) std::abort();
    return k->Public();
  }();
  return pek;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sevemu::ByteSpan in(data, size);
  if (auto godh = sevemu::owner::DecodeGodhCertificate(in); godh.ok()) {
    // What decodes encodes again (the owner re-sends it with LAUNCH_START).
    if (!sevemu::owner::EncodeGodhCertificate(*godh).ok()) std::abort();
  }
  // A random report never carries a valid signature by this PEK.
  if (sevemu::owner::VerifyLegacyAttestationReport(in, Pek()).ok()) std::abort();
  sevemu::owner::AttestationExpectations expect;
  expect.policy = 1;
  (void)sevemu::owner::VerifyLegacyAttestationReport(in, Pek(), expect);
  return 0;
}
