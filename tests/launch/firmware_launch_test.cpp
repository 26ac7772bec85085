// End to end: the SNP firmware model launches Debian's OVMF page by page, as a VMM would, and
// its launch digest equals the digest an independent tool (sev-snp-measure) computed for the
// same image, vCPU count and vCPU type (fixtures/launch/digests.json).
#include <doctest/doctest.h>

#include <cstring>

#include "../emulator/firmware_fixture.h"
#include "launch_cases.h"
#include "launch_test_util.h"
#include "sevemu/emulator/firmware_keys.h"
#include "sevemu/launch/builtin_image.h"
#include "sevemu/launch/expected_digest.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using emulator::PageType;
using emulator::SnpCmd;

constexpr std::uint64_t kGctx = 0x100000;
constexpr std::uint32_t kAsid = 1;

// Launches `pages` into a fresh guest, then finishes the launch with an ID block that carries
// `expected`: LAUNCH_FINISH accepts it only if the firmware's digest is exactly `expected`.
FwStatus LaunchAndFinish(const std::vector<launch::LaunchPage>& pages,
                         const emulator::LaunchDigest& expected) {
  test::FirmwareFixture f;
  f.InitPlatform();
  f.StartGuest(kGctx, kAsid);
  std::uint64_t spa = 0x1000000;  // guest pages from 16 MiB up, one SPA per launched page
  for (const auto& page : pages) {
    const Bytes data = page.contents.empty() ? Bytes(4096, 0) : page.contents;
    f.MakePreGuestPage(spa, page.gpa, kAsid, data);
    auto upd = f.UpdateBuf(kGctx, spa, page.type);
    const FwStatus st = f.Run(SnpCmd::kLaunchUpdate, upd);
    if (st != FwStatus::kSuccess) return st;
    spa += 4096;
  }
  Bytes id_block(0x60, 0);
  std::memcpy(id_block.data(), expected.data(), expected.size());
  StoreLe32(id_block.data() + 0x50, 1);
  StoreLe64(id_block.data() + 0x58, 0x30000);
  auto key = crypto::PrivateKey::GenerateEcP384();
  REQUIRE(key.ok());
  Bytes auth(4096, 0);
  StoreLe32(auth.data(), emulator::kAlgoEcdsaP384Sha384);
  const Bytes sig = emulator::EncodeFwSignature(*key->SignEcdsaSha384(id_block));
  const Bytes pub = *emulator::EncodeFwPublicKey(key->Public());
  std::memcpy(auth.data() + 0x40, sig.data(), sig.size());
  std::memcpy(auth.data() + 0x240, pub.data(), pub.size());
  REQUIRE(f.fw->memory().HvWrite(0x800000, id_block) == rmp::RmpViolation::kNone);
  REQUIRE(f.fw->memory().HvWrite(0x801000, auth) == rmp::RmpViolation::kNone);
  return f.Run(SnpCmd::kLaunchFinish,
               emulator::SnpLaunchFinishBuf{kGctx, 0x800000, 0x801000, 1, {}});
}

}  // namespace

TEST_CASE("the firmware's launch digest of OVMF equals the independent tool's") {
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto image_bytes = test::LoadReferenceOvmf(fixture);
  if (!image_bytes) return;
  auto image = launch::ParseOvmfImage(*image_bytes);
  REQUIRE(image.ok());
  for (const auto& c : fixture["cases"]) {
    if (c["vcpus"].get<int>() > 2) continue;  // two vCPUs already cover BSP and AP VMSAs
    CAPTURE(c["command"].get<std::string>());
    launch::SnpLaunchConfig cfg;
    cfg.vcpus = c["vcpus"].get<std::uint32_t>();
    cfg.vcpu_signature = test::CaseVcpuSignature(c);
    cfg.sev_features = test::CaseGuestFeatures(c);
    auto pages = launch::PlanSnpLaunch(*image, cfg);
    REQUIRE(pages.ok());
    const Bytes want = test::Hex(c["digest"].get<std::string>());
    emulator::LaunchDigest expected{};
    REQUIRE(want.size() == expected.size());
    std::memcpy(expected.data(), want.data(), want.size());
    CHECK(LaunchAndFinish(*pages, expected) == FwStatus::kSuccess);
    // And a digest one bit off is refused: the check is real.
    expected[0] ^= 1;
    CHECK(LaunchAndFinish(*pages, expected) == FwStatus::kBadMeasurement);
  }
}

TEST_CASE("the firmware's launch digest of a direct boot equals the independent tool's") {
  // The built-in direct-boot image with the kernel hashes page launched NORMAL
  // (fixtures/launch/direct_boot.json, its snp cases).
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  auto image = launch::ParseOvmfImage(launch::BuiltinGuestImage(launch::BuiltinImage::kDirectBoot));
  REQUIRE(image.ok());
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    if (c["mode"] != "snp") continue;
    CAPTURE(c["command"].get<std::string>());
    launch::SnpLaunchConfig cfg;
    cfg.vcpus = c["vcpus"].get<std::uint32_t>();
    cfg.vcpu_signature = test::CaseVcpuSignature(c);
    cfg.sev_features = test::CaseGuestFeatures(c);
    cfg.direct_boot = test::CaseDirectBoot(c);
    auto pages = launch::PlanSnpLaunch(*image, cfg);
    REQUIRE(pages.ok());
    const Bytes want = test::Hex(c["digest"].get<std::string>());
    emulator::LaunchDigest expected{};
    REQUIRE(want.size() == expected.size());
    std::memcpy(expected.data(), want.data(), want.size());
    CHECK(LaunchAndFinish(*pages, expected) == FwStatus::kSuccess);
    ++n;
  }
  CHECK(n >= 4);
}

}  // namespace sevemu
