// sevemu guest ...: guests on a running daemon's platform, launched as a VMM launches them.
// SNP guests: hypervisor::Host::LaunchGuest; a program run with SEVEMU_GUEST=NAME and the
// preload shim then acts inside the guest. Legacy SEV / SEV-ES guests: Host::LaunchSevGuest,
// driven the way QEMU's sev-guest object and QMP commands drive one — the owner's dh-cert-file
// and session-file, query-sev-launch-measure (printed at launch), sev-inject-launch-secret
// (inject-secret), the start of the guest (finish), query-sev-attestation-report (attest);
// migrate moves one to another platform of the daemon with SEND_*/RECEIVE_*
// (Host::SendSevGuest, ReceiveSevGuest).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <iostream>

#include "cli.h"
#include "daemon_client.h"
#include "direct_boot.h"
#include "sevemu/common/file_io.h"
#include "sevemu/crypto/base64.h"
#include "sevemu/launch/vmsa.h"
#include "snp_migrate.h"

namespace sevemu::cli {

namespace {

void PrintGuest(const nlohmann::json& g) {
  const std::string type = g.value("type", "snp");
  std::cout << g["name"].get<std::string>() << ": " << type << ", asid " << g["asid"] << ", policy "
            << g["policy"].get<std::string>() << ", " << g["vcpus"] << " vCPU(s) (CPUID "
            << g.value("vcpu_sig", "?") << "), " << g["pages"] << " pages\n";
  if (g.value("direct_boot", false)) {
    std::cout << "  direct boot: the kernel, initrd and command-line hashes are measured\n";
  }
  if (type == "snp") {
    std::cout << "  measurement " << g["measurement"].get<std::string>() << "\n"
              << "  host_data   " << g["host_data"].get<std::string>() << "\n"
              << "  features    " << g.value("guest_features", "?") << " (SEV_FEATURES)\n";
    return;
  }
  std::cout << "  handle " << g["handle"] << ", state " << g["state"].get<std::string>()
            << (g["secret_injected"].get<bool>() ? ", secret injected" : "") << ", API "
            << g["api"].get<std::string>() << "\n"
            << "  launch measure " << g["launch_measure"].get<std::string>()
            << "  (measurement ‖ mnonce)\n"
            << "  launch digest  " << g["launch_digest"].get<std::string>() << "\n";
  if (g.value("received", false)) {
    // AMD's RECEIVE_* carries no launch digest: ATTESTATION reports zeros here.
    std::cout << "  received by migration (no launch here; ATTESTATION's digest is zero)\n";
  }
  if (g["secret_gpa"].get<std::uint64_t>() != 0) {
    std::cout << "  secret area    0x" << std::hex << g["secret_gpa"].get<std::uint64_t>()
              << std::dec << " (" << g["secret_size"] << " bytes)\n";
  }
}

Result<Bytes> ReadBinary(const std::string& path) {
  return ReadWholeFile(path, 16u << 20);
}

// The legacy launch blobs come as binary files (sev-tool, `sevemu owner`) or base64 text
// (sevctl, QEMU's dh-cert-file/session-file and QMP arguments): text made only of base64
// characters is decoded.
Result<Bytes> ReadBlob(const std::string& path) {
  auto b = ReadWholeFile(path, 64u << 10);
  if (!b.ok()) return b.error();
  const bool text = !b->empty() && std::all_of(b->begin(), b->end(), [](std::uint8_t c) {
    return std::isalnum(c) || c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r' ||
           c == ' ' || c == '\t';
  });
  if (!text) return b;
  auto decoded =
      crypto::Base64Decode(std::string_view(reinterpret_cast<const char*>(b->data()), b->size()));
  if (!decoded.ok()) return Error(ErrorCode::kInvalidArgument, path + ": not valid base64");
  return decoded;
}

Result<std::uint64_t> ParseNumber(const std::string& opt, const std::string& text,
                                  std::uint64_t max) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || errno != 0 || v > max || text[0] == '-') {
    return Error(ErrorCode::kInvalidArgument, opt + ": not a number up to " + std::to_string(max));
  }
  return v;
}

// Reads guest memory the way a program inside the guest does: a guest connection.
int ReadGuest(const std::string& name, const std::string& socket, const std::string& platform,
              const std::string& guest, std::uint64_t gpa, std::uint64_t len,
              const std::string& out) {
  nlohmann::json hello = {{"role", "guest"}, {"guest", guest}};
  if (!platform.empty()) hello["platform"] = platform;
  auto c = protocol::Client::Connect(socket.empty() ? protocol::DefaultSocketPath() : socket,
                                     hello.dump());
  if (!c.ok()) return Fail(name, c.error());
  auto reply = c->Call(protocol::MsgType::kGuestMemRead,
                       protocol::EncodeGuestMemRead({gpa, static_cast<std::uint32_t>(len)}));
  if (!reply.ok()) return Fail(name, reply.error());
  if (!reply->ok()) {
    return Fail(name, Error(ErrorCode::kRefused, protocol::DecodeError(reply->payload)));
  }
  if (!out.empty()) {
    if (Status st = WriteFileAtomic(out, reply->payload, 0600, false); !st.ok()) {
      return Fail(name, st.error());
    }
    std::cout << "wrote " << reply->payload.size() << " bytes to " << out << "\n";
  } else {
    std::cout << HexEncode(reply->payload) << "\n";
  }
  return kExitOk;
}

}  // namespace

int RunGuest(const std::string& name, const Args& args) {
  std::string action, guest, socket, platform, image, policy_text, host_data, id_block, id_auth,
      type = "snp", dh_cert, session, measurement_out, header, secret, gpa_text, mnonce, out,
      len_text = "64", pages_text = "1", to, vcpu_type, vcpu_sig, guest_features, migration_agent,
      agent, to_agent, record, memory_text;
  std::vector<std::string> trust_ark;
  DirectBootArgs boot_args;
  unsigned vcpus = 1;
  bool author_key = false, json = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "launch | list | show | destroy | inject-secret | finish | attest | read | migrate | swap-out | swap-in | move-page")
      ("name", po::value(&guest), "guest name")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("platform", po::value(&platform)->default_value(DefaultPlatform(), ""), "platform on the daemon (default: $SEVEMU_PLATFORM, else its first)")
      ("type", po::value(&type), "launch: snp (default), sev or sev-es")
      ("image", po::value(&image), "launch: OVMF image (default: built-in)")
      ("policy", po::value(&policy_text), "launch: guest policy (default snp 0x30000, sev 0x1, sev-es 0x5)")
      ("vcpus", po::value(&vcpus), "launch: number of vCPUs (default 1)")
      ("vcpu-type", po::value(&vcpu_type), "launch: QEMU's CPU model, e.g. EPYC-Milan (sets the vCPUs' signature; default: the host's)")
      ("vcpu-sig", po::value(&vcpu_sig), "launch: instead of --vcpu-type, the vCPUs' CPUID signature (hex, e.g. 0xa10f11)")
      ("guest-features", po::value(&guest_features), "launch (snp): the VMSAs' SEV_FEATURES (hex, default 0x1 = SNPActive)")
      ("kernel", po::value(&boot_args.kernel), "launch: measured direct boot of this kernel (QEMU -kernel, kernel-hashes=on; default image: the built-in direct-boot one)")
      ("initrd", po::value(&boot_args.initrd), "launch --kernel: the initrd (QEMU -initrd)")
      ("append", po::value(&boot_args.append), "launch --kernel: the kernel command line (QEMU -append)")
      ("host-data", po::value(&host_data), "launch (snp): 32 bytes of hex for HOST_DATA")
      ("id-block", po::value(&id_block), "launch (snp): file with the 96-byte ID block")
      ("id-auth", po::value(&id_auth), "launch (snp): file with the 4096-byte ID authentication info")
      ("author-key", po::bool_switch(&author_key), "launch (snp): the ID auth info carries an author key")
      ("dh-cert-file", po::value(&dh_cert), "launch (sev, sev-es): the owner's GODH certificate (godh.cert; binary or base64)")
      ("session-file", po::value(&session), "launch (sev, sev-es): the owner's session blob (launch_blob.bin; binary or base64)")
      ("measurement-out", po::value(&measurement_out), "launch (sev, sev-es): write LAUNCH_MEASURE's 48 bytes to this file")
      ("header", po::value(&header), "inject-secret: the packet header (packet_header.bin; binary or base64)")
      ("secret", po::value(&secret), "inject-secret: the encrypted secret (encrypted_secret.bin; binary or base64)")
      ("gpa", po::value(&gpa_text), "inject-secret: guest address (default: the image's secret area); read, swap-out, swap-in, move-page: address")
      ("pages", po::value(&pages_text), "swap-out, swap-in: 4 KiB pages from --gpa (default 1)")
      ("mnonce", po::value(&mnonce), "attest: the owner's 16-byte nonce (hex)")
      ("out", po::value(&out), "attest: file for the report; read: file for the bytes (default: hex on stdout)")
      ("len", po::value(&len_text), "read: bytes to read (default 64, at most 1 MiB)")
      ("memory", po::value(&memory_text), "launch (snp): more guest memory in the built-in image, e.g. 64M or 1G (zero pages above 16 MiB)")
      ("migration-agent", po::value(&migration_agent), "launch (snp): the guest of this platform that is its migration agent (MA_EN; the default policy gains MIGRATE_MA, bit 18)")
      ("to", po::value(&to), "migrate: the destination platform on the same daemon")
      ("agent", po::value(&agent), "migrate (snp): the source's agent that exports (default: the guest's own)")
      ("to-agent", po::value(&to_agent), "migrate (snp): the destination's agent that imports (default: the guest of that name there)")
      ("trust-ark", po::value(&trust_ark)->composing(), "migrate (snp): a PEM file of AMD roots (ARK) the agents trust for each other's VCEK; repeatable")
      ("record", po::value(&record), "migrate (snp): write every byte the host carried (pages, channel frames) into this directory")
      ("json", po::bool_switch(&json), "print JSON");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("name", 1);
  int code = 0;
  auto vm = ParseArgs(name,
                      "launch|list|show|destroy|inject-secret|finish|attest|read|migrate|swap-out|"
                      "swap-in|move-page [NAME] [options]",
                      desc, args, code, &pos);
  if (!vm) return code;
  static const char* const kNamed[] = {"show",     "destroy", "launch",   "inject-secret",
                                       "finish",   "attest",  "read",     "migrate",
                                       "swap-out", "swap-in", "move-page"};
  const bool named = std::find(std::begin(kNamed), std::end(kNamed), action) != std::end(kNamed);
  if (action != "list" && !named) {
    return UsageError(name, "unknown action '" + action +
                                "' (launch, list, show, destroy, inject-secret, finish, attest, "
                                "read, migrate, swap-out, swap-in, move-page)");
  }
  if (named && guest.empty()) return UsageError(name, action + " needs a guest NAME");

  if (action == "read") {
    auto len = ParseNumber("--len", len_text, 1u << 20);
    if (!len.ok()) return UsageError(name, len.error().message());
    if (gpa_text.empty()) return UsageError(name, "read needs --gpa");
    auto gpa = ParseNumber("--gpa", gpa_text, ~0ull);
    if (!gpa.ok()) return UsageError(name, gpa.error().message());
    return ReadGuest(name, socket, platform, guest, *gpa, *len, out);
  }

  nlohmann::json req;
  Bytes blob;
  if (action == "list") {
    req = {{"op", "guest.list"}};
  } else if (action == "inject-secret") {
    req = {{"op", "guest.inject_secret"}, {"name", guest}};
  } else if (action == "swap-out" || action == "swap-in" || action == "move-page") {
    req = {{"op", action == "swap-out"  ? "guest.swap_out"
                  : action == "swap-in" ? "guest.swap_in"
                                        : "guest.move_page"},
           {"name", guest}};
    if (gpa_text.empty()) return UsageError(name, action + " needs --gpa");
    auto gpa = ParseNumber("--gpa", gpa_text, ~0ull);
    if (!gpa.ok()) return UsageError(name, gpa.error().message());
    req["gpa"] = *gpa;
    if (action != "move-page") {
      auto pages = ParseNumber("--pages", pages_text, 65536);
      if (!pages.ok() || *pages == 0) return UsageError(name, "--pages: a count of 1..65536");
      req["pages"] = *pages;
    } else if (pages_text != "1") {
      return UsageError(name, "move-page moves one page: no --pages");
    }
  } else {
    req = {{"op", "guest." + action}, {"name", guest}};
  }
  if (action == "launch") {
    if (type != "snp" && type != "sev" && type != "sev-es") {
      return UsageError(name, "--type must be snp, sev or sev-es");
    }
    const bool legacy = type != "snp";
    if (!policy_text.empty()) {
      auto policy = ParseNumber("--policy", policy_text, legacy ? 0xFFFFFFFFull : ~0ull);
      if (!policy.ok()) return UsageError(name, policy.error().message());
      req["policy"] = *policy;
    }
    req["type"] = type;
    req["vcpus"] = vcpus;
    if (!vcpu_type.empty() && !vcpu_sig.empty()) {
      return UsageError(name, "--vcpu-type and --vcpu-sig exclude each other");
    }
    if (!vcpu_type.empty()) {
      auto sig = launch::VcpuSignatureOf(vcpu_type);
      if (!sig.ok()) return UsageError(name, "--vcpu-type: " + sig.error().message());
      req["vcpu_sig"] = *sig;
    }
    if (!vcpu_sig.empty()) {
      auto sig = ParseNumber("--vcpu-sig", vcpu_sig, 0xFFFFFFFFull);
      if (!sig.ok()) return UsageError(name, sig.error().message());
      req["vcpu_sig"] = *sig;
    }
    if (!guest_features.empty()) {
      if (legacy) return UsageError(name, "--guest-features is an SNP launch option");
      auto f = ParseNumber("--guest-features", guest_features, ~0ull);
      if (!f.ok()) return UsageError(name, f.error().message());
      req["guest_features"] = *f;
    }
    if (!image.empty()) {
      auto b = ReadBinary(image);
      if (!b.ok()) return Fail(name, b.error());
      blob = *b;
    }
    boot_args.append_given = vm->count("append") != 0;
    auto boot = HashDirectBootArgs(boot_args);
    if (!boot.ok()) {
      return boot.error().code() == ErrorCode::kInvalidArgument
                 ? UsageError(name, boot.error().message())
                 : Fail(name, boot.error());
    }
    if (*boot) {
      req["direct_boot"] = {{"kernel", HexEncode((*boot)->kernel)},
                            {"initrd", HexEncode((*boot)->initrd)},
                            {"cmdline", HexEncode((*boot)->cmdline)}};
    }
    if (legacy) {
      if (!host_data.empty() || !id_block.empty() || !id_auth.empty() || author_key ||
          !migration_agent.empty() || !memory_text.empty()) {
        return UsageError(
            name,
            "--host-data, the ID block, --migration-agent and --memory are SNP launch options");
      }
      if (dh_cert.empty() != session.empty()) {
        return UsageError(name, "--dh-cert-file and --session-file go together");
      }
      for (auto [opt, file] : {std::pair{"godh_cert", &dh_cert}, std::pair{"session", &session}}) {
        if (file->empty()) continue;
        auto b = ReadBlob(*file);
        if (!b.ok()) return Fail(name, b.error());
        req[opt] = HexEncode(*b);
      }
    } else {
      if (!dh_cert.empty() || !session.empty() || !measurement_out.empty()) {
        return UsageError(name,
                          "--dh-cert-file, --session-file and --measurement-out are for "
                          "--type sev or sev-es");
      }
      req["author_key"] = author_key;
      if (!memory_text.empty()) {
        if (!image.empty()) return UsageError(name, "--memory is for the built-in image");
        std::uint64_t unit = 1;
        std::string digits = memory_text;
        const char last = digits.empty() ? '\0' : digits.back();
        if (last == 'K' || last == 'M' || last == 'G') {
          unit = last == 'K' ? 1ull << 10 : last == 'M' ? 1ull << 20 : 1ull << 30;
          digits.pop_back();
        }
        auto n = ParseNumber("--memory", digits, 2ull << 30);
        if (!n.ok() || *n == 0 || *n * unit > (2ull << 30) || (*n * unit) % 4096 != 0) {
          return UsageError(name, "--memory: 4 KiB to 2G, a multiple of 4 KiB (e.g. 64M)");
        }
        req["memory"] = *n * unit;
      }
      if (!migration_agent.empty()) {
        req["migration_agent"] = migration_agent;
        // SNP_LAUNCH_START refuses MA_EN without MIGRATE_MA (POLICY_FAILURE): the default
        // policy gets the bit; an explicit --policy is the user's and goes as it is.
        if (policy_text.empty()) req["policy"] = 0x30000ull | (1ull << 18);
      }
      if (!host_data.empty()) req["host_data"] = host_data;
      for (auto [opt, file] : {std::pair{"id_block", &id_block}, std::pair{"id_auth", &id_auth}}) {
        if (file->empty()) continue;
        auto b = ReadBinary(*file);
        if (!b.ok()) return Fail(name, b.error());
        req[opt] = HexEncode(*b);
      }
    }
  } else if (action == "inject-secret") {
    if (header.empty() || secret.empty()) {
      return UsageError(name, "inject-secret needs --header and --secret");
    }
    auto h = ReadBlob(header);
    if (!h.ok()) return Fail(name, h.error());
    auto s = ReadBlob(secret);
    if (!s.ok()) return Fail(name, s.error());
    req["header"] = HexEncode(*h);
    blob = *s;
    if (!gpa_text.empty()) {
      auto gpa = ParseNumber("--gpa", gpa_text, ~0ull);
      if (!gpa.ok()) return UsageError(name, gpa.error().message());
      req["gpa"] = *gpa;
    }
  } else if (action == "attest") {
    if (mnonce.empty() || out.empty()) return UsageError(name, "attest needs --mnonce and --out");
    req["mnonce"] = mnonce;
  } else if (action == "migrate") {
    if (to.empty()) return UsageError(name, "migrate needs --to PLATFORM");
    req["to"] = to;
  }
  if (action != "migrate" &&
      (!agent.empty() || !to_agent.empty() || !trust_ark.empty() || !record.empty())) {
    return UsageError(name, "--agent, --to-agent, --trust-ark and --record are migrate options");
  }
  if (action != "launch" && (!migration_agent.empty() || !memory_text.empty())) {
    return UsageError(name, "--migration-agent and --memory are launch options");
  }
  if (!to.empty() && action != "migrate") return UsageError(name, "--to is a migrate option");

  auto c = ConnectHost(socket, platform);
  if (!c.ok()) return Fail(name, c.error());
  if (action == "migrate") {
    // An SNP guest moves with its migration agents (snp_migrate.cpp); a legacy one in one op.
    auto shown = ManageCall(*c, {{"op", "guest.show"}, {"name", guest}});
    if (shown.ok() && shown->value("type", "") == "snp") {
      SnpMigrateOptions o{socket, platform, guest, to, agent, to_agent, trust_ark, record, json};
      return MigrateSnpGuest(name, *c, o);
    }
  }
  Bytes reply_blob;
  auto reply = ManageCall(*c, req, blob, &reply_blob);
  if (!reply.ok()) return Fail(name, reply.error());
  if (action == "launch" && !measurement_out.empty()) {
    auto m = HexDecode((*reply)["launch_measure"].get<std::string>());
    if (!m.ok()) return Fail(name, m.error());
    if (Status st = WriteFileAtomic(measurement_out, *m, 0644, false); !st.ok()) {
      return Fail(name, st.error());
    }
  }
  if (action == "attest") {
    if (Status st = WriteFileAtomic(out, reply_blob, 0644, false); !st.ok()) {
      return Fail(name, st.error());
    }
  }
  if (json) {
    std::cout << reply->dump(2) << "\n";
  } else if (action == "list") {
    if ((*reply)["guests"].empty()) std::cout << "no guests\n";
    for (const auto& g : (*reply)["guests"]) PrintGuest(g);
  } else if (action == "destroy") {
    std::cout << "destroyed " << guest << "\n";
  } else if (action == "swap-out" || action == "swap-in" || action == "move-page") {
    const std::string what = action == "swap-out"  ? "swapped out"
                             : action == "swap-in" ? "swapped in"
                                                   : "moved";
    std::cout << what << " " << (*reply)["pages_done"].get<std::uint64_t>() << " page(s) of "
              << guest << " at " << gpa_text << " ("
              << (*reply)["swapped_pages"].get<std::uint64_t>() << " swapped out, "
              << (*reply)["metadata_pages"].get<std::uint64_t>() << " metadata pages)\n";
  } else if (action == "migrate") {
    std::cout << "migrated " << guest << " from " << reply->value("from", "?") << " to "
              << reply->value("to", "?") << "\n";
    PrintGuest(*reply);
  } else if (action == "attest") {
    std::cout << "wrote the " << reply_blob.size() << "-byte ATTESTATION report to " << out << "\n";
  } else {
    PrintGuest(*reply);
  }
  return kExitOk;
}

}  // namespace sevemu::cli
