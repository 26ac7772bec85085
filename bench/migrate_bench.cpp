// snp_migrate_{64,256,1024}mib: an SNP guest of that much memory (the built-in image with
// DefaultGuestImage(memory)) live-migrated between two simulated hosts, Milan to Genoa, as the
// daemon's guest.migrate runs the host's part and the two agents send their messages
// (docs/migration.md): BeginSnpMigration (SNP_PAGE_SWAP_OUT of every page, then the METADATA
// tree up to the root entry), MSG_EXPORT_REQ from the source's agent, FinishSnpSend,
// CreateIncomingSnpContext, MSG_IMPORT_REQ from the destination's agent, ReceiveSnpGuest
// (SNP_ACTIVATE, SNP_PAGE_SWAP_IN down the tree, SNP_PAGE_RECLAIM). Not in it: the agents'
// channel (two reports, ECDH, one seal of 0x308 bytes; its cost does not grow with the guest)
// and the processes and sockets of `sevemu guest migrate` (benchmarked as process figures).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>

#include "bench_registry.h"
#include "sevemu/emulator/messages/migration_context.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu::bench {
namespace {

using guestmsg::GuestMsgType;
using hypervisor::Host;

void Must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "migrate_bench: %s\n", what);
    std::abort();
  }
}

std::unique_ptr<Host> Boot(emulator::Product product) {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 8ull << 30;
  auto host = Host::Boot(BenchPlatform(product), cfg);
  Must(host.ok(), "boot");
  return std::move(host).value();
}

void LaunchOne(Host& h, const std::string& name, std::uint64_t policy, const std::string& ma,
               std::uint64_t memory) {
  hypervisor::GuestLaunchSpec spec;
  spec.name = name;
  spec.policy = policy;
  spec.migration_agent = ma;
  spec.vcpu_signature = 0xa00f10;
  if (memory != 0) spec.image = hypervisor::DefaultGuestImage(memory);
  Must(h.LaunchGuest(spec).ok(), "launch");
}

// A message from the agent "ma" of `h` under VMPCK0; the response payload.
Bytes AgentMessage(Host& h, std::uint64_t& seq, GuestMsgType type, ByteSpan payload) {
  auto info = h.Guest("ma");
  Must(info.ok(), "agent");
  auto secrets = h.ReadGuestMemory("ma", info->secrets_gpa, 4096);
  Must(secrets.ok(), "secrets page");
  const Bytes vmpck0(secrets->begin() + 0x20, secrets->begin() + 0x40);
  guestmsg::GuestMsgHeader hdr;
  hdr.seqno = seq;
  hdr.type = type;
  hdr.msg_size = static_cast<std::uint16_t>(payload.size());
  auto ct = guestmsg::SealGuestMsg(hdr, payload, vmpck0);
  Must(ct.ok(), "seal");
  Bytes page(4096, 0);
  const auto hb = guestmsg::SerializeGuestMsgHeader(hdr);
  std::memcpy(page.data(), hb.data(), hb.size());
  std::memcpy(page.data() + 0x60, ct->data(), ct->size());
  auto reply = h.GuestRequest("ma", page, std::nullopt);
  Must(reply.ok() && reply->fw_status == emulator::FwStatus::kSuccess, "SNP_GUEST_REQUEST");
  seq += 2;
  auto rh = guestmsg::ParseGuestMsgHeader(reply->response);
  Must(rh.ok(), "response header");
  auto plain =
      guestmsg::OpenGuestMsg(*rh, ByteSpan(reply->response).subspan(0x60, rh->msg_size), vmpck0);
  Must(plain.ok() && LoadLe32(plain->data()) == 0, "agent message status");
  return Bytes(plain->span().begin(), plain->span().end());
}

void Migrate(Host& from, std::uint64_t& seq_from, Host& to, std::uint64_t& seq_to) {
  auto g = from.BeginSnpMigration("g");
  Must(g.ok(), "begin");
  Bytes exp(emulator::kExportReqSize, 0);
  StoreLe64(exp.data(), g->gctx_paddr);
  const Bytes rsp = AgentMessage(from, seq_from, GuestMsgType::kExportReq, exp);
  auto image = from.FinishSnpSend("g");
  Must(image.ok(), "finish send");
  auto incoming = to.CreateIncomingSnpContext("g");
  Must(incoming.ok(), "incoming context");
  Bytes imp(emulator::kImportReqSize, 0);
  StoreLe64(imp.data(), incoming->gctx_paddr);
  std::memcpy(imp.data() + 8, rsp.data() + 4, 8);
  std::memcpy(imp.data() + emulator::kImportReqGctx, rsp.data() + emulator::kExportRspGctx,
              emulator::kGctxExportSize);
  (void)AgentMessage(to, seq_to, GuestMsgType::kImportReq, imp);
  Must(to.ReceiveSnpGuest("g", std::move(image).value(), "ma").ok(), "receive");
}

void MigrateGuest(benchmark::State& state) {
  const std::uint64_t memory = static_cast<std::uint64_t>(state.range(0)) << 20;
  auto a = Boot(emulator::Product::kMilan);
  auto b = Boot(emulator::Product::kGenoa);
  LaunchOne(*a, "ma", 0x30000, "", 0);
  LaunchOne(*b, "ma", 0x30000, "", 0);
  LaunchOne(*a, "g", 0x30000 | (1ull << 18), "ma", memory);
  std::uint64_t seq_a = 1, seq_b = 1;
  bool on_a = true;
  for (auto _ : state) {
    if (on_a) {
      Migrate(*a, seq_a, *b, seq_b);
    } else {
      Migrate(*b, seq_b, *a, seq_a);
    }
    on_a = !on_a;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * memory));
}

}  // namespace

void RegisterMigrateBenchmarks() {
  for (int mib : {64, 256, 1024}) {
    benchmark::RegisterBenchmark(("snp_migrate_" + std::to_string(mib) + "mib").c_str(),
                                 MigrateGuest)
        ->Arg(mib)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(2)
        ->UseRealTime();
  }
}

}  // namespace sevemu::bench
