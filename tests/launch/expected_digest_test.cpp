#include "sevemu/launch/expected_digest.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "launch_cases.h"
#include "launch_test_util.h"

namespace sevemu {
namespace {

using emulator::PageType;
using launch::SnpLaunchConfig;

launch::OvmfImage SyntheticImage() {
  auto r = launch::ParseOvmfImage(test::SyntheticOvmf::Valid().Build());
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("the launch plan: image pages, metadata sections, then one VMSA per vCPU") {
  const launch::OvmfImage img = SyntheticImage();
  auto plan = launch::PlanSnpLaunch(img, {3, 0x00800F12, launch::kSevFeatureSnpActive, {}});
  REQUIRE(plan.ok());
  // 16 image pages, 9 + 1 + 1 + 1 section pages, 3 VMSAs.
  REQUIRE(plan->size() == 16 + 12 + 3);
  const auto& p = *plan;
  CHECK(p[0].gpa == 0xFFFF0000);
  CHECK(p[0].type == PageType::kNormal);
  CHECK(p[15].gpa == 0xFFFFF000);
  CHECK(p[15].contents.size() == 4096);
  CHECK(p[16].gpa == 0x800000);
  CHECK(p[16].type == PageType::kZero);
  CHECK(p[24].gpa == 0x808000);
  CHECK(p[25].type == PageType::kSecrets);
  CHECK(p[25].contents.empty());
  CHECK(p[26].type == PageType::kCpuid);
  CHECK(p[27].type == PageType::kZero);  // kernel hashes without a kernel
  for (std::size_t i = 28; i < 31; ++i) {
    CHECK(p[i].type == PageType::kVmsa);
    CHECK(p[i].gpa == launch::kVmsaGpa);
  }
  CHECK(LoadLe64(p[28].contents.data() + launch::vmsa_offset::kRip) == 0xFFF0);
  CHECK(LoadLe64(p[29].contents.data() + launch::vmsa_offset::kRip) == 0xB004);
  CHECK(p[29].contents == p[30].contents);
}

TEST_CASE("launch plans refuse impossible vCPU counts") {
  const launch::OvmfImage img = SyntheticImage();
  for (std::uint32_t n : {0u, launch::kMaxVcpus + 1}) {
    auto r = launch::PlanSnpLaunch(img, {n, 0x00800F12, 1, {}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kInvalidArgument);
  }
  launch::OvmfImage no_reset = img;
  no_reset.sev_es_reset_eip.reset();
  CHECK(launch::PlanSnpLaunch(no_reset, {1, 0x00800F12, 1, {}}).ok());
  auto r = launch::PlanSnpLaunch(no_reset, {2, 0x00800F12, 1, {}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("digests of the reference OVMF match sev-snp-measure's known answers") {
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto bytes = test::LoadReferenceOvmf(fixture);
  if (!bytes) return;
  auto image = launch::ParseOvmfImage(*bytes);
  REQUIRE_MESSAGE(image.ok(), test::ErrorText(image));
  REQUIRE(!fixture["cases"].empty());
  for (const auto& c : fixture["cases"]) {
    const std::string command = c["command"];
    SUBCASE(command.c_str()) {
      SnpLaunchConfig cfg;
      cfg.vcpus = c["vcpus"];
      cfg.vcpu_signature = test::CaseVcpuSignature(c);
      cfg.sev_features = test::CaseGuestFeatures(c);
      auto digest = launch::ExpectedSnpLaunchDigest(*image, cfg);
      REQUIRE(digest.ok());
      CHECK(HexEncode(*digest) == c["digest"].get<std::string>());
    }
  }
}

}  // namespace sevemu
