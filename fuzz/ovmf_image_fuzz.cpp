// Fuzzes the OVMF image parser (footer GUID table, SEV metadata, reset block) and the launch
// planner that consumes it.
#include <cstdint>

#include "sevemu/launch/expected_digest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto image = sevemu::launch::ParseOvmfImage({data, size});
  if (!image.ok()) return 0;
  sevemu::launch::SnpLaunchConfig cfg;
  cfg.vcpus = 2;
  cfg.vcpu_signature = 0x00A00F11;
  (void)sevemu::launch::PlanSnpLaunch(*image, cfg);
  return 0;
}
