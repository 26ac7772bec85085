// Legacy SEV / SEV-ES guests moved between two simulated hosts as KVM's KVM_SEV_SEND_* and
// KVM_SEV_RECEIVE_* move them (hypervisor/sev_guest_migrate.cpp): the destination's PDH chain
// reaches the source's SEND_START, every page and VMSA crosses as a transport packet, and the
// guest runs on the destination with the same memory and policy, attests there with the
// destination's PEK (launch digest zero: AMD's RECEIVE_* never carries it), and is gone from
// the source. Then the refusals, which leave the source guest running and both firmwares as
// they were.
#include <doctest/doctest.h>

#include "../emulator/emulator_fixture.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/launch/ovmf_image.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/statemachine/sev_guest.h"

namespace sevemu {
namespace {

using hypervisor::GuestType;
using hypervisor::Host;
using hypervisor::MigrateSevGuest;
using hypervisor::SevGuestLaunchSpec;
using statemachine::SevGuestState;

constexpr std::uint32_t kNoDbg = 0x1, kEs = 0x4, kNoSend = 0x8, kDomain = 0x10, kSev = 0x20;

std::unique_ptr<Host> BootHost(std::uint8_t seed,
                               emulator::Product product = emulator::Product::kMilan) {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = Host::Boot(test::SeededPlatform(product, seed), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

// A guest launched with its owner's session, finished, with a pattern written into its RAM.
hypervisor::GuestInfo RunningGuest(Host& host, const std::string& name, bool es,
                                   std::uint32_t policy) {
  const auto certs = host.SevMigrationTargetCerts();
  REQUIRE(certs.ok());
  auto pdh = emulator::SevCert::Parse(certs->pdh);
  REQUIRE(pdh.ok());
  auto pdh_key = pdh->pubkey.ToCrypto();
  REQUIRE(pdh_key.ok());
  auto session = owner::MakeLaunchSession(*pdh_key, policy);
  REQUIRE(session.ok());
  SevGuestLaunchSpec spec;
  spec.name = name;
  spec.es = es;
  spec.policy = policy;
  spec.vcpus = es ? 2 : 1;
  spec.godh_cert.assign(session->godh_cert.begin(), session->godh_cert.end());
  const auto blob = session->SessionBytes();
  spec.session.assign(blob.begin(), blob.end());
  auto g = host.LaunchSevGuest(spec);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  REQUIRE(host.FinishSevLaunch(name).ok());
  REQUIRE(host.WriteGuestMemory(name, g->secret_gpa, Bytes(100, 0xC3)).ok());
  return *g;
}

SevGuestState GuestState(Host& host, std::uint32_t handle) {
  emulator::SevGuestStatusBuf buf{handle, 0, 0, 0};
  std::uint32_t error = 0;
  REQUIRE(host.sev_device().IssueGuestCmd(
              emulator::SevCmd::kGuestStatus,
              MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof buf), {}, &error) == 0);
  return static_cast<SevGuestState>(buf.state);
}

Bytes Memory(Host& host, const std::string& name, std::uint64_t gpa, std::size_t len) {
  auto m = host.ReadGuestMemory(name, gpa, len);
  REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message()));
  return *m;
}

}  // namespace

TEST_CASE("an SEV and an SEV-ES guest move to another host and run there") {
  for (const bool es : {false, true}) {
    // Policy SEV: the destination's chain must reach this part's ARK; neither bit: any PDH.
    for (const std::uint32_t rule : {kSev, 0u}) {
      CAPTURE(es);
      CAPTURE(rule);
      auto a = BootHost(1);
      auto b = BootHost(2);
      const std::uint32_t policy = kNoDbg | rule | (es ? kEs : 0);
      const hypervisor::GuestInfo before = RunningGuest(*a, "vm", es, policy);
      auto image = launch::ParseLegacyOvmfImage(hypervisor::DefaultGuestImage());
      REQUIRE(image.ok());
      const Bytes image_bytes = Memory(*a, "vm", image->Gpa(), image->image.size());
      const Bytes secret_area = Memory(*a, "vm", before.secret_gpa, before.secret_size);

      // Step by step, to see the source's states: SUPDATE while the pages cross.
      auto target = b->SevMigrationTargetCerts();
      REQUIRE(target.ok());
      auto stream = a->SendSevGuest("vm", *target);
      REQUIRE_MESSAGE(stream.ok(), (stream.ok() ? "" : stream.error().message()));
      CHECK(stream->policy == policy);
      CHECK(stream->session.size() == 0x80);
      CHECK(stream->pages.size() == before.pages - (es ? 2 : 0));
      CHECK(stream->vmsas.size() == (es ? 2u : 0u));
      CHECK(stream->pages.front().hdr.size() == 0x34);
      CHECK(GuestState(*a, before.handle) == SevGuestState::kSupdate);
      auto after = b->ReceiveSevGuest(*stream);
      REQUIRE_MESSAGE(after.ok(), (after.ok() ? "" : after.error().message()));
      REQUIRE(a->FinishSevSend("vm").ok());

      // The destination: same memory, same policy, a guest of its own ASID range, running.
      CHECK(after->type == (es ? GuestType::kSevEs : GuestType::kSev));
      CHECK(after->policy == policy);
      CHECK(after->received);
      CHECK(after->launch_finished);
      CHECK(after->pages == before.pages);
      CHECK(GuestState(*b, after->handle) == SevGuestState::kRunning);
      CHECK(Memory(*b, "vm", image->Gpa(), image->image.size()) == image_bytes);
      CHECK(Memory(*b, "vm", before.secret_gpa, before.secret_size) == secret_area);
      // ATTESTATION on the destination: signed by its PEK, the kept policy, a zero digest.
      const std::array<std::uint8_t, 16> mnonce = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
      auto report = b->SevAttestationReport("vm", mnonce);
      REQUIRE_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message()));
      auto pek = emulator::SevCert::Parse(ByteSpan(target->plat_certs).first(0x824));
      REQUIRE(pek.ok());
      auto pek_key = pek->pubkey.ToCrypto();
      REQUIRE(pek_key.ok());
      owner::AttestationExpectations expect;
      expect.mnonce = mnonce;
      expect.policy = policy;
      expect.launch_digest = emulator::SevDigest{};
      auto verified = owner::VerifyLegacyAttestationReport(*report, *pek_key, expect);
      CHECK_MESSAGE(verified.ok(), (verified.ok() ? "" : verified.error().message()));

      // The source: SENT, then DEACTIVATE and DECOMMISSION; the handle is unknown (state 0),
      // the platform is back to INIT (no guests) and the next guest reuses ASID and handle.
      CHECK_FALSE(a->Guest("vm").ok());
      CHECK(GuestState(*a, before.handle) == SevGuestState::kUninit);
      CHECK(a->firmware().sev_state() == statemachine::SevPlatformState::kInit);
      const hypervisor::GuestInfo next = RunningGuest(*a, "next", es, policy);
      CHECK(next.asid == before.asid);
      CHECK(next.handle == before.handle);
    }
  }
}

TEST_CASE("MigrateSevGuest: the whole move in one call, and back again") {
  auto a = BootHost(1);
  auto b = BootHost(2);
  const hypervisor::GuestInfo before = RunningGuest(*a, "vm", false, kNoDbg);
  const Bytes secret_area = Memory(*a, "vm", before.secret_gpa, before.secret_size);
  auto there = MigrateSevGuest(*a, *b, "vm");
  REQUIRE_MESSAGE(there.ok(), (there.ok() ? "" : there.error().message()));
  CHECK(a->Guests().empty());
  // A received guest can be sent on: RUNNING after RECEIVE_FINISH.
  auto back = MigrateSevGuest(*b, *a, "vm");
  REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message()));
  CHECK(b->Guests().empty());
  CHECK(Memory(*a, "vm", before.secret_gpa, before.secret_size) == secret_area);
  CHECK(back->policy == kNoDbg);
}

TEST_CASE("refused migrations leave the source guest running and both firmwares unchanged") {
  struct Case {
    const char* what;
    std::uint32_t policy;
    emulator::Product dest_product;
    const char* message;
  };
  const Case cases[] = {
      {"NOSEND: nothing leaves", kNoDbg | kNoSend, emulator::Product::kMilan,
       "SEND_START: POLICY_FAILURE"},
      // Each platform generated its own OCA: a DOMAIN guest stays with its owner.
      {"DOMAIN: a destination of another owner", kNoDbg | kDomain, emulator::Product::kMilan,
       "SEND_START: POLICY_FAILURE"},
      // Another product's ARK is not this part's fused root.
      {"SEV: a destination of another product", kNoDbg | kSev, emulator::Product::kGenoa,
       "SEND_START: INVALID_CERTIFICATE"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    auto a = BootHost(1);
    auto b = BootHost(2, c.dest_product);
    const hypervisor::GuestInfo g = RunningGuest(*a, "vm", false, c.policy);
    const Bytes mem = Memory(*a, "vm", g.secret_gpa, g.secret_size);
    // The destination's driver has used its command buffers once (the first use adds their
    // 2 MiB region to the RMP's tracked regions, which StateDigest lists).
    REQUIRE(b->SevMigrationTargetCerts().ok());
    const Bytes a_state = a->firmware().StateDigest();
    const Bytes b_state = b->firmware().StateDigest();
    auto r = MigrateSevGuest(*a, *b, "vm");
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(r.error().message().find(c.message) != std::string::npos, r.error().message());
    CHECK(a->firmware().StateDigest() == a_state);
    CHECK(b->firmware().StateDigest() == b_state);
    CHECK(GuestState(*a, g.handle) == SevGuestState::kRunning);
    CHECK(Memory(*a, "vm", g.secret_gpa, g.secret_size) == mem);
    CHECK(b->Guests().empty());
  }

  auto a = BootHost(1);
  auto b = BootHost(2);
  const hypervisor::GuestInfo g = RunningGuest(*a, "vm", false, kNoDbg);
  // Not a legacy guest, no such guest, the same host, a name already taken there.
  hypervisor::GuestLaunchSpec snp;
  snp.name = "snp";
  REQUIRE(a->LaunchGuest(snp).ok());
  CHECK(MigrateSevGuest(*a, *b, "snp").error().code() == ErrorCode::kInvalidArgument);
  CHECK(MigrateSevGuest(*a, *b, "nope").error().code() == ErrorCode::kNotFound);
  CHECK(MigrateSevGuest(*a, *a, "vm").error().code() == ErrorCode::kInvalidArgument);
  RunningGuest(*b, "vm", false, kNoDbg);
  CHECK(MigrateSevGuest(*a, *b, "vm").error().code() == ErrorCode::kAlreadyExists);
  REQUIRE(b->DestroyGuest("vm").ok());
  // A guest still in its launch (LSECRET) is not sent: SEND_START's state check.
  SevGuestLaunchSpec spec;
  spec.name = "young";
  REQUIRE(a->LaunchSevGuest(spec).ok());
  auto young = MigrateSevGuest(*a, *b, "young");
  REQUIRE_FALSE(young.ok());
  CHECK(young.error().message().find("SEND_START: INVALID_GUEST_STATE") != std::string::npos);
  CHECK(a->FinishSevLaunch("young").ok());
  CHECK(GuestState(*a, g.handle) == SevGuestState::kRunning);
}

TEST_CASE("a destination that fails: the source cancels the send and runs on") {
  auto a = BootHost(1);
  auto b = BootHost(2);
  auto c = BootHost(3);
  const hypervisor::GuestInfo g = RunningGuest(*a, "vm", true, kNoDbg | kEs);
  const Bytes mem = Memory(*a, "vm", g.secret_gpa, g.secret_size);
  auto target = b->SevMigrationTargetCerts();
  REQUIRE(target.ok());
  auto stream = a->SendSevGuest("vm", *target);
  REQUIRE(stream.ok());
  CHECK_FALSE(a->SendSevGuest("vm", *target).ok());  // one send at a time

  // A session made for B does not open on C (RECEIVE_START's WRAP_MAC).
  auto wrong = c->ReceiveSevGuest(*stream);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().message().find("RECEIVE_START: BAD_MEASUREMENT") != std::string::npos);
  CHECK(c->Guests().empty());
  // A flipped MAC in one packet: RECEIVE_UPDATE_DATA refuses it, B keeps nothing.
  auto tampered = *stream;
  tampered.pages[3].hdr[0x20] ^= 1;
  auto bad = b->ReceiveSevGuest(tampered);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().find("RECEIVE_UPDATE_DATA: BAD_MEASUREMENT") != std::string::npos);
  CHECK(b->Guests().empty());
  CHECK(b->firmware().sev_state() == statemachine::SevPlatformState::kInit);
  // So does a flipped VMSA packet.
  auto tampered_vmsa = *stream;
  tampered_vmsa.vmsas[1].trans[7] ^= 1;
  auto bad_vmsa = b->ReceiveSevGuest(tampered_vmsa);
  REQUIRE_FALSE(bad_vmsa.ok());
  CHECK(bad_vmsa.error().message().find("RECEIVE_UPDATE_VMSA: BAD_MEASUREMENT") !=
        std::string::npos);

  // The source cancels: RUNNING again, its memory as it was; then the move succeeds.
  REQUIRE(a->CancelSevSend("vm").ok());
  CHECK_FALSE(a->CancelSevSend("vm").ok());
  CHECK_FALSE(a->FinishSevSend("vm").ok());
  CHECK(GuestState(*a, g.handle) == SevGuestState::kRunning);
  CHECK(Memory(*a, "vm", g.secret_gpa, g.secret_size) == mem);
  auto moved = MigrateSevGuest(*a, *b, "vm");
  REQUIRE_MESSAGE(moved.ok(), (moved.ok() ? "" : moved.error().message()));
  CHECK(Memory(*b, "vm", g.secret_gpa, g.secret_size) == mem);
}

}  // namespace sevemu
