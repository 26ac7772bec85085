// Private to emulator/: the data of AMD's SNP CPUID policy (cpuid_policy_table.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sevemu::emulator::internal {

enum CpuidCheck : std::uint8_t {
  kExact,      // register == value, else set to value
  kMask,       // register's set bits within value, else register &= value
  kAtMost,     // register <= value (unsigned), else set to value
  kUnchecked,  // only the reserved bits are checked
  kCustom,     // a leaf-specific rule in cpuid_policy.cpp
};

struct CpuidRegPolicy {
  CpuidCheck check;
  std::uint32_t value;
  std::uint32_t reserved;  // bits that must be zero (cleared on failure)
};

struct CpuidLeafPolicy {
  std::uint32_t leaf;
  std::uint32_t subleaf;
  CpuidRegPolicy reg[4];  // EAX, EBX, ECX, EDX
};

extern const CpuidLeafPolicy kCpuidPolicy[];
extern const std::size_t kCpuidPolicySize;

}  // namespace sevemu::emulator::internal
