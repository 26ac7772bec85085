#include "sevemu/launch/sev_launch.h"

#include "sevemu/crypto/hash.h"

namespace sevemu::launch {

Result<std::vector<VmsaPage>> PlanSevEsVmsas(const OvmfImage& image, const SevLaunchConfig& cfg) {
  // SEV guests' register state is not measured (nor encrypted): nothing to plan.
  if (cfg.mode == SevLaunchMode::kSev) return std::vector<VmsaPage>{};
  // sev-snp-measure VMSA(SevMode.SEV_ES, ...): SEV_FEATURES 0, as KVM sets none for SEV-ES.
  return BuildLaunchVmsas(image, cfg.vcpus, cfg.vcpu_signature, 0);
}

Result<emulator::SevDigest> ExpectedSevLaunchDigest(const OvmfImage& image,
                                                    const SevLaunchConfig& cfg) {
  SEVEMU_ASSIGN_OR_RETURN(std::vector<VmsaPage> vmsas, PlanSevEsVmsas(image, cfg));
  SEVEMU_ASSIGN_OR_RETURN(crypto::Hasher h, crypto::Hasher::Create(crypto::HashAlg::kSha256));
  SEVEMU_RETURN_IF_ERROR(h.Update(image.image));
  if (cfg.direct_boot) {
    SEVEMU_RETURN_IF_ERROR(DirectBootArea(image));
    SEVEMU_RETURN_IF_ERROR(h.Update(BuildSevHashTable(*cfg.direct_boot)));
  }
  for (const VmsaPage& v : vmsas) SEVEMU_RETURN_IF_ERROR(h.Update(v));
  SEVEMU_ASSIGN_OR_RETURN(Bytes d, h.Finish());
  emulator::SevDigest out{};
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

}  // namespace sevemu::launch
