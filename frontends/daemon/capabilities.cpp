// What this build offers, for a test suite to check before it relies on a feature (issue 16
// part 2; swtpm's --print-capabilities is the model). Every list is read from the table the
// code runs on: the firmware's dispatch tables and message handlers, /dev/sev's handler table
// (indexed by user command, SevUserCmd::kMax entries), the protocol's message types, the ctl
// ops and the fault kinds. tests/daemon checks the output against those tables.
#include <nlohmann/json.hpp>

#include "daemon_impl.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/firmware_abi.h"
#include "sevemu/emulator/manufacturing/product.h"
#include "sevemu/hypervisor/faults.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::daemon {

namespace {

using nlohmann::json;

std::string Hex(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// The front ends this build has, each with the command that starts it.
// clang-format off
constexpr struct {
  const char* name;
  const char* command;
  const char* serves;
} kFrontEnds[] = {
  {"daemon", "sevemu serve",      "the socket protocol (docs/protocol.md): /dev/sev, guest devices, MANAGE and ctl ops, the live trace"},
  {"shim",   "LD_PRELOAD=libsevemu-preload.so", "/dev/sev, /dev/sev-guest, configfs-tsm for dynamically linked programs"},
  {"run",    "sevemu run",        "the same devices for any program, by seccomp user notification"},
  {"kds",    "sevemu kds serve",  "the simulated KDS over HTTP, with a loopback ctl endpoint for its faults"},
  {"cli",    "sevemu",            "provisioning, certificates, guests, host administration, ctl, trace"},
};
// clang-format on

}  // namespace

std::string CapabilitiesJson() {
  json products = json::array();
  for (emulator::Product p :
       {emulator::Product::kMilan, emulator::Product::kGenoa, emulator::Product::kTurin}) {
    const emulator::ProductInfo& i = emulator::Info(p);
    // The firmware a platform provisioned without --firmware runs (DefaultFirmware).
    const emulator::FirmwareVersion fw = emulator::DefaultFirmware(p);
    products.push_back({{"name", i.name},
                        {"firmware", std::to_string(fw.major) + "." + std::to_string(fw.minor) +
                                         "." + std::to_string(fw.build)},
                        {"abi", std::to_string(fw.major) + "." + std::to_string(fw.minor)},
                        {"max_asid", i.max_asid}});
  }
  json abis = json::array();
  for (const emulator::FirmwareAbi& a : emulator::SimulatedAbis()) {
    abis.push_back(std::to_string(a.major) + "." + std::to_string(a.minor));
  }
  json snp = json::array();
  for (emulator::SnpCmd c : emulator::ImplementedSnpCommands()) {
    json entry = {{"id", Hex(static_cast<std::uint32_t>(c))}, {"name", emulator::SnpCmdName(c)}};
    // A command not every simulated ABI has names the first that does (SNP_VERIFY_MITIGATION).
    const emulator::FirmwareVersion since = emulator::SnpCommandSince(c);
    if (since.major != 0) {
      entry["since_abi"] = std::to_string(since.major) + "." + std::to_string(since.minor);
    }
    snp.push_back(std::move(entry));
  }
  json sev = json::array();
  for (emulator::SevCmd c : emulator::ImplementedSevCommands()) {
    sev.push_back({{"id", Hex(static_cast<std::uint32_t>(c))}, {"name", emulator::SevCmdName(c)}});
  }
  json messages = json::array();
  for (const auto& m : emulator::ImplementedGuestMessages()) {
    messages.push_back({{"type", m.type}, {"name", m.name}});
  }
  json dev_sev = json::array();
  for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(uapi::SevUserCmd::kMax); ++i) {
    dev_sev.push_back({{"id", i}, {"name", uapi::SevUserCmdName(i)}});
  }
  json guest_ioctls = json::array();
  for (unsigned long r : {uapi::kSnpGetReport, uapi::kSnpGetDerivedKey, uapi::kSnpGetExtReport}) {
    guest_ioctls.push_back(
        {{"request", Hex(static_cast<std::uint32_t>(r))}, {"name", uapi::SnpGuestIoctlName(r)}});
  }
  json types = json::array();
  for (std::uint32_t t = 0; t < protocol::kReplyBit; ++t) {
    const char* name = protocol::MsgTypeName(static_cast<protocol::MsgType>(t));
    if (std::string(name) != "UNKNOWN") types.push_back({{"type", Hex(t)}, {"name", name}});
  }
  json ctl = json::array();
  for (const CtlOpInfo& op : CtlOps()) {
    ctl.push_back({{"op", op.op}, {"writable", op.writable}, {"summary", op.summary}});
  }
  json faults = json::array();
  for (const hypervisor::FaultKindInfo& k : hypervisor::FaultKinds()) {
    faults.push_back({{"kind", k.name}, {"where", "daemon"}, {"summary", k.summary}});
  }
  json front_ends = json::array();
  for (const auto& f : kFrontEnds) {
    front_ends.push_back({{"name", f.name}, {"command", f.command}, {"serves", f.serves}});
  }
  const json j = {{"name", "sevemu"},
                  {"version", SEVEMU_VERSION},
                  {"protocol", protocol::kVersion},
                  {"products", products},
                  {"firmware_abis", abis},
                  {"snp_commands", snp},
                  {"sev_commands", sev},
                  {"guest_messages", messages},
                  {"dev_sev_commands", dev_sev},
                  {"sev_guest_ioctls", guest_ioctls},
                  {"message_types", types},
                  {"ctl_ops", ctl},
                  {"fault_kinds", faults},
                  {"front_ends", front_ends}};
  return j.dump();
}

}  // namespace sevemu::daemon
