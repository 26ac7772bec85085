// Injected faults (hypervisor/faults.h): each fires exactly as often as asked, only in its
// scope, acts where the host meets the firmware or the guest's exit, and is gone once cleared.
#include "sevemu/hypervisor/faults.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>

#include "../emulator/emulator_fixture.h"
#include "sevemu/emulator/manufacturing/tcb.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/uapi/linux_sev.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using guestmsg::GuestMsgType;
using hypervisor::FaultKind;
using hypervisor::FaultSpec;
using hypervisor::Host;

std::unique_ptr<Host> BootHost() {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

Status Launch(Host& host, const std::string& name) {
  hypervisor::GuestLaunchSpec s;
  s.name = name;
  auto g = host.LaunchGuest(s);
  if (!g.ok()) return g.error();
  return {};
}

// A report request sealed with the guest's VMPCK0 at sequence number `seq`.
Bytes ReportRequest(Host& host, const std::string& name, std::uint64_t seq) {
  auto info = host.Guest(name);
  REQUIRE(info.ok());
  auto secrets = host.ReadGuestMemory(name, info->secrets_gpa, 4096);
  REQUIRE(secrets.ok());
  const Bytes vmpck0(secrets->begin() + 0x20, secrets->begin() + 0x40);
  guestmsg::GuestMsgHeader h;
  h.seqno = seq;
  h.type = GuestMsgType::kReportReq;
  const Bytes payload(0x60, 0);
  h.msg_size = static_cast<std::uint16_t>(payload.size());
  auto ct = guestmsg::SealGuestMsg(h, payload, vmpck0);
  REQUIRE(ct.ok());
  Bytes page(4096, 0);
  const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
  std::memcpy(page.data(), hdr.data(), hdr.size());
  std::memcpy(page.data() + 0x60, ct->data(), ct->size());
  return page;
}

FaultSpec CommandFault(const char* command, const char* status) {
  FaultSpec s;
  s.kind = FaultKind::kCommand;
  REQUIRE(hypervisor::ParseCommand(command, &s.legacy, &s.command).ok());
  auto st = hypervisor::ParseFwStatus(status);
  REQUIRE(st.ok());
  s.status = *st;
  return s;
}

}  // namespace

TEST_CASE("a command fault fails the next N commands of that id, in its guest only") {
  auto host = BootHost();
  FaultSpec spec = CommandFault("SNP_LAUNCH_UPDATE", "RESOURCE_LIMIT");
  spec.guest = "vm2";
  spec.count = 2;
  auto id = host->faults().Add(spec);
  REQUIRE(id.ok());
  std::vector<hypervisor::FaultEvent> seen;
  host->faults().AddObserver([&](const hypervisor::FaultEvent& e) { seen.push_back(e); });

  // Another guest's launch is not in scope.
  REQUIRE(Launch(*host, "vm1").ok());
  // vm2's launch fails at its first LAUNCH_UPDATE, twice, with the injected status; the
  // partly launched guest is gone each time.
  for (int i = 0; i < 2; ++i) {
    const Status st = Launch(*host, "vm2");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().message().find("SNP_LAUNCH_UPDATE: RESOURCE_LIMIT") != std::string::npos);
    CHECK_FALSE(host->Guest("vm2").ok());
  }
  // Then it is exhausted: the third launch succeeds, and the fault is still listed.
  REQUIRE(Launch(*host, "vm2").ok());
  REQUIRE(host->faults().List().size() == 1);
  const hypervisor::Fault& f = host->faults().List()[0];
  CHECK(f.fired == 2);
  CHECK(f.exhausted());
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].guest == "vm2");
  CHECK(seen[0].detail == "SNP_LAUNCH_UPDATE -> RESOURCE_LIMIT");
  CHECK(seen[1].fired == 2);
}

TEST_CASE("one in K: SNP_GUEST_REQUEST fails on every K-th request, and clear ends it") {
  auto host = BootHost();
  REQUIRE(Launch(*host, "g").ok());
  FaultSpec spec = CommandFault("SNP_GUEST_REQUEST", "INVALID_PARAM");
  spec.every = 3;
  auto id = host->faults().Add(spec);
  REQUIRE(id.ok());
  std::uint64_t seq = 1;
  std::vector<FwStatus> got;
  for (int i = 0; i < 7; ++i) {
    auto r = host->GuestRequest("g", ReportRequest(*host, "g", seq), std::nullopt);
    REQUIRE(r.ok());
    got.push_back(r->fw_status);
    // A failed command did not run: the firmware still expects the same sequence number.
    if (r->fw_status == FwStatus::kSuccess) seq += 2;
  }
  const std::vector<FwStatus> want = {
      FwStatus::kSuccess, FwStatus::kSuccess,      FwStatus::kInvalidParam, FwStatus::kSuccess,
      FwStatus::kSuccess, FwStatus::kInvalidParam, FwStatus::kSuccess};
  CHECK(got == want);
  CHECK(host->faults().List()[0].matched == 7);
  CHECK(host->faults().List()[0].fired == 2);
  CHECK(host->faults().Clear(*id));
  CHECK_FALSE(host->faults().Clear(*id));
  for (int i = 0; i < 3; ++i) {
    auto r = host->GuestRequest("g", ReportRequest(*host, "g", seq), std::nullopt);
    REQUIRE(r.ok());
    CHECK(r->fw_status == FwStatus::kSuccess);
    seq += 2;
  }
}

TEST_CASE("a command fault on /dev/sev: the ioctl fails with -EIO and the status") {
  auto host = BootHost();
  FaultSpec spec = CommandFault("SNP_PLATFORM_STATUS", "HWERROR_PLATFORM");
  spec.count = 1;
  REQUIRE(host->faults().Add(spec).ok());
  auto ioctl = [&] {
    uapi::StagedUserMemory mem({{0x10000, Bytes(32, 0)}});
    alignas(8) uapi::SevIssueCmdArg arg{
        static_cast<std::uint32_t>(uapi::SevUserCmd::kSnpPlatformStatus), 0x10000, 0};
    const auto r = host->sev_device().Ioctl(uapi::kSevIssueCmd, arg, mem, false);
    return std::pair{r.ret, arg.error};
  };
  CHECK(ioctl() == std::pair{-EIO, static_cast<std::uint32_t>(FwStatus::kHwErrorPlatform)});
  CHECK(ioctl() == std::pair{0, 0u});

  // Legacy commands by their names; a command guest-scoped to a guest never matches the host's
  // own ioctls.
  FaultSpec legacy = CommandFault("PLATFORM_STATUS", "INVALID_PLATFORM_STATE");
  CHECK(legacy.legacy);
  legacy.guest = "vm1";
  REQUIRE(host->faults().Add(legacy).ok());
  uapi::StagedUserMemory mem({{0x10000, Bytes(12, 0)}});
  alignas(8) uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(uapi::SevUserCmd::kPlatformStatus),
                                      0x10000, 0};
  CHECK(host->sev_device().Ioctl(uapi::kSevIssueCmd, arg, mem, false).ret == 0);
  host->faults().ClearAll();
  CHECK(host->faults().List().empty());
}

TEST_CASE("the VMM's BUSY and INVALID_LEN answers: the firmware is not called") {
  auto host = BootHost();
  REQUIRE(Launch(*host, "a").ok());
  REQUIRE(Launch(*host, "b").ok());
  FaultSpec busy;
  busy.kind = FaultKind::kGuestBusy;
  busy.guest = "a";
  busy.count = 2;
  REQUIRE(host->faults().Add(busy).ok());
  for (int i = 0; i < 2; ++i) {
    auto r = host->GuestRequest("a", ReportRequest(*host, "a", 1), std::nullopt);
    REQUIRE(r.ok());
    CHECK(r->vmm_error == uapi::kSnpGuestVmmErrBusy);
    CHECK(r->response.empty());
  }
  // Guest b was never busy; a's sequence number 1 is still the next one.
  auto rb = host->GuestRequest("b", ReportRequest(*host, "b", 1), std::nullopt);
  REQUIRE(rb.ok());
  CHECK(rb->vmm_error == 0);
  auto ra = host->GuestRequest("a", ReportRequest(*host, "a", 1), std::nullopt);
  REQUIRE(ra.ok());
  CHECK(ra->vmm_error == 0);
  CHECK(ra->fw_status == FwStatus::kSuccess);

  FaultSpec len;
  len.kind = FaultKind::kGuestInvalidLen;
  CHECK_FALSE(host->faults().Add(len).ok());  // needs a size
  len.size = 3 * 4096;
  len.count = 1;
  REQUIRE(host->faults().Add(len).ok());
  auto r = host->GuestRequest("a", ReportRequest(*host, "a", 3), std::uint32_t{16384});
  REQUIRE(r.ok());
  CHECK(r->vmm_error == uapi::kSnpGuestVmmErrInvalidLen);
  CHECK(r->certs_needed == 3 * 4096);
  auto again = host->GuestRequest("a", ReportRequest(*host, "a", 3), std::uint32_t{16384});
  REQUIRE(again.ok());
  CHECK(again->vmm_error == 0);
  CHECK(again->fw_status == FwStatus::kSuccess);
}

TEST_CASE("certificate table faults: missing, truncated, a VCEK of another TCB") {
  auto host = BootHost();
  REQUIRE(Launch(*host, "g").ok());
  std::uint64_t seq = 1;
  auto ext = [&] {
    auto r = host->GuestRequest("g", ReportRequest(*host, "g", seq), std::uint32_t{16384});
    REQUIRE(r.ok());
    REQUIRE(r->fw_status == FwStatus::kSuccess);
    seq += 2;
    return r->certs;
  };
  const Bytes good = ext();
  auto good_entries = guestmsg::ParseCertTable(good);
  REQUIRE(good_entries.ok());

  FaultSpec missing;
  missing.kind = FaultKind::kCertsMissing;
  missing.count = 1;
  REQUIRE(host->faults().Add(missing).ok());
  CHECK(ext().empty());
  CHECK(ext() == good);

  FaultSpec cut;
  cut.kind = FaultKind::kCertsTruncated;
  cut.count = 1;
  cut.size = 100;
  REQUIRE(host->faults().Add(cut).ok());
  const Bytes truncated = ext();
  CHECK(truncated.size() == 100);
  CHECK(std::equal(truncated.begin(), truncated.end(), good.begin()));

  FaultSpec wrong;
  wrong.kind = FaultKind::kCertsWrongVcek;
  wrong.count = 1;
  REQUIRE(host->faults().Add(wrong).ok());
  auto entries = guestmsg::ParseCertTable(ext());
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == good_entries->size());
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const bool vcek = (*entries)[i].guid == guestmsg::kGuidVcek;
    CHECK(((*entries)[i].der == (*good_entries)[i].der) == !vcek);
  }
  CHECK(ext() == good);
}

TEST_CASE("fault specs: names from the dispatch tables, counts, bad input refused") {
  bool legacy = true;
  std::uint32_t id = 0;
  REQUIRE(hypervisor::ParseCommand("SNP_GUEST_REQUEST", &legacy, &id).ok());
  CHECK_FALSE(legacy);
  CHECK(id == static_cast<std::uint32_t>(emulator::SnpCmd::kGuestRequest));
  REQUIRE(hypervisor::ParseCommand("LAUNCH_UPDATE_DATA", &legacy, &id).ok());
  CHECK(legacy);
  REQUIRE(hypervisor::ParseCommand("0x96", &legacy, &id).ok());
  CHECK(id == 0x96);
  CHECK_FALSE(legacy);
  CHECK_FALSE(hypervisor::ParseCommand("NOT_A_COMMAND", &legacy, &id).ok());
  CHECK(*hypervisor::ParseFwStatus("INVALID_PARAM") == FwStatus::kInvalidParam);
  CHECK(*hypervisor::ParseFwStatus("0x17") == FwStatus::kResourceLimit);
  CHECK_FALSE(hypervisor::ParseFwStatus("SUCCESS").ok());
  CHECK_FALSE(hypervisor::ParseFwStatus("bogus").ok());
  for (const auto& k : hypervisor::FaultKinds()) {
    CHECK(hypervisor::ParseFaultKind(k.name) == k.kind);
    CHECK(std::string(hypervisor::FaultKindName(k.kind)) == k.name);
  }
  CHECK_FALSE(hypervisor::ParseFaultKind("nope").has_value());
}

}  // namespace sevemu
