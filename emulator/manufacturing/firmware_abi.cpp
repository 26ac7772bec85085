#include "sevemu/emulator/manufacturing/firmware_abi.h"

#include <cstdio>
#include <iterator>
#include <string>
#include <tuple>

namespace sevemu::emulator {
namespace {

// Guest policy bits (SEV-ABI-FACTS.md 5.1): 0-20 in every version (Linux psp-sev.h
// SNP_POLICY_MASK_BASE, "for minimum supported SEV firmware version"); 21 CXL_ALLOW,
// 22 MEM_AES_256_XTS, 23 RAPL_DIS, 24 CIPHERTEXT_HIDING_DRAM, 25 PAGE_SWAP_DISABLE.
constexpr std::uint64_t kPolicyBase = (1ull << 21) - 1;
constexpr std::uint64_t kPolicy21To24 = 0xFull << 21;
constexpr std::uint64_t kPolicyPageSwapDisable = 1ull << 25;

// SNP_VERIFY_MITIGATION (0xB2) is in the SNP ABI 1.58 (Linux "crypto/ccp: Introduce
// SNP_VERIFY_MITIGATION command": "See SEV-SNP Firmware ABI specifications 1.58"). Which bits
// exist is "published as part of the AMD Security Bulletin", per bug; none is public as a bit
// number, so sevemu's 1.58 knows two simulated mitigations, bits 0 and 1
// (docs/firmware-abi.md "Mitigations").
constexpr std::uint64_t kMitigations158 = 0x3;

// Sources, per row:
//  1.55  AMD-ASPFW (Genoa SEV FW 1.55.25): every SNP_GMSG_MAX_MSG_VERSION_* is 1,
//        GUEST_FIELD_SELECT bits 63:6 MBZ, policy bits 63:21 reserved, INIT_EX flags beyond
//        INIT_RMP and LIST_PADDR_EN without effect. The report version is what sevemu has
//        always produced (3; 5 on Turin): AMD's 1.55 builds differ here (1.55.25 writes 2,
//        go-sev-guest b8d75ce accounts for version 4 "from FW 1.55.31"), so sevemu keeps its
//        own choice rather than pretend to one build. FirmwareConfig::report_version overrides.
//  1.57  policy bits 21-24, advertised by SNP_FEATURE_INFO leaf 0 ECX bits 2-5 (Linux
//        sev_get_snp_policy_bits: SNP_RAPL_DISABLE_SUPPORTED, SNP_CIPHER_TEXT_HIDING_SUPPORTED,
//        SNP_AES_256_XTS_POLICY_SUPPORTED, SNP_CXL_ALLOW_POLICY_SUPPORTED), defined before 1.58
//        (google/go-sev-guest 9dc1e30 and virtee/sev's policy table list them before either adds
//        1.58's bit 25); report version 3 with CPUID_FAM_ID/MOD_ID/STEP (go-sev-guest 5e3e5f5).
//        Which revision between 1.55 and 1.58 brought bits 21-24 the public sources do not pin;
//        sevemu places them at 1.57.
//  1.58  virtee/sev bea9ab3 "Update Key derivation for SNP Spec 1.58" (MSG_KEY_REQ version 2
//        with LAUNCH_MIT_VECTOR at 0x20, GUEST_FIELD_SELECT bit 6) and dcaa068 (report version
//        5: LAUNCH_MIT_VECTOR at 0x1F8, CURRENT_MIT_VECTOR at 0x200); PAGE_SWAP_DISABLE (Linux
//        sev_get_snp_policy_bits: `sev_version_greater_or_equal(1, 58)`).
// clang-format off
constexpr FirmwareAbi kAbis[] = {
  //  ABI      key  rpt  GUEST_FIELD_SELECT  report  policy bits                                   platform features  mitigations
  {1, 55,      1,   1,   0x3F,               3,      kPolicyBase,                                  false,  0},
  {1, 57,      1,   1,   0x3F,               3,      kPolicyBase | kPolicy21To24,                  true,   0},
  {1, 58,      2,   1,   0x7F,               5,      kPolicyBase | kPolicy21To24 | kPolicyPageSwapDisable, true, kMitigations158},
};
// clang-format on

std::string AbiList() {
  std::string out;
  for (const auto& a : kAbis) {
    out += (out.empty() ? "" : ", ") + std::to_string(a.major) + "." + std::to_string(a.minor);
  }
  return out;
}

}  // namespace

const FirmwareAbi& AbiOf(const FirmwareVersion& v) {
  const FirmwareAbi* best = &kAbis[0];
  for (const auto& a : kAbis) {
    if (std::tie(a.major, a.minor) <= std::tie(v.major, v.minor)) best = &a;
  }
  return *best;
}

std::span<const FirmwareAbi> SimulatedAbis() {
  return kAbis;
}

Result<FirmwareVersion> ParseSimulatedFirmware(Product product, std::string_view text) {
  unsigned major = 0, minor = 0, build = 0;
  char tail = 0;
  const std::string s(text);
  const int n = std::sscanf(s.c_str(), "%u.%u.%u%c", &major, &minor, &build, &tail);
  const bool shape = (n == 2 && s.find('.') == s.rfind('.')) || n == 3;
  if (!shape || major > 255 || minor > 255 || build > 255 ||
      s.find_first_not_of("0123456789.") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument,
                 "firmware '" + s + "': expected MAJOR.MINOR or MAJOR.MINOR.BUILD (each 0..255)");
  }
  for (const auto& a : kAbis) {
    if (a.major != major || a.minor != minor) continue;
    const ProductInfo& info = Info(product);
    if (n == 2) build = (info.api_major == major && info.api_minor == minor) ? info.build : 1;
    return FirmwareVersion{static_cast<std::uint8_t>(major), static_cast<std::uint8_t>(minor),
                           static_cast<std::uint8_t>(build)};
  }
  return Error(ErrorCode::kInvalidArgument, "firmware ABI " + std::to_string(major) + "." +
                                                std::to_string(minor) +
                                                " is not simulated (simulated: " + AbiList() + ")");
}

FirmwareVersion DefaultFirmware(Product product) {
  // The newest simulated ABI, with the build `--firmware MAJOR.MINOR` gives it: 1.58.1. The
  // product's own 1.55 build (ProductInfo) stays what `--firmware 1.55` names.
  const FirmwareAbi& newest = kAbis[std::size(kAbis) - 1];
  auto fw = ParseSimulatedFirmware(
      product, std::to_string(newest.major) + "." + std::to_string(newest.minor));
  return fw.ok() ? *fw : FirmwareVersion{newest.major, newest.minor, 1};
}

bool HasAes256Xts(Product p) {
  return p != Product::kMilan;
}

bool HasCiphertextHiding(Product p) {
  return p == Product::kTurin;
}

}  // namespace sevemu::emulator
