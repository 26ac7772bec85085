// An attestation-report verifier for the tests, written against the SEV-SNP ABI and AMD's KDS
// certificate format directly on OpenSSL — deliberately not on sevemu's crypto/ or emulator/,
// so that a report sevemu signs is checked by code that shares nothing with its signer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sevemu::test {

struct ReportCheck {
  bool ok = false;
  std::string why;  // the first check that failed
};

// Verifies, in order: ARK self-signed and trusted, ASK (or ASVK) signed by the ARK, the
// VCEK/VLEK signed by it (X509 chain verification at `at`, seconds since the epoch); the report
// signature (ECDSA P-384/SHA-384 over bytes 0..0x29F, r/s little-endian at 0x2A0/0x2E8) under
// the leaf's key; for a VCEK, its blSPL/teeSPL/snpSPL/ucodeSPL extensions equal the report's
// REPORTED_TCB bytes and its hwID equals the report's CHIP_ID.
ReportCheck VerifyAttestationReport(const std::vector<std::uint8_t>& report,
                                    const std::string& leaf_pem,
                                    const std::string& intermediate_pem, const std::string& ark_pem,
                                    long long at);

}  // namespace sevemu::test
