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

TEST_CASE("SNP direct boot: the firmware's measurement equals sev-snp-measure's digest") {
  // fixtures/launch/direct_boot.json's snp cases; no image named, so the host takes the
  // built-in direct-boot image.
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = hypervisor::Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE(host.ok());
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    if (c["mode"] != "snp") continue;
    CAPTURE(c["command"].get<std::string>());
    hypervisor::GuestLaunchSpec spec;
    spec.name = "kvm" + std::to_string(n++);
    spec.vcpus = c["vcpus"].get<std::uint32_t>();
    spec.vcpu_signature = test::CaseVcpuSignature(c);
    spec.sev_features = test::CaseGuestFeatures(c);
    spec.direct_boot = test::CaseDirectBoot(c);
    if (!spec.direct_boot) {
      // The case without --kernel: the same image, named, launches its hashes page as ZERO.
      spec.image = hypervisor::DefaultDirectBootImage();
    }
    auto g = (*host)->LaunchGuest(spec);
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
    CHECK(HexEncode(g->measurement) == c["digest"].get<std::string>());
    CHECK(g->kernel_hashes == spec.direct_boot.has_value());
    if (spec.direct_boot) {
      auto table = (*host)->ReadGuestMemory(spec.name, 0x80C400, launch::kPaddedSevHashTableSize);
      REQUIRE(table.ok());
      CHECK(*table == launch::BuildSevHashTable(*spec.direct_boot));
    }
    REQUIRE((*host)->DestroyGuest(spec.name).ok());
  }
  CHECK(n >= 4);
}

TEST_CASE("SNP direct boot needs an image with the hashes table and its metadata section") {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = hypervisor::Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE(host.ok());
  hypervisor::GuestLaunchSpec spec;
  spec.name = "g";
  spec.direct_boot = launch::DirectBoot{};
  spec.image = hypervisor::DefaultGuestImage();
  auto g = (*host)->LaunchGuest(spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message().find("has no hashes table GUID") != std::string::npos);
  CHECK((*host)->Guests().empty());
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto debian = test::LoadReferenceOvmf(fixture);
  if (!debian) return;
  spec.image = *debian;
  g = (*host)->LaunchGuest(spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message().find("hashes table area is invalid (base=0x0 size=0x0)") !=
        std::string::npos);
  CHECK((*host)->Guests().empty());
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
