// The daemon's control channel (issue 16; `sevemu ctl`): faults injected into a platform or one
// of its guests, a firmware update under running guests, a host reboot, and the capabilities.
// These are MANAGE ops, so only a host connection reaches them (a guest connection's MANAGE is
// not_permitted) and the ones that change anything need a writable hello.
#include <cstring>
#include <nlohmann/json.hpp>

#include "daemon_impl.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/hypervisor/faults.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::daemon {

namespace {

using nlohmann::json;

// clang-format off
constexpr CtlOpInfo kCtlOps[] = {
  {"capabilities",             false, "what this daemon offers (the JSON of serve --print-capabilities, plus its platforms)"},
  {"fault.inject",             true,  "arm a fault: kind, guest?, count?, every?, command?, status?, size?"},
  {"fault.list",               false, "the armed and exhausted faults with their match and fire counts"},
  {"fault.clear",              true,  "remove one fault (id) or all"},
  {"platform.firmware_update", true,  "download a new firmware (version, tcb), commit it, set the reported TCB"},
  {"platform.reset",           true,  "a host reboot: guests are gone, the platform boots again from its state"},
};
// clang-format on

Result<protocol::JsonBlob> Reply(const json& j) {
  return protocol::JsonBlob{j.dump(), {}};
}

Error ReadOnly() {
  return Error(ErrorCode::kRefused, "this connection is read-only (open /dev/sev for writing)");
}

std::string Hex(std::uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

json FaultJson(const hypervisor::Fault& f) {
  const hypervisor::FaultSpec& s = f.spec;
  json j = {{"id", f.id},       {"kind", hypervisor::FaultKindName(s.kind)},
            {"guest", s.guest}, {"count", s.count},
            {"every", s.every}, {"matched", f.matched},
            {"fired", f.fired}, {"exhausted", f.exhausted()}};
  if (s.kind == hypervisor::FaultKind::kCommand) {
    j["command"] = hypervisor::CommandName(s.legacy, s.command);
    j["command_id"] = Hex(s.command);
    j["legacy"] = s.legacy;
    j["status"] = emulator::FwStatusName(s.status);
  }
  if (s.kind == hypervisor::FaultKind::kGuestInvalidLen ||
      s.kind == hypervisor::FaultKind::kCertsTruncated) {
    j["size"] = s.size;
  }
  return j;
}

Status U32Field(const json& req, const char* key, std::uint32_t* out) {
  const std::uint64_t v = req.value(key, std::uint64_t{0});
  if (v > 0xFFFFFFFFu) return Error(ErrorCode::kInvalidArgument, std::string(key) + ": too large");
  *out = static_cast<std::uint32_t>(v);
  return {};
}

Result<protocol::JsonBlob> Inject(Daemon::Impl& d, ServedPlatform& p, const json& req) {
  const std::string kind_name = req.value("kind", "");
  auto kind = hypervisor::ParseFaultKind(kind_name);
  if (!kind) return Error(ErrorCode::kInvalidArgument, "unknown fault kind '" + kind_name + "'");
  hypervisor::FaultSpec spec;
  spec.kind = *kind;
  // A guest by name, which need not be running yet: a fault in its launch names it first.
  spec.guest = req.value("guest", "");
  for (auto [key, field] : {std::pair{"count", &spec.count}, std::pair{"every", &spec.every},
                            std::pair{"size", &spec.size}}) {
    if (Status st = U32Field(req, key, field); !st.ok()) return st.error();
  }
  if (*kind == hypervisor::FaultKind::kCommand) {
    const std::string command = req.value("command", "");
    if (Status st = hypervisor::ParseCommand(command, &spec.legacy, &spec.command); !st.ok()) {
      return st.error();
    }
    auto status = hypervisor::ParseFwStatus(req.value("status", "INVALID_PARAM"));
    if (!status.ok()) return status.error();
    spec.status = *status;
  }
  auto id = p.host->faults().Add(spec);
  if (!id.ok()) return id.error();
  const hypervisor::Fault& f = p.host->faults().List().back();
  d.Log(LogLevel::kInfo, "fault injected",
        {{"platform", p.name},
         {"id", std::to_string(*id)},
         {"kind", kind_name},
         {"guest", spec.guest},
         {"count", std::to_string(spec.count)},
         {"every", std::to_string(spec.every)}});
  return Reply(FaultJson(f));
}

// SNP_COMMIT and SNP_SET_CONFIG through /dev/sev, as the host administrator's tools issue them.
Status IoctlStep(ServedPlatform& p, uapi::SevUserCmd cmd, Bytes data) {
  constexpr std::uint64_t kStructAddr = 0x10000;
  std::vector<uapi::UserRegion> regions;
  if (!data.empty()) regions.push_back({kStructAddr, std::move(data)});
  uapi::StagedUserMemory mem(std::move(regions));
  alignas(8) uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(cmd), kStructAddr, 0};
  const auto r = p.host->sev_device().Ioctl(uapi::kSevIssueCmd, arg, mem, true);
  if (r.ret == 0) return {};
  return Error(ErrorCode::kRefused,
               std::string(uapi::SevUserCmdName(static_cast<std::uint32_t>(cmd))) + ": " +
                   (r.ret == -5 ? emulator::FwStatusName(static_cast<emulator::FwStatus>(arg.error))
                                : "errno " + std::to_string(-r.ret)));
}

std::string Version(const emulator::FirmwareVersion& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.build);
}

// A firmware update as a host administrator rolls one out under running guests: the new image
// (SNP_DOWNLOAD_FIRMWARE_EX), SNP_COMMIT, then SNP_SET_CONFIG with the new reported TCB. From
// then on the VCEK that signs the guests' reports is the one of the new reported TCB.
Result<protocol::JsonBlob> FirmwareUpdate(Daemon::Impl& d, ServedPlatform& p, const json& req) {
  hypervisor::Host& host = *p.host;
  const emulator::PlatformState& s = host.firmware().platform_state();
  emulator::FirmwareImage image;
  image.product = s.chip.product;
  image.version = s.current_fw;
  if (req.contains("version")) {
    unsigned major = 0, minor = 0, build = 0;
    char tail = 0;
    const std::string text = req["version"].get<std::string>();
    if (std::sscanf(text.c_str(), "%u.%u.%u%c", &major, &minor, &build, &tail) != 3 ||
        major > 255 || minor > 255 || build > 255) {
      return Error(ErrorCode::kInvalidArgument, "version must be MAJOR.MINOR.BUILD");
    }
    image.version = {static_cast<std::uint8_t>(major), static_cast<std::uint8_t>(minor),
                     static_cast<std::uint8_t>(build)};
  } else {
    image.version.build = static_cast<std::uint8_t>(image.version.build + 1);
  }
  if (req.contains("tcb")) {
    auto tcb = emulator::ParseTcb(image.product, req["tcb"].get<std::string>());
    if (!tcb.ok()) return tcb.error().Context("tcb");
    image.tcb = *tcb;
  } else {
    // The usual security update: the SNP firmware's SVN goes up by one.
    emulator::TcbParts parts = s.current_tcb.parts();
    parts.snp = static_cast<std::uint8_t>(parts.snp + 1);
    auto tcb = emulator::TcbVersion::FromParts(image.product, parts);
    if (!tcb.ok()) return tcb.error();
    image.tcb = *tcb;
  }
  image.body = Bytes(4096, 0x90);  // stands in for the firmware's code (cmd_firmware.cpp)
  auto bytes = emulator::BuildFirmwareImage(image, host.platform().root.ark_key);
  if (!bytes.ok()) return bytes.error();
  const emulator::FwStatus st = host.DownloadFirmware(*bytes, false);
  if (st != emulator::FwStatus::kSuccess) {
    return Error(ErrorCode::kRefused,
                 std::string("SNP_DOWNLOAD_FIRMWARE_EX: ") + emulator::FwStatusName(st));
  }
  if (req.value("commit", true)) {
    if (Status cst = IoctlStep(p, uapi::SevUserCmd::kSnpCommit, {}); !cst.ok()) return cst.error();
  }
  // The reported TCB: "current" (the default: what the new firmware runs at), "keep", or a TCB.
  const std::string reported = req.value("reported_tcb", "current");
  if (reported != "keep") {
    uapi::SevUserDataSnpConfig cfg{};
    if (reported == "current") {
      cfg.reported_tcb = host.firmware().platform_state().current_tcb.raw();
    } else {
      auto tcb = emulator::ParseTcb(image.product, reported);
      if (!tcb.ok()) return tcb.error().Context("reported_tcb");
      cfg.reported_tcb = tcb->raw();
    }
    const auto& now = host.firmware().platform_state();
    cfg.flags = (now.mask_chip_id ? 1u : 0u) | (now.mask_chip_key ? 2u : 0u);
    Bytes data(sizeof cfg);
    std::memcpy(data.data(), &cfg, sizeof cfg);
    if (Status cst = IoctlStep(p, uapi::SevUserCmd::kSnpSetConfig, data); !cst.ok()) {
      return cst.error();
    }
  }
  const auto& after = host.firmware().platform_state();
  d.Log(LogLevel::kInfo, "firmware updated",
        {{"platform", p.name},
         {"firmware", Version(after.current_fw)},
         {"current_tcb", after.current_tcb.ToString()},
         {"committed_tcb", after.committed_tcb.ToString()},
         {"reported_tcb", after.reported_tcb.ToString()}});
  return Reply({{"firmware", Version(after.current_fw)},
                {"committed_firmware", Version(after.committed_fw)},
                {"current_tcb", after.current_tcb.ToString()},
                {"committed_tcb", after.committed_tcb.ToString()},
                {"reported_tcb", after.reported_tcb.ToString()},
                {"guests", host.Guests().size()}});
}

Result<protocol::JsonBlob> Dispatch(Daemon::Impl& d, const Held& held, std::size_t index,
                                    bool writable, const std::string& op, const json& req) {
  ServedPlatform& p = d.platforms[index];
  for (const CtlOpInfo& info : kCtlOps) {
    if (op == info.op && info.writable && !writable) return ReadOnly();
  }
  if (op == "capabilities") {
    // It reads every platform's firmware: ManagePlatforms holds them all.
    for (std::size_t i = 0; i < d.platforms.size(); ++i) {
      if (!held.Holds(i))
        return Error(ErrorCode::kRefused, "internal: capabilities without every platform held");
    }
    json j = json::parse(CapabilitiesJson());
    json platforms = json::array();
    for (const auto& sp : d.platforms) {
      const auto& s = sp.host->firmware().platform_state();
      platforms.push_back({{"name", sp.name},
                           {"product", emulator::Info(s.chip.product).name},
                           {"firmware", Version(s.current_fw)}});
    }
    j["platforms"] = platforms;
    return Reply(j);
  }
  if (op == "fault.inject") return Inject(d, p, req);
  if (op == "fault.list") {
    json list = json::array();
    for (const auto& f : p.host->faults().List()) list.push_back(FaultJson(f));
    return Reply({{"faults", list}});
  }
  if (op == "fault.clear") {
    std::size_t cleared = 0;
    if (req.contains("id")) {
      const auto id = req["id"].get<std::uint64_t>();
      if (!p.host->faults().Clear(id)) {
        return Error(ErrorCode::kNotFound, "no fault " + std::to_string(id));
      }
      cleared = 1;
    } else {
      cleared = p.host->faults().List().size();
      p.host->faults().ClearAll();
    }
    d.Log(LogLevel::kInfo, "faults cleared",
          {{"platform", p.name}, {"cleared", std::to_string(cleared)}});
    return Reply({{"cleared", cleared}});
  }
  if (op == "platform.firmware_update") return FirmwareUpdate(d, p, req);
  if (op == "platform.reset") {
    const std::size_t guests = p.host->Guests().size();
    if (Status st = d.Reboot(index); !st.ok()) return st.error();
    return Reply({{"rebooted", p.name}, {"guests_lost", guests}, {"boot", p.boot}});
  }
  return Error(ErrorCode::kInvalidArgument, "ctl op without a handler: " + op);
}

}  // namespace

std::span<const CtlOpInfo> CtlOps() {
  return kCtlOps;
}

std::optional<Result<protocol::JsonBlob>> Ctl(Daemon::Impl& d, const Held& held,
                                              std::size_t platform, bool writable,
                                              const protocol::JsonBlob& request) {
  const json req = json::parse(request.json, nullptr, false);
  if (!req.is_object() || !req.contains("op") || !req["op"].is_string()) return std::nullopt;
  const std::string op = req["op"];
  bool known = false;
  for (const CtlOpInfo& info : kCtlOps) known = known || op == info.op;
  if (!known) return std::nullopt;
  try {
    return Dispatch(d, held, platform, writable, op, req);
  } catch (const json::exception&) {
    return Result<protocol::JsonBlob>(
        Error(ErrorCode::kInvalidArgument, "a field of the request has the wrong type"));
  }
}

void Daemon::Impl::WatchFaults(std::size_t index) {
  // Called where a fault fires: inside a command, on the platform's thread with it held.
  platforms[index].host->faults().AddObserver([this, index](const hypervisor::FaultEvent& e) {
    Log(LogLevel::kInfo, "fault fired",
        {{"platform", platforms[index].name},
         {"id", std::to_string(e.id)},
         {"kind", hypervisor::FaultKindName(e.kind)},
         {"guest", e.guest},
         {"detail", e.detail},
         {"fired", std::to_string(e.fired)}});
    // And in the trace, attributed to whoever the firmware was working for (docs/trace.md).
    if (platforms[index].trace) {
      platforms[index].trace->OnFault(hypervisor::FaultKindName(e.kind),
                                      {{"id", std::to_string(e.id)},
                                       {"guest", e.guest},
                                       {"detail", e.detail},
                                       {"fired", std::to_string(e.fired)}});
    }
  });
}

Status Daemon::Impl::Reboot(std::size_t index) {
  ServedPlatform& p = platforms[index];
  // What survives a reboot is what the state directory holds: write it first, then boot from
  // it exactly as `sevemu serve` does at start.
  (void)p.host->TakePersistentChange();
  hypervisor::PersistentChange all;
  all.platform_json = true;
  all.sev_nv = !p.host->firmware().sev_nv_store().empty() ||
               PathExists(p.state_dir + "/" + emulator::kSevNvFile);
  if (Status st = Persist(p, all); !st.ok()) return st;
  auto platform = emulator::LoadPlatform(p.state_dir);
  if (!platform.ok()) return platform.error().Context("reboot");
  auto host = hypervisor::Host::Boot(std::move(platform).value(), p.config);
  if (!host.ok()) return host.error().Context("reboot");
  // The faults are the test's, not the machine's: they (and their observers) stay armed.
  (*host)->faults() = std::move(p.host->faults());
  const std::size_t guests = p.host->Guests().size();
  p.host = std::move(host).value();
  ++p.boot;
  AttachTrace(index);  // the new firmware is observed as the old one was
  if (p.trace) p.trace->OnFault("platform_reset", {{"boot", std::to_string(p.boot)}});
  PersistIfChanged(index);
  Log(LogLevel::kInfo, "platform reset",
      {{"platform", p.name},
       {"boot", std::to_string(p.boot)},
       {"guests_lost", std::to_string(guests)}});
  return {};
}

}  // namespace sevemu::daemon
