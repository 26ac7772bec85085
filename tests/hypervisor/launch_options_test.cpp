// Launch options as a VMM has them (QEMU's -cpu model, the VMSAs' SEV features): the firmware's
// launch digest of a guest the host launches with them equals sev-snp-measure's known answers
// (fixtures/launch/digests.json) for Debian's OVMF.
#include <doctest/doctest.h>

#include "../emulator/emulator_fixture.h"
#include "../launch/launch_test_util.h"
#include "launch_cases.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu {

TEST_CASE("SNP launches with a vCPU type or signature and guest features: known digests") {
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto ovmf = test::LoadReferenceOvmf(fixture);
  if (!ovmf) return;
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  // A Genoa B1 host: its own signature is 0xa10f11, what the vcpu_sig case was measured with.
  auto host = hypervisor::Host::Boot(test::SeededPlatform(emulator::Product::kGenoa), cfg);
  REQUIRE(host.ok());
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    if (c["vcpus"].get<int>() > 2) continue;  // two vCPUs already cover BSP and AP VMSAs
    CAPTURE(c["command"].get<std::string>());
    hypervisor::GuestLaunchSpec spec;
    spec.name = "g" + std::to_string(n++);
    spec.image = *ovmf;
    spec.vcpus = c["vcpus"].get<std::uint32_t>();
    // A --vcpu-sig case leaves the signature to the host (-cpu host), the others name a model.
    if (c.contains("vcpu_type")) spec.vcpu_signature = test::CaseVcpuSignature(c);
    spec.sev_features = test::CaseGuestFeatures(c);
    auto g = (*host)->LaunchGuest(spec);
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
    CHECK(HexEncode(g->measurement) == c["digest"].get<std::string>());
    CHECK(g->vcpu_signature == test::CaseVcpuSignature(c));
    CHECK(g->sev_features == spec.sev_features);
    REQUIRE((*host)->DestroyGuest(spec.name).ok());
  }
  CHECK(n >= 5);
}

TEST_CASE("guest features without SNPActive are refused before anything is launched") {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = hypervisor::Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE(host.ok());
  hypervisor::GuestLaunchSpec spec;
  spec.name = "g";
  spec.sev_features = 0x20;
  auto g = (*host)->LaunchGuest(spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().code() == ErrorCode::kInvalidArgument);
  CHECK((*host)->Guests().empty());
}

}  // namespace sevemu
