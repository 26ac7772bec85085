// What a VMM (QEMU with KVM) hands the firmware to launch a legacy SEV or SEV-ES guest from an
// OVMF image, and the launch digest LAUNCH_MEASURE covers. A guest owner computes the digest to
// check the measurement; the simulated host launches the same plan.
//
// Order (QEMU target/i386/sev.c: sev_encrypt_flash, then sev_launch_get_measure), as
// virtee/sev-snp-measure's seves_calc_launch_digest / sev_calc_launch_digest model it:
//   1. LAUNCH_UPDATE_DATA over the whole image (the pflash), at its GPA below 4 GiB;
//   1a. with a direct boot, LAUNCH_UPDATE_DATA of the 176-byte hash table at the image's hash
//      table area (launch/kernel_hashes.h; QEMU sev_add_kernel_loader_hashes);
//   2. SEV-ES only: LAUNCH_UPDATE_VMSA of every vCPU, BSP first, then the APs starting at the
//      image's SEV-ES reset block address; SEV_FEATURES 0 (sev-snp-measure's SEV-ES VMSA).
// The digest is SHA-256 over those bytes in that order (SEV-ABI-FACTS.md 9.3).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sevemu/common/result.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/launch/kernel_hashes.h"
#include "sevemu/launch/ovmf_image.h"
#include "sevemu/launch/vmsa.h"

namespace sevemu::launch {

enum class SevLaunchMode { kSev, kSevEs };

struct SevLaunchConfig {
  SevLaunchMode mode = SevLaunchMode::kSev;
  std::uint32_t vcpus = 1;                // 1..kMaxVcpus (SEV-ES: one VMSA each)
  std::uint32_t vcpu_signature = 0;       // CpuidSignature / VcpuSignatureOf (SEV-ES VMSAs' RDX)
  std::optional<DirectBoot> direct_boot;  // -kernel with kernel-hashes=on
};

// The VMSAs LAUNCH_UPDATE_VMSA measures, BSP first; empty for SEV (vcpus not looked at). For
// SEV-ES, kInvalidArgument if vcpus is 0 or above kMaxVcpus, or if there is more than one vCPU
// and the image has no SEV-ES reset block.
Result<std::vector<VmsaPage>> PlanSevEsVmsas(const OvmfImage& image, const SevLaunchConfig& cfg);

// SHA-256 over the image, the hash table of a direct boot (DirectBootArea's errors if the image
// has no usable area), then the VMSAs of PlanSevEsVmsas.
Result<emulator::SevDigest> ExpectedSevLaunchDigest(const OvmfImage& image,
                                                    const SevLaunchConfig& cfg);

}  // namespace sevemu::launch
