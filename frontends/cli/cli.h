// Shared pieces of the sevemu command line: option parsing conventions, error reporting,
// default paths and the built-in test root.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::cli {

namespace po = boost::program_options;

// Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;
using CommandFn = int (*)(const std::string& name, const Args& args);

// Parses `args` against `desc` (plus --help). Returns nullopt after printing help (exit 0) or a
// one-line usage error (exit 2); `exit_code` tells which.
std::optional<po::variables_map> ParseArgs(const std::string& command, const std::string& synopsis,
                                           const po::options_description& desc, const Args& args,
                                           int& exit_code,
                                           const po::positional_options_description* pos = nullptr);

// Prints "sevemu <command>: <message>" to stderr and returns kExitFailure.
int Fail(const std::string& command, const Error& error);
int UsageError(const std::string& command, const std::string& message);

// $SEVEMU_PLATFORM ("" if unset: the daemon's first platform), the platform the CLI's daemon
// commands act on unless --platform says otherwise, as the shim's devices do.
std::string DefaultPlatform();

// $SEVEMU_STATE_DIR, else $XDG_STATE_HOME/sevemu/default, else ~/.local/state/sevemu/default.
std::string DefaultStateDir();

// The AMD root to manufacture with: a root directory, a freshly minted one, or the built-in
// fixed test root of the product.
// A minted root with a seed is derived from it, valid from 2023-01-01 like the test root.
Result<emulator::AmdRoot> ChooseRoot(emulator::Product product, const std::string& root_dir,
                                     bool mint, std::int64_t now,
                                     const std::optional<Bytes>& seed = std::nullopt);

Result<Bytes> ParseSeed(const std::string& hex);

int RunProvision(const std::string& name, const Args& args);
int RunCerts(const std::string& name, const Args& args);
int RunRoot(const std::string& name, const Args& args);
int RunShow(const std::string& name, const Args& args);
int RunServe(const std::string& name, const Args& args);
int RunTrace(const std::string& name, const Args& args);
int RunKds(const std::string& name, const Args& args);
// `kds serve`: `args` are the words after "serve".
int RunKdsServe(const std::string& name, const Args& args);
int RunExplain(const std::string& name, const Args& args);
int RunFirmware(const std::string& name, const Args& args);
int RunGuest(const std::string& name, const Args& args);
int RunHost(const std::string& name, const Args& args);
int RunOwner(const std::string& name, const Args& args);
int RunRun(const std::string& name, const Args& args);
int RunCtl(const std::string& name, const Args& args);
// `ctl kds`: `args` are the words after "kds".
int RunCtlKds(const std::string& name, const Args& args);

}  // namespace sevemu::cli
