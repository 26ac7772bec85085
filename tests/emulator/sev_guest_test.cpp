// The legacy SEV / SEV-ES guest (Firmware::ExecuteSev; docs/sev-commands.md): a full launch
// driven by the guest-owner library (owner/launch_session.h) for SEV and SEV-ES — session,
// LAUNCH_START, UPDATE_DATA (and UPDATE_VMSA), LAUNCH_MEASURE checked against the owner's
// expectation, LAUNCH_SECRET found in the guest's memory, LAUNCH_FINISH, a PEK-signed
// ATTESTATION report — and every MAC, policy, ASID and state refusal with the API's status and
// an unchanged Firmware::StateDigest().
#include "sevemu/statemachine/sev_guest.h"

#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <vector>

#include "emulator_fixture.h"
#include "sev_legacy_fixture.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::test {
namespace {

using emulator::FwStatus;
using emulator::SevCmd;
using statemachine::SevGuestState;
using statemachine::SevPlatformState;
namespace pol = emulator::sev_policy;

void FullLaunch(bool es, bool snp) {
  LegacyFixture f(true, snp);
  const std::uint32_t policy = pol::kNoDbg | pol::kNoKs | (es ? pol::kEs : 0);
  Launched l = LaunchUpTo(f, policy);
  CHECK(f.Status(l.handle).state == static_cast<std::uint8_t>(SevGuestState::kLsecret));
  CHECK(f.fw->sev_state() == SevPlatformState::kWorking);
  emulator::SevPlatformStatusBuf ps{};
  REQUIRE(f.Sev(SevCmd::kPlatformStatus, ps) == FwStatus::kSuccess);
  CHECK(ps.guest_count == 1);

  // The owner's expected measurement over what it meant to load.
  const emulator::SevApiVersion api = f.Api();
  auto expected = owner::ExpectedMeasurement(l.ls.keys, api, policy, l.digest, l.measure.mnonce);
  REQUIRE(expected.ok());
  CHECK(*expected == l.measure.measurement);
  CHECK(owner::VerifyMeasurement(l.ls.keys, api, policy, l.digest, l.measure).ok());

  // The pages are encrypted in place: the host sees ciphertext, the guest its plaintext.
  for (int i = 0; i < kGuestPages; ++i) {
    Bytes host(0x1000);
    REQUIRE(f.fw->memory().HvRead(kGuest + i * 0x1000, host) == rmp::RmpViolation::kNone);
    CHECK(host != l.measured[i]);
    CHECK(f.GuestView(l.asid, kGuest + i * 0x1000, 0x1000) == l.measured[i]);
  }

  // LAUNCH_SECRET: the owner packages a secret for the measured guest; it lands in its memory.
  const SecretBytes secret(Pattern(48, 0x3C));
  auto packet = owner::PackageLaunchSecret(l.ls.keys, api, l.measure.measurement, secret);
  REQUIRE(packet.ok());
  auto sb = f.SecretBuf(l.handle, *packet);
  REQUIRE(f.Sev(SevCmd::kLaunchUpdateSecret, sb) == FwStatus::kSuccess);
  const Bytes seen = f.GuestView(l.asid, kSecretGpa, 48);
  CHECK(ConstantTimeEquals(seen, secret.span()));
  CHECK(f.Get(kSecretGpa, 48) != seen);  // ciphertext in DRAM

  REQUIRE(f.Handle(SevCmd::kLaunchFinish, l.handle) == FwStatus::kSuccess);
  const auto st = f.Status(l.handle);
  CHECK(st.state == static_cast<std::uint8_t>(SevGuestState::kRunning));
  CHECK(st.asid == l.asid);
  CHECK(st.policy == policy);

  // ATTESTATION, verified with the PEK of the exported chain.
  emulator::SevAttestationBuf ab{l.handle, 0, kReport, {}, 0xD0};
  for (int i = 0; i < 16; ++i) ab.mnonce[i] = static_cast<std::uint8_t>(0xE0 + i);
  REQUIRE(f.Sev(SevCmd::kAttestation, ab) == FwStatus::kSuccess);
  CHECK(ab.length == 0xD0);
  owner::AttestationExpectations expect;
  emulator::SevNonce mnonce{};
  std::memcpy(mnonce.data(), ab.mnonce, 16);
  expect.mnonce = mnonce;
  expect.launch_digest = l.digest;
  expect.policy = policy;
  auto report = owner::VerifyLegacyAttestationReport(f.Get(kReport, 0xD0), f.Export().pek, expect);
  CHECK_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message()));

  // Tear down: DECOMMISSION needs DEACTIVATE first; the last guest takes the platform to INIT.
  CHECK(f.Handle(SevCmd::kDecommission, l.handle) == FwStatus::kActive);
  REQUIRE(f.Handle(SevCmd::kDeactivate, l.handle) == FwStatus::kSuccess);
  CHECK(f.Status(l.handle).asid == 0);
  REQUIRE(f.Handle(SevCmd::kDecommission, l.handle) == FwStatus::kSuccess);
  CHECK(f.Status(l.handle).state == static_cast<std::uint8_t>(SevGuestState::kUninit));
  CHECK(f.fw->sev_state() == SevPlatformState::kInit);
  // The ASID ran: dirty until WBINVD and DF_FLUSH.
  Launched again{f.Session(policy)};
  again.handle = f.Start(again.ls);
  CHECK(f.Activate(again.handle, l.asid) == FwStatus::kDfFlushRequired);
  f.fw->Wbinvd();
  REQUIRE(f.fw->ExecuteSev(SevCmd::kDfFlush, MutableByteSpan{}) == FwStatus::kSuccess);
  CHECK(f.Activate(again.handle, l.asid) == FwStatus::kSuccess);
}

// Runs `spoil` on a fresh fixture after `setup`, expecting `want` and no state change.
struct Refusal {
  const char* rule;
  std::function<FwStatus(LegacyFixture&)> run;
  FwStatus want;
};

void CheckRefusals(const std::function<void(LegacyFixture&)>& setup, const Refusal* rows,
                   std::size_t n, bool es_platform = true) {
  for (std::size_t i = 0; i < n; ++i) {
    const Refusal& r = rows[i];
    SUBCASE(r.rule) {
      LegacyFixture f(es_platform);
      setup(f);
      const Bytes before = f.fw->StateDigest();
      CHECK(r.run(f) == r.want);
      CHECK(f.fw->StateDigest() == before);
    }
  }
}

}  // namespace

TEST_CASE("legacy SEV guest: full launch, measurement, secret, attestation") {
  SUBCASE("SEV") {
    FullLaunch(false, false);
  }
  SUBCASE("SEV-ES") {
    FullLaunch(true, false);
  }
  SUBCASE("SEV with SNP initialised (FIRMWARE pages)") {
    FullLaunch(false, true);
  }
  SUBCASE("SEV-ES with SNP initialised") {
    FullLaunch(true, true);
  }
}

TEST_CASE("LAUNCH_START refusals: session, MACs, policy, key sharing; nothing changes") {
  constexpr std::uint32_t kPolicy = pol::kNoDbg;
  const Refusal rows[] = {
      {"session length not 0x80",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(kPolicy));
         b.session_len = 0x90;
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kInvalidLength},
      {"GODH length not 0x824",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(kPolicy));
         b.dh_cert_len = 0x800;
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kInvalidLength},
      {"session outside memory",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(kPolicy));
         b.session_paddr = 1ull << 40;
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kInvalidAddress},
      {"GODH usage not PDH",
       [](LegacyFixture& f) {
         auto ls = f.Session(kPolicy);
         ls.godh_cert[8] = 0x02;  // usage 0x1002 (PEK)
         auto b = f.StartBuf(ls);
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kInvalidCertificate},
      {"WRAP_MAC mismatch",
       [](LegacyFixture& f) {
         auto ls = f.Session(kPolicy);
         ls.session.wrap_mac[0] ^= 1;
         auto b = f.StartBuf(ls);
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       emulator::kSevWrapMacStatus},
      {"wrapped keys changed (WRAP_MAC)",
       [](LegacyFixture& f) {
         auto ls = f.Session(kPolicy);
         ls.session.wrap_tk[5] ^= 0x80;
         auto b = f.StartBuf(ls);
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       emulator::kSevWrapMacStatus},
      {"POLICY_MAC mismatch: the host changed the policy",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(kPolicy));
         b.policy = 0;  // drop NODBG
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       emulator::kSevPolicyMacStatus},
      {"policy: API minimum above the firmware's",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(0xFFu << pol::kApiMajorShift));
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kPolicyFailure},
      {"policy: reserved bit",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(1u << 6));
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kPolicyFailure},
      {"key sharing with no such guest",
       [](LegacyFixture& f) {
         auto b = f.StartBuf(f.Session(kPolicy));
         b.handle = 7;
         return f.Sev(SevCmd::kLaunchStart, b);
       },
       FwStatus::kInvalidGuest},
  };
  CheckRefusals([](LegacyFixture&) {}, rows, std::size(rows));
}

TEST_CASE("LAUNCH_START: ES needs an SEV-ES platform; platform state; key sharing rules") {
  SUBCASE("ES policy on a platform initialised without ES: UNSUPPORTED") {
    LegacyFixture f(false);
    auto b = f.StartBuf(f.Session(pol::kEs));
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kUnsupported);
    CHECK(f.fw->StateDigest() == before);
  }
  SUBCASE("platform UNINIT: INVALID_PLATFORM_STATE") {
    LegacyFixture f;
    auto b = f.StartBuf(f.Session(0));
    REQUIRE(f.fw->ExecuteSev(SevCmd::kShutdown, MutableByteSpan{}) == FwStatus::kSuccess);
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kInvalidPlatformState);
    CHECK(f.fw->StateDigest() == before);
  }
  SUBCASE("handle != 0 shares the key: same policy, NOKS clear") {
    LegacyFixture f;
    Launched first = LaunchUpTo(f, 0, true);
    // A different policy, or NOKS on the first guest, is refused.
    auto b = f.StartBuf(f.Session(pol::kNoDbg));
    b.handle = first.handle;
    Bytes before = f.fw->StateDigest();
    CHECK(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kPolicyFailure);
    CHECK(f.fw->StateDigest() == before);
    b = f.StartBuf(f.Session(0));
    b.handle = first.handle;
    REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
    CHECK(b.handle != first.handle);
    // The sharer, on its own ASID, reads the first guest's memory with the shared key.
    REQUIRE(f.Activate(b.handle, kSevAsid + 1) == FwStatus::kSuccess);
    CHECK(f.GuestView(kSevAsid + 1, kGuest, 0x1000) == first.measured[0]);

    LegacyFixture g;
    Launched noks = LaunchUpTo(g, pol::kNoKs, true);
    auto c = g.StartBuf(g.Session(pol::kNoKs));
    c.handle = noks.handle;
    before = g.fw->StateDigest();
    CHECK(g.Sev(SevCmd::kLaunchStart, c) == FwStatus::kPolicyFailure);
    CHECK(g.fw->StateDigest() == before);
  }
  SUBCASE("1024 guests at most: RESOURCE_LIMIT") {
    LegacyFixture f;
    for (std::uint32_t i = 1; i <= 1024; ++i) {
      emulator::SevLaunchStartBuf b{0, 0, 0, 0, 0, 0, 0};
      REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
      REQUIRE(b.handle == i);  // the lowest free handle
    }
    emulator::SevLaunchStartBuf b{0, 0, 0, 0, 0, 0, 0};
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kResourceLimit);
    CHECK(f.fw->StateDigest() == before);
    REQUIRE(f.Handle(SevCmd::kDecommission, 7) == FwStatus::kSuccess);
    REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
    CHECK(b.handle == 7);
  }
  SUBCASE("no session: no transport keys, LAUNCH_START still works") {
    LegacyFixture f;
    emulator::SevLaunchStartBuf b{0, 0, 0, 0, 0, 0, 0};
    REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
    CHECK(f.Status(b.handle).state == static_cast<std::uint8_t>(SevGuestState::kLupdate));
  }
}

TEST_CASE("guest-state and activation refusals change nothing") {
  // A guest in LUPDATE (handle 1, SEV, activated on kSevAsid) unless the row says otherwise.
  static Launched l;
  auto setup = [](LegacyFixture& f) { l = LaunchUpTo(f, pol::kNoDbg, true); };
  const Refusal rows[] = {
      {"LAUNCH_SECRET in LUPDATE",
       [](LegacyFixture& f) {
         auto p = owner::PackageLaunchSecret(l.ls.keys, f.Api(), emulator::SevMac{},
                                             SecretBytes(Pattern(16, 1)));
         REQUIRE(p.ok());
         auto b = f.SecretBuf(l.handle, *p);
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       FwStatus::kInvalidGuestState},
      {"LAUNCH_FINISH in LUPDATE",
       [](LegacyFixture& f) { return f.Handle(SevCmd::kLaunchFinish, l.handle); },
       FwStatus::kInvalidGuestState},
      {"ATTESTATION in LUPDATE",
       [](LegacyFixture& f) {
         emulator::SevAttestationBuf b{l.handle, 0, kReport, {}, 0xD0};
         return f.Sev(SevCmd::kAttestation, b);
       },
       FwStatus::kInvalidGuestState},
      {"LAUNCH_UPDATE_VMSA for a SEV guest",
       [](LegacyFixture& f) {
         return f.Update(SevCmd::kLaunchUpdateVmsa, l.handle, kVmsa, 0x1000);
       },
       FwStatus::kUnsupported},
      {"LAUNCH_UPDATE_VMSA of another length",
       [](LegacyFixture& f) { return f.Update(SevCmd::kLaunchUpdateVmsa, l.handle, kVmsa, 0x800); },
       FwStatus::kInvalidLength},
      {"LAUNCH_UPDATE_DATA misaligned",
       [](LegacyFixture& f) {
         return f.Update(SevCmd::kLaunchUpdateData, l.handle, kGuest + 8, 16);
       },
       FwStatus::kInvalidAddress},
      {"LAUNCH_UPDATE_DATA length 0",
       [](LegacyFixture& f) { return f.Update(SevCmd::kLaunchUpdateData, l.handle, kGuest, 0); },
       FwStatus::kInvalidLength},
      {"LAUNCH_UPDATE_DATA unknown handle",
       [](LegacyFixture& f) { return f.Update(SevCmd::kLaunchUpdateData, 9, kGuest, 16); },
       FwStatus::kInvalidGuest},
      {"LAUNCH_MEASURE length probe",
       [](LegacyFixture& f) {
         emulator::SevLaunchMeasureBuf b{l.handle, 0, kMeasure, 0x2F};
         const FwStatus st = f.Sev(SevCmd::kLaunchMeasure, b);
         CHECK(b.measure_len == 0x30);
         return st;
       },
       FwStatus::kInvalidLength},
      {"ACTIVATE: already active",
       [](LegacyFixture& f) { return f.Activate(l.handle, kSevAsid + 1); }, FwStatus::kActive},
      {"ACTIVATE: ASID 0", [](LegacyFixture& f) { return f.Activate(l.handle, 0); },
       FwStatus::kInvalidAsid},
      {"ACTIVATE: ASID owned by another guest",
       [](LegacyFixture& f) {
         emulator::SevLaunchStartBuf b{0, 0, 0, 0, 0, 0, 0};
         REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
         const Bytes mid = f.fw->StateDigest();
         const FwStatus st = f.Activate(b.handle, kSevAsid);
         CHECK(f.fw->StateDigest() == mid);
         // Undo the extra guest so the outer digest comparison holds.
         REQUIRE(f.Handle(SevCmd::kDecommission, b.handle) == FwStatus::kSuccess);
         return st;
       },
       FwStatus::kAsidOwned},
      {"DECOMMISSION while active",
       [](LegacyFixture& f) { return f.Handle(SevCmd::kDecommission, l.handle); },
       FwStatus::kActive},
      {"DEACTIVATE unknown handle",
       [](LegacyFixture& f) { return f.Handle(SevCmd::kDeactivate, 2); }, FwStatus::kInvalidGuest},
      {"DBG_DECRYPT under NODBG",
       [](LegacyFixture& f) {
         emulator::SevDbgBuf b{l.handle, 0, kGuest, kDbg, 0x100};
         return f.Sev(SevCmd::kDbgDecrypt, b);
       },
       FwStatus::kPolicyFailure},
      {"DBG_ENCRYPT under NODBG",
       [](LegacyFixture& f) {
         emulator::SevDbgBuf b{l.handle, 0, kDbg, kGuest, 0x100};
         return f.Sev(SevCmd::kDbgEncrypt, b);
       },
       FwStatus::kPolicyFailure},
  };
  CheckRefusals(setup, rows, std::size(rows));
}

TEST_CASE("after LAUNCH_MEASURE: LSECRET refusals, the secret's MAC, length probing") {
  static Launched l;
  auto setup = [](LegacyFixture& f) { l = LaunchUpTo(f, pol::kNoDbg); };
  const Refusal rows[] = {
      {"LAUNCH_UPDATE_DATA in LSECRET",
       [](LegacyFixture& f) { return f.Update(SevCmd::kLaunchUpdateData, l.handle, kGuest, 16); },
       FwStatus::kInvalidGuestState},
      {"LAUNCH_MEASURE twice",
       [](LegacyFixture& f) {
         emulator::SevLaunchMeasureBuf b{l.handle, 0, kMeasure, 0x30};
         return f.Sev(SevCmd::kLaunchMeasure, b);
       },
       FwStatus::kInvalidGuestState},
      {"LAUNCH_SECRET with a bad MAC",
       [](LegacyFixture& f) {
         auto p = owner::PackageLaunchSecret(l.ls.keys, f.Api(), l.measure.measurement,
                                             SecretBytes(Pattern(32, 9)));
         REQUIRE(p.ok());
         p->header.mac[3] ^= 1;
         auto b = f.SecretBuf(l.handle, *p);
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       emulator::kSevSecretMacStatus},
      {"LAUNCH_SECRET bound to another measurement",
       [](LegacyFixture& f) {
         emulator::SevMac other = l.measure.measurement;
         other[0] ^= 1;
         auto p =
             owner::PackageLaunchSecret(l.ls.keys, f.Api(), other, SecretBytes(Pattern(32, 9)));
         REQUIRE(p.ok());
         auto b = f.SecretBuf(l.handle, *p);
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       emulator::kSevSecretMacStatus},
      {"LAUNCH_SECRET with another owner's keys",
       [](LegacyFixture& f) {
         auto other = owner::RandomSessionInputs();
         REQUIRE(other.ok());
         auto p = owner::PackageLaunchSecret(other->keys, f.Api(), l.measure.measurement,
                                             SecretBytes(Pattern(32, 9)));
         REQUIRE(p.ok());
         auto b = f.SecretBuf(l.handle, *p);
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       emulator::kSevSecretMacStatus},
      {"LAUNCH_SECRET lengths differ",
       [](LegacyFixture& f) {
         auto p = owner::PackageLaunchSecret(l.ls.keys, f.Api(), l.measure.measurement,
                                             SecretBytes(Pattern(32, 9)));
         REQUIRE(p.ok());
         auto b = f.SecretBuf(l.handle, *p);
         b.guest_len = 16;
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       FwStatus::kInvalidLength},
      {"LAUNCH_SECRET header length",
       [](LegacyFixture& f) {
         auto p = owner::PackageLaunchSecret(l.ls.keys, f.Api(), l.measure.measurement,
                                             SecretBytes(Pattern(32, 9)));
         REQUIRE(p.ok());
         auto b = f.SecretBuf(l.handle, *p);
         b.hdr_len = 0x30;
         return f.Sev(SevCmd::kLaunchUpdateSecret, b);
       },
       FwStatus::kInvalidLength},
      {"ATTESTATION length probe",
       [](LegacyFixture& f) {
         emulator::SevAttestationBuf b{l.handle, 0, kReport, {}, 0x10};
         const FwStatus st = f.Sev(SevCmd::kAttestation, b);
         CHECK(b.length == 0xD0);
         return st;
       },
       FwStatus::kInvalidLength},
  };
  CheckRefusals(setup, rows, std::size(rows));
}

TEST_CASE("ASID ranges: SEV-ES below min_sev_asid, SEV from it; SNP shares the bookkeeping") {
  LegacyFixture f;
  Launched es = LaunchUpTo(f, pol::kEs, true);  // activated on kEsAsid
  emulator::SevLaunchStartBuf b{0, 0, 0, 0, 0, 0, 0};
  REQUIRE(f.Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);  // a SEV guest
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Activate(b.handle, kEsAsid + 1) == FwStatus::kInvalidAsid);  // below min_sev_asid
  CHECK(f.Activate(b.handle, kEsAsid) == FwStatus::kAsidOwned);
  CHECK(f.Activate(b.handle, 100000) == FwStatus::kInvalidAsid);
  CHECK(f.fw->StateDigest() == before);
  CHECK(f.Activate(b.handle, kMinSevAsid) == FwStatus::kSuccess);
  // A pending activation never ran: DEACTIVATE leaves the ASID clean.
  REQUIRE(f.Handle(SevCmd::kDeactivate, b.handle) == FwStatus::kSuccess);
  CHECK(f.Activate(b.handle, kMinSevAsid) == FwStatus::kSuccess);
  // An SEV-ES guest may not take a SEV ASID.
  REQUIRE(f.Handle(SevCmd::kDeactivate, es.handle) == FwStatus::kSuccess);
  CHECK(f.Activate(es.handle, kMinSevAsid + 1) == FwStatus::kInvalidAsid);
  CHECK(f.Update(SevCmd::kLaunchUpdateData, es.handle, kGuest, 16) == FwStatus::kInactive);
}

TEST_CASE("with SNP initialised the firmware writes only FIRMWARE pages") {
  LegacyFixture f(true, true);
  Launched l = LaunchUpTo(f, 0, true);
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Update(SevCmd::kLaunchUpdateData, l.handle, kHvPage, 0x1000) ==
        FwStatus::kInvalidPageState);
  emulator::SevLaunchMeasureBuf m{l.handle, 0, kHvPage, 0x30};
  CHECK(f.Sev(SevCmd::kLaunchMeasure, m) == FwStatus::kInvalidPageState);
  CHECK(f.fw->StateDigest() == before);
}

TEST_CASE("DBG_DECRYPT / DBG_ENCRYPT when the policy allows debugging") {
  LegacyFixture f;
  Launched l = LaunchUpTo(f, 0, true);
  emulator::SevDbgBuf d{l.handle, 0, kGuest, kDbg, 0x100};
  REQUIRE(f.Sev(SevCmd::kDbgDecrypt, d) == FwStatus::kSuccess);
  CHECK(f.Get(kDbg, 0x100) == Bytes(l.measured[0].begin(), l.measured[0].begin() + 0x100));
  const Bytes poke = Pattern(0x20, 0x77);
  f.Put(kDbg, poke);
  emulator::SevDbgBuf e{l.handle, 0, kDbg, kGuest + 0x40, 0x20};
  REQUIRE(f.Sev(SevCmd::kDbgEncrypt, e) == FwStatus::kSuccess);
  CHECK(f.GuestView(l.asid, kGuest + 0x40, 0x20) == poke);
  CHECK(f.GuestView(l.asid, kGuest, 0x40) ==
        Bytes(l.measured[0].begin(), l.measured[0].begin() + 0x40));
  emulator::SevDbgBuf bad{l.handle, 0, kGuest + 8, kDbg, 0x10};
  CHECK(f.Sev(SevCmd::kDbgDecrypt, bad) == FwStatus::kInvalidAddress);
  emulator::SevDbgBuf badlen{l.handle, 0, kGuest, kDbg, 0x18};
  CHECK(f.Sev(SevCmd::kDbgDecrypt, badlen) == FwStatus::kInvalidLength);
}

TEST_CASE("SHUTDOWN drops every legacy guest; after INIT the handle is unknown") {
  LegacyFixture f(false);
  const std::uint32_t handle = f.Start(f.Session(0));
  REQUIRE(f.Activate(handle, kMinSevAsid) == FwStatus::kSuccess);
  CHECK(f.Status(handle).state != 0);
  emulator::SevPlatformStatusBuf st{};
  REQUIRE(f.Sev(SevCmd::kPlatformStatus, st) == FwStatus::kSuccess);
  const std::uint32_t guests_before = st.guest_count;
  CHECK(guests_before == 1);
  REQUIRE(f.fw->ExecuteSev(SevCmd::kShutdown, MutableByteSpan{}) == FwStatus::kSuccess);
  emulator::SevInitBuf init{};
  REQUIRE(f.Sev(SevCmd::kInit, init) == FwStatus::kSuccess);
  REQUIRE(f.Sev(SevCmd::kPlatformStatus, st) == FwStatus::kSuccess);
  const std::uint32_t guests_after = st.guest_count;
  CHECK(guests_after == 0);
  CHECK(f.Status(handle).state == 0);  // unknown handles read UNINIT
  // The ASID the guest had is not reusable until the caches are flushed.
  const std::uint32_t again = f.Start(f.Session(0));
  CHECK(f.Activate(again, kMinSevAsid) == FwStatus::kDfFlushRequired);
  f.fw->Wbinvd();
  REQUIRE(f.fw->ExecuteSev(SevCmd::kDfFlush, MutableByteSpan{}) == FwStatus::kSuccess);
  CHECK(f.Activate(again, kMinSevAsid) == FwStatus::kSuccess);
}

TEST_CASE("GUEST_STATUS: unknown handles read UNINIT; UNINIT platform refused") {
  LegacyFixture f;
  emulator::SevGuestStatusBuf b{42, 0x1234, 7, 9};
  REQUIRE(f.Sev(SevCmd::kGuestStatus, b) == FwStatus::kSuccess);
  CHECK(b.state == 0);
  REQUIRE(f.fw->ExecuteSev(SevCmd::kShutdown, MutableByteSpan{}) == FwStatus::kSuccess);
  CHECK(f.Sev(SevCmd::kGuestStatus, b) == FwStatus::kInvalidPlatformState);
}

}  // namespace sevemu::test
