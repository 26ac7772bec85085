#include "sevemu/launch/sev_launch.h"

#include <doctest/doctest.h>

#include "launch_test_util.h"
#include "sevemu/crypto/hash.h"

namespace sevemu {
namespace {

using launch::SevLaunchConfig;
using launch::SevLaunchMode;
using test::SyntheticOvmf;

std::uint64_t Le64At(const launch::VmsaPage& v, std::size_t off) {
  std::uint64_t x = 0;
  for (int i = 7; i >= 0; --i) x = (x << 8) | v[off + i];
  return x;
}

}  // namespace

TEST_CASE("legacy SEV and SEV-ES digests of the reference OVMF match sev-snp-measure's") {
  const auto fixture = test::LoadJsonFixture("launch/sev_digests.json");
  const auto bytes = test::LoadReferenceOvmf(fixture);
  if (!bytes) return;
  auto image = launch::ParseLegacyOvmfImage(*bytes);
  REQUIRE_MESSAGE(image.ok(), test::ErrorText(image));
  REQUIRE(fixture["cases"].size() >= 2);
  for (const auto& c : fixture["cases"]) {
    const std::string command = c["command"];
    SUBCASE(command.c_str()) {
      auto sig = launch::VcpuSignatureOf(c["vcpu_type"].get<std::string>());
      REQUIRE(sig.ok());
      SevLaunchConfig cfg;
      cfg.mode = c["mode"] == "sev" ? SevLaunchMode::kSev : SevLaunchMode::kSevEs;
      cfg.vcpus = c["vcpus"];
      cfg.vcpu_signature = *sig;
      auto digest = launch::ExpectedSevLaunchDigest(*image, cfg);
      REQUIRE(digest.ok());
      CHECK(HexEncode(*digest) == c["digest"].get<std::string>());
    }
  }
}

TEST_CASE("an SEV-ES launch measures one VMSA per vCPU, without SNP's SEV_FEATURES") {
  auto image = launch::ParseLegacyOvmfImage(SyntheticOvmf::Valid().Build());
  REQUIRE(image.ok());
  SevLaunchConfig cfg{SevLaunchMode::kSevEs, 3, 0x00A00F11, {}};
  auto vmsas = launch::PlanSevEsVmsas(*image, cfg);
  REQUIRE(vmsas.ok());
  REQUIRE(vmsas->size() == 3);
  namespace o = launch::vmsa_offset;
  CHECK(Le64At((*vmsas)[0], o::kSevFeatures) == 0);
  CHECK(Le64At((*vmsas)[0], o::kRip) == 0xFFF0);  // BSP at the reset vector
  CHECK(Le64At((*vmsas)[1], o::kRip) == (*image->sev_es_reset_eip & 0xFFFF));
  CHECK((*vmsas)[1] == (*vmsas)[2]);
  CHECK(Le64At((*vmsas)[0], o::kRdx) == 0x00A00F11);
  // The digest is the image then the VMSAs; the SEV digest the image alone.
  auto es = launch::ExpectedSevLaunchDigest(*image, cfg);
  auto sev = launch::ExpectedSevLaunchDigest(*image, {SevLaunchMode::kSev, 3, 0x00A00F11, {}});
  REQUIRE(es.ok());
  REQUIRE(sev.ok());
  auto image_hash = crypto::Sha256(image->image);
  REQUIRE(image_hash.ok());
  CHECK(HexEncode(*sev) == HexEncode(*image_hash));
  CHECK(*es != *sev);
}

TEST_CASE("SEV-ES vCPU counts are checked; SEV ignores them") {
  SyntheticOvmf s = SyntheticOvmf::Valid();
  s.entries.erase(s.entries.begin());  // no SEV-ES reset block
  auto image = launch::ParseLegacyOvmfImage(s.Build());
  REQUIRE(image.ok());
  CHECK(launch::PlanSevEsVmsas(*image, {SevLaunchMode::kSevEs, 1, 0, {}}).ok());
  for (std::uint32_t n : {0u, 2u, launch::kMaxVcpus + 1}) {
    auto r = launch::PlanSevEsVmsas(*image, {SevLaunchMode::kSevEs, n, 0, {}});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kInvalidArgument);
    CHECK(launch::PlanSevEsVmsas(*image, {SevLaunchMode::kSev, n, 0, {}})->empty());
  }
}

TEST_CASE("legacy images need no SEV metadata; the secret area comes from the table") {
  SyntheticOvmf s = SyntheticOvmf::Valid();
  s.entries.pop_back();  // the SEV metadata entry
  CHECK(launch::ParseOvmfImage(s.Build()).error().code() == ErrorCode::kNotFound);
  auto legacy = launch::ParseLegacyOvmfImage(s.Build());
  REQUIRE_MESSAGE(legacy.ok(), test::ErrorText(legacy));
  CHECK(legacy->sections.empty());
  CHECK_FALSE(legacy->sev_secret_area.has_value());

  const Bytes secret_guid = test::Hex("61b32e4c9b7dc34c8081127c90d3d294");
  Bytes area = SyntheticOvmf::Le32(0x80A000);
  const Bytes size = SyntheticOvmf::Le32(0x1000);
  area.insert(area.end(), size.begin(), size.end());
  s.entries.insert(s.entries.begin(), {secret_guid, area});
  auto with_area = launch::ParseLegacyOvmfImage(s.Build());
  REQUIRE_MESSAGE(with_area.ok(), test::ErrorText(with_area));
  REQUIRE(with_area->sev_secret_area.has_value());
  CHECK(*with_area->sev_secret_area == launch::SevSecretArea{0x80A000, 0x1000});

  // Zeros mean "no secret area" (non-AmdSev OVMF builds); short or empty entries are corrupt.
  s.entries.front().second = Bytes(8, 0);
  auto zero = launch::ParseLegacyOvmfImage(s.Build());
  REQUIRE(zero.ok());
  CHECK_FALSE(zero->sev_secret_area.has_value());
  for (const Bytes& bad : {Bytes(7, 0), Bytes{0, 0xA0, 0x80, 0, 0, 0, 0, 0},
                           Bytes{0, 0xF0, 0xFF, 0xFF, 0, 0x20, 0, 0}}) {
    s.entries.front().second = bad;
    auto r = launch::ParseLegacyOvmfImage(s.Build());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kCorrupt);
  }
}

}  // namespace sevemu
