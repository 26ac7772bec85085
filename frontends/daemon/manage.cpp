// Management operations of a host connection (protocol kManage): the VMM's and the host
// administrator's side of what sevemu simulates — guests, the certificate table, firmware
// updates — and a status summary. JSON in, JSON (and a blob) out.
#include <nlohmann/json.hpp>
#include <optional>

#include "daemon_impl.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/launch/builtin_image.h"

namespace sevemu::daemon {

namespace {

using nlohmann::json;

// guest.launch's "vcpu_sig": CPUID Fn0000_0001_EAX, 0 (the default) = the host CPU's.
Result<std::uint32_t> VcpuSig(const json& req) {
  const std::uint64_t sig = req.value("vcpu_sig", std::uint64_t{0});
  if (sig > 0xFFFFFFFFu) {
    return Error(ErrorCode::kInvalidArgument, "vcpu_sig: a CPUID signature is 32 bits");
  }
  return static_cast<std::uint32_t>(sig);
}

json GuestJson(const hypervisor::GuestInfo& g) {
  char policy[24];
  std::snprintf(policy, sizeof policy, "0x%llx", static_cast<unsigned long long>(g.policy));
  char vcpu_sig[16];
  std::snprintf(vcpu_sig, sizeof vcpu_sig, "0x%x", g.vcpu_signature);
  json j = {{"name", g.name},   {"type", hypervisor::GuestTypeName(g.type)},
            {"asid", g.asid},   {"policy", policy},
            {"vcpus", g.vcpus}, {"vcpu_sig", vcpu_sig},
            {"pages", g.pages}, {"direct_boot", g.kernel_hashes}};
  if (g.type == hypervisor::GuestType::kSnp) {
    char features[24];
    std::snprintf(features, sizeof features, "0x%llx",
                  static_cast<unsigned long long>(g.sev_features));
    j["guest_features"] = features;
    j["measurement"] = HexEncode(g.measurement);
    j["host_data"] = HexEncode(g.host_data);
    j["id_block"] = g.id_block;
    j["secrets_gpa"] = g.secrets_gpa;
    j["cpuid_gpa"] = g.cpuid_gpa;
    j["swapped_pages"] = g.swapped_pages;
    j["metadata_pages"] = g.metadata_pages;
    j["gctx_paddr"] = g.gctx_paddr;
    j["migration_agent"] = g.migration_agent;
    j["migrating"] = g.migrating;
    return j;
  }
  // What QEMU's query-sev and query-sev-launch-measure tell the owner, and where it stands.
  j["handle"] = g.handle;
  j["state"] = g.launch_finished ? "running" : "launch-secret";
  j["secret_injected"] = g.secret_injected;
  j["launch_measure"] = HexEncode(g.launch_measure);
  j["api"] = std::to_string(g.api_major) + "." + std::to_string(g.api_minor) + "." +
             std::to_string(g.build);
  j["launch_digest"] = HexEncode(g.launch_digest);
  j["secret_gpa"] = g.secret_gpa;
  j["secret_size"] = g.secret_size;
  j["received"] = g.received;
  return j;
}

Result<Bytes> HexField(const json& j, const char* key, std::size_t size) {
  if (!j.contains(key)) return Bytes{};
  if (!j[key].is_string())
    return Error(ErrorCode::kInvalidArgument, std::string(key) + ": not a string");
  auto b = HexDecode(j[key].get<std::string>());
  if (!b.ok() || (size != 0 && b->size() != size)) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(key) + ": expected " +
                     (size != 0 ? std::to_string(size) + " bytes of hex" : "hex"));
  }
  return b;
}

// guest.launch's "direct_boot": {"kernel", "initrd", "cmdline"}, the three SHA-256s (hex) a
// VMM puts in OVMF's hash table (launch/kernel_hashes.h; the CLI hashes the files as QEMU does).
Result<std::optional<launch::DirectBoot>> DirectBootField(const json& req) {
  if (!req.contains("direct_boot")) return std::optional<launch::DirectBoot>();
  const json& d = req["direct_boot"];
  if (!d.is_object()) {
    return Error(ErrorCode::kInvalidArgument,
                 "direct_boot: an object with kernel, initrd and cmdline SHA-256s");
  }
  launch::DirectBoot boot;
  for (auto [key, out] : {std::pair{"kernel", &boot.kernel}, std::pair{"initrd", &boot.initrd},
                          std::pair{"cmdline", &boot.cmdline}}) {
    auto b = HexField(d, key, out->size());
    if (!b.ok()) return b.error().Context("direct_boot");
    if (b->empty()) {
      return Error(ErrorCode::kInvalidArgument, std::string("direct_boot: ") + key + " missing");
    }
    std::copy(b->begin(), b->end(), out->begin());
  }
  return std::optional<launch::DirectBoot>(boot);
}

Error ReadOnly() {
  return Error(ErrorCode::kRefused, "this connection is read-only (open /dev/sev for writing)");
}

Result<protocol::JsonBlob> Reply(const json& j, Bytes blob = {}) {
  return protocol::JsonBlob{j.dump(), std::move(blob)};
}

Result<protocol::JsonBlob> Dispatch(ServedPlatform& p, bool writable, const json& req,
                                    const Bytes& blob) {
  hypervisor::Host& host = *p.host;
  const std::string op = req.value("op", "");
  if (op == "status") {
    const auto& s = host.firmware().platform_state();
    auto fw = [](const emulator::FirmwareVersion& v) {
      return std::to_string(v.major) + "." + std::to_string(v.minor) + "." +
             std::to_string(v.build);
    };
    return Reply({{"platform", p.name},
                  {"state_dir", p.state_dir},
                  {"product", emulator::Info(s.chip.product).name},
                  {"chip_id", HexEncode(s.chip.chip_id)},
                  {"current_tcb", s.current_tcb.ToString()},
                  {"reported_tcb", s.reported_tcb.ToString()},
                  {"committed_tcb", s.committed_tcb.ToString()},
                  {"firmware", fw(s.current_fw)},
                  {"committed_firmware", fw(s.committed_fw)},
                  {"mask_chip_id", s.mask_chip_id},
                  {"mask_chip_key", s.mask_chip_key},
                  {"snp_state", statemachine::SnpPlatformStateName(host.firmware().snp_state())},
                  {"sev_state", statemachine::SevPlatformStateName(host.firmware().sev_state())},
                  {"guests", host.Guests().size()},
                  // The ASID split (CPUID Fn8000_001F ECX and EDX on a real host): SNP and
                  // SEV-ES guests share 1..min_sev_asid-1.
                  {"max_asid", emulator::Info(s.chip.product).max_asid},
                  {"min_sev_asid", emulator::MinSevAsid(s)}});
  }
  if (op == "guest.list") {
    json list = json::array();
    for (const auto& g : host.Guests()) list.push_back(GuestJson(g));
    return Reply({{"guests", list}});
  }
  if (op == "guest.show") {
    auto g = host.Guest(req.value("name", ""));
    if (!g.ok()) return g.error();
    return Reply(GuestJson(*g));
  }
  if (op == "guest.launch") {
    if (!writable) return ReadOnly();
    const std::string type = req.value("type", "snp");
    if (type == "sev" || type == "sev-es") {
      hypervisor::SevGuestLaunchSpec spec;
      spec.name = req.value("name", "");
      spec.es = type == "sev-es";
      spec.image = blob;
      const std::uint64_t policy = req.value("policy", std::uint64_t{spec.es ? 0x5u : 0x1u});
      if (policy > 0xFFFFFFFFu) {
        return Error(ErrorCode::kInvalidArgument, "policy: a legacy guest policy is 32 bits");
      }
      spec.policy = static_cast<std::uint32_t>(policy);
      spec.vcpus = req.value("vcpus", 1u);
      auto sig = VcpuSig(req);
      if (!sig.ok()) return sig.error();
      spec.vcpu_signature = *sig;
      auto cert = HexField(req, "godh_cert", 0);
      if (!cert.ok()) return cert.error();
      spec.godh_cert = *cert;
      auto session = HexField(req, "session", 0);
      if (!session.ok()) return session.error();
      spec.session = *session;
      auto boot = DirectBootField(req);
      if (!boot.ok()) return boot.error();
      spec.direct_boot = *boot;
      auto g = host.LaunchSevGuest(spec);
      if (!g.ok()) return g.error();
      return Reply(GuestJson(*g));
    }
    if (type != "snp") {
      return Error(ErrorCode::kInvalidArgument, "type must be snp, sev or sev-es");
    }
    hypervisor::GuestLaunchSpec spec;
    spec.name = req.value("name", "");
    spec.image = blob;
    if (req.contains("memory")) {
      const std::uint64_t memory = req["memory"].get<std::uint64_t>();
      if (!blob.empty() || memory % 4096 != 0 || memory == 0 ||
          memory > hypervisor::kMaxDefaultImageMemory) {
        return Error(ErrorCode::kInvalidArgument,
                     "memory: a multiple of 4096 bytes up to 2 GiB, with the built-in image only");
      }
      // With a direct boot, the built-in image that has the hash table area.
      spec.image =
          launch::BuiltinGuestImage(req.contains("direct_boot") ? launch::BuiltinImage::kDirectBoot
                                                                : launch::BuiltinImage::kPlain,
                                    memory);
    }
    spec.policy = req.value("policy", std::uint64_t{0x30000});
    spec.vcpus = req.value("vcpus", 1u);
    auto sig = VcpuSig(req);
    if (!sig.ok()) return sig.error();
    spec.vcpu_signature = *sig;
    spec.sev_features = req.value("guest_features", std::uint64_t{1});
    spec.author_key_en = req.value("author_key", false);
    auto hd = HexField(req, "host_data", 32);
    if (!hd.ok()) return hd.error();
    if (!hd->empty()) std::copy(hd->begin(), hd->end(), spec.host_data.begin());
    auto idb = HexField(req, "id_block", 0x60);
    if (!idb.ok()) return idb.error();
    spec.id_block = *idb;
    auto ida = HexField(req, "id_auth", 0x1000);
    if (!ida.ok()) return ida.error();
    spec.id_auth = *ida;
    auto boot = DirectBootField(req);
    if (!boot.ok()) return boot.error();
    spec.direct_boot = *boot;
    spec.migration_agent = req.value("migration_agent", "");
    auto g = host.LaunchGuest(spec);
    if (!g.ok()) return g.error();
    return Reply(GuestJson(*g));
  }
  if (op == "guest.inject_secret") {
    if (!writable) return ReadOnly();
    auto header = HexField(req, "header", 0);
    if (!header.ok()) return header.error();
    std::optional<std::uint64_t> gpa;
    if (req.contains("gpa")) gpa = req["gpa"].get<std::uint64_t>();
    if (Status st = host.InjectLaunchSecret(req.value("name", ""), *header, blob, gpa); !st.ok()) {
      return st.error();
    }
    auto g = host.Guest(req.value("name", ""));
    if (!g.ok()) return g.error();
    return Reply(GuestJson(*g));
  }
  if (op == "guest.finish") {
    if (!writable) return ReadOnly();
    auto g = host.FinishSevLaunch(req.value("name", ""));
    if (!g.ok()) return g.error();
    return Reply(GuestJson(*g));
  }
  if (op == "guest.attest") {
    auto nonce = HexField(req, "mnonce", 16);
    if (!nonce.ok()) return nonce.error();
    if (nonce->empty()) return Error(ErrorCode::kInvalidArgument, "mnonce: 16 bytes of hex needed");
    std::array<std::uint8_t, 16> mnonce{};
    std::copy(nonce->begin(), nonce->end(), mnonce.begin());
    auto report = host.SevAttestationReport(req.value("name", ""), mnonce);
    if (!report.ok()) return report.error();
    return Reply({{"bytes", report->size()}}, *report);
  }
  if (op == "guest.swap_out" || op == "guest.swap_in" || op == "guest.move_page") {
    if (!writable) return ReadOnly();
    const std::string name = req.value("name", "");
    if (!req.contains("gpa") || !req["gpa"].is_number_unsigned()) {
      return Error(ErrorCode::kInvalidArgument, "gpa: a guest physical address is needed");
    }
    const std::uint64_t gpa = req["gpa"].get<std::uint64_t>();
    std::size_t done = 1;
    if (op == "guest.move_page") {
      if (Status st = host.MoveGuestPage(name, gpa); !st.ok()) return st.error();
    } else {
      const std::uint64_t pages = req.value("pages", std::uint64_t{1});
      auto r = op == "guest.swap_out" ? host.SwapOutPages(name, gpa, pages)
                                      : host.SwapInPages(name, gpa, pages);
      if (!r.ok()) return r.error();
      done = *r;
    }
    auto g = host.Guest(name);
    if (!g.ok()) return g.error();
    json j = GuestJson(*g);
    j["pages_done"] = done;
    return Reply(j);
  }
  if (op == "guest.destroy") {
    if (!writable) return ReadOnly();
    if (Status st = host.DestroyGuest(req.value("name", "")); !st.ok()) return st.error();
    return Reply({{"destroyed", req.value("name", "")}});
  }
  if (op == "certs.get") {
    auto t = host.CertTable();
    if (!t.ok()) return t.error();
    return Reply({{"bytes", t->size()}}, *t);
  }
  if (op == "certs.set") {
    if (!writable) return ReadOnly();
    if (Status st = host.SetCertTable(blob); !st.ok()) return st.error();
    return Reply({{"bytes", blob.size()}});
  }
  if (op == "certs.auto") {
    if (!writable) return ReadOnly();
    host.UseAutomaticCertTable();
    return Reply({{"automatic", true}});
  }
  if (op == "firmware.download") {
    if (!writable) return ReadOnly();
    const emulator::FwStatus st = host.DownloadFirmware(blob, req.value("commit", false));
    return Reply(
        {{"status", emulator::FwStatusName(st)}, {"code", static_cast<std::uint32_t>(st)}});
  }
  return Error(ErrorCode::kInvalidArgument, "unknown operation '" + op + "'");
}

// guest.migrate of an SNP guest, in the steps a VMM takes around its two migration agents
// (docs/migration.md, docs/protocol.md): "begin" pauses the guest on `from` by swapping every
// page out (the host keeps the ciphertexts) and creates the empty context on `to` the
// destination agent imports into; the agents then run (MSG_EXPORT_REQ, their channel,
// MSG_IMPORT_REQ); "commit" drops the exported source and swaps the pages in on `to`;
// "cancel" (before the export) swaps them back in on `from` and removes the empty context.
Result<protocol::JsonBlob> MigrateSnp(ServedPlatform& from, ServedPlatform& to, const json& req) {
  const std::string name = req.value("name", "");
  const std::string step = req.value("step", "");
  hypervisor::Host& src = *from.host;
  hypervisor::Host& dst = *to.host;
  auto context = [&](const Error& e) {
    return e.Context("migrating '" + name + "' to '" + to.name + "'");
  };
  if (step == "begin") {
    auto g = src.Guest(name);
    if (!g.ok()) return g.error();
    const std::string agent = req.value("agent", g->migration_agent);
    if (agent.empty()) {
      return context(
          Error(ErrorCode::kRefused, "guest '" + name +
                                         "' has no migration agent (launched without "
                                         "--migration-agent; its policy may forbid migration)"));
    }
    // What the host carried comes back in one reply blob at commit: a frame's worth.
    if (req.value("record", false) && (g->pages + g->swapped_pages) * 4096 * 65 / 64 + 4096 >
                                          protocol::kMaxPayload - (64u << 10)) {
      return context(Error(ErrorCode::kInvalidArgument,
                           "record: the guest is too large to return what the host carried "
                           "(at most 15 MiB)"));
    }
    auto agent_guest = src.Guest(agent);
    if (!agent_guest.ok()) return context(agent_guest.error());
    const std::string to_agent = req.value("to_agent", agent);
    auto dest_agent = dst.Guest(to_agent);
    if (!dest_agent.ok()) {
      return context(dest_agent.error().Context("the destination's migration agent"));
    }
    if (dst.Guest(name).ok()) {
      return context(Error(ErrorCode::kAlreadyExists,
                           "platform '" + to.name + "' has a guest named '" + name + "'"));
    }
    auto paused = src.BeginSnpMigration(name);
    if (!paused.ok()) return context(paused.error());
    auto incoming = dst.CreateIncomingSnpContext(name);
    if (!incoming.ok()) {
      (void)src.CancelSnpMigration(name);
      return context(incoming.error());
    }
    json j = {{"name", name},
              {"from", from.name},
              {"to", to.name},
              {"agent", agent},
              {"to_agent", to_agent},
              {"source_gctx", paused->gctx_paddr},
              {"dest_gctx", incoming->gctx_paddr},
              {"swapped_pages", paused->swapped_pages}};
    return Reply(j);
  }
  if (step == "cancel") {
    auto incoming = dst.Guest(name);
    if (incoming.ok() && incoming->migrating && incoming->asid == 0) {
      (void)dst.DestroyGuest(name);
    }
    auto g = src.CancelSnpMigration(name);
    if (!g.ok()) return context(g.error());
    return Reply(GuestJson(*g));
  }
  if (step == "commit") {
    // The destination's empty context must still be there before the source lets go.
    auto incoming = dst.Guest(name);
    if (!incoming.ok() || !incoming->migrating || incoming->asid != 0) {
      return context(Error(
          ErrorCode::kRefused,
          "platform '" + to.name + "' has no context waiting for '" + name + "' (step begin)"));
    }
    auto image = src.FinishSnpSend(name);
    if (!image.ok()) return context(image.error());
    // What the host carried, for whoever audits it (the tests scan it for plaintext).
    Bytes carried;
    if (req.value("record", false)) {
      for (const auto& p : image->pages) {
        carried.insert(carried.end(), p.ciphertext.begin(), p.ciphertext.end());
      }
    }
    auto g = dst.ReceiveSnpGuest(name, std::move(image).value(), req.value("to_agent", ""));
    if (!g.ok()) return context(g.error());
    json j = GuestJson(*g);
    j["from"] = from.name;
    j["to"] = to.name;
    return Reply(j, std::move(carried));
  }
  return Error(ErrorCode::kInvalidArgument,
               "step: an SNP guest migrates in steps begin, commit or cancel (sevemu guest "
               "migrate runs them with the migration agents)");
}

// guest.migrate: a legacy guest of platform `from` moved to the platform named "to" with
// SEND_*/RECEIVE_* (hypervisor::MigrateSevGuest), as two hosts' VMMs would move it.
Result<protocol::JsonBlob> Migrate(std::vector<ServedPlatform>& platforms, const Held& held,
                                   std::size_t from, bool writable, const json& req) {
  if (!writable) return ReadOnly();
  const std::string name = req.value("name", "");
  const std::string to = req.value("to", "");
  if (to.empty()) return Error(ErrorCode::kInvalidArgument, "to: the destination platform");
  std::size_t dest = platforms.size();
  for (std::size_t i = 0; i < platforms.size(); ++i) {
    if (platforms[i].name == to) dest = i;
  }
  if (dest == platforms.size()) {
    return Error(ErrorCode::kNotFound, "no platform named '" + to + "'");
  }
  if (dest == from) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest '" + name + "' is already on platform '" + to + "'");
  }
  // Both hosts are touched at once: both must be held (ManagePlatforms), in the daemon's one
  // lock order, or another job of either platform could run meanwhile.
  if (!held.Holds(from) || !held.Holds(dest)) {
    return Error(ErrorCode::kRefused, "internal: guest.migrate without both platforms held");
  }
  hypervisor::Host& src = *platforms[from].host;
  hypervisor::Host& dst = *platforms[dest].host;
  auto found = src.Guest(name);
  if (found.ok() && found->type == hypervisor::GuestType::kSnp) {
    return MigrateSnp(platforms[from], platforms[dest], req);
  }
  auto g = hypervisor::MigrateSevGuest(src, dst, name);
  if (!g.ok()) {
    return g.error().Context("migrating '" + name + "' to '" + to + "'");
  }
  json j = GuestJson(*g);
  j["from"] = platforms[from].name;
  j["to"] = to;
  return Reply(j);
}

}  // namespace

std::vector<std::size_t> ManagePlatforms(const Daemon::Impl& d, std::size_t platform,
                                         const protocol::JsonBlob& request) {
  const json req = json::parse(request.json, nullptr, false);
  if (!req.is_object()) return {platform};
  const json op = req.value("op", json());
  if (op == "capabilities") {
    std::vector<std::size_t> all(d.platforms.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }
  // Operations between two platforms of the daemon name the other one in "to".
  if (op == "guest.migrate" && req.contains("to") && req["to"].is_string()) {
    const std::size_t dest = d.PlatformIndex(req["to"].get<std::string>());
    if (dest < d.platforms.size()) return {platform, dest};
  }
  return {platform};
}

Result<protocol::JsonBlob> Manage(std::vector<ServedPlatform>& platforms, const Held& held,
                                  std::size_t platform, bool writable,
                                  const protocol::JsonBlob& request) {
  const json req = json::parse(request.json, nullptr, false);
  if (req.is_object() && req.value("op", json()) == "guest.migrate") {
    try {
      return Migrate(platforms, held, platform, writable, req);
    } catch (const json::exception&) {
      return Error(ErrorCode::kInvalidArgument, "a field of the request has the wrong type");
    }
  }
  return Manage(platforms[platform], writable, request);
}

Result<protocol::JsonBlob> Manage(ServedPlatform& p, bool writable,
                                  const protocol::JsonBlob& request) {
  const json req = json::parse(request.json, nullptr, false);
  if (!req.is_object()) return Error(ErrorCode::kInvalidArgument, "request is not a JSON object");
  try {
    return Dispatch(p, writable, req, request.blob);
  } catch (const json::exception&) {
    // A field of the wrong JSON type (value() throws type_error): the client's mistake.
    return Error(ErrorCode::kInvalidArgument, "a field of the request has the wrong type");
  }
}

}  // namespace sevemu::daemon
