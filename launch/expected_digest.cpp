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

}  // namespace

Result<std::vector<LaunchPage>> PlanSnpLaunch(const OvmfImage& image, const SnpLaunchConfig& cfg) {
  SEVEMU_ASSIGN_OR_RETURN(std::vector<VmsaPage> vmsas,
                          BuildLaunchVmsas(image, cfg.vcpus, cfg.vcpu_signature, cfg.sev_features));
  if (image.image.empty() || image.image.size() % kPage != 0) {
    return Error(ErrorCode::kInvalidArgument, "OVMF image is not whole pages");
  }
  std::vector<LaunchPage> pages;
  const std::uint64_t base = image.Gpa();
  for (std::size_t off = 0; off < image.image.size(); off += kPage) {
    const auto page = image.image.begin() + static_cast<std::ptrdiff_t>(off);
    pages.push_back({base + off, PageType::kNormal, Bytes(page, page + kPage)});
  }
  for (const SevMetadataSection& s : image.sections) {
    for (std::uint64_t off = 0; off < s.size; off += kPage) {
      pages.push_back({s.base + off, SectionPageType(s.type), {}});
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
