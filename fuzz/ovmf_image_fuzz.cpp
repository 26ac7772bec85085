// Fuzzes the OVMF image parsers (footer GUID table, SEV metadata, reset block, secret area) and
// the SNP and legacy launch planners that consume them.
#include <cstdint>
#include <cstdlib>

#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/sev_launch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto legacy = sevemu::launch::ParseLegacyOvmfImage({data, size});
  auto image = sevemu::launch::ParseOvmfImage({data, size});
  // Whatever the SNP parser accepts, the legacy one accepts the same way.
  if (image.ok() && (!legacy.ok() || legacy->sections != image->sections ||
                     legacy->sev_secret_area != image->sev_secret_area)) {
    std::abort();
  }
  if (legacy.ok()) {
    (void)sevemu::launch::PlanSevEsVmsas(
        *legacy, {sevemu::launch::SevLaunchMode::kSevEs, 2, 0x00A00F11, {}});
  }
  if (!image.ok()) return 0;
  sevemu::launch::SnpLaunchConfig cfg;
  cfg.vcpus = 2;
  cfg.vcpu_signature = 0x00A00F11;
  (void)sevemu::launch::PlanSnpLaunch(*image, cfg);
  return 0;
}
