// sevemu guest launch|list|show|destroy: guests on a running daemon's platform, launched as a
// VMM launches them (hypervisor::Host::LaunchGuest). A program run with SEVEMU_GUEST=NAME and
// the preload shim then acts inside the guest.
#include <iostream>

#include "cli.h"
#include "daemon_client.h"
#include "sevemu/common/file_io.h"

namespace sevemu::cli {

namespace {

void PrintGuest(const nlohmann::json& g) {
  std::cout << g["name"].get<std::string>() << ": asid " << g["asid"] << ", policy "
            << g["policy"].get<std::string>() << ", " << g["vcpus"] << " vCPU(s), " << g["pages"]
            << " pages\n"
            << "  measurement " << g["measurement"].get<std::string>() << "\n"
            << "  host_data   " << g["host_data"].get<std::string>() << "\n";
}

Result<Bytes> ReadBinary(const std::string& path) {
  return ReadWholeFile(path, 16u << 20);
}

}  // namespace

int RunGuest(const std::string& name, const Args& args) {
  std::string action, guest, socket, platform, image, policy_text = "0x30000", host_data, id_block,
                                                      id_auth;
  unsigned vcpus = 1;
  bool author_key = false, json = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "launch | list | show | destroy")
      ("name", po::value(&guest), "guest name")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("platform", po::value(&platform), "platform on the daemon (default: its first)")
      ("image", po::value(&image), "launch: firmware image with SEV metadata (default: built-in)")
      ("policy", po::value(&policy_text), "launch: SNP guest policy (default 0x30000)")
      ("vcpus", po::value(&vcpus), "launch: number of vCPUs (default 1)")
      ("host-data", po::value(&host_data), "launch: 32 bytes of hex for HOST_DATA")
      ("id-block", po::value(&id_block), "launch: file with the 96-byte ID block")
      ("id-auth", po::value(&id_auth), "launch: file with the 4096-byte ID authentication info")
      ("author-key", po::bool_switch(&author_key), "launch: the ID auth info carries an author key")
      ("json", po::bool_switch(&json), "print JSON");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("name", 1);
  int code = 0;
  auto vm = ParseArgs(name, "launch|list|show|destroy [NAME] [options]", desc, args, code, &pos);
  if (!vm) return code;
  nlohmann::json req;
  Bytes blob;
  if (action == "list") {
    req = {{"op", "guest.list"}};
  } else if (action == "show" || action == "destroy" || action == "launch") {
    if (guest.empty()) return UsageError(name, action + " needs a guest NAME");
    req = {{"op", "guest." + action}, {"name", guest}};
  } else {
    return UsageError(name, "unknown action '" + action + "' (launch, list, show, destroy)");
  }
  if (action == "launch") {
    char* end = nullptr;
    const unsigned long long policy = std::strtoull(policy_text.c_str(), &end, 0);
    if (policy_text.empty() || *end != '\0') return UsageError(name, "--policy: not a number");
    req["policy"] = policy;
    req["vcpus"] = vcpus;
    req["author_key"] = author_key;
    if (!host_data.empty()) req["host_data"] = host_data;
    if (!image.empty()) {
      auto b = ReadBinary(image);
      if (!b.ok()) return Fail(name, b.error());
      blob = *b;
    }
    for (auto [opt, file] : {std::pair{"id_block", &id_block}, std::pair{"id_auth", &id_auth}}) {
      if (file->empty()) continue;
      auto b = ReadBinary(*file);
      if (!b.ok()) return Fail(name, b.error());
      req[opt] = HexEncode(*b);
    }
  }
  auto c = ConnectHost(socket, platform);
  if (!c.ok()) return Fail(name, c.error());
  auto reply = ManageCall(*c, req, blob);
  if (!reply.ok()) return Fail(name, reply.error());
  if (json) {
    std::cout << reply->dump(2) << "\n";
  } else if (action == "list") {
    if ((*reply)["guests"].empty()) std::cout << "no guests\n";
    for (const auto& g : (*reply)["guests"]) PrintGuest(g);
  } else if (action == "destroy") {
    std::cout << "destroyed " << guest << "\n";
  } else {
    PrintGuest(*reply);
  }
  return kExitOk;
}

}  // namespace sevemu::cli
