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
// Bits 63:21: reserved in the firmware simulated (ABI 1.55, as AMD-ASPFW 1.55.25 checks them);
// later ABIs define CXL_ALLOW (21), MEM_AES_256_XTS (22), RAPL_DIS (23), CIPHERTEXT_HIDING (24),
// PAGE_SWAP_DISABLE (25).
constexpr std::uint64_t kReservedMask = ~((1ull << 21) - 1);
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
};
const char* PolicyRuleName(PolicyRule r);

struct PolicyContext {
  FirmwareVersion firmware;
  bool smt_enabled = true;
  bool ma_en = false;
  std::uint64_t ma_policy = 0;  // REQUIRES ma_en
  bool ma_has_ma = false;       // REQUIRES ma_en
};

// The first rule `p` breaks, or nullopt if SNP_LAUNCH_START accepts it.
std::optional<PolicyRule> CheckSnpPolicy(std::uint64_t p, const PolicyContext& ctx);

}  // namespace sevemu::emulator
