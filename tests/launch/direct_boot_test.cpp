// Measured direct boot (QEMU -kernel/-initrd/-append, kernel-hashes=on): the hash table's bytes,
// QEMU's refusals, and the launch digests sevemu predicts for the built-in direct-boot image
// against sev-snp-measure's known answers (fixtures/launch/direct_boot.json).
#include <doctest/doctest.h>

#include "launch_cases.h"
#include "launch_test_util.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/launch/builtin_image.h"
#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/kernel_hashes.h"
#include "sevemu/launch/sev_launch.h"

namespace sevemu {
namespace {

using launch::BuiltinImage;
using test::SyntheticOvmf;

std::string Sha256Hex(ByteSpan b) {
  auto d = crypto::Sha256(b);
  REQUIRE(d.ok());
  return HexEncode(*d);
}

// SHA-256 as hex of a string's bytes, for hashes whose input the test spells out.
std::string Sha256Hex(const std::string& s) {
  return Sha256Hex(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

}  // namespace

TEST_CASE("the built-in images: the plain one is unchanged, the direct-boot one is the fixture's") {
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  const Bytes plain = launch::BuiltinGuestImage(BuiltinImage::kPlain);
  const Bytes direct = launch::BuiltinGuestImage(BuiltinImage::kDirectBoot);
  // The plain image's bytes before direct boot existed: every digest of a launch from it (the
  // golden report, users' recorded measurements) depends on them.
  CHECK(Sha256Hex(plain) == "28f90d05d558a83e4d3e95b7e8387ccee0a1b5d04a3583d788c0505094f38750");
  CHECK(direct.size() == fixture["ovmf"]["size"].get<std::size_t>());
  CHECK(Sha256Hex(direct) == fixture["ovmf"]["sha256"].get<std::string>());

  auto p = launch::ParseOvmfImage(plain);
  REQUIRE(p.ok());
  CHECK_FALSE(p->sev_hash_table_area.has_value());
  auto d = launch::ParseOvmfImage(direct);
  REQUIRE(d.ok());
  REQUIRE(d->sev_hash_table_area.has_value());
  CHECK(*d->sev_hash_table_area == launch::SevHashTableArea{0x80C400, 0xC00});
  REQUIRE(d->sections.size() == 4);
  CHECK(d->sections[3] ==
        launch::SevMetadataSection{0x80C000, 0x1000, launch::SevSectionType::kSnpKernelHashes});
  CHECK(d->sev_secret_area == p->sev_secret_area);
  CHECK(d->sev_es_reset_eip == p->sev_es_reset_eip);
}

TEST_CASE("the hashes as QEMU takes them, and the table's bytes") {
  const Bytes kernel = {'k', 'e', 'r', 'n'};
  auto boot = launch::HashDirectBoot(kernel, {}, "");
  REQUIRE(boot.ok());
  CHECK(HexEncode(boot->kernel) == Sha256Hex(std::string("kern")));
  CHECK(HexEncode(boot->initrd) == Sha256Hex(std::string()));  // no initrd: the empty string
  CHECK(HexEncode(boot->cmdline) == Sha256Hex(std::string(1, '\0')));  // no -append: "\0"
  auto with = launch::HashDirectBoot(kernel, {}, "quiet");
  REQUIRE(with.ok());
  CHECK(HexEncode(with->cmdline) == Sha256Hex(std::string("quiet", 6)));  // with its NUL

  auto nul = launch::HashDirectBoot(kernel, {}, std::string("a\0b", 3));
  REQUIRE_FALSE(nul.ok());
  CHECK(nul.error().code() == ErrorCode::kInvalidArgument);

  const Bytes t = launch::BuildSevHashTable(*with);
  REQUIRE(t.size() == 176);
  // Header: the table GUID 9438d606-4f22-4cc9-b479-a793d411fd21 in EFI order, length 168.
  CHECK(HexEncode(ByteSpan(t).first(16)) == "06d63894224fc94cb479a793d411fd21");
  CHECK((t[16] | t[17] << 8) == 168);
  // Entries of 50 bytes: cmdline, initrd, kernel.
  const char* const guids[] = {"d82dd09720bd944caa78e7714d36ab2a",
                               "31f7ba442f3ad74b9af141e29169781d",
                               "3794e74dd2ab7f42b835d5b172d2045b"};
  const std::array<std::uint8_t, 32>* hashes[] = {&with->cmdline, &with->initrd, &with->kernel};
  for (int i = 0; i < 3; ++i) {
    const std::size_t at = 18 + 50 * i;
    CHECK(HexEncode(ByteSpan(t).subspan(at, 16)) == guids[i]);
    CHECK((t[at + 16] | t[at + 17] << 8) == 50);
    CHECK(HexEncode(ByteSpan(t).subspan(at + 18, 32)) == HexEncode(*hashes[i]));
  }
  CHECK(HexEncode(ByteSpan(t).subspan(168)) == std::string(16, '0'));  // zero padding to 176
}

TEST_CASE("a direct boot needs a usable hash table area, as QEMU checks it") {
  const auto boot = launch::HashDirectBoot(Bytes{1}, {}, "");
  REQUIRE(boot.ok());
  SUBCASE("no SEV hash table entry") {
    auto img = launch::ParseOvmfImage(SyntheticOvmf::Valid().Build());
    REQUIRE(img.ok());
    auto a = launch::DirectBootArea(*img);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().code() == ErrorCode::kNotFound);
    CHECK(a.error().message() ==
          "SEV: kernel specified but guest firmware has no hashes table GUID");
    launch::SnpLaunchConfig cfg;
    cfg.direct_boot = *boot;
    CHECK_FALSE(launch::PlanSnpLaunch(*img, cfg).ok());
    launch::SevLaunchConfig sev;
    sev.direct_boot = *boot;
    CHECK_FALSE(launch::ExpectedSevLaunchDigest(*img, sev).ok());
  }
  SUBCASE("an area too small for the padded table") {
    SyntheticOvmf s = SyntheticOvmf::Valid();
    Bytes area = SyntheticOvmf::Le32(0x80F000);
    const Bytes size = SyntheticOvmf::Le32(175);
    area.insert(area.end(), size.begin(), size.end());
    s.entries.insert(s.entries.begin(), {test::Hex(test::kSevHashTableGuidHex), area});
    auto img = launch::ParseOvmfImage(s.Build());
    REQUIRE(img.ok());
    auto a = launch::DirectBootArea(*img);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().message() ==
          "SEV: guest firmware hashes table area is invalid (base=0x80f000 size=0xaf)");
  }
  SUBCASE("the table must fit in the SNP_KERNEL_HASHES section from its offset") {
    SyntheticOvmf s = SyntheticOvmf::Valid();  // its SNP_KERNEL_HASHES page is 0x80F000
    Bytes area = SyntheticOvmf::Le32(0x80FF80);
    const Bytes size = SyntheticOvmf::Le32(0x80);
    area.insert(area.end(), size.begin(), size.end());
    s.entries.insert(s.entries.begin(), {test::Hex(test::kSevHashTableGuidHex), area});
    auto img = launch::ParseOvmfImage(s.Build());
    REQUIRE(img.ok());
    launch::SnpLaunchConfig cfg;
    cfg.direct_boot = *boot;
    // 0x80 bytes are below 176: QEMU's own check refuses first.
    CHECK(launch::PlanSnpLaunch(*img, cfg).error().code() == ErrorCode::kInvalidArgument);
  }
  SUBCASE("SNP needs the SNP_KERNEL_HASHES section; the area alone is enough for SEV") {
    SyntheticOvmf s;
    s.metadata = SyntheticOvmf::Metadata(1, {{0x800000, 0x9000, 1}, {0x80D000, 0x1000, 2}});
    s.entries.push_back({test::Hex(test::kSevMetadataGuidHex), SyntheticOvmf::Le32(0x1000)});
    Bytes area = SyntheticOvmf::Le32(0x80C400);
    const Bytes size = SyntheticOvmf::Le32(0xC00);
    area.insert(area.end(), size.begin(), size.end());
    s.entries.insert(s.entries.begin(), {test::Hex(test::kSevHashTableGuidHex), area});
    auto img = launch::ParseOvmfImage(s.Build());
    REQUIRE(img.ok());
    launch::SnpLaunchConfig cfg;
    cfg.direct_boot = *boot;
    auto plan = launch::PlanSnpLaunch(*img, cfg);
    REQUIRE_FALSE(plan.ok());
    CHECK(plan.error().code() == ErrorCode::kNotFound);
    launch::SevLaunchConfig sev;
    sev.direct_boot = *boot;
    CHECK(launch::ExpectedSevLaunchDigest(*img, sev).ok());
  }
}

TEST_CASE("Debian's OVMF.fd publishes a zero hash table area: direct boot is refused") {
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto bytes = test::LoadReferenceOvmf(fixture);
  if (!bytes) return;
  auto img = launch::ParseOvmfImage(*bytes);
  REQUIRE(img.ok());
  REQUIRE(img->sev_hash_table_area.has_value());
  auto a = launch::DirectBootArea(*img);
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().message() ==
        "SEV: guest firmware hashes table area is invalid (base=0x0 size=0x0)");
}

TEST_CASE("direct boot digests of the built-in image match sev-snp-measure's") {
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  auto img = launch::ParseOvmfImage(launch::BuiltinGuestImage(BuiltinImage::kDirectBoot));
  REQUIRE(img.ok());
  for (const auto& f : fixture["files"].items()) {
    const std::string rel = f.key().substr(std::string("fixtures/").size());
    const std::string text = test::ReadText(test::FixturePath(rel));
    CHECK(Sha256Hex(text) == f.value().get<std::string>());
  }
  int snp = 0, legacy = 0;
  for (const auto& c : fixture["cases"]) {
    CAPTURE(c["command"].get<std::string>());
    const std::string mode = c["mode"];
    const auto boot = test::CaseDirectBoot(c);
    if (mode == "snp") {
      launch::SnpLaunchConfig cfg;
      cfg.vcpus = c["vcpus"];
      cfg.vcpu_signature = test::CaseVcpuSignature(c);
      cfg.sev_features = test::CaseGuestFeatures(c);
      cfg.direct_boot = boot;
      auto digest = launch::ExpectedSnpLaunchDigest(*img, cfg);
      REQUIRE_MESSAGE(digest.ok(), test::ErrorText(digest));
      CHECK(HexEncode(*digest) == c["digest"].get<std::string>());
      ++snp;
    } else {
      launch::SevLaunchConfig cfg;
      cfg.mode = mode == "sev" ? launch::SevLaunchMode::kSev : launch::SevLaunchMode::kSevEs;
      cfg.vcpus = c["vcpus"];
      if (mode != "sev") cfg.vcpu_signature = test::CaseVcpuSignature(c);
      cfg.direct_boot = boot;
      auto digest = launch::ExpectedSevLaunchDigest(*img, cfg);
      REQUIRE_MESSAGE(digest.ok(), test::ErrorText(digest));
      CHECK(HexEncode(*digest) == c["digest"].get<std::string>());
      ++legacy;
    }
  }
  CHECK(snp >= 4);
  CHECK(legacy >= 3);
}

}  // namespace sevemu
