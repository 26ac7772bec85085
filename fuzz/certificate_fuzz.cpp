// Fuzzes certificate parsing and the field accessors verifiers of sevemu's output use.
#include <cstdint>
#include <cstdlib>

#include "sevemu/crypto/x509.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto cert = sevemu::crypto::Certificate::FromDer({data, size});
  if (!cert.ok()) return 0;
  (void)cert->SubjectText();
  (void)cert->IssuerText();
  (void)cert->Extensions();
  (void)cert->HasAmdPssSignature();
  (void)cert->NotBefore();
  if (auto key = cert->SubjectPublicKey(); key.ok()) (void)cert->VerifySignedBy(*key);
  auto der = cert->ToDer();
  if (!der.ok()) std::abort();
  return 0;
}
