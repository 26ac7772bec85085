#include "sevemu/emulator/snp/cpuid_page.h"

#include <tuple>

#include "cpuid_policy_table.h"

namespace sevemu::emulator {
namespace {

using internal::CpuidCheck;
using internal::CpuidLeafPolicy;
using internal::CpuidRegPolicy;

bool InCheckedRange(std::uint32_t leaf) {
  return leaf <= 0xFFFF || (leaf >= 0x80000000 && leaf <= 0x8000FFFF);
}

const CpuidLeafPolicy* FindPolicy(std::uint32_t leaf, std::uint32_t subleaf) {
  for (std::size_t i = 0; i < internal::kCpuidPolicySize; ++i) {
    const auto& p = internal::kCpuidPolicy[i];
    if (p.leaf == leaf && p.subleaf == subleaf) return &p;  // exact match, as the firmware
  }
  return nullptr;
}

// Clears reserved bits; returns false if any was set.
bool Reserved(std::uint32_t& reg, std::uint32_t reserved) {
  if ((reg & reserved) == 0) return true;
  reg &= ~reserved;
  return false;
}

// A bit field of `reg` must be <= max; on failure it is set to max.
bool FieldAtMost(std::uint32_t& reg, int lo, int width, std::uint32_t max) {
  const std::uint32_t mask = ((width == 32 ? 0u : (1u << width)) - 1) << lo;
  if (((reg & mask) >> lo) <= max) return true;
  reg = (reg & ~mask) | (max << lo);
  return false;
}

// (family, model, stepping) of a CPUID Fn1 EAX as the firmware compares them: family is the
// sum of base and extended family, model the SUM of extended and base model.
std::tuple<std::uint32_t, std::uint32_t, std::uint32_t> Fms(std::uint32_t eax) {
  return {((eax >> 20) & 0xFF) + ((eax >> 8) & 0xF), ((eax >> 16) & 0xF) + ((eax >> 4) & 0xF),
          eax & 0xF};
}

std::uint32_t XsaveSizeForXcr0(std::uint64_t xcr0) {
  if (xcr0 & (1u << 9)) return 0x988;
  if (xcr0 & (1u << 7)) return 0x980;
  if (xcr0 & (1u << 6)) return 0x580;
  if (xcr0 & (1u << 5)) return 0x380;
  if (xcr0 & (1u << 2)) return 0x340;
  return 0x240;
}

std::uint32_t XsavesSize(std::uint64_t xcr0, std::uint64_t xss) {
  std::uint32_t size = 0x240;
  if (xcr0 & (1u << 9)) size += 0x8;
  if (xcr0 & (1u << 7)) size += 0x400;
  if (xcr0 & (1u << 6)) size += 0x200;
  if (xcr0 & (1u << 5)) size += 0x40;
  if (xcr0 & (1u << 2)) size += 0x100;
  if (xss & (1u << 11)) size += 0x10;
  if (xss & (1u << 12)) size += 0x18;
  return size;
}

bool Exact(std::uint32_t& reg, std::uint32_t want) {
  if (reg == want) return true;
  reg = want;
  return false;
}

// The leaf-specific rules (AMD-ASPFW cpuid_lookup.c custom functions), register index r.
bool CustomRule(std::uint32_t leaf, std::uint32_t subleaf, int r, std::uint32_t& reg,
                std::uint32_t reserved, std::uint64_t xcr0, std::uint64_t xss,
                std::uint32_t host_fms) {
  bool ok = true;
  if ((leaf == 0x1 || leaf == 0x80000001) && r == 0) {
    if (Fms(reg) > Fms(host_fms)) {  // guest FMS may not exceed the chip's
      reg = host_fms;
      ok = false;
    }
  } else if (leaf == 0x1 && r == 1) {
    if (((reg >> 8) & 0xFF) != 8) {  // CLFLUSH line size in 8-byte units
      reg = (reg & ~0xFF00u) | 0x0800u;
      ok = false;
    }
  } else if (leaf == 0x1 && r == 2) {
    // OSXSAVE (27) and hypervisor-present (31) are the guest's to set.
    constexpr std::uint32_t kAllowed = 0x76FA320Bu | 0x88000000u;
    if (reg & ~kAllowed) {
      reg &= kAllowed;
      ok = false;
    }
  } else if (leaf == 0x7 && subleaf == 0 && r == 2) {
    constexpr std::uint32_t kAllowed = 0x00415FCEu | 0x10u;  // OSPKE (4) is the guest's
    if (reg & ~kAllowed) {
      reg &= kAllowed;
      ok = false;
    }
  } else if (leaf == 0x7 && subleaf == 0 && r == 3) {
    // AMD's correction clears the allowed bits instead of the disallowed ones, and the
    // reserved clear then takes the rest: a failing EDX comes back as 0. Reproduced.
    if (reg & ~0x10000010u) {
      reg &= ~0x10000010u;
      ok = false;
    }
  } else if (leaf == 0xD && subleaf == 0 && r == 0) {
    if ((reg & 3u) != 3u) {  // x87 and SSE state are always present
      reg |= 3u;
      ok = false;
    }
    if (reg & ~0x2E7u) {
      reg &= 0x2E7u;
      ok = false;
    }
  } else if (leaf == 0xD && subleaf == 0 && r == 1) {
    ok = Exact(reg, XsaveSizeForXcr0(xcr0));
  } else if (leaf == 0xD && subleaf == 1 && r == 1) {
    ok = Exact(reg, XsavesSize(xcr0, xss));
  } else if (leaf == 0x80000008 && r == 0) {
    const bool phys = FieldAtMost(reg, 0, 8, 0x34), linear = FieldAtMost(reg, 8, 8, 0x39);
    ok = phys && linear;
  } else if (leaf == 0x80000008 && r == 3) {
    const bool invlpgb = FieldAtMost(reg, 0, 16, 7), rdpru = FieldAtMost(reg, 16, 8, 1);
    ok = invlpgb && rdpru;
  } else if (leaf == 0x8000001F && r == 1) {
    // C-bit position 51 and nothing above bit 15. AMD's correction clears [11:6] and ORs in
    // 0x33 without clearing stray bits of [5:0] (0x34 comes back as 0x37). Reproduced.
    if ((reg & ~0xFFC0u) != 0x33u || (reg >> 16) != 0) {
      reg = (reg & ~0xFC0u) | 0x33u;
      ok = false;
    }
    const bool vmpls = FieldAtMost(reg, 12, 4, 4);  // number of VMPLs
    ok = ok && vmpls;
  } else if (leaf == 0x80000022 && r == 1) {
    const bool pmc = FieldAtMost(reg, 0, 4, 6), lbr = FieldAtMost(reg, 4, 6, 0x10);
    ok = pmc && lbr;
  }
  const bool reserved_ok = Reserved(reg, reserved);
  return reserved_ok && ok;
}

bool CheckRegister(const CpuidLeafPolicy& p, int r, std::uint32_t& reg, std::uint64_t xcr0,
                   std::uint64_t xss, std::uint32_t host_fms) {
  const CpuidRegPolicy& rule = p.reg[r];
  bool ok = true;
  switch (rule.check) {
    case CpuidCheck::kExact:
      ok = Exact(reg, rule.value);
      break;
    case CpuidCheck::kMask:
      if (reg & ~rule.value) {
        reg &= rule.value;
        ok = false;
      }
      break;
    case CpuidCheck::kAtMost:
      if (reg > rule.value) {
        reg = rule.value;
        ok = false;
      }
      break;
    case CpuidCheck::kUnchecked:
      break;
    case CpuidCheck::kCustom:
      return CustomRule(p.leaf, p.subleaf, r, reg, rule.reserved, xcr0, xss, host_fms);
  }
  const bool reserved_ok = Reserved(reg, rule.reserved);
  return reserved_ok && ok;
}

}  // namespace

bool CpuidPageHeaderValid(ByteSpan page) {
  return page.size() >= 0x10 + kCpuidMaxEntries * kCpuidEntrySize &&
         LoadLe32(page.data()) <= kCpuidMaxEntries && LoadLe32(page.data() + 4) == 0 &&
         LoadLe64(page.data() + 8) == 0;
}

bool SanitizeCpuidPage(MutableByteSpan page, std::uint32_t host_fms) {
  const std::uint32_t count = LoadLe32(page.data());
  bool all_ok = true;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint8_t* e = page.data() + 0x10 + i * kCpuidEntrySize;
    const std::uint32_t leaf = LoadLe32(e), subleaf = LoadLe32(e + 4);
    if (!InCheckedRange(leaf)) continue;          // hypervisor leaves are the VMM's business
    if (LoadLe64(e + 0x28) != 0) all_ok = false;  // reported, not corrected (as AMD)
    std::uint32_t regs[4] = {LoadLe32(e + 0x18), LoadLe32(e + 0x1C), LoadLe32(e + 0x20),
                             LoadLe32(e + 0x24)};
    const CpuidLeafPolicy* p = FindPolicy(leaf, subleaf);
    bool ok = true;
    if (p == nullptr) {
      // A leaf the policy does not know must read as all zeros.
      ok = regs[0] == 0 && regs[1] == 0 && regs[2] == 0 && regs[3] == 0;
      if (!ok) regs[0] = regs[1] = regs[2] = regs[3] = 0;
    } else {
      for (int r = 0; r < 4; ++r) {
        const bool reg_ok =
            CheckRegister(*p, r, regs[r], LoadLe64(e + 8), LoadLe64(e + 0x10), host_fms);
        ok = ok && reg_ok;
      }
    }
    if (!ok) {
      for (int r = 0; r < 4; ++r) StoreLe32(e + 0x18 + 4 * r, regs[r]);
      all_ok = false;
    }
  }
  return all_ok;
}

}  // namespace sevemu::emulator
