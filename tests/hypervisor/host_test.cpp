// The simulated host: launching guests as a VMM does, their memory as they see it, the
// guest-request exit with its certificate table, and teardown.
#include "sevemu/hypervisor/host.h"

#include <doctest/doctest.h>

#include <cstring>

#include "../emulator/emulator_fixture.h"
#include "report_verifier.h"
#include "sevemu/crypto/x509.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/ovmf_image.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using guestmsg::GuestMsgType;
using hypervisor::GuestLaunchSpec;
using hypervisor::Host;

std::unique_ptr<Host> BootHost(emulator::Product p = emulator::Product::kMilan) {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = Host::Boot(test::SeededPlatform(p), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

GuestLaunchSpec Spec(const std::string& name) {
  GuestLaunchSpec s;
  s.name = name;
  return s;
}

// What a guest driver does for one exchange on VMPCK0, with the sequence number given.
struct GuestSide {
  Host& host;
  std::string name;
  Bytes vmpck0;

  GuestSide(Host& h, const std::string& n) : host(h), name(n) {
    auto info = host.Guest(name);
    REQUIRE(info.ok());
    auto secrets = host.ReadGuestMemory(name, info->secrets_gpa, 4096);
    REQUIRE(secrets.ok());
    vmpck0.assign(secrets->begin() + 0x20, secrets->begin() + 0x40);
  }

  Bytes Request(GuestMsgType type, const Bytes& payload, std::uint64_t seq) {
    guestmsg::GuestMsgHeader h;
    h.seqno = seq;
    h.type = type;
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    auto ct = guestmsg::SealGuestMsg(h, payload, vmpck0);
    REQUIRE(ct.ok());
    Bytes page(4096, 0);
    const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
    std::memcpy(page.data(), hdr.data(), hdr.size());
    std::memcpy(page.data() + 0x60, ct->data(), ct->size());
    return page;
  }

  Bytes Open(const Bytes& response) {
    auto h = guestmsg::ParseGuestMsgHeader(response);
    REQUIRE(h.ok());
    auto plain = guestmsg::OpenGuestMsg(*h, ByteSpan(response).subspan(0x60, h->msg_size), vmpck0);
    REQUIRE(plain.ok());
    return Bytes(plain->data(), plain->data() + plain->size());
  }
};

Bytes ReportReq() {
  Bytes req(0x60, 0);
  req[0] = 0xAB;
  return req;
}

}  // namespace

TEST_CASE("a launched guest has its pages, its secrets page and its measurement") {
  auto host = BootHost();
  auto g = host->LaunchGuest(Spec("web-1"));
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  CHECK(g->asid == 1);
  CHECK(g->secrets_gpa == 0x80D000);
  CHECK(g->pages == 16 + 9 + 1 + 1 + 1);  // 64 KiB image, SNP_SEC_MEM, secrets, CPUID, VMSA

  // The measurement is the one an independent computation from the same image gives.
  auto image = launch::ParseOvmfImage(hypervisor::DefaultGuestImage());
  REQUIRE(image.ok());
  launch::SnpLaunchConfig cfg;
  cfg.vcpu_signature = host->platform().state.chip.cpuid_fms();
  auto want = launch::ExpectedSnpLaunchDigest(*image, cfg);
  REQUIRE(want.ok());
  CHECK(g->measurement == *want);

  // The guest sees its secrets page in plaintext: version 3 and four non-zero VMPCKs.
  auto secrets = host->ReadGuestMemory("web-1", g->secrets_gpa, 4096);
  REQUIRE(secrets.ok());
  CHECK(LoadLe32(secrets->data()) == 3);
  for (int i = 0; i < 4; ++i) {
    const Bytes key(secrets->begin() + 0x20 + 32 * i, secrets->begin() + 0x40 + 32 * i);
    CHECK(key != Bytes(32, 0));
  }
  // An unmapped GPA is an error, not a crash; a write then read round-trips.
  CHECK_FALSE(host->ReadGuestMemory("web-1", 0x1000, 16).ok());
  const Bytes data = {1, 2, 3, 4};
  REQUIRE(host->WriteGuestMemory("web-1", g->secrets_gpa + 0xA0, data).ok());
  auto back = host->ReadGuestMemory("web-1", g->secrets_gpa + 0xA0, 4);
  REQUIRE(back.ok());
  CHECK(*back == data);

  CHECK(host->Guests().size() == 1);
  CHECK(host->LaunchGuest(Spec("web-1")).error().code() == ErrorCode::kAlreadyExists);
  CHECK(host->LaunchGuest(Spec("bad name")).error().code() == ErrorCode::kInvalidArgument);
  CHECK(host->LaunchGuest(Spec("")).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("guest requests reach the firmware and reports verify") {
  auto host = BootHost();
  auto spec = Spec("g");
  spec.host_data[0] = 0x5A;
  auto g = host->LaunchGuest(spec);
  REQUIRE(g.ok());
  GuestSide side(*host, "g");

  auto reply =
      host->GuestRequest("g", side.Request(GuestMsgType::kReportReq, ReportReq(), 1), std::nullopt);
  REQUIRE(reply.ok());
  REQUIRE(reply->fw_status == FwStatus::kSuccess);
  const Bytes payload = side.Open(reply->response);
  REQUIRE(payload.size() == 0x4C0);
  CHECK(LoadLe32(payload.data()) == 0);
  const Bytes report(payload.begin() + 0x20, payload.begin() + 0x20 + 0x4A0);
  CHECK(report[0x50] == 0xAB);
  CHECK(report[0xC0] == 0x5A);  // host data
  CHECK(std::memcmp(report.data() + 0x90, g->measurement.data(), 48) == 0);

  // Extended: the automatic table carries VCEK, ASK and ARK, and the report verifies with it.
  auto too_small = host->GuestRequest("g", side.Request(GuestMsgType::kReportReq, ReportReq(), 3),
                                      std::uint32_t{4096});
  REQUIRE(too_small.ok());
  CHECK(too_small->vmm_error == uapi::kSnpGuestVmmErrInvalidLen);
  CHECK(too_small->certs_needed % 4096 == 0);
  CHECK(too_small->certs_needed > 4096);
  CHECK(too_small->response.empty());
  // The firmware was not called: sequence number 3 is still the next one.
  auto ext = host->GuestRequest("g", side.Request(GuestMsgType::kReportReq, ReportReq(), 3),
                                too_small->certs_needed);
  REQUIRE(ext.ok());
  REQUIRE(ext->fw_status == FwStatus::kSuccess);
  auto entries = guestmsg::ParseCertTable(ext->certs);
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 3);
  CHECK((*entries)[0].guid == guestmsg::kGuidVcek);
  const Bytes ext_payload = side.Open(ext->response);
  const Bytes ext_report(ext_payload.begin() + 0x20, ext_payload.begin() + 0x20 + 0x4A0);
  auto pem = [](const Bytes& der) {
    auto c = crypto::Certificate::FromDer(der);
    REQUIRE(c.ok());
    return *c->ToPem();
  };
  const auto verdict = test::VerifyAttestationReport(
      ext_report, pem((*entries)[0].der), pem((*entries)[1].der), pem((*entries)[2].der),
      host->platform().state.manufactured_at + 86400);
  CHECK_MESSAGE(verdict.ok, verdict.why);

  // A replayed request is refused by the firmware and reported as such.
  auto replay =
      host->GuestRequest("g", side.Request(GuestMsgType::kReportReq, ReportReq(), 3), std::nullopt);
  REQUIRE(replay.ok());
  CHECK(replay->fw_status == FwStatus::kAeadOverflow);

  // A table the host sets replaces the automatic one; a malformed one is refused.
  CHECK_FALSE(host->SetCertTable(Bytes(40, 0xEE)).ok());
  REQUIRE(host->SetCertTable(Bytes{}).ok());
  auto none = host->GuestRequest("g", side.Request(GuestMsgType::kReportReq, ReportReq(), 5), 0);
  REQUIRE(none.ok());
  CHECK(none->fw_status == FwStatus::kSuccess);
  CHECK(none->certs.empty());
  CHECK(host->GuestRequest("nobody", Bytes(16), std::nullopt).error().code() ==
        ErrorCode::kNotFound);
}

TEST_CASE("destroying a guest returns its pages and ASID") {
  auto host = BootHost();
  const auto& rmp_table = host->firmware().memory().rmp();
  const std::uint64_t firmware_pages = rmp_table.AssignedPages(0);
  REQUIRE(host->LaunchGuest(Spec("a")).ok());
  CHECK(rmp_table.AssignedPages(1) == 28);
  REQUIRE(host->DestroyGuest("a").ok());
  CHECK(host->Guests().empty());
  CHECK(host->DestroyGuest("a").error().code() == ErrorCode::kNotFound);
  auto again = host->LaunchGuest(Spec("a"));
  REQUIRE(again.ok());
  CHECK(again->asid == 1);
  REQUIRE(host->DestroyGuest("a").ok());
  // Every page is back with the hypervisor; the firmware holds what it held before.
  CHECK(rmp_table.AssignedPages(1) == 0);
  CHECK(rmp_table.AssignedPages(0) == firmware_pages);
}

TEST_CASE("a launch the firmware refuses leaves nothing behind") {
  auto host = BootHost();
  const auto& rmp_table = host->firmware().memory().rmp();
  const std::uint64_t firmware_pages = rmp_table.AssignedPages(0);
  auto spec = Spec("bad");
  spec.policy = 0x1;  // bit 17 (reserved, must be one) clear: LAUNCH_START refuses
  auto g = host->LaunchGuest(spec);
  REQUIRE_FALSE(g.ok());
  CHECK(g.error().message().find("SNP_LAUNCH_START") != std::string::npos);
  CHECK(host->Guests().empty());
  CHECK(rmp_table.AssignedPages(0) == firmware_pages);
  // An ID block that does not match the launch is refused at LAUNCH_FINISH, after every page.
  auto spec2 = Spec("idb");
  spec2.id_block = Bytes(0x60, 0);
  spec2.id_auth = Bytes(0x1000, 0);
  auto g2 = host->LaunchGuest(spec2);
  REQUIRE_FALSE(g2.ok());
  CHECK(g2.error().message().find("SNP_LAUNCH_FINISH") != std::string::npos);
  CHECK(rmp_table.AssignedPages(1) == 0);
  CHECK(rmp_table.AssignedPages(0) == firmware_pages);
  // The ASID and pages are reusable: the same launch without the ID block succeeds.
  auto ok = host->LaunchGuest(Spec("idb"));
  REQUIRE(ok.ok());
  CHECK(ok->asid == 1);
}

TEST_CASE("host memory changes persist only when platform.json would change") {
  auto host = BootHost();
  // Booting made the legacy platform's first identity (its INIT): that is sev-nv.json's.
  const hypervisor::PersistentChange booted = host->TakePersistentChange();
  CHECK(booted.sev_nv);
  CHECK_FALSE(booted.platform_json);
  CHECK_FALSE(host->TakePersistentChange().any());
  REQUIRE(host->LaunchGuest(Spec("x")).ok());
  CHECK_FALSE(host->TakePersistentChange().any());
  emulator::SnpCommitBuf commit{4};
  REQUIRE(host->firmware().Execute(emulator::SnpCmd::kCommit, commit) == FwStatus::kSuccess);
  // Commit on an already committed platform changes nothing persistent; SNP_CONFIG does.
  emulator::SnpConfigBuf config{};
  config.flags = 1;
  REQUIRE(host->firmware().Execute(emulator::SnpCmd::kConfig, config) == FwStatus::kSuccess);
  const hypervisor::PersistentChange change = host->TakePersistentChange();
  CHECK(change.platform_json);
  CHECK_FALSE(change.sev_nv);
  CHECK_FALSE(host->TakePersistentChange().any());
}

TEST_CASE("the legacy identity's changes are sev-nv.json changes, each reported once") {
  auto host = BootHost();
  auto sev = [&host](emulator::SevCmd cmd) {
    return host->firmware().ExecuteSev(cmd, MutableByteSpan{});
  };
  emulator::SevInitBuf init{};
  // The host's boot ran the first INIT (as Linux does at module load), which made an identity.
  REQUIRE(host->firmware().sev_state() == statemachine::SevPlatformState::kInit);
  hypervisor::PersistentChange change = host->TakePersistentChange();
  CHECK(change.sev_nv);
  CHECK_FALSE(change.platform_json);
  CHECK_FALSE(host->TakePersistentChange().any());
  REQUIRE(sev(emulator::SevCmd::kPdhGen) == FwStatus::kSuccess);
  CHECK(host->TakePersistentChange().sev_nv);
  // SHUTDOWN and INIT again keep the identity: nothing to write.
  REQUIRE(sev(emulator::SevCmd::kShutdown) == FwStatus::kSuccess);
  REQUIRE(host->firmware().ExecuteSev(emulator::SevCmd::kInit, init) == FwStatus::kSuccess);
  CHECK_FALSE(host->TakePersistentChange().any());
  REQUIRE(sev(emulator::SevCmd::kShutdown) == FwStatus::kSuccess);
  REQUIRE(sev(emulator::SevCmd::kPlatformReset) == FwStatus::kSuccess);
  CHECK(host->TakePersistentChange().sev_nv);
  CHECK(host->firmware().sev_nv_store().empty());
}

}  // namespace sevemu
