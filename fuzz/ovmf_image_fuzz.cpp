// Fuzzes the OVMF image parsers (footer GUID table, SEV metadata, reset block, secret area, hash
// table area) and the SNP and legacy launch planners that consume them, with and without a
// direct boot (its table placed where the image says).
#include <cstdint>
#include <cstdlib>

#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/sev_launch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto legacy = sevemu::launch::ParseLegacyOvmfImage({data, size});
  auto image = sevemu::launch::ParseOvmfImage({data, size});
  // Whatever the SNP parser accepts, the legacy one accepts the same way.
  if (image.ok() && (!legacy.ok() || legacy->sections != image->sections ||
                     legacy->sev_secret_area != image->sev_secret_area ||
                     legacy->sev_hash_table_area != image->sev_hash_table_area)) {
    std::abort();
  }
  const sevemu::launch::DirectBoot boot{};
  if (legacy.ok()) {
    (void)sevemu::launch::PlanSevEsVmsas(
        *legacy, {sevemu::launch::SevLaunchMode::kSevEs, 2, 0x00A00F11, {}});
    (void)sevemu::launch::ExpectedSevLaunchDigest(
        *legacy, {sevemu::launch::SevLaunchMode::kSev, 1, 0, boot});
  }
  if (!image.ok()) return 0;
  sevemu::launch::SnpLaunchConfig cfg;
  cfg.vcpus = 2;
  cfg.vcpu_signature = 0x00A00F11;
  (void)sevemu::launch::PlanSnpLaunch(*image, cfg);
  cfg.direct_boot = boot;
  (void)sevemu::launch::PlanSnpLaunch(*image, cfg);
  return 0;
}
