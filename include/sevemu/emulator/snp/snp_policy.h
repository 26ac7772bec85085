// SNP guest policy (SEV-SNP ABI "Guest Policy"; SEV-ABI-FACTS.md 5.1) and the rules
// SNP_LAUNCH_START enforces, one named rule each so that each has its own test.
#pragma once

#include <cstdint>
#include <optional>

#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::emulator {

namespace policy {
constexpr std::uint64_t kAbiMinorMask = 0xFFull;
constexpr std::uint64_t kAbiMajorMask = 0xFF00ull;
constexpr std::uint64_t kSmt = 1ull << 16;
constexpr std::uint64_t kReservedMbo = 1ull << 17;  // must be one
constexpr std::uint64_t kMigrateMa = 1ull << 18;
constexpr std::uint64_t kDebug = 1ull << 19;
constexpr std::uint64_t kSingleSocket = 1ull << 20;
// Bits 63:21 are reserved in ABI 1.55 (as AMD-ASPFW 1.55.25 checks them); later ABIs define
// the bits below (FirmwareAbi::policy_bits says which the running firmware accepts).
constexpr std::uint64_t kReservedMask = ~((1ull << 21) - 1);  // in ABI 1.55
constexpr std::uint64_t kCxlAllow = 1ull << 21;               // CXL may be populated
constexpr std::uint64_t kMemAes256Xts = 1ull << 22;           // AES-256-XTS memory encryption
constexpr std::uint64_t kRaplDis = 1ull << 23;                // RAPL must be disabled
constexpr std::uint64_t kCiphertextHidingDram = 1ull << 24;   // ciphertext hiding must be on
constexpr std::uint64_t kPageSwapDisable = 1ull << 25;        // no SWAP_OUT/SWAP_IN/PAGE_MOVE
}  // namespace policy

// Why SNP_LAUNCH_START refuses a policy, in the firmware's order (AMD-ASPFW
// snp_mcmd_launch_start). All map to POLICY_FAILURE.
enum class PolicyRule {
  kMaNotAllowed,       // a migration agent is bound but MIGRATE_MA is clear
  kMaHasMa,            // the migration agent itself has a migration agent
  kMustBeOneClear,     // bit 17 clear
  kSmtNotAllowed,      // SMT clear while the host runs with SMT enabled
  kAbiMajorTooNew,     // ABI_MAJOR above the firmware's
  kAbiMinorTooNew,     // same major, ABI_MINOR above the firmware's
  kReservedBits,       // a reserved bit set
  kMaNotSingleSocket,  // SINGLE_SOCKET guest bound to a migration agent without it
  // From ABI 1.57 (the platform cannot honour what the guest requires):
  kAes256XtsUnavailable,  // MEM_AES_256_XTS on a part that encrypts with AES-128 (Milan)
  kRaplNotDisabled,       // RAPL_DIS while SNP_INIT_EX left RAPL enabled
  kCiphertextHidingOff,   // CIPHERTEXT_HIDING_DRAM while ciphertext hiding is not enabled
};
const char* PolicyRuleName(PolicyRule r);

struct PolicyContext {
  FirmwareVersion firmware;
  // The bits this firmware defines (FirmwareAbi::policy_bits); the rest are reserved.
  std::uint64_t defined_bits = ~policy::kReservedMask;
  bool aes_256_xts = false;        // the part can encrypt guest memory with AES-256-XTS
  bool rapl_disabled = false;      // SNP_INIT_EX disabled RAPL
  bool ciphertext_hiding = false;  // SNP_INIT_EX enabled ciphertext hiding
  bool smt_enabled = true;
  bool ma_en = false;
  std::uint64_t ma_policy = 0;  // REQUIRES ma_en
  bool ma_has_ma = false;       // REQUIRES ma_en
};

// The first rule `p` breaks, or nullopt if SNP_LAUNCH_START accepts it.
std::optional<PolicyRule> CheckSnpPolicy(std::uint64_t p, const PolicyContext& ctx);

// PAGE_SWAP_DISABLE (ABI 1.58): whether firmware `fw` refuses SNP_PAGE_SWAP_OUT, SNP_PAGE_SWAP_IN
// and SNP_PAGE_MOVE for a guest of policy `p` (POLICY_FAILURE; go-sev-guest SnpPolicy,
// SEV-ABI-FACTS.md 5.1). False on ABIs before 1.58, where the bit cannot be set.
bool PolicyForbidsPageSwap(std::uint64_t p, const FirmwareVersion& fw);

}  // namespace sevemu::emulator
