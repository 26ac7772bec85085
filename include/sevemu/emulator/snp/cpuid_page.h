// The SNP CPUID page (SNP_LAUNCH_UPDATE page type CPUID) and the firmware's check of it against
// AMD's CPUID policy (AMD-ASPFW cpuid_lookup.c sanitize_cpuid_list; docs/snp-commands.md).
//
// Layout: u32 count, u32 reserved, u64 reserved, then up to 64 entries of 0x30 bytes:
// u32 eax_in, u32 ecx_in, u64 xcr0_in, u64 xss_in, u32 eax, ebx, ecx, edx, u64 reserved.
#pragma once

#include <cstdint>

#include "sevemu/common/bytes.h"

namespace sevemu::emulator {

constexpr std::uint32_t kCpuidMaxEntries = 64;
constexpr std::size_t kCpuidEntrySize = 0x30;

// False if the header's reserved fields are set or count exceeds 64 (INVALID_PARAM, and the
// firmware writes nothing back).
bool CpuidPageHeaderValid(ByteSpan page);

// Checks every entry whose eax_in lies in 0x0-0xFFFF or 0x80000000-0x8000FFFF: entry reserved
// field zero; for (eax_in, ecx_in) in the policy each register's rule and reserved bits; for
// pairs not in the policy all four outputs zero. Failing registers are corrected in place the
// way the firmware corrects them (including its quirks), every entry is checked (no early
// stop). `host_fms` is the chip's CPUID Fn0000_0001_EAX. Returns true iff nothing failed.
// REQUIRES: page.size() >= 0x10 + 64 * 0x30 and CpuidPageHeaderValid(page).
bool SanitizeCpuidPage(MutableByteSpan page, std::uint32_t host_fms);

}  // namespace sevemu::emulator
