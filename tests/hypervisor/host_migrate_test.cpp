// The host's side of an SNP live migration (hypervisor/snp_guest_migrate.cpp): a guest bound to
// its agent at launch, paused by swapping every page out under a METADATA tree, exported and
// imported by agents (sealed here as the agents' own code seals them), swapped in on another
// platform; and the host's refusals, which change nothing.
#include <doctest/doctest.h>

#include <cstring>

#include "../emulator/emulator_fixture.h"
#include "sevemu/emulator/messages/migration_context.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/faults.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using guestmsg::GuestMsgType;
using hypervisor::Host;

constexpr std::uint64_t kMigrateMa = 1ull << 18;
constexpr std::uint64_t kExtraGpa = 0x1000000;  // DefaultGuestImage(memory)'s added memory

std::unique_ptr<Host> BootHost(emulator::Product product, std::uint8_t seed) {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 512ull << 20;
  auto host = Host::Boot(test::SeededPlatform(product, seed), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

Result<hypervisor::GuestInfo> Launch(Host& host, const std::string& name, std::uint64_t policy,
                                     const std::string& agent, std::uint64_t memory = 0) {
  hypervisor::GuestLaunchSpec spec;
  spec.name = name;
  spec.policy = policy;
  spec.migration_agent = agent;
  spec.vcpu_signature = 0xa00f10;
  if (memory != 0) spec.image = hypervisor::DefaultGuestImage(memory);
  return host.LaunchGuest(spec);
}

// One message from agent `ma` under VMPCK0 (sequence number `seq`, advanced by two); the
// response payload.
Bytes AgentMessage(Host& host, const std::string& ma, std::uint64_t& seq, GuestMsgType type,
                   ByteSpan payload) {
  auto info = host.Guest(ma);
  REQUIRE(info.ok());
  auto secrets = host.ReadGuestMemory(ma, info->secrets_gpa, 4096);
  REQUIRE(secrets.ok());
  const Bytes vmpck0(secrets->begin() + 0x20, secrets->begin() + 0x40);
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
  auto reply = host.GuestRequest(ma, page, std::nullopt);
  REQUIRE(reply.ok());
  REQUIRE(reply->fw_status == FwStatus::kSuccess);
  seq += 2;
  auto rh = guestmsg::ParseGuestMsgHeader(reply->response);
  REQUIRE(rh.ok());
  auto plain =
      guestmsg::OpenGuestMsg(*rh, ByteSpan(reply->response).subspan(0x60, rh->msg_size), vmpck0);
  REQUIRE(plain.ok());
  return Bytes(plain->span().begin(), plain->span().end());
}

}  // namespace

TEST_CASE("launch --migration-agent: MA_EN with the agent's context, MIGRATE_MA required") {
  auto host = BootHost(emulator::Product::kMilan, 1);
  REQUIRE(Launch(*host, "ma", 0x30000, "").ok());
  auto bound = Launch(*host, "g", 0x30000 | kMigrateMa, "ma");
  REQUIRE_MESSAGE(bound.ok(), (bound.ok() ? "" : bound.error().message()));
  CHECK(bound->migration_agent == "ma");
  // Without MIGRATE_MA: the firmware's POLICY_FAILURE, nothing left behind.
  auto no_bit = Launch(*host, "h", 0x30000, "ma");
  REQUIRE_FALSE(no_bit.ok());
  CHECK(no_bit.error().message().find("SNP_LAUNCH_START: POLICY_FAILURE") != std::string::npos);
  CHECK_FALSE(host->Guest("h").ok());
  // An agent that has an agent: POLICY_FAILURE too.
  auto nested = Launch(*host, "h", 0x30000 | kMigrateMa, "g");
  REQUIRE_FALSE(nested.ok());
  CHECK(nested.error().message().find("POLICY_FAILURE") != std::string::npos);
  auto unknown = Launch(*host, "h", 0x30000 | kMigrateMa, "nope");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code() == ErrorCode::kNotFound);
  CHECK(host->Guests().size() == 2);
}

TEST_CASE("an SNP guest of 17 MiB moves from Milan to Genoa: a METADATA tree, agents, resumed") {
  auto a = BootHost(emulator::Product::kMilan, 1);
  auto b = BootHost(emulator::Product::kGenoa, 2);
  REQUIRE(Launch(*a, "ma", 0x30000, "").ok());
  REQUIRE(Launch(*b, "ma", 0x30000, "").ok());
  // 4352 pages more: 69 METADATA pages for the data, 2 above them, one under the root entry.
  auto g = Launch(*a, "g", 0x30000 | kMigrateMa, "ma", 17ull << 20);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  Bytes mark(4096);
  for (std::size_t i = 0; i < mark.size(); ++i) mark[i] = static_cast<std::uint8_t>(i * 13 + 1);
  const std::uint64_t deep = kExtraGpa + (17ull << 20) - 4096;
  REQUIRE(a->WriteGuestMemory("g", deep, mark).ok());
  const Bytes secrets = *a->ReadGuestMemory("g", g->secrets_gpa, 4096);

  // The host's refusals before anything: nothing changes.
  CHECK(a->FinishSnpSend("g").error().code() == ErrorCode::kRefused);  // not migrating
  CHECK(a->CancelSnpMigration("g").error().code() == ErrorCode::kRefused);
  auto paused = a->BeginSnpMigration("g");
  REQUIRE_MESSAGE(paused.ok(), (paused.ok() ? "" : paused.error().message()));
  CHECK(paused->migrating);
  CHECK(a->BeginSnpMigration("g").error().code() == ErrorCode::kRefused);  // already
  CHECK_FALSE(a->ReadGuestMemory("g", deep, 16).ok());                     // paused
  // Not exported yet: the host cannot finish the send.
  CHECK(a->FinishSnpSend("g").error().code() == ErrorCode::kRefused);
  // Cancelled, the guest is back as it was; then paused again for real.
  REQUIRE(a->CancelSnpMigration("g").ok());
  CHECK(*a->ReadGuestMemory("g", deep, 4096) == mark);
  REQUIRE(a->BeginSnpMigration("g").ok());

  // MA_A exports g (IMI_EN = 0): the firmware decommissions it on A.
  std::uint64_t seq_a = 1, seq_b = 1;
  Bytes exp(emulator::kExportReqSize, 0);
  StoreLe64(exp.data(), g->gctx_paddr);
  const Bytes rsp = AgentMessage(*a, "ma", seq_a, GuestMsgType::kExportReq, exp);
  REQUIRE(LoadLe32(rsp.data()) == 0);
  auto image = a->FinishSnpSend("g");
  REQUIRE_MESSAGE(image.ok(), (image.ok() ? "" : image.error().message()));
  CHECK_FALSE(a->Guest("g").ok());
  CHECK(image->pages.size() == 4379 + 69 + 2 + 1);
  std::size_t roots = 0;
  for (const auto& p : image->pages) {
    roots += p.parent < 0;
    CHECK(p.ciphertext.size() == 4096);
  }
  CHECK(roots == 1);

  // B: the empty context, MA_B's import into it, the pages in.
  auto incoming = b->CreateIncomingSnpContext("g");
  REQUIRE(incoming.ok());
  CHECK(b->CreateIncomingSnpContext("g").error().code() == ErrorCode::kAlreadyExists);
  // Before the import, SNP_ACTIVATE of the INIT context is refused; it stays waiting.
  auto early = b->ReceiveSnpGuest("g", *image, "ma");
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().message().find("SNP_ACTIVATE") != std::string::npos);
  Bytes imp(emulator::kImportReqSize, 0);
  StoreLe64(imp.data(), incoming->gctx_paddr);
  std::memcpy(imp.data() + 8, rsp.data() + 4, 8);  // size, version
  std::memcpy(imp.data() + emulator::kImportReqGctx, rsp.data() + emulator::kExportRspGctx,
              emulator::kGctxExportSize);
  REQUIRE(LoadLe32(AgentMessage(*b, "ma", seq_b, GuestMsgType::kImportReq, imp).data()) == 0);
  auto moved = b->ReceiveSnpGuest("g", std::move(image).value(), "ma");
  REQUIRE_MESSAGE(moved.ok(), (moved.ok() ? "" : moved.error().message()));
  CHECK(moved->pages == 4379);
  CHECK(moved->metadata_pages == 0);  // the tree is used up and given back
  CHECK(moved->measurement == g->measurement);
  CHECK(moved->migration_agent == "ma");
  CHECK(*b->ReadGuestMemory("g", deep, 4096) == mark);
  CHECK(*b->ReadGuestMemory("g", g->secrets_gpa, 4096) == secrets);
  // The guest itself goes on: a report under its VMPCK0 with the next sequence number.
  std::uint64_t seq_g = 1;
  const Bytes report_rsp = AgentMessage(*b, "g", seq_g, GuestMsgType::kReportReq, Bytes(0x60, 0));
  CHECK(LoadLe32(report_rsp.data()) == 0);
}
TEST_CASE("a page that fails to go out for a migration: the pages out so far come back in") {
  auto host = BootHost(emulator::Product::kMilan, 1);
  REQUIRE(Launch(*host, "ma", 0x30000, "").ok());
  auto g = Launch(*host, "g", 0x30000 | kMigrateMa, "ma");
  REQUIRE(g.ok());
  const Bytes before = *host->ReadGuestMemory("g", 0xFFFF0000, 16 * 4096);
  hypervisor::FaultSpec spec;
  spec.command = static_cast<std::uint32_t>(emulator::SnpCmd::kPageSwapOut);
  spec.status = FwStatus::kResourceLimit;
  spec.every = 10;  // the tenth page
  spec.count = 1;
  REQUIRE(host->faults().Add(spec).ok());
  auto paused = host->BeginSnpMigration("g");
  REQUIRE_FALSE(paused.ok());
  CHECK(paused.error().message().find("SNP_PAGE_SWAP_OUT: RESOURCE_LIMIT") != std::string::npos);
  auto info = host->Guest("g");
  REQUIRE(info.ok());
  CHECK_FALSE(info->migrating);
  CHECK(info->swapped_pages == 0);
  CHECK(info->pages == g->pages);
  CHECK(*host->ReadGuestMemory("g", 0xFFFF0000, 16 * 4096) == before);
  // And it migrates out cleanly afterwards (the fault is used up).
  CHECK(host->BeginSnpMigration("g").ok());
}

}  // namespace sevemu
