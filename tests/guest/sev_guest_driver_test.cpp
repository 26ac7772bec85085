// The sev-guest driver end to end: ioctls from a simulated process, through the driver, a
// KVM-like host and the emulated firmware, back to the process's memory; errnos and
// side effects as Linux's drivers/virt/coco/sev-guest/sev-guest.c produces them.
#include "sevemu/guest/sev_guest_driver.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <functional>

#include "guest_fixture.h"
#include "report_verifier.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::guest {
namespace {

using test::TestGuest;
using test::TestUser;

constexpr std::uint64_t kArg = TestUser::kBase;                // struct snp_guest_request_ioctl
constexpr std::uint64_t kReqData = TestUser::kBase + 0x100;    // request struct
constexpr std::uint64_t kRespData = TestUser::kBase + 0x1000;  // response struct (4000 B)
constexpr std::uint64_t kCerts = TestUser::kBase + 0x4000;     // certificate buffer (16 KiB)
constexpr std::uint64_t kSentinel = 0x5eed5eed5eed5eedull;

SevGuestDriverOptions NoSleep(int* sleeps = nullptr) {
  // A fake clock that only moves when the driver sleeps.
  auto now = std::make_shared<std::chrono::steady_clock::time_point>();
  SevGuestDriverOptions o;
  o.sleep = [now, sleeps](std::chrono::milliseconds d) {
    *now += d;
    if (sleeps != nullptr) ++*sleeps;
  };
  o.now = [now] { return *now; };
  return o;
}

void PutArg(TestUser& u, std::uint8_t version = 1, std::uint64_t req = kReqData,
            std::uint64_t resp = kRespData) {
  uapi::SnpGuestRequestIoctl a{};
  a.msg_version = version;
  a.req_data = req;
  a.resp_data = resp;
  a.exitinfo2 = kSentinel;
  u.Put(kArg, a);
}

void PutReportReq(TestUser& u, std::uint8_t fill, std::uint32_t vmpl = 0) {
  uapi::SnpReportReq r{};
  std::memset(r.user_data, fill, sizeof r.user_data);
  r.vmpl = vmpl;
  u.Put(kReqData, r);
}

void PutExtReq(TestUser& u, std::uint8_t fill, std::uint64_t certs, std::uint32_t len) {
  uapi::SnpExtReportReq r{};
  std::memset(r.data.user_data, fill, sizeof r.data.user_data);
  r.certs_address = certs;
  r.certs_len = len;
  u.Put(kReqData, r);
}

void PutKeyReq(TestUser& u, std::uint64_t gfs, std::uint32_t root_key_select = 0) {
  uapi::SnpDerivedKeyReq k{};
  k.root_key_select = root_key_select;
  k.guest_field_select = gfs;
  u.Put(kReqData, k);
}

std::uint64_t Exitinfo2(const TestUser& u) {
  return u.Get<uapi::SnpGuestRequestIoctl>(kArg).exitinfo2;
}

Bytes Report(const TestUser& u) {
  return u.Slice(kRespData + 0x20, 0x4A0);
}

bool Verifies(const Bytes& report, TestGuest& g) {
  const auto check = test::VerifyAttestationReport(
      report, *g.Vcek().ToPem(), *g.platform.root.ask.ToPem(), *g.platform.root.ark.ToPem(),
      g.platform.state.manufactured_at + 86400);
  if (!check.ok) MESSAGE(check.why);
  return check.ok;
}

Bytes Key(const TestUser& u) {
  return u.Slice(kRespData + 0x20, 32);
}

}  // namespace

TEST_CASE("SNP_GET_REPORT: a verifiable report in the caller's buffer") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  PutArg(u);
  PutReportReq(u, 0xA5);
  u.Fill(kRespData, 4000, 0xEE);
  REQUIRE(d.Ioctl(uapi::kSnpGetReport, kArg, u) == 0);
  // Success leaves exitinfo2 at 0, so the struct is not copied back: the sentinel stays.
  CHECK(Exitinfo2(u) == kSentinel);
  CHECK(u.Get<std::uint32_t>(kRespData) == 0);          // status
  CHECK(u.Get<std::uint32_t>(kRespData + 4) == 0x4A0);  // report_size
  const Bytes report = Report(u);
  CHECK(Bytes(report.begin() + 0x50, report.begin() + 0x90) == Bytes(64, 0xA5));
  CHECK(Verifies(report, g));
  // The rest of snp_report_resp is zero (the response is 0x4C0 of its 4000 bytes).
  CHECK(u.Slice(kRespData + 0x4C0, 4000 - 0x4C0) == Bytes(4000 - 0x4C0, 0));
  CHECK(g.StoredSeqno() == 2);
  CHECK(g.cert_lens_seen == std::vector<std::optional<std::uint32_t>>{std::nullopt});

  // The ioctl number's upper 32 bits are not part of the kernel's unsigned int command.
  PutArg(u);
  REQUIRE(d.Ioctl(uapi::kSnpGetReport | (1ul << 40), kArg, u) == 0);
  CHECK(g.StoredSeqno() == 4);
}

TEST_CASE("SNP_GET_DERIVED_KEY: deterministic, and different per field selection") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  auto key = [&](std::uint64_t gfs) {
    PutArg(u);
    PutKeyReq(u, gfs);
    REQUIRE(d.Ioctl(uapi::kSnpGetDerivedKey, kArg, u) == 0);
    CHECK(u.Get<std::uint32_t>(kRespData) == 0);
    CHECK(Exitinfo2(u) == kSentinel);
    return Key(u);
  };
  const Bytes k0 = key(0), k0_again = key(0), k_policy = key(1), k_measure = key(1 << 3);
  CHECK(k0 == k0_again);
  CHECK(k0 != Bytes(32, 0));
  CHECK(k0 != k_policy);
  CHECK(k0 != k_measure);
  CHECK(k_policy != k_measure);
  CHECK(g.StoredSeqno() == 8);
  // A refused selection comes back inside the response (status), the ioctl succeeds.
  PutArg(u);
  PutKeyReq(u, 1ull << 62);
  REQUIRE(d.Ioctl(uapi::kSnpGetDerivedKey, kArg, u) == 0);
  CHECK(u.Get<std::uint32_t>(kRespData) == 0x16);
}

TEST_CASE("SNP_GET_EXT_REPORT: report and certificate table") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  PutArg(u);
  PutExtReq(u, 0x11, kCerts, 0x4000);
  u.Fill(kCerts, 0x4000, 0xCC);
  REQUIRE(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == 0);
  CHECK(Exitinfo2(u) == kSentinel);
  CHECK(g.cert_lens_seen == std::vector<std::optional<std::uint32_t>>{0x4000u});
  const Bytes certs = u.Slice(kCerts, 0x4000);
  auto table = guestmsg::ParseCertTable(certs);
  REQUIRE(table.ok());
  REQUIRE(table->size() == 3);
  CHECK((*table)[0].guid == guestmsg::kGuidVcek);
  // The VCEK the host handed out speaks for the report (its bytes differ from a fresh
  // issue of the same certificate only in the RSA-PSS salt).
  auto vcek = crypto::Certificate::FromDer((*table)[0].der);
  REQUIRE(vcek.ok());
  const auto check = test::VerifyAttestationReport(
      Report(u), *vcek->ToPem(), *g.platform.root.ask.ToPem(), *g.platform.root.ark.ToPem(),
      g.platform.state.manufactured_at + 86400);
  CHECK_MESSAGE(check.ok, check.why);
  // The whole buffer is written: the table, then zeros (the driver zeroes its bounce buffer).
  CHECK(Bytes(certs.begin(), certs.begin() + static_cast<long>(g.cert_table.size())) ==
        g.cert_table);
  CHECK(Bytes(certs.begin() + static_cast<long>(g.cert_table.size()), certs.end()) ==
        Bytes(0x4000 - g.cert_table.size(), 0));
  CHECK(Verifies(Report(u), g));
  // certs_len is left as it was.
  CHECK(u.Get<uapi::SnpExtReportReq>(kReqData).certs_len == 0x4000);
}

TEST_CASE("SNP_GET_EXT_REPORT: a buffer too small is a length query and keeps the key") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  const std::uint32_t needed =
      static_cast<std::uint32_t>(guestmsg::CertBufferNeeded(g.cert_table.size()));
  REQUIRE(needed == 0x2000);

  struct Row {
    const char* name;
    std::uint64_t certs;
    std::uint32_t len;
    std::uint32_t sent;  // what the host is told
  };
  const Row rows[] = {
      {"certs_len 0 (report only)", kCerts, 0, 0},
      {"certs_address 0 (report only)", 0, 0x4000, 0},
      {"one page", kCerts, 0x1000, 0x1000},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      PutArg(u);
      PutExtReq(u, 0x22, r.certs, r.len);
      u.Fill(kRespData, 4000, 0xEE);
      CHECK(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == -EIO);
      CHECK(Exitinfo2(u) == 0x100000000ull);
      CHECK(u.Get<uapi::SnpExtReportReq>(kReqData).certs_len == needed);
      CHECK(u.Get<uapi::SnpExtReportReq>(kReqData).certs_address == r.certs);
      CHECK(u.Slice(kRespData, 4000) == Bytes(4000, 0xEE));  // no response copied
      // The driver re-sent the message as a plain request, which the firmware answered.
      CHECK(g.cert_lens_seen == std::vector<std::optional<std::uint32_t>>{r.sent, std::nullopt});
      CHECK(g.firmware_calls == 1);
      CHECK(g.StoredSeqno() == 2);
      CHECK(g.Vmpck(0) != Bytes(32, 0));
      // Retrying with the size given works, as snpguest and go-sev-guest do.
      PutArg(u);
      PutExtReq(u, 0x22, kCerts, needed);
      REQUIRE(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == 0);
      CHECK(guestmsg::ParseCertTable(u.Slice(kCerts, needed)).ok());
      CHECK(Verifies(Report(u), g));
      CHECK(g.StoredSeqno() == 4);
    }
  }
}

TEST_CASE("SNP_GET_EXT_REPORT without host certificates: report only") {
  TestGuest g(/*with_certs=*/false);
  SevGuestDriver d(g);
  TestUser u;
  PutArg(u);
  PutExtReq(u, 0x33, 0, 0);
  REQUIRE(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == 0);
  CHECK(Verifies(Report(u), g));
  PutArg(u);
  PutExtReq(u, 0x33, kCerts, 0x1000);
  u.Fill(kCerts, 0x1000, 0xCC);
  REQUIRE(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == 0);
  CHECK(u.Slice(kCerts, 0x1000) == Bytes(0x1000, 0));  // an empty table: all zero
}

TEST_CASE("sequence numbers live in the secrets page and are shared by every driver") {
  TestGuest g;
  SevGuestDriver a(g), b(g);
  TestUser ua, ub;
  for (int i = 0; i < 3; ++i) {
    PutArg(ua);
    PutReportReq(ua, 1);
    REQUIRE(a.Ioctl(uapi::kSnpGetReport, kArg, ua) == 0);
    PutArg(ub);
    PutKeyReq(ub, 0);
    REQUIRE(b.Ioctl(uapi::kSnpGetDerivedKey, kArg, ub) == 0);
  }
  CHECK(g.StoredSeqno() == 12);
  // Another VMPCK has its own counter.
  SevGuestDriver c(g, 2);
  PutArg(ua);
  PutReportReq(ua, 1, 2);
  REQUIRE(c.Ioctl(uapi::kSnpGetReport, kArg, ua) == 0);
  CHECK(ua.Get<std::uint32_t>(kRespData) == 0);
  CHECK(ua.Get<std::uint32_t>(kRespData + 0x20 + 0x30) == 2);  // the report's VMPL
  CHECK(g.StoredSeqno(2) == 2);
  CHECK(g.StoredSeqno(0) == 12);
  // VMPCK2 may not ask for VMPL 0: refused inside the response, the ioctl succeeds.
  PutArg(ua);
  PutReportReq(ua, 1, 0);
  REQUIRE(c.Ioctl(uapi::kSnpGetReport, kArg, ua) == 0);
  CHECK(ua.Get<std::uint32_t>(kRespData) == 0x16);
}

TEST_CASE("argument errors, in Linux's order") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;

  SUBCASE("the ioctl struct itself faults") {
    CHECK(d.Ioctl(uapi::kSnpGetReport, 0x1000, u) == -EFAULT);
    CHECK(d.Ioctl(uapi::kSnpGetReport, TestUser::kBase + 64 * 1024 - 16, u) == -EFAULT);
    CHECK(u.writes == 0);
  }
  SUBCASE("msg_version 0: EINVAL before anything, nothing written back") {
    PutArg(u, 0);
    CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -EINVAL);
    CHECK(d.Ioctl(0xdeadbeef, kArg, u) == -EINVAL);  // checked before the command
    CHECK(Exitinfo2(u) == kSentinel);
  }
  SUBCASE("unknown ioctl: ENOTTY with exitinfo2 0xff copied back") {
    PutArg(u);
    CHECK(d.Ioctl(0xC0205303, kArg, u) == -ENOTTY);
    CHECK(Exitinfo2(u) == 0xff);
  }
  SUBCASE("null request or response pointer") {
    for (unsigned long cmd :
         {uapi::kSnpGetReport, uapi::kSnpGetDerivedKey, uapi::kSnpGetExtReport}) {
      PutArg(u, 1, 0, kRespData);
      CHECK(d.Ioctl(cmd, kArg, u) == -EINVAL);
      CHECK(Exitinfo2(u) == 0xff);
      PutArg(u, 1, kReqData, 0);
      CHECK(d.Ioctl(cmd, kArg, u) == -EINVAL);
    }
  }
  SUBCASE("request struct faults") {
    for (unsigned long cmd :
         {uapi::kSnpGetReport, uapi::kSnpGetDerivedKey, uapi::kSnpGetExtReport}) {
      PutArg(u, 1, 0x1000, kRespData);
      CHECK(d.Ioctl(cmd, kArg, u) == -EFAULT);
      CHECK(Exitinfo2(u) == 0xff);
    }
    // An extended request struct that ends past the mapping (112 bytes needed).
    PutArg(u, 1, TestUser::kBase + 64 * 1024 - 100, kRespData);
    CHECK(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == -EFAULT);
  }
  SUBCASE("bad certificate lengths") {
    for (std::uint32_t len : {0x800u, 0x1001u, 0x5000u, 0xFFFFF000u}) {
      PutArg(u);
      PutExtReq(u, 1, kCerts, len);
      CHECK(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == -EINVAL);
    }
    // access_ok: the buffer must lie in user space (it is not probed further up front).
    PutArg(u);
    PutExtReq(u, 1, 0xffff888000000000ull, 0x1000);
    CHECK(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == -EFAULT);
    CHECK(g.firmware_calls == 0);
  }
  SUBCASE("response buffer faults after the exchange: EFAULT, key kept") {
    PutArg(u, 1, kReqData, 0x1000);
    PutReportReq(u, 1);
    CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -EFAULT);
    CHECK(Exitinfo2(u) == kSentinel);  // exitinfo2 was 0: not copied back
    PutArg(u, 1, kReqData, 0x1000);
    PutKeyReq(u, 0);
    CHECK(d.Ioctl(uapi::kSnpGetDerivedKey, kArg, u) == -EFAULT);
    // A certificate buffer that is not mapped faults after the exchange too.
    PutArg(u);
    PutExtReq(u, 1, 0x10000000, 0x4000);
    CHECK(d.Ioctl(uapi::kSnpGetExtReport, kArg, u) == -EFAULT);
    CHECK(g.StoredSeqno() == 6);
    PutArg(u);
    PutReportReq(u, 1);
    CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == 0);
  }
}

TEST_CASE("an invalid or empty VMPCK: ENOTTY") {
  TestGuest g;
  TestUser u;
  SevGuestDriver bad(g, 4);
  PutArg(u);
  PutReportReq(u, 1);
  CHECK(bad.Ioctl(uapi::kSnpGetReport, kArg, u) == -ENOTTY);
  CHECK(Exitinfo2(u) == 0xff);
  CHECK(g.firmware_calls == 0);
}

TEST_CASE("a corrupted response wipes the VMPCK for every process") {
  TestGuest g;
  SevGuestDriver a(g), b(g);
  TestUser u;
  g.corrupt_next_response = true;
  PutArg(u);
  PutReportReq(u, 1);
  CHECK(a.Ioctl(uapi::kSnpGetReport, kArg, u) == -EBADMSG);
  CHECK(Exitinfo2(u) == kSentinel);  // the exchange itself succeeded: exitinfo2 0
  CHECK(g.Vmpck(0) == Bytes(32, 0));
  CHECK(g.Vmpck(1) != Bytes(32, 0));
  CHECK(g.StoredSeqno() == 2);
  for (SevGuestDriver* d : {&a, &b}) {
    PutArg(u);
    CHECK(d->Ioctl(uapi::kSnpGetReport, kArg, u) == -ENOTTY);
    CHECK(Exitinfo2(u) == 0xff);
  }
  CHECK(g.firmware_calls == 1);
  // The module parameter picks another key, which still works.
  SevGuestDriver other(g, 1);
  PutArg(u);
  PutReportReq(u, 1, 1);
  CHECK(other.Ioctl(uapi::kSnpGetReport, kArg, u) == 0);
}

TEST_CASE("a firmware error: EIO, fw_error in exitinfo2, VMPCK wiped") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  g.SetStoredSeqno(40);  // the firmware expects 1: it refuses 41
  PutArg(u);
  PutReportReq(u, 1);
  CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -EIO);
  CHECK(Exitinfo2(u) == static_cast<std::uint64_t>(emulator::FwStatus::kAeadOverflow));
  CHECK(g.StoredSeqno() == 42);  // advanced anyway: the message reached the host
  CHECK(g.Vmpck(0) == Bytes(32, 0));
  PutArg(u);
  CHECK(d.Ioctl(uapi::kSnpGetDerivedKey, kArg, u) == -ENOTTY);
}

TEST_CASE("a failed exit to the host: EIO, SEV_RET_NO_FW_CALL, VMPCK wiped") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  g.transport_failure = true;
  PutArg(u);
  PutReportReq(u, 1);
  CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -EIO);
  CHECK(Exitinfo2(u) == ~0ull);
  CHECK(g.Vmpck(0) == Bytes(32, 0));
}

TEST_CASE("VMM busy: retried every delay, ETIMEDOUT after the limit") {
  TestGuest g;
  TestUser u;
  SUBCASE("busy three times") {
    int sleeps = 0;
    SevGuestDriver d(g, 0, NoSleep(&sleeps));
    g.busy_replies = 3;
    PutArg(u);
    PutReportReq(u, 1);
    CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == 0);
    CHECK(sleeps == 3);
    CHECK(g.cert_lens_seen.size() == 4);
    CHECK(g.StoredSeqno() == 2);
    CHECK(Verifies(Report(u), g));
  }
  SUBCASE("busy for good") {
    int sleeps = 0;
    SevGuestDriver d(g, 0, NoSleep(&sleeps));
    g.busy_forever = true;
    PutArg(u);
    PutReportReq(u, 1);
    CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -ETIMEDOUT);
    CHECK(sleeps == 31);  // at 0, 2, ..., 60 s; at 62 s more than 60 s have passed
    CHECK(Exitinfo2(u) == 0x200000000ull);
    CHECK(g.Vmpck(0) == Bytes(32, 0));
    CHECK(g.StoredSeqno() == 2);
  }
}

TEST_CASE("the 32-bit message counter is exhausted: EIO, nothing sent, key kept") {
  TestGuest g;
  SevGuestDriver d(g);
  TestUser u;
  g.SetStoredSeqno(0xFFFFFFFEu);
  PutArg(u);
  PutReportReq(u, 1);
  CHECK(d.Ioctl(uapi::kSnpGetReport, kArg, u) == -EIO);
  CHECK(Exitinfo2(u) == 0xff);
  CHECK(g.firmware_calls == 0);
  CHECK(g.Vmpck(0) != Bytes(32, 0));
  CHECK(g.StoredSeqno() == 0xFFFFFFFEu);
}

TEST_CASE("configfs provider: sev_report_new") {
  TestGuest g;
  SevGuestDriver d(g);
  CHECK(std::string(d.Name()) == "sev_guest");
  CHECK(d.PrivlevelFloor() == 0);
  TsmReportBlobs blobs;
  CHECK(d.ReportNew({Bytes(32, 1), 0}, &blobs) == -EINVAL);  // inblob must be 64 bytes
  CHECK(g.firmware_calls == 0);
  REQUIRE(d.ReportNew({Bytes(64, 7), 0}, &blobs) == 0);
  CHECK(blobs.outblob.size() == 0x4A0);
  CHECK(Bytes(blobs.outblob.begin() + 0x50, blobs.outblob.begin() + 0x90) == Bytes(64, 7));
  CHECK(Verifies(blobs.outblob, g));
  CHECK(blobs.auxblob == g.cert_table);  // exactly the table's extent
  CHECK(g.cert_lens_seen.back() == 0x4000u);
  // A report status of INVALID_PARAM (VMPL 0 through VMPCK1) becomes EINVAL.
  SevGuestDriver d1(g, 1);
  CHECK(d1.PrivlevelFloor() == 1);
  CHECK(d1.ReportNew({Bytes(64, 7), 0}, &blobs) == -EINVAL);
  REQUIRE(d1.ReportNew({Bytes(64, 7), 3}, &blobs) == 0);
  CHECK(LoadLe32(blobs.outblob.data() + 0x30) == 3);
  // No certificates from the host: an empty auxblob.
  TestGuest bare(false);
  SevGuestDriver d2(bare);
  REQUIRE(d2.ReportNew({Bytes(64, 7), 0}, &blobs) == 0);
  CHECK(blobs.auxblob.empty());
}

// The daemon runs the driver against memory staged from the caller's (PlanSnpGuestIoctlRegions,
// shipped in a GUEST_IOCTL frame): every outcome must be what the driver gives on the caller's
// own memory — the same errno, exitinfo2 and bytes written (reports differ only in their
// signature, certificate tables only in their RSA-PSS salts).
TEST_CASE("staged across a process boundary, every ioctl answers as on the caller's own memory") {
  struct Row {
    const char* name;
    unsigned long cmd;
    std::function<void(TestUser&)> setup;
    std::uint64_t arg = kArg;
  };
  const Row rows[] = {
      {"report", uapi::kSnpGetReport, [](TestUser& u) { PutArg(u), PutReportReq(u, 0x31); }},
      {"derived key", uapi::kSnpGetDerivedKey, [](TestUser& u) { PutArg(u), PutKeyReq(u, 0x3); }},
      {"ext report", uapi::kSnpGetExtReport,
       [](TestUser& u) { PutArg(u), PutExtReq(u, 0x32, kCerts, 0x4000); }},
      {"ext report, buffer too small", uapi::kSnpGetExtReport,
       [](TestUser& u) { PutArg(u), PutExtReq(u, 0x33, kCerts, 0x1000); }},
      {"ext report, certs_len above 16 KiB", uapi::kSnpGetExtReport,
       [](TestUser& u) { PutArg(u), PutExtReq(u, 0x34, kCerts, 0x5000); }},
      {"ext report, certificate buffer unmapped", uapi::kSnpGetExtReport,
       [](TestUser& u) { PutArg(u), PutExtReq(u, 0x35, 0x1000, 0x4000); }},
      {"argument struct unmapped", uapi::kSnpGetReport, [](TestUser&) {}, 0x1000},
      {"request unmapped", uapi::kSnpGetReport, [](TestUser& u) { PutArg(u, 1, 0x1000); }},
      {"response unmapped", uapi::kSnpGetReport,
       [](TestUser& u) { PutArg(u, 1, kReqData, 0x1000), PutReportReq(u, 0x36); }},
      {"msg_version 0", uapi::kSnpGetReport, [](TestUser& u) { PutArg(u, 0); }},
      {"unknown ioctl", 0xC0205303, [](TestUser& u) { PutArg(u); }},
  };
  for (const Row& r : rows) {
    SUBCASE(r.name) {
      TestGuest direct_guest, staged_guest;
      TestUser direct, staged;
      for (TestUser* u : {&direct, &staged}) {
        u->Fill(kRespData, 4000, 0xEE);
        u->Fill(kCerts, 0x4000, 0xCC);
        r.setup(*u);
      }
      SevGuestDriver d1(direct_guest), d2(staged_guest);
      const int want = d1.Ioctl(r.cmd, r.arg, direct);

      uapi::StagedUserMemory copy(uapi::PlanSnpGuestIoctlRegions(r.cmd, r.arg, staged));
      const int got = d2.Ioctl(r.cmd, r.arg, copy);
      for (const auto& w : copy.Written()) REQUIRE(staged.Write(w.addr, w.bytes));
      CHECK(got == want);
      CHECK(direct_guest.StoredSeqno() == staged_guest.StoredSeqno());
      CHECK(direct_guest.Vmpck(0) == staged_guest.Vmpck(0));
      // The bytes written agree but for what is random by design.
      for (TestUser* u : {&direct, &staged}) {
        if (r.cmd == uapi::kSnpGetReport || r.cmd == uapi::kSnpGetExtReport) {
          u->Fill(kRespData + 0x20 + 0x2A0, 0x200, 0);  // the report's signature
        }
        if (want == 0 && r.cmd == uapi::kSnpGetExtReport) {
          CHECK(guestmsg::ParseCertTable(u->Slice(kCerts, 0x4000)).ok());
          u->Fill(kCerts, 0x4000, 0);
        }
      }
      CHECK(direct.Slice(TestUser::kBase, 64 * 1024) == staged.Slice(TestUser::kBase, 64 * 1024));
    }
  }
}

}  // namespace sevemu::guest
