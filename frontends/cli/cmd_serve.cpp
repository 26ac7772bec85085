// sevemu serve: load (provisioning on first start) a platform, self-test its keys, boot its SNP
// firmware, and hold the state directory until SIGTERM/SIGINT, then persist what the firmware
// changed. The socket protocol and devices come with the device-emulation front end; this is
// the process they will live in.
#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "cli.h"
#include "log.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/provision.h"

namespace sevemu::cli {

int RunServe(const std::string& name, const Args& args) {
  std::string state = DefaultStateDir(), product_name, seed_hex, log_format;
  bool check = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("state", po::value(&state), "state directory (default: $SEVEMU_STATE_DIR, else ~/.local/state/sevemu/default)")
      ("product", po::value(&product_name)->default_value("milan"), "product for first-start provisioning")
      ("seed", po::value(&seed_hex), "hex seed for first-start provisioning")
      ("log-format", po::value(&log_format)->default_value("text"), "text | json")
      ("check", po::bool_switch(&check), "load, self-test and exit instead of serving");
  // clang-format on
  int code = 0;
  auto vm = ParseArgs(name, "[--state DIR] [--product P] [--seed HEX] [--check]", desc, args, code);
  if (!vm) return code;
  if (log_format != "text" && log_format != "json") {
    return UsageError(name, "--log-format must be text or json");
  }
  const Logger log(log_format == "json" ? Logger::Format::kJson : Logger::Format::kText);
  auto product = emulator::ParseProduct(product_name);
  if (!product.ok()) return UsageError(name, "--product: " + product.error().message());
  std::optional<Bytes> seed;
  if (!seed_hex.empty()) {
    auto s = ParseSeed(seed_hex);
    if (!s.ok()) return UsageError(name, s.error().message());
    seed = *s;
  }

  // Block the stop signals before anything else so none is lost while starting up.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  if (Status st = MakeDirectories(state, 0700); !st.ok()) return Fail(name, st.error());
  auto lock = DirLock::Acquire(state);
  if (!lock.ok()) return Fail(name, lock.error());

  if (!emulator::HasPlatform(state)) {
    emulator::ProvisionOptions opts;
    opts.product = *product;
    opts.seed = seed;
    opts.now = static_cast<std::int64_t>(std::time(nullptr));
    auto root = ChooseRoot(opts.product, "", false, opts.now);
    if (!root.ok()) return Fail(name, root.error());
    auto made = emulator::Provision(opts, std::move(root).value());
    if (!made.ok()) return Fail(name, made.error());
    if (Status st = emulator::SaveNewPlatform(state, *made); !st.ok())
      return Fail(name, st.error());
    log.Info("provisioned", {{"state", state}, {"product", emulator::Info(opts.product).name}});
  }
  auto platform = emulator::LoadPlatform(state);
  if (!platform.ok()) return Fail(name, platform.error());
  if (Status st = emulator::CheckPlatform(*platform); !st.ok()) return Fail(name, st.error());
  const auto& s = platform->state;
  log.Info("started", {{"state", state},
                       {"pid", std::to_string(getpid())},
                       {"product", emulator::Info(s.chip.product).name},
                       {"chip_id", HexEncode(s.chip.chip_id)},
                       {"current_tcb", s.current_tcb.ToString()},
                       {"reported_tcb", s.reported_tcb.ToString()},
                       {"firmware", std::to_string(s.current_fw.major) + "." +
                                        std::to_string(s.current_fw.minor) + "." +
                                        std::to_string(s.current_fw.build)}});
  // The SNP firmware over 1 TiB of sparse simulated memory, UNINIT until a host sends SNP_INIT.
  auto firmware = emulator::Firmware::Boot(*platform, emulator::FirmwareConfig{});
  if (!firmware.ok()) return Fail(name, firmware.error());
  log.Info("firmware ready",
           {{"snp_state", statemachine::SnpPlatformStateName((*firmware)->snp_state())},
            {"memory_bytes", std::to_string(emulator::FirmwareConfig{}.memory_size)}});
  if (check) return kExitOk;

  int sig = 0;
  while (sigwait(&stop_signals, &sig) != 0) {
  }
  // Persist what commands may have changed; the previous file stays as platform.json.bak.
  if (Status st = emulator::SavePlatformState(state, (*firmware)->platform_state()); !st.ok()) {
    log.Error("persist failed", {{"error", st.error().message()}});
    return kExitFailure;
  }
  log.Info("stopped", {{"signal", strsignal(sig)}});
  return kExitOk;
}

}  // namespace sevemu::cli
