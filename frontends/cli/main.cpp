// sevemu: the command-line front end. It parses arguments and calls the emulator; it holds no
// firmware logic of its own.
#include <sys/prctl.h>

#include <cstring>
#include <iostream>

#include "cli.h"
#include "snp_migrate.h"

namespace {

struct Command {
  const char* name;
  sevemu::cli::CommandFn run;
  const char* summary;
};

constexpr Command kCommands[] = {
    {"run", sevemu::cli::RunRun,
     "run a program with the devices (seccomp user notification): 'run [--guest NAME] -- PROG'"},
    {"serve", sevemu::cli::RunServe, "run the emulator on a platform (provisioned on first start)"},
    {"trace", sevemu::cli::RunTrace,
     "a running daemon's firmware commands live, or 'trace render FILE --format mermaid|dot'"},
    {"provision", sevemu::cli::RunProvision,
     "manufacture a simulated platform into a state directory"},
    {"show", sevemu::cli::RunShow, "print a platform's identity, TCBs and firmware versions"},
    {"certs", sevemu::cli::RunCerts, "export the certificate chain: 'certs export'"},
    {"root", sevemu::cli::RunRoot, "make a simulated AMD root: 'root mint'"},
    {"kds", sevemu::cli::RunKds,
     "simulated KDS: 'kds vlek' issues a VLEK, 'kds serve' answers KDS URLs over HTTP"},
    {"firmware", sevemu::cli::RunFirmware,
     "simulated firmware images for SNP_DOWNLOAD_FIRMWARE_EX: 'firmware image'"},
    {"guest", sevemu::cli::RunGuest,
     "guests on a running daemon: 'guest "
     "launch|list|show|destroy|inject-secret|finish|attest|read'"},
    {"ma-agent", sevemu::cli::RunMaAgent,
     "the reference migration agent, run inside its agent guest by 'guest migrate'"},
    {"host", sevemu::cli::RunHost,
     "administer a running daemon's platform: 'host status|commit|...'"},
    {"ctl", sevemu::cli::RunCtl,
     "a running daemon's control channel: 'ctl "
     "inject|list|clear|firmware-update|reset|capabilities'; 'ctl kds inject|list|clear' for the "
     "simulated KDS"},
    {"owner", sevemu::cli::RunOwner,
     "legacy SEV guest owner: 'owner session|measure|secret|verify-chain|verify-report'"},
    {"explain", sevemu::cli::RunExplain, "print the state machines: 'explain statemachine'"},
};

void PrintUsage(std::ostream& out) {
  out << "usage: sevemu <command> [options]   (sevemu <command> --help for details)\n\n"
         "A software AMD Secure Processor: SEV, SEV-ES and SEV-SNP firmware emulation.\n\n"
         "commands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Key material lives in this process: no core dumps of it, and no ptrace by other users.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (argc < 2) {
    PrintUsage(std::cerr);
    return sevemu::cli::kExitUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintUsage(std::cout);
    return sevemu::cli::kExitOk;
  }
  if (cmd == "--version") {
    std::cout << "sevemu " << SEVEMU_VERSION << "\n";
    return sevemu::cli::kExitOk;
  }
  for (const auto& c : kCommands) {
    if (cmd == c.name) {
      try {
        return c.run(cmd, sevemu::cli::Args(argv + 2, argv + argc));
      } catch (const std::exception& e) {
        // Nothing below throws by design; this is the last line of defence, not a path.
        std::cerr << "sevemu " << cmd << ": internal error: " << e.what() << "\n";
        return sevemu::cli::kExitFailure;
      }
    }
  }
  std::cerr << "sevemu: unknown command '" << cmd << "' (see 'sevemu --help')\n";
  return sevemu::cli::kExitUsage;
}
