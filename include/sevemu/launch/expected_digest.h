// The SNP_LAUNCH_UPDATE sequence a VMM (QEMU/KVM) issues to launch an OVMF guest, and the launch
// digest the firmware will report for it (SEV-ABI-FACTS.md 7.1). A guest owner compares this with
// the MEASUREMENT of an attestation report.
//
// Order, as QEMU issues it and sev-snp-measure models it:
//   1. every 4 KiB page of the image, NORMAL, at its GPA (the image ends at 4 GiB);
//   2. every page of each SEV metadata section, in metadata order: SNP_SEC_MEM, SVSM_CAA and
//      SNP_KERNEL_HASHES (no kernel given) as ZERO, SNP_SECRETS as SECRETS, CPUID as CPUID;
//      with a direct boot, SNP_KERNEL_HASHES as NORMAL pages holding the hash table
//      (launch/kernel_hashes.h);
//   3. one VMSA per vCPU, BSP first, all at GPA 0xFFFFFFFFF000 (KVM's convention).
// Not modelled: SVSM, other VMMs' variations.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/snp/launch_digest.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/launch/kernel_hashes.h"
#include "sevemu/launch/ovmf_image.h"
#include "sevemu/launch/vmsa.h"

namespace sevemu::launch {

constexpr std::uint64_t kVmsaGpa = 0xFFFFFFFFF000;

struct SnpLaunchConfig {
  std::uint32_t vcpus = 1;           // 1..kMaxVcpus
  std::uint32_t vcpu_signature = 0;  // CpuidSignature / VcpuSignatureOf
  std::uint64_t sev_features = kSevFeatureSnpActive;
  std::optional<DirectBoot> direct_boot;  // -kernel with kernel-hashes=on
};

// One 4 KiB SNP_LAUNCH_UPDATE. `contents` holds the page for NORMAL and VMSA and is empty for
// the types whose contents the firmware does not measure.
struct LaunchPage {
  std::uint64_t gpa = 0;
  emulator::PageType type = emulator::PageType::kNormal;
  Bytes contents;
};

// The pages in launch order. kInvalidArgument if vcpus is 0 or above kMaxVcpus, or if vcpus > 1
// and the image has no SEV-ES reset block (APs would have nowhere to start). With a direct
// boot, DirectBootArea's errors, and kNotFound if the image has no SNP_KERNEL_HASHES section
// (sev-snp-measure refuses that too; QEMU copies the table only into such pages, so it would
// launch without the hashes), or kInvalidArgument if the table at (base mod 4096) does not fit
// in the section.
Result<std::vector<LaunchPage>> PlanSnpLaunch(const OvmfImage& image, const SnpLaunchConfig& cfg);

// The digest after launching `pages` in order from the initial all-zero digest.
Result<emulator::LaunchDigest> LaunchDigestOf(std::span<const LaunchPage> pages);

// PlanSnpLaunch followed by LaunchDigestOf.
Result<emulator::LaunchDigest> ExpectedSnpLaunchDigest(const OvmfImage& image,
                                                       const SnpLaunchConfig& cfg);

}  // namespace sevemu::launch
