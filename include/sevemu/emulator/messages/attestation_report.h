// ATTESTATION_REPORT (0x4A0 bytes; SEV-SNP ABI "ATTESTATION_REPORT Structure";
// SEV-ABI-FACTS.md 4.1): layout versions 2, 3 and 5, built from typed fields and signed with
// ECDSA P-384/SHA-384 over bytes 0x000..0x29F, r and s little-endian at 0x2A0 and 0x2E8.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::emulator {

constexpr std::size_t kReportSize = 0x4A0;
constexpr std::size_t kReportSignedSize = 0x2A0;

enum class SigningKey : std::uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };

struct ReportFields {
  std::uint32_t version = 3;
  std::uint32_t guest_svn = 0;
  std::uint64_t policy = 0;
  std::array<std::uint8_t, 16> family_id{};
  std::array<std::uint8_t, 16> image_id{};
  std::uint32_t vmpl = 0;
  std::uint64_t current_tcb = 0;
  std::uint64_t platform_info = 0;
  bool author_key_en = false;
  bool mask_chip_key = false;
  SigningKey signing_key = SigningKey::kVcek;
  std::array<std::uint8_t, 64> report_data{};
  std::array<std::uint8_t, 48> measurement{};
  std::array<std::uint8_t, 32> host_data{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 32> report_id_ma{};
  std::uint64_t reported_tcb = 0;
  std::uint8_t cpuid_family = 0, cpuid_model = 0, cpuid_stepping = 0;  // v3+
  std::array<std::uint8_t, 64> chip_id{};
  std::uint64_t committed_tcb = 0;
  std::uint8_t current_build = 0, current_minor = 0, current_major = 0;
  std::uint8_t committed_build = 0, committed_minor = 0, committed_major = 0;
  std::uint64_t launch_tcb = 0;
  std::uint64_t launch_mit_vector = 0, current_mit_vector = 0;  // v5+
};

// The unsigned report bytes (signature area zero). Fields a version does not have stay zero.
std::array<std::uint8_t, kReportSize> EncodeReport(const ReportFields& f);

// Signs bytes 0..0x29F with `key` and fills the signature field (r, s little-endian).
Status SignReport(std::array<std::uint8_t, kReportSize>& report, const crypto::PrivateKey& key);

}  // namespace sevemu::emulator
