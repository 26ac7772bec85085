// sevemu kds serve: the simulated AMD Key Distribution Service over HTTP on loopback, for the
// chips of one or more state directories (docs/kds.md). It only reads the state directories
// (no lock), so it runs beside `sevemu serve` on the same platform.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <mutex>

#include "cli.h"
#include "ctl_token.h"
#include "kds/kds_capabilities.h"
#include "kds/kds_http_server.h"
#include "log.h"
#include "sevemu/common/bytes.h"
#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::cli {

int RunKdsServe(const std::string& name, const Args& args) {
  const std::string command = name + " serve";
  std::vector<std::string> states;
  std::string listen, log_format, ctl_token_file;
  int threads = 2;
  bool allow_non_loopback = false, quiet = false, print_capabilities = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("listen", po::value(&listen)->default_value("127.0.0.1:8888"), "ADDR:PORT to listen on (port 0: any free port)")
      ("state", po::value(&states)->composing(), "state directory whose chip to serve (repeatable; default: $SEVEMU_STATE_DIR or ~/.local/state/sevemu/default)")
      ("allow-non-loopback", po::bool_switch(&allow_non_loopback), "permit a listen address other than loopback")
      ("threads", po::value(&threads)->default_value(2), "HTTP worker threads (1-64)")
      ("quiet", po::bool_switch(&quiet), "no access log")
      ("ctl-token", po::value(&ctl_token_file), "FILE holding the bearer token that enables fault injection on /_sevemu/faults (loopback only)")
      ("log-format", po::value(&log_format)->default_value("text"), "text | json")
      ("print-capabilities", po::bool_switch(&print_capabilities), "print the routes, products and fault kinds of this build's KDS as JSON and exit");
  // clang-format on
  int code = 0;
  auto vm =
      ParseArgs(command,
                "[--listen ADDR:PORT] [--state DIR]... [--ctl-token FILE] [--log-format text|json] "
                "[--print-capabilities]",
                desc, args, code);
  if (!vm) return code;
  if (print_capabilities) {
    std::cout << kds::KdsCapabilitiesJson(SEVEMU_VERSION) << "\n";
    return kExitOk;
  }
  if (log_format != "text" && log_format != "json") {
    return UsageError(command, "--log-format must be text or json");
  }
  auto address = kds::ParseListenAddress(listen);
  if (!address.ok()) return UsageError(command, "--listen: " + address.error().message());
  if (states.empty()) states.push_back(DefaultStateDir());
  const Logger log(log_format == "json" ? Logger::Format::kJson : Logger::Format::kText);

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait below is the only place they arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<kds::KdsService::Source> sources;
  for (const std::string& dir : states) {
    auto platform = emulator::LoadPlatform(dir);
    if (!platform.ok()) return Fail(command, platform.error());
    const auto& chip = platform->state.chip;
    log.Info("chip", {{"state", dir},
                      {"product", emulator::Info(chip.product).name},
                      {"hwid", HexEncode(chip.hw_id())}});
    sources.push_back({dir, std::move(platform).value()});
  }
  kds::KdsService::Options service_opts;
  if (!ctl_token_file.empty()) {
    auto token = ReadCtlToken(ctl_token_file);
    if (!token.ok()) return UsageError(command, "--ctl-token: " + token.error().message());
    service_opts.ctl_token = std::move(token).value();
  }
  auto service = kds::KdsService::Create(std::move(sources), std::move(service_opts));
  if (!service.ok()) return Fail(command, service.error());

  kds::KdsHttpServer::Options opts;
  opts.listen = *address;
  opts.allow_non_loopback = allow_non_loopback;
  opts.threads = threads;
  std::mutex log_mu;  // the logger writes whole lines, but threads must not interleave them
  if (!quiet) {
    opts.on_request = [&log, &log_mu](const kds::AccessLogEntry& e) {
      std::lock_guard lock(log_mu);
      Logger::Fields fields{{"remote", e.remote},
                            {"method", e.method},
                            {"target", e.target},
                            {"status", std::to_string(e.status)},
                            {"bytes", std::to_string(e.body_bytes)},
                            {"micros", std::to_string(e.micros)}};
      if (!e.fault.empty()) fields.emplace_back("fault", e.fault);
      log.Info("request", fields);
    };
  }
  auto server =
      kds::KdsHttpServer::Start(std::shared_ptr<const kds::KdsService>(std::move(*service)), opts);
  if (!server.ok()) {
    return server.error().code() == ErrorCode::kRefused
               ? UsageError(command, server.error().message())
               : Fail(command, server.error());
  }
  // One line on stdout, flushed, that scripts and tests wait for.
  std::cout << "listening on " << (*server)->url() << std::endl;
  {
    std::lock_guard lock(log_mu);
    log.Info("listening", {{"url", (*server)->url()}, {"threads", std::to_string(threads)}});
  }

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  (*server)->Stop();
  log.Info("stopped", {{"signal", strsignal(sig)}});
  return kExitOk;
}

}  // namespace sevemu::cli
