#include "sevemu/launch/vmsa.h"

#include <cstring>
#include <string>

#include "sevemu/common/bytes.h"

namespace sevemu::launch {
namespace {

// A save-area segment: u16 selector, u16 attrib (descriptor bits 40-47 and 52-55 packed), u32
// limit, u64 base.
void PutSegment(VmsaPage& v, std::size_t off, std::uint16_t selector, std::uint16_t attrib,
                std::uint32_t limit, std::uint64_t base) {
  v[off] = static_cast<std::uint8_t>(selector);
  v[off + 1] = static_cast<std::uint8_t>(selector >> 8);
  v[off + 2] = static_cast<std::uint8_t>(attrib);
  v[off + 3] = static_cast<std::uint8_t>(attrib >> 8);
  StoreLe32(v.data() + off + 4, limit);
  StoreLe64(v.data() + off + 8, base);
}

void Put64(VmsaPage& v, std::size_t off, std::uint64_t value) {
  StoreLe64(v.data() + off, value);
}

// Attribute bytes of the reset descriptors (present, type): QEMU's x86_cpu_reset.
constexpr std::uint16_t kAttrData = 0x93;     // P, S, read/write data, accessed
constexpr std::uint16_t kAttrCode = 0x9B;     // P, S, execute/read code, accessed
constexpr std::uint16_t kAttrLdt = 0x82;      // P, system type 2 (LDT)
constexpr std::uint16_t kAttrBusyTss = 0x8B;  // P, system type 11 (busy 32-bit TSS)

struct CpuModel {
  std::string_view name;
  std::uint32_t family, model, stepping;
};
// QEMU target/i386/cpu.c builtin_x86_defs; EPYC-IBPB is an alias of EPYC's second version.
constexpr CpuModel kEpycModels[] = {
    {"EPYC", 23, 1, 2},       {"EPYC-IBPB", 23, 1, 2},   {"EPYC-Rome", 23, 49, 0},
    {"EPYC-Milan", 25, 1, 1}, {"EPYC-Genoa", 25, 17, 0}, {"EPYC-Turin", 26, 0, 0},
};

// "EPYC-Milan-v2" -> "EPYC-Milan"; names without a "-v<digits>" suffix are returned unchanged.
std::string_view StripVersion(std::string_view name) {
  const std::size_t dash = name.rfind("-v");
  if (dash == std::string_view::npos || dash + 2 == name.size()) return name;
  for (std::size_t i = dash + 2; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return name;
  }
  return name.substr(0, dash);
}

}  // namespace

Result<std::uint32_t> VcpuSignatureOf(std::string_view qemu_cpu_model) {
  const std::string_view base = StripVersion(qemu_cpu_model);
  for (const CpuModel& m : kEpycModels) {
    if (m.name == base) return CpuidSignature(m.family, m.model, m.stepping);
  }
  return Error(ErrorCode::kNotFound, "unknown vCPU type " + std::string(qemu_cpu_model));
}

VmsaPage BuildVmsa(const VmsaParams& p) {
  namespace o = vmsa_offset;
  VmsaPage v{};
  // Real mode: data segments at 0 with 64 KiB limits; CS at the top of the reset address's
  // 64 KiB window, so CS.base + RIP == reset_eip.
  for (std::size_t seg : {o::kEs, o::kSs, o::kDs, o::kFs, o::kGs}) {
    PutSegment(v, seg, 0, kAttrData, 0xFFFF, 0);
  }
  PutSegment(v, o::kCs, 0xF000, kAttrCode, 0xFFFF, p.reset_eip & 0xFFFF0000u);
  PutSegment(v, o::kGdtr, 0, 0, 0xFFFF, 0);
  PutSegment(v, o::kLdtr, 0, kAttrLdt, 0xFFFF, 0);
  PutSegment(v, o::kIdtr, 0, 0, 0xFFFF, 0);
  PutSegment(v, o::kTr, 0, kAttrBusyTss, 0xFFFF, 0);

  Put64(v, o::kEfer, 0x1000);  // EFER.SVME: KVM sets it in every guest's save-area EFER
  Put64(v, o::kCr4, 0x40);     // CR4.MCE: KVM copies the host's MCE bit into guest CR4
  Put64(v, o::kCr0, 0x10);     // CR0.ET; KVM's CD_NW_CLEARED quirk drops QEMU's CD and NW
  Put64(v, o::kDr7, 0x400);    // architectural reset values of DR7 and DR6
  Put64(v, o::kDr6, 0xFFFF0FF0);
  Put64(v, o::kRflags, 0x2);  // bit 1 is always set
  Put64(v, o::kRip, p.reset_eip & 0xFFFF);
  Put64(v, o::kGPat, 0x0007040600070406);  // PAT power-on value
  Put64(v, o::kRdx, p.vcpu_signature);     // EDX holds the CPUID signature after reset
  Put64(v, o::kSevFeatures, p.sev_features);
  Put64(v, o::kXcr0, 0x1);                  // x87 state only, the XCR0 reset value
  StoreLe32(v.data() + o::kMxcsr, 0x1F80);  // all SSE exceptions masked
  v[o::kX87Fcw] = 0x7F;                     // FNINIT control word 0x037F
  v[o::kX87Fcw + 1] = 0x03;
  return v;
}

Result<std::vector<VmsaPage>> BuildLaunchVmsas(const OvmfImage& image, std::uint32_t vcpus,
                                               std::uint32_t vcpu_signature,
                                               std::uint64_t sev_features) {
  if (vcpus == 0 || vcpus > kMaxVcpus) {
    return Error(ErrorCode::kInvalidArgument,
                 "vcpus " + std::to_string(vcpus) + " not in 1.." + std::to_string(kMaxVcpus));
  }
  if (vcpus > 1 && !image.sev_es_reset_eip) {
    return Error(ErrorCode::kInvalidArgument,
                 "OVMF image has no SEV-ES reset block, so it cannot start APs");
  }
  std::vector<VmsaPage> out;
  out.reserve(vcpus);
  for (std::uint32_t i = 0; i < vcpus; ++i) {
    VmsaParams p;
    p.reset_eip = i == 0 ? kBspResetEip : *image.sev_es_reset_eip;
    p.vcpu_signature = vcpu_signature;
    p.sev_features = sev_features;
    out.push_back(BuildVmsa(p));
  }
  return out;
}

}  // namespace sevemu::launch
