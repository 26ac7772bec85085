// sevemu run [--guest NAME | --host] [--platform P] [--socket S] [--mode M] [--launch [...]]
//            -- PROGRAM ARGS...
// Runs PROGRAM and everything it starts with the devices of a sevemu platform, through seccomp
// user notification (frontends/run, docs/run.md): Go programs and static binaries included.
// --launch launches a guest for the one command and destroys it afterwards.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli.h"
#include "run/supervisor.h"

namespace sevemu::cli {

namespace {

// `sevemu guest ACTION ...` in this process, its report on stderr: PROGRAM's stdout stays its
// own.
int GuestOnStderr(const Args& args) {
  std::cout.flush();
  std::fflush(stdout);
  const int saved = dup(1);
  dup2(2, 1);
  const int r = RunGuest("guest", args);
  std::cout.flush();
  std::fflush(stdout);
  if (saved >= 0) {
    dup2(saved, 1);
    close(saved);
  }
  return r;
}

}  // namespace

int RunRun(const std::string& name, const Args& args) {
  // Everything after "--" is the program; --launch takes every option after it (up to "--")
  // as `sevemu guest launch` options.
  Args own, launch_opts, program;
  bool launch = false, in_program = false;
  for (const auto& a : args) {
    if (in_program) {
      program.push_back(a);
    } else if (a == "--") {
      in_program = true;
    } else if (a == "--launch") {
      launch = true;
    } else if (launch) {
      launch_opts.push_back(a);
    } else {
      own.push_back(a);
    }
  }
  std::string guest, platform, socket, mode = "auto";
  bool host = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("guest", po::value(&guest), "run inside this guest: /dev/sev-guest and configfs-tsm exist")
      ("host", po::bool_switch(&host), "run on the host (the default): /dev/sev only")
      ("platform", po::value(&platform), "the daemon's platform (default: its first)")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("mode", po::value(&mode), "auto | namespace | notify: how path calls are served "
       "(docs/run.md; auto: namespace, but notify in an SNP guest, for configfs-tsm)");
  // clang-format on
  int code = kExitOk;
  const std::string synopsis =
      "[--guest NAME | --host] [--platform P] [--socket S] [--mode M] [--launch [guest launch "
      "options]] -- PROGRAM [ARGS...]";
  auto vm = ParseArgs(name, synopsis, desc, own, code);
  if (!vm) return code;
  if (host && !guest.empty()) return UsageError(name, "--guest and --host exclude each other");
  if (host && launch) return UsageError(name, "--launch runs the program inside the new guest");
  if (program.empty()) return UsageError(name, "no program: sevemu run [options] -- PROGRAM");
  run::RunMode run_mode = run::RunMode::kAuto;
  if (mode == "namespace") {
    run_mode = run::RunMode::kNamespace;
  } else if (mode == "notify") {
    run_mode = run::RunMode::kNotify;
  } else if (mode != "auto") {
    return UsageError(name, "--mode is auto, namespace or notify, not '" + mode + "'");
  }
  // The program's own tools (and the shim, if it uses it) find the same daemon and platform.
  if (!socket.empty()) setenv("SEVEMU_SOCKET", socket.c_str(), 1);
  if (!platform.empty()) setenv("SEVEMU_PLATFORM", platform.c_str(), 1);

  Args common;
  if (!socket.empty()) common.insert(common.end(), {"--socket", socket});
  if (!platform.empty()) common.insert(common.end(), {"--platform", platform});
  if (launch) {
    if (guest.empty()) guest = "run-" + std::to_string(getpid());
    Args l = {"launch", guest};
    l.insert(l.end(), launch_opts.begin(), launch_opts.end());
    l.insert(l.end(), common.begin(), common.end());
    if (const int r = GuestOnStderr(l); r != kExitOk) return r;
  }
  if (!guest.empty()) setenv("SEVEMU_GUEST", guest.c_str(), 1);

  run::RunOptions o;
  o.guest = guest;
  o.platform = platform;
  o.mode = run_mode;
  o.argv = program;
  const int status = run::RunSupervised(o, "sevemu " + name);
  if (launch) {
    Args d = {"destroy", guest};
    d.insert(d.end(), common.begin(), common.end());
    (void)GuestOnStderr(d);
    run::RemoveGuestTsmStore(o);
  }
  return status;
}

}  // namespace sevemu::cli
