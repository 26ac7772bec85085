// Legacy SEV and SEV-ES guests on the simulated host, end to end with a guest owner: the
// platform's PDH through /dev/sev, a session from the owner library, the launch QEMU runs,
// the owner's check of LAUNCH_MEASURE, a secret injected and read back by the guest, LAUNCH_FINISH
// and an ATTESTATION report verified with the exported PEK. Then the refusals.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "../emulator/emulator_fixture.h"
#include "../launch/launch_test_util.h"
#include "launch_cases.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/launch/ovmf_image.h"
#include "sevemu/launch/sev_launch.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu {
namespace {

using hypervisor::GuestType;
using hypervisor::Host;
using hypervisor::SevGuestLaunchSpec;

// A process's memory for /dev/sev ioctls: byte-addressed, every address readable.
class PlainUser final : public uapi::UserMemory {
 public:
  bool Read(std::uint64_t addr, MutableByteSpan out) override {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bytes_[addr + i];
    return true;
  }
  bool Write(std::uint64_t addr, ByteSpan data) override {
    for (std::size_t i = 0; i < data.size(); ++i) bytes_[addr + i] = data[i];
    return true;
  }
  Bytes Get(std::uint64_t addr, std::size_t n) {
    Bytes b(n);
    (void)Read(addr, b);
    return b;
  }

 private:
  std::map<std::uint64_t, std::uint8_t> bytes_;
};

std::unique_ptr<Host> BootHost() {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

struct PlatformCerts {
  emulator::SevCert pdh, pek;
};

// What `sevctl export` / `sevemu host sev-export` do: PDH_CERT_EXPORT through /dev/sev.
PlatformCerts ExportCerts(Host& host) {
  PlainUser user;
  constexpr std::uint64_t kArg = 0x1000, kPdh = 0x10000, kChain = 0x20000;
  const uapi::SevUserDataPdhCertExport req{kPdh, 0x824, kChain, 0x186C};
  REQUIRE(user.Write(kArg, ByteSpan(reinterpret_cast<const std::uint8_t*>(&req), sizeof req)));
  uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(uapi::SevUserCmd::kPdhCertExport), kArg, 0};
  REQUIRE(host.sev_device().Ioctl(uapi::kSevIssueCmd, arg, user, true).ret == 0);
  auto pdh = emulator::SevCert::Parse(user.Get(kPdh, 0x824));
  auto pek = emulator::SevCert::Parse(user.Get(kChain, 0x824));
  REQUIRE(pdh.ok());
  REQUIRE(pek.ok());
  return {*pdh, *pek};
}

struct Owner {
  owner::LaunchSession session;
  SevGuestLaunchSpec spec;
};

Owner MakeOwner(Host& host, const std::string& name, bool es, std::uint32_t policy) {
  const PlatformCerts certs = ExportCerts(host);
  auto pdh_key = certs.pdh.pubkey.ToCrypto();
  REQUIRE(pdh_key.ok());
  auto s = owner::MakeLaunchSession(*pdh_key, policy);
  REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message()));
  Owner o{std::move(s).value(), {}};
  o.spec.name = name;
  o.spec.es = es;
  o.spec.policy = policy;
  o.spec.vcpus = es ? 2 : 1;
  o.spec.godh_cert.assign(o.session.godh_cert.begin(), o.session.godh_cert.end());
  const auto blob = o.session.SessionBytes();
  o.spec.session.assign(blob.begin(), blob.end());
  return o;
}

emulator::SevApiVersion Api(const hypervisor::GuestInfo& g) {
  return {g.api_major, g.api_minor, g.build};
}

}  // namespace

TEST_CASE("the host initialises the legacy platform at boot, with the SEV-ES TMR") {
  auto host = BootHost();
  CHECK(host->firmware().sev_state() == statemachine::SevPlatformState::kInit);
  CHECK(host->firmware().snp_state() == statemachine::SnpPlatformState::kInit);
}

TEST_CASE("a guest owner launches an SEV and an SEV-ES guest and checks everything") {
  for (const bool es : {false, true}) {
    CAPTURE(es);
    auto host = BootHost();
    const std::uint32_t policy = es ? 0x5 : 0x1;  // NODBG (+ ES)
    Owner o = MakeOwner(*host, es ? "es-vm" : "sev-vm", es, policy);
    auto g = host->LaunchSevGuest(o.spec);
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
    CHECK(g->type == (es ? GuestType::kSevEs : GuestType::kSev));
    CHECK_FALSE(g->launch_finished);
    CHECK(g->handle != 0);
    // SEV-ES guests take the low ASIDs beside SNP; SEV guests the ones above min_sev_asid.
    const std::uint32_t max_asid = emulator::Info(emulator::Product::kMilan).max_asid;
    if (es) {
      CHECK(g->asid < max_asid / 2);
    } else {
      CHECK(g->asid >= max_asid / 2);
    }

    // The owner predicts the digest from the image alone and checks the measurement.
    auto image = launch::ParseLegacyOvmfImage(hypervisor::DefaultGuestImage());
    REQUIRE(image.ok());
    launch::SevLaunchConfig cfg;
    cfg.mode = es ? launch::SevLaunchMode::kSevEs : launch::SevLaunchMode::kSev;
    cfg.vcpus = o.spec.vcpus;
    cfg.vcpu_signature = host->platform().state.chip.cpuid_fms();
    auto digest = launch::ExpectedSevLaunchDigest(*image, cfg);
    REQUIRE(digest.ok());
    CHECK(*digest == g->launch_digest);
    auto measured = emulator::ParseSevMeasureOut(g->launch_measure);
    REQUIRE(measured.ok());
    REQUIRE(owner::VerifyMeasurement(o.session.keys, Api(*g), policy, *digest, *measured).ok());
    // A different digest (one more vCPU for SEV-ES, another image for SEV) does not verify.
    emulator::SevDigest wrong = *digest;
    wrong[0] ^= 1;
    CHECK_FALSE(owner::VerifyMeasurement(o.session.keys, Api(*g), policy, wrong, *measured).ok());

    // The secret lands in the image's secret area, readable by the guest only.
    const SecretBytes secret(Bytes(64, 0x5A));
    auto packet =
        owner::PackageLaunchSecret(o.session.keys, Api(*g), measured->measurement, secret);
    REQUIRE(packet.ok());
    REQUIRE(g->secret_gpa == 0x80A000);
    Status injected =
        host->InjectLaunchSecret(g->name, packet->HeaderBytes(), packet->ciphertext, std::nullopt);
    REQUIRE_MESSAGE(injected.ok(), (injected.ok() ? "" : injected.error().message()));
    auto seen = host->ReadGuestMemory(g->name, g->secret_gpa, 64);
    REQUIRE(seen.ok());
    CHECK(*seen == Bytes(64, 0x5A));
    // The image itself is what the guest sees at its GPA (decrypted with its key).
    auto first = host->ReadGuestMemory(g->name, image->Gpa(), 64);
    REQUIRE(first.ok());
    CHECK(*first == Bytes(image->image.begin(), image->image.begin() + 64));

    auto finished = host->FinishSevLaunch(g->name);
    REQUIRE_MESSAGE(finished.ok(), (finished.ok() ? "" : finished.error().message()));
    CHECK(finished->launch_finished);
    CHECK(finished->secret_injected);
    CHECK_FALSE(
        host->InjectLaunchSecret(g->name, packet->HeaderBytes(), packet->ciphertext, {}).ok());
    CHECK_FALSE(host->FinishSevLaunch(g->name).ok());

    // ATTESTATION: signed by the PEK, over this guest's digest, policy and the owner's nonce.
    const std::array<std::uint8_t, 16> mnonce = {1, 2,  3,  4,  5,  6,  7,  8,
                                                 9, 10, 11, 12, 13, 14, 15, 16};
    auto report = host->SevAttestationReport(g->name, mnonce);
    REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message()));
    auto pek = ExportCerts(*host).pek.pubkey.ToCrypto();
    REQUIRE(pek.ok());
    owner::AttestationExpectations expect;
    expect.mnonce = mnonce;
    expect.launch_digest = *digest;
    expect.policy = policy;
    auto verified = owner::VerifyLegacyAttestationReport(*report, *pek, expect);
    CHECK_MESSAGE(verified.ok(), (verified.ok() ? "" : verified.error().message()));

    // The guest is listed, then destroyed: its ASID and handle are free again.
    CHECK(host->Guests().size() == 1);
    REQUIRE(host->DestroyGuest(g->name).ok());
    CHECK(host->Guests().empty());
    auto again = host->LaunchSevGuest(MakeOwner(*host, "again", es, policy).spec);
    REQUIRE_MESSAGE(again.ok(), (again.ok() ? "" : again.error().message()));
    CHECK(again->asid == g->asid);
    CHECK(again->handle == g->handle);
  }
}

TEST_CASE("a launch without a session is measured with zero keys, as AMD's firmware does") {
  auto host = BootHost();
  SevGuestLaunchSpec spec;
  spec.name = "plain";
  auto g = host->LaunchSevGuest(spec);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  auto measured = emulator::ParseSevMeasureOut(g->launch_measure);
  REQUIRE(measured.ok());
  const emulator::SevTransportKeys zero{SecretBytes(16), SecretBytes(16)};
  CHECK(owner::VerifyMeasurement(zero, Api(*g), spec.policy, g->launch_digest, *measured).ok());
  REQUIRE(host->FinishSevLaunch("plain").ok());
}

TEST_CASE("legacy launches refuse bad requests and leave nothing behind") {
  auto host = BootHost();
  Owner o = MakeOwner(*host, "vm", false, 0x1);
  auto refused = [&](SevGuestLaunchSpec spec, const char* needle) {
    auto g = host->LaunchSevGuest(spec);
    REQUIRE_FALSE(g.ok());
    CHECK_MESSAGE(g.error().message().find(needle) != std::string::npos, g.error().message());
    CHECK(host->Guests().empty());
  };
  SUBCASE("the policy's ES bit decides the type") {
    SevGuestLaunchSpec s = o.spec;
    s.es = true;
    refused(s, "ES bit");
    s.es = false;
    s.policy = 0x5;
    refused(s, "ES bit");
  }
  SUBCASE("a certificate without a session") {
    SevGuestLaunchSpec s = o.spec;
    s.session.clear();
    refused(s, "go together");
  }
  SUBCASE("a tampered session fails WRAP_MAC in the firmware") {
    SevGuestLaunchSpec s = o.spec;
    s.session[0x70] ^= 1;  // inside the wrapped TEK/TIK or their MAC
    refused(s, "LAUNCH_START");
  }
  SUBCASE("a policy other than the session's fails POLICY_MAC") {
    SevGuestLaunchSpec s = o.spec;
    s.policy = 0x3;
    refused(s, "LAUNCH_START: BAD_MEASUREMENT");
  }
  SUBCASE("a truncated GODH certificate") {
    SevGuestLaunchSpec s = o.spec;
    s.godh_cert.resize(0x800);
    refused(s, "LAUNCH_START: INVALID_LENGTH");
  }
  SUBCASE("an image that is not OVMF") {
    SevGuestLaunchSpec s = o.spec;
    s.image = Bytes(8192, 0x90);
    refused(s, "guest image");
  }
  // A refused launch gives back its pages and ASID: a good launch still gets the first ones.
  auto g = host->LaunchSevGuest(o.spec);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  CHECK(g->handle == 1);
  CHECK(g->asid == emulator::Info(emulator::Product::kMilan).max_asid / 2);
}

TEST_CASE("secrets are refused when the MAC, the state or the address is wrong") {
  auto host = BootHost();
  Owner o = MakeOwner(*host, "vm", false, 0x1);
  auto g = host->LaunchSevGuest(o.spec);
  REQUIRE(g.ok());
  auto measured = emulator::ParseSevMeasureOut(g->launch_measure);
  REQUIRE(measured.ok());
  auto packet = owner::PackageLaunchSecret(o.session.keys, Api(*g), measured->measurement,
                                           SecretBytes(Bytes(32, 7)));
  REQUIRE(packet.ok());
  auto header = packet->HeaderBytes();
  auto before = host->ReadGuestMemory("vm", g->secret_gpa, 32);
  REQUIRE(before.ok());

  SUBCASE("a flipped header MAC: BAD_MEASUREMENT, the guest's memory unchanged") {
    header[0x20] ^= 1;
    auto st = host->InjectLaunchSecret("vm", header, packet->ciphertext, {});
    REQUIRE_FALSE(st.ok());
    CHECK_MESSAGE(st.error().message().find("LAUNCH_UPDATE_SECRET") != std::string::npos,
                  st.error().message());
  }
  SUBCASE("an unmapped guest address") {
    auto st = host->InjectLaunchSecret("vm", header, packet->ciphertext, 0x1000);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code() == ErrorCode::kNotFound);
  }
  SUBCASE("an empty secret") {
    CHECK_FALSE(host->InjectLaunchSecret("vm", header, {}, {}).ok());
  }
  SUBCASE("no such guest, and SNP guests have no launch secrets") {
    CHECK(host->InjectLaunchSecret("nope", header, packet->ciphertext, {}).error().code() ==
          ErrorCode::kNotFound);
    hypervisor::GuestLaunchSpec snp;
    snp.name = "snp";
    REQUIRE(host->LaunchGuest(snp).ok());
    CHECK(host->InjectLaunchSecret("snp", header, packet->ciphertext, {}).error().code() ==
          ErrorCode::kInvalidArgument);
    CHECK_FALSE(host->SevAttestationReport("snp", {}).ok());
    CHECK_FALSE(host->GuestRequest("vm", Bytes(16, 0), std::nullopt).ok());
  }
  auto after = host->ReadGuestMemory("vm", g->secret_gpa, 32);
  REQUIRE(after.ok());
  CHECK(*after == *before);
  // The refusals left the launch where it was: the right packet still goes in.
  REQUIRE(host->InjectLaunchSecret("vm", packet->HeaderBytes(), packet->ciphertext, {}).ok());
  CHECK(*host->ReadGuestMemory("vm", g->secret_gpa, 32) == Bytes(32, 7));
}

}  // namespace sevemu

namespace sevemu {

TEST_CASE(
    "direct boot: the firmware's SEV and SEV-ES measurements are of sev-snp-measure's digests") {
  // fixtures/launch/direct_boot.json's legacy cases, launched from the built-in direct-boot
  // image (the default when a launch has a kernel and no image).
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    if (c["mode"] == "snp") continue;
    CAPTURE(c["command"].get<std::string>());
    const bool es = c["mode"] == "seves";
    auto host = BootHost();
    const std::uint32_t policy = es ? 0x5 : 0x1;
    Owner o = MakeOwner(*host, "kvm", es, policy);
    o.spec.vcpus = c["vcpus"];
    if (es) o.spec.vcpu_signature = test::CaseVcpuSignature(c);
    o.spec.direct_boot = test::CaseDirectBoot(c);
    auto g = host->LaunchSevGuest(o.spec);
    REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
    CHECK(g->kernel_hashes);
    CHECK(HexEncode(g->launch_digest) == c["digest"].get<std::string>());
    // The firmware's own digest: LAUNCH_MEASURE's HMAC verifies over the tool's digest only.
    auto want = test::Hex(c["digest"].get<std::string>());
    emulator::SevDigest digest{};
    REQUIRE(want.size() == digest.size());
    std::memcpy(digest.data(), want.data(), want.size());
    auto measured = emulator::ParseSevMeasureOut(g->launch_measure);
    REQUIRE(measured.ok());
    CHECK(owner::VerifyMeasurement(o.session.keys, Api(*g), policy, digest, *measured).ok());
    digest[31] ^= 1;
    CHECK_FALSE(owner::VerifyMeasurement(o.session.keys, Api(*g), policy, digest, *measured).ok());
    // The guest finds the table where the image said (0x80C400), in its encrypted memory.
    auto table = host->ReadGuestMemory(g->name, 0x80C400, launch::kPaddedSevHashTableSize);
    REQUIRE(table.ok());
    CHECK(*table == launch::BuildSevHashTable(*o.spec.direct_boot));
    ++n;
  }
  CHECK(n >= 3);
}

TEST_CASE("direct boot from an image without a usable hash table area is refused, as QEMU does") {
  auto host = BootHost();
  Owner o = MakeOwner(*host, "kvm", false, 0x1);
  o.spec.direct_boot = launch::DirectBoot{};
  o.spec.image = hypervisor::DefaultGuestImage();  // the plain image: no hash table entry
  auto g = host->LaunchSevGuest(o.spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message().find(
            "SEV: kernel specified but guest firmware has no hashes table GUID") !=
        std::string::npos);
  CHECK(host->Guests().empty());
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto debian = test::LoadReferenceOvmf(fixture);
  if (!debian) return;
  o.spec.image = *debian;
  g = host->LaunchSevGuest(o.spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message().find(
            "SEV: guest firmware hashes table area is invalid (base=0x0 size=0x0)") !=
        std::string::npos);
  CHECK(host->Guests().empty());
}

}  // namespace sevemu
