// The initial VMSA page of a vCPU as KVM builds it for an SEV-SNP guest QEMU launches, which the
// firmware measures (SNP_LAUNCH_UPDATE, page type VMSA).
//
// Layout: AMD64 APM vol. 2, appendix B, "VMSA layout, save area" (Linux `struct
// sev_es_save_area`). Contents: the x86 reset state QEMU hands to KVM (x86_cpu_reset) after KVM's
// translation into save-area form, plus what KVM adds for SEV-ES/SNP: EFER.SVME, XCR0 = 1,
// SEV_FEATURES. Fields that stay zero are not listed here.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "sevemu/common/result.h"
#include "sevemu/launch/ovmf_image.h"

namespace sevemu::launch {

constexpr std::size_t kVmsaSize = 4096;
using VmsaPage = std::array<std::uint8_t, kVmsaSize>;

// Byte offsets in the save area (APM vol. 2 table B-4) of the fields set at reset.
namespace vmsa_offset {
constexpr std::size_t kEs = 0x000, kCs = 0x010, kSs = 0x020, kDs = 0x030, kFs = 0x040;
constexpr std::size_t kGs = 0x050, kGdtr = 0x060, kLdtr = 0x070, kIdtr = 0x080, kTr = 0x090;
constexpr std::size_t kEfer = 0x0D0, kCr4 = 0x148, kCr0 = 0x158, kDr7 = 0x160, kDr6 = 0x168;
constexpr std::size_t kRflags = 0x170, kRip = 0x178, kGPat = 0x268, kRdx = 0x310;
constexpr std::size_t kSevFeatures = 0x3B0, kXcr0 = 0x3E8, kMxcsr = 0x408, kX87Fcw = 0x410;
}  // namespace vmsa_offset

// Reset address of the bootstrap processor: every x86 CPU starts at 0xFFFFFFF0.
constexpr std::uint32_t kBspResetEip = 0xFFFFFFF0;

// SEV_FEATURES bit 0: the guest runs as SNP. sev-snp-measure's and QEMU's default.
constexpr std::uint64_t kSevFeatureSnpActive = 1;

// CPUID Fn0000_0001_EAX (family/model/stepping), the value a CPU leaves in EDX at reset. Family
// above 0xF is split into base 0xF plus extended family (AMD CPUID spec #25481).
constexpr std::uint32_t CpuidSignature(std::uint32_t family, std::uint32_t model,
                                       std::uint32_t stepping) {
  const std::uint32_t base_family = family > 0xF ? 0xF : family;
  const std::uint32_t ext_family = family > 0xF ? (family - 0xF) & 0xFF : 0;
  return (ext_family << 20) | (((model >> 4) & 0xF) << 16) | (base_family << 8) |
         ((model & 0xF) << 4) | (stepping & 0xF);
}

// The signature of a QEMU CPU model ("EPYC-v4", "EPYC-Milan", ...), from the family, model and
// stepping QEMU's x86 CPU definitions give it; versions ("-v2") share their base's signature.
// kNotFound for a name that is not an AMD EPYC model of QEMU.
Result<std::uint32_t> VcpuSignatureOf(std::string_view qemu_cpu_model);

struct VmsaParams {
  std::uint32_t reset_eip = kBspResetEip;  // or the SEV-ES reset block's AP address
  std::uint32_t vcpu_signature = 0;        // CpuidSignature / VcpuSignatureOf
  std::uint64_t sev_features = kSevFeatureSnpActive;
};

// The VMSA of a vCPU starting at `reset_eip` in real mode: CS.base = eip & 0xFFFF0000,
// RIP = eip & 0xFFFF (for the BSP, CS 0xFFFF0000:0xFFF0).
VmsaPage BuildVmsa(const VmsaParams& p);

constexpr std::uint32_t kMaxVcpus = 4096;  // KVM_MAX_VCPUS on x86

// The VMSAs of `vcpus` vCPUs launched from `image`: the BSP at kBspResetEip, the APs at the
// image's SEV-ES reset block address. kInvalidArgument if vcpus is 0 or above kMaxVcpus, or if
// vcpus > 1 and the image has no SEV-ES reset block (APs would have nowhere to start).
Result<std::vector<VmsaPage>> BuildLaunchVmsas(const OvmfImage& image, std::uint32_t vcpus,
                                               std::uint32_t vcpu_signature,
                                               std::uint64_t sev_features);

}  // namespace sevemu::launch
