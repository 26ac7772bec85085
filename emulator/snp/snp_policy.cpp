#include "sevemu/emulator/snp/snp_policy.h"

#include "sevemu/emulator/manufacturing/firmware_abi.h"

namespace sevemu::emulator {

const char* PolicyRuleName(PolicyRule r) {
  switch (r) {
    case PolicyRule::kMaNotAllowed:
      return "migration agent bound but MIGRATE_MA clear";
    case PolicyRule::kMaHasMa:
      return "the migration agent has a migration agent";
    case PolicyRule::kMustBeOneClear:
      return "reserved bit 17 must be one";
    case PolicyRule::kSmtNotAllowed:
      return "SMT disallowed but enabled on the host";
    case PolicyRule::kAbiMajorTooNew:
      return "ABI major above the firmware's";
    case PolicyRule::kAbiMinorTooNew:
      return "ABI minor above the firmware's";
    case PolicyRule::kReservedBits:
      return "reserved policy bits set";
    case PolicyRule::kMaNotSingleSocket:
      return "SINGLE_SOCKET guest with a multi-socket agent";
    case PolicyRule::kAes256XtsUnavailable:
      return "MEM_AES_256_XTS on a part without AES-256-XTS";
    case PolicyRule::kRaplNotDisabled:
      return "RAPL_DIS but RAPL is enabled";
    case PolicyRule::kCiphertextHidingOff:
      return "CIPHERTEXT_HIDING_DRAM but ciphertext hiding is off";
  }
  return "?";
}

std::optional<PolicyRule> CheckSnpPolicy(std::uint64_t p, const PolicyContext& c) {
  if (c.ma_en && !(p & policy::kMigrateMa)) return PolicyRule::kMaNotAllowed;
  if (c.ma_en && c.ma_has_ma) return PolicyRule::kMaHasMa;
  if (!(p & policy::kReservedMbo)) return PolicyRule::kMustBeOneClear;
  if (!(p & policy::kSmt) && c.smt_enabled) return PolicyRule::kSmtNotAllowed;
  const auto major = static_cast<std::uint8_t>((p & policy::kAbiMajorMask) >> 8);
  const auto minor = static_cast<std::uint8_t>(p & policy::kAbiMinorMask);
  if (major > c.firmware.major) return PolicyRule::kAbiMajorTooNew;
  if (major == c.firmware.major && minor > c.firmware.minor) return PolicyRule::kAbiMinorTooNew;
  if (p & ~c.defined_bits) return PolicyRule::kReservedBits;
  if (c.ma_en && (p & policy::kSingleSocket) && !(c.ma_policy & policy::kSingleSocket)) {
    return PolicyRule::kMaNotSingleSocket;
  }
  // Requirements on the platform (bits a 1.55 firmware has already refused as reserved). The
  // public sources name them, not AMD's order among them; sevemu checks them in bit order.
  if ((p & policy::kMemAes256Xts) && !c.aes_256_xts) return PolicyRule::kAes256XtsUnavailable;
  if ((p & policy::kRaplDis) && !c.rapl_disabled) return PolicyRule::kRaplNotDisabled;
  if ((p & policy::kCiphertextHidingDram) && !c.ciphertext_hiding) {
    return PolicyRule::kCiphertextHidingOff;
  }
  return std::nullopt;
}

bool PolicyForbidsPageSwap(std::uint64_t p, const FirmwareVersion& fw) {
  return (AbiOf(fw).policy_bits & policy::kPageSwapDisable) && (p & policy::kPageSwapDisable);
}

}  // namespace sevemu::emulator
