#include "sevemu/launch/expected_digest.h"

#include <string>

namespace sevemu::launch {
namespace {

using emulator::PageType;

constexpr std::size_t kPage = 4096;

// How a VMM launches a metadata section. Without direct kernel boot there is no hashes table,
// so its pages are launched as ZERO like the other memory OVMF expects pre-validated.
PageType SectionPageType(SevSectionType t) {
  switch (t) {
    case SevSectionType::kSnpSecrets:
      return PageType::kSecrets;
    case SevSectionType::kCpuid:
      return PageType::kCpuid;
    case SevSectionType::kSnpSecMem:
    case SevSectionType::kSvsmCaa:
    case SevSectionType::kSnpKernelHashes:
      return PageType::kZero;
  }
  return PageType::kZero;
}

// A SNP_KERNEL_HASHES section's contents for a direct boot: zeros, and the table at the
// area's offset in its page, counted from the section's start (QEMU
// snp_launch_update_kernel_hashes: kernel_hashes_offset = area->base & ~TARGET_PAGE_MASK).
Result<Bytes> KernelHashesSection(const SevHashTableArea& area, std::uint32_t section_size,
                                  const DirectBoot& boot) {
  const std::size_t offset = area.base % kPage;
  if (offset + kPaddedSevHashTableSize > section_size) {
    return Error(ErrorCode::kInvalidArgument,
                 "the hashes table does not fit in the SNP_KERNEL_HASHES section");
  }
  Bytes contents(section_size, 0);
  const Bytes table = BuildSevHashTable(boot);
  std::copy(table.begin(), table.end(), contents.begin() + static_cast<std::ptrdiff_t>(offset));
  return contents;
}

}  // namespace

Result<std::vector<LaunchPage>> PlanSnpLaunch(const OvmfImage& image, const SnpLaunchConfig& cfg) {
  SEVEMU_ASSIGN_OR_RETURN(std::vector<VmsaPage> vmsas,
                          BuildLaunchVmsas(image, cfg.vcpus, cfg.vcpu_signature, cfg.sev_features));
  if (image.image.empty() || image.image.size() % kPage != 0) {
    return Error(ErrorCode::kInvalidArgument, "OVMF image is not whole pages");
  }
  SevHashTableArea area;
  if (cfg.direct_boot) {
    SEVEMU_ASSIGN_OR_RETURN(area, DirectBootArea(image));
    bool has_section = false;
    for (const SevMetadataSection& s : image.sections) {
      has_section = has_section || s.type == SevSectionType::kSnpKernelHashes;
    }
    if (!has_section) {
      return Error(ErrorCode::kNotFound,
                   "kernel specified but the guest firmware's SEV metadata has no "
                   "SNP_KERNEL_HASHES section");
    }
  }
  std::vector<LaunchPage> pages;
  const std::uint64_t base = image.Gpa();
  for (std::size_t off = 0; off < image.image.size(); off += kPage) {
    const auto page = image.image.begin() + static_cast<std::ptrdiff_t>(off);
    pages.push_back({base + off, PageType::kNormal, Bytes(page, page + kPage)});
  }
  for (const SevMetadataSection& s : image.sections) {
    Bytes hashes;
    const bool measured = s.type == SevSectionType::kSnpKernelHashes && cfg.direct_boot;
    if (measured) {
      SEVEMU_ASSIGN_OR_RETURN(hashes, KernelHashesSection(area, s.size, *cfg.direct_boot));
    }
    for (std::uint64_t off = 0; off < s.size; off += kPage) {
      if (measured) {
        const auto page = hashes.begin() + static_cast<std::ptrdiff_t>(off);
        pages.push_back({s.base + off, PageType::kNormal, Bytes(page, page + kPage)});
      } else {
        pages.push_back({s.base + off, SectionPageType(s.type), {}});
      }
    }
  }
  for (const VmsaPage& vmsa : vmsas) {
    pages.push_back({kVmsaGpa, PageType::kVmsa, Bytes(vmsa.begin(), vmsa.end())});
  }
  return pages;
}

Result<emulator::LaunchDigest> LaunchDigestOf(std::span<const LaunchPage> pages) {
  emulator::LaunchDigest digest{};
  for (const LaunchPage& page : pages) {
    emulator::PageInfoInput in;
    in.type = page.type;
    in.gpa = page.gpa;
    SEVEMU_ASSIGN_OR_RETURN(digest, emulator::ExtendLaunchDigest(digest, page.contents, in));
  }
  return digest;
}

Result<emulator::LaunchDigest> ExpectedSnpLaunchDigest(const OvmfImage& image,
                                                       const SnpLaunchConfig& cfg) {
  SEVEMU_ASSIGN_OR_RETURN(std::vector<LaunchPage> pages, PlanSnpLaunch(image, cfg));
  return LaunchDigestOf(pages);
}

}  // namespace sevemu::launch
