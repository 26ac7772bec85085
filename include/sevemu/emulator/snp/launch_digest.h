// The SNP launch digest: SHA-384 chaining over one PAGE_INFO per 4 KiB page launched
// (SEV-SNP ABI "PAGE_INFO"; SEV-ABI-FACTS.md 7.1). Shared by SNP_LAUNCH_UPDATE and by tools
// that predict a launch's measurement.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/snp/snp_abi.h"

namespace sevemu::emulator {

using LaunchDigest = std::array<std::uint8_t, 48>;
constexpr std::size_t kPageInfoSize = 0x70;

struct PageInfoInput {
  PageType type;
  bool imi_page = false;
  std::uint8_t vmpl1_perms = 0, vmpl2_perms = 0, vmpl3_perms = 0;
  std::uint64_t gpa = 0;
};

// The 0x70-byte PAGE_INFO: digest_cur, contents, length 0x70, page_type, imi_page, reserved 0,
// VMPL1..3 permissions (AMD-ASPFW order), GPA.
std::array<std::uint8_t, kPageInfoSize> PageInfo(const LaunchDigest& current,
                                                 const std::array<std::uint8_t, 48>& contents,
                                                 const PageInfoInput& in);

// CONTENTS for a page: SHA-384 of the 4 KiB for NORMAL and VMSA (VMSA with GUEST_TSC_SCALE at
// 0x2F0 and GUEST_TSC_OFFSET at 0x2F8 zeroed), 48 zero bytes for the other types.
Result<std::array<std::uint8_t, 48>> PageContents(PageType type, ByteSpan page);

// digest' = SHA-384(PAGE_INFO(digest, contents(page), in)).
Result<LaunchDigest> ExtendLaunchDigest(const LaunchDigest& digest, ByteSpan page,
                                        const PageInfoInput& in);

}  // namespace sevemu::emulator
