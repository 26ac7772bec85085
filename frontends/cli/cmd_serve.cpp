// sevemu serve: load (provisioning on first start) each platform, self-test its keys, boot its
// SNP firmware under a simulated host, and serve them on the daemon's socket until
// SIGTERM/SIGINT, then persist what the firmware changed.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "cli.h"
#include "log.h"
#include "sevemu/common/file_io.h"
#include "sevemu/daemon/daemon.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::cli {

namespace {

// What clients call a platform: its directory's name.
std::string PlatformName(const std::string& dir) {
  const std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
  return name.empty() ? "default" : name;
}

// Loads one platform, provisioning it first when the directory holds none of a platform's
// files (first start). `check` (serve --check) writes nothing at all: no directory, no
// provisioning, no lock file; a directory without a platform is an error then.
Result<emulator::Platform> LoadOrProvision(const std::string& dir, emulator::Product product,
                                           const std::optional<Bytes>& seed, const Logger& log,
                                           bool check) {
  if (!emulator::HasPlatform(dir)) {
    if (check) {
      return Error(ErrorCode::kNotFound,
                   dir + ": no platform here (serve without --check provisions one)");
    }
    emulator::ProvisionOptions opts;
    opts.product = product;
    opts.seed = seed;
    opts.now = static_cast<std::int64_t>(std::time(nullptr));
    auto root = ChooseRoot(opts.product, "", false, opts.now);
    if (!root.ok()) return root.error();
    auto made = emulator::Provision(opts, std::move(root).value());
    if (!made.ok()) return made.error();
    if (Status st = emulator::SaveNewPlatform(dir, *made); !st.ok()) return st.error();
    log.Info("provisioned", {{"state", dir}, {"product", emulator::Info(opts.product).name}});
  }
  auto platform = emulator::LoadPlatform(dir);
  if (!platform.ok()) return platform.error();
  if (Status st = emulator::CheckPlatform(*platform); !st.ok()) return st.error();
  return platform;
}

void LogPlatform(const Logger& log, const std::string& dir, const emulator::PlatformState& s) {
  log.Info("platform", {{"name", PlatformName(dir)},
                        {"state", dir},
                        {"product", emulator::Info(s.chip.product).name},
                        {"chip_id", HexEncode(s.chip.chip_id)},
                        {"current_tcb", s.current_tcb.ToString()},
                        {"reported_tcb", s.reported_tcb.ToString()},
                        {"firmware", std::to_string(s.current_fw.major) + "." +
                                         std::to_string(s.current_fw.minor) + "." +
                                         std::to_string(s.current_fw.build)}});
}

// Loads (provisioning on first start), locks and boots one platform.
// With a trace hub, the platform's writer observes the firmware from boot (SNP_INIT on).
Result<daemon::ServedPlatform> OpenPlatform(const std::string& dir, emulator::Product product,
                                            const std::optional<Bytes>& seed, const Logger& log,
                                            trace::TraceHub* hub) {
  if (Status st = MakeDirectories(dir, 0700); !st.ok()) return st.error();
  auto lock = DirLock::Acquire(dir);
  if (!lock.ok()) return lock.error();
  auto platform = LoadOrProvision(dir, product, seed, log, false);
  if (!platform.ok()) return platform.error();
  LogPlatform(log, dir, platform->state);
  std::unique_ptr<trace::TraceWriter> writer;
  emulator::FirmwareConfig config;
  if (hub != nullptr) {
    writer = std::make_unique<trace::TraceWriter>(PlatformName(dir), *hub);
    config.observer = writer.get();
  }
  // SNP firmware over 1 TiB of sparse simulated memory, initialised as the host kernel does.
  auto host = hypervisor::Host::Boot(std::move(platform).value(), config);
  if (!host.ok()) return host.error();
  daemon::ServedPlatform served{PlatformName(dir), dir, std::move(lock).value(), std::move(writer),
                                std::move(host).value()};
  served.config = config;  // a platform reset boots with it again, observed from boot too
  return served;
}

// serve --check: load, self-test and boot one platform without writing anything (no
// directory, no provisioning, no lock file).
Status SelfTestPlatform(const std::string& dir, const Logger& log) {
  auto platform = LoadOrProvision(dir, emulator::Product::kMilan, std::nullopt, log, true);
  if (!platform.ok()) return platform.error();
  LogPlatform(log, dir, platform->state);
  auto host = hypervisor::Host::Boot(std::move(platform).value(), emulator::FirmwareConfig{});
  if (!host.ok()) return host.error();
  return Status::Ok();
}

}  // namespace

int RunServe(const std::string& name, const Args& args) {
  std::vector<std::string> states;
  std::string product_name, seed_hex, log_format, log_level, socket_path, mode_text, trace_file;
  bool check = false, print_capabilities = false;
  unsigned threads = 0;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("state", po::value(&states)->composing(), "state directory of a platform; repeat to serve several (default: $SEVEMU_STATE_DIR, else ~/.local/state/sevemu/default)")
      ("socket", po::value(&socket_path), "Unix socket to listen on (default: $SEVEMU_SOCKET, else $XDG_RUNTIME_DIR/sevemu/sevemu.sock, else /tmp/sevemu-UID/sevemu.sock)")
      ("socket-mode", po::value(&mode_text)->default_value("0600"), "permissions of the socket file (octal)")
      ("product", po::value(&product_name)->default_value("milan"), "product for first-start provisioning")
      ("seed", po::value(&seed_hex), "hex seed for first-start provisioning")
      ("log-format", po::value(&log_format)->default_value("text"), "text | json")
      ("log-level", po::value(&log_level)->default_value("info"), "debug | info | error: debug adds every hello and successful ioctl")
      ("threads", po::value(&threads)->default_value(0, "0"), "threads running the platforms' work; 0: one per platform, capped at the cores (at least 2 for 2 platforms or more)")
      ("trace", po::value(&trace_file), "append a JSON line per firmware command, RMP instruction and injected fault to FILE (docs/trace.md)")
      ("check", po::bool_switch(&check), "load, self-test and exit instead of serving")
      ("print-capabilities", po::bool_switch(&print_capabilities), "print what this build offers as JSON and exit (the MANAGE op \"capabilities\")");
  // clang-format on
  int code = 0;
  auto vm = ParseArgs(name,
                      "[--state DIR]... [--socket PATH] [--product P] [--seed HEX] [--trace FILE] "
                      "[--check] [--log-level L]",
                      desc, args, code);
  if (!vm) return code;
  if (print_capabilities) {
    std::cout << daemon::CapabilitiesJson() << "\n";
    return kExitOk;
  }
  if (log_format != "text" && log_format != "json") {
    return UsageError(name, "--log-format must be text or json");
  }
  Logger::Level level = Logger::Level::kInfo;
  if (log_level == "debug") {
    level = Logger::Level::kDebug;
  } else if (log_level == "error") {
    level = Logger::Level::kError;
  } else if (log_level != "info") {
    return UsageError(name, "--log-level must be debug, info or error");
  }
  const Logger log(log_format == "json" ? Logger::Format::kJson : Logger::Format::kText, level);
  auto product = emulator::ParseProduct(product_name);
  if (!product.ok()) return UsageError(name, "--product: " + product.error().message());
  std::optional<Bytes> seed;
  if (!seed_hex.empty()) {
    auto s = ParseSeed(seed_hex);
    if (!s.ok()) return UsageError(name, s.error().message());
    seed = *s;
  }
  char* end = nullptr;
  const unsigned long mode = std::strtoul(mode_text.c_str(), &end, 8);
  if (mode_text.empty() || *end != '\0' || mode > 0777) {
    return UsageError(name, "--socket-mode must be an octal mode such as 0600");
  }
  if (states.empty()) states.push_back(DefaultStateDir());
  if (socket_path.empty()) socket_path = protocol::DefaultSocketPath();

  // Block the stop signals before anything else so none is lost while starting up.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (!check) {
    if (Status st = daemon::CheckSocketFree(socket_path); !st.ok()) return Fail(name, st.error());
  }
  if (check) {
    for (const auto& dir : states) {
      if (Status st = SelfTestPlatform(dir, log); !st.ok()) return Fail(name, st.error());
    }
    log.Info("self-test passed", {{"platforms", std::to_string(states.size())}});
    return kExitOk;
  }
  auto hub = std::make_shared<trace::TraceHub>();
  if (!trace_file.empty()) {
    if (Status st = hub->OpenFile(trace_file); !st.ok()) return Fail(name, st.error());
  }
  std::vector<daemon::ServedPlatform> platforms;
  for (const auto& dir : states) {
    auto p = OpenPlatform(dir, *product, seed, log, trace_file.empty() ? nullptr : hub.get());
    if (!p.ok()) return Fail(name, p.error());
    for (const auto& other : platforms) {
      if (other.name == p->name) {
        return UsageError(name, "two state directories named '" + p->name + "'");
      }
    }
    platforms.push_back(std::move(p).value());
  }
  auto sink = [&log](daemon::LogLevel at, const std::string& event,
                     const daemon::LogFields& fields) {
    switch (at) {
      case daemon::LogLevel::kDebug:
        return log.Debug(event, fields);
      case daemon::LogLevel::kInfo:
        return log.Info(event, fields);
      case daemon::LogLevel::kError:
        return log.Error(event, fields);
    }
  };
  daemon::DaemonOptions options;
  options.socket_path = socket_path;
  options.socket_mode = static_cast<mode_t>(mode);
  options.trace = hub;
  options.threads = threads;
  auto d = daemon::Daemon::Create(options, std::move(platforms), sink);
  if (!d.ok()) return Fail(name, d.error());
  if (Status st = (*d)->Run(); !st.ok()) return Fail(name, st.error());
  log.Info("stopped");
  return kExitOk;
}

}  // namespace sevemu::cli
