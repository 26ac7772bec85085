// sevemu ctl ...: the daemon's control channel (docs/protocol.md, "Control operations"):
// faults injected into a platform or one of its guests, a firmware update under running
// guests, a host reboot, and the capabilities. Each action is one MANAGE op; the CLI only
// translates options into its JSON and prints the reply.
#include <iostream>

#include "cli.h"
#include "daemon_client.h"

namespace sevemu::cli {

int RunCtl(const std::string& name, const Args& args) {
  // The simulated KDS is its own process with its own control endpoint (cmd_ctl_kds.cpp).
  if (!args.empty() && args[0] == "kds") {
    return RunCtlKds(name + " kds", Args(args.begin() + 1, args.end()));
  }
  std::string action, kind, socket, platform, guest, command, status, version, tcb, reported;
  std::uint32_t count = 0, every = 0, size = 0;
  std::uint64_t id = 0;
  bool no_commit = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "inject | list | clear | firmware-update | reset | capabilities")
      ("kind", po::value(&kind), "inject: the fault kind (see 'ctl capabilities': fault_kinds); clear: a fault id")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("platform", po::value(&platform)->default_value(DefaultPlatform(), ""), "platform on the daemon (default: $SEVEMU_PLATFORM, else its first)")
      ("guest", po::value(&guest), "inject: only in this guest (default: the whole platform)")
      ("count", po::value(&count), "inject: fire the next N times (default: until cleared)")
      ("every", po::value(&every), "inject: fire on one match in K")
      ("command", po::value(&command), "inject command: the firmware command, e.g. SNP_GUEST_REQUEST")
      ("status", po::value(&status), "inject command: the status, e.g. INVALID_PARAM")
      ("size", po::value(&size), "inject guest.invalid_len: bytes needed; certs.truncated: bytes kept")
      ("version", po::value(&version), "firmware-update: MAJOR.MINOR.BUILD (default: build + 1)")
      ("tcb", po::value(&tcb), "firmware-update: the new firmware's TCB (default: SNP SVN + 1)")
      ("no-commit", po::bool_switch(&no_commit), "firmware-update: do not SNP_COMMIT")
      ("reported-tcb", po::value(&reported), "firmware-update: current (default) | keep | a TCB");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("kind", 1);
  int code = 0;
  auto vm = ParseArgs(name, "ACTION [KIND|ID] [options]", desc, args, code, &pos);
  if (!vm) return code;
  nlohmann::json req;
  if (action == "inject") {
    if (kind.empty()) return UsageError(name, "inject needs a fault KIND");
    req = {{"op", "fault.inject"}, {"kind", kind}};
    if (!guest.empty()) req["guest"] = guest;
    if (count != 0) req["count"] = count;
    if (every != 0) req["every"] = every;
    if (size != 0) req["size"] = size;
    if (!command.empty()) req["command"] = command;
    if (!status.empty()) req["status"] = status;
  } else if (action == "list") {
    req = {{"op", "fault.list"}};
  } else if (action == "clear") {
    req = {{"op", "fault.clear"}};
    if (!kind.empty()) {
      try {
        id = std::stoull(kind);
      } catch (const std::exception&) {
        return UsageError(name, "clear takes a fault id (a number) or nothing for all");
      }
      req["id"] = id;
    }
  } else if (action == "firmware-update") {
    req = {{"op", "platform.firmware_update"}, {"commit", !no_commit}};
    if (!version.empty()) req["version"] = version;
    if (!tcb.empty()) req["tcb"] = tcb;
    if (!reported.empty()) req["reported_tcb"] = reported;
  } else if (action == "reset") {
    req = {{"op", "platform.reset"}};
  } else if (action == "capabilities") {
    req = {{"op", "capabilities"}};
  } else {
    return UsageError(name, "unknown action '" + action + "'");
  }
  auto c = ConnectHost(socket, platform);
  if (!c.ok()) return Fail(name, c.error());
  auto j = ManageCall(*c, req);
  if (!j.ok()) return Fail(name, j.error());
  std::cout << j->dump(action == "capabilities" || action == "list" ? 2 : -1) << "\n";
  return kExitOk;
}

}  // namespace sevemu::cli
