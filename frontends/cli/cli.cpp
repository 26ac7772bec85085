#include "cli.h"

#include <cstdlib>
#include <iostream>

#include "sevemu/fixtures/test_root.h"

namespace sevemu::cli {

std::optional<po::variables_map> ParseArgs(const std::string& command, const std::string& synopsis,
                                           const po::options_description& desc, const Args& args,
                                           int& exit_code,
                                           const po::positional_options_description* pos) {
  po::options_description all;
  all.add_options()("help,h", "show this help");
  all.add(desc);
  po::variables_map vm;
  try {
    auto parser = po::command_line_parser(args).options(all);
    if (pos != nullptr) {
      parser.positional(*pos);
    } else {
      parser.positional(po::positional_options_description());  // no stray words
    }
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: sevemu " << command << " " << synopsis << "\n\n" << all;
      exit_code = kExitOk;
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    exit_code = UsageError(command, e.what());
    return std::nullopt;
  }
  return vm;
}

int Fail(const std::string& command, const Error& error) {
  std::cerr << "sevemu " << command << ": " << error.message() << "\n";
  return kExitFailure;
}

int UsageError(const std::string& command, const std::string& message) {
  std::cerr << "sevemu " << command << ": " << message << " (see 'sevemu " << command
            << " --help')\n";
  return kExitUsage;
}

std::string DefaultPlatform() {
  const char* p = std::getenv("SEVEMU_PLATFORM");
  return p != nullptr ? p : "";
}

std::string DefaultStateDir() {
  if (const char* dir = std::getenv("SEVEMU_STATE_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/sevemu/default";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") +
         "/.local/state/sevemu/default";
}

Result<emulator::AmdRoot> ChooseRoot(emulator::Product product, const std::string& root_dir,
                                     bool mint, std::int64_t now,
                                     const std::optional<Bytes>& seed) {
  constexpr std::int64_t kSeededRootStart = 1672531200;  // 2023-01-01T00:00:00Z
  if (mint) return emulator::AmdRoot::Mint(product, seed ? kSeededRootStart : now, seed);
  if (!root_dir.empty()) return emulator::AmdRoot::Load(root_dir);
  std::string name = emulator::Info(product).name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto files = fixtures::TestRootFiles(name);
  if (files.empty()) {
    return Error(ErrorCode::kNotFound,
                 "no built-in test root for " + name + " (use --root DIR or --mint-root)");
  }
  return emulator::AmdRoot::FromFiles(files, "built-in test root fixtures/test_root/" + name);
}

Result<Bytes> ParseSeed(const std::string& hex) {
  std::string digits = hex;
  if (digits.rfind("0x", 0) == 0 || digits.rfind("0X", 0) == 0) digits = digits.substr(2);
  auto seed = HexDecode(digits);
  if (!seed.ok()) return Error(ErrorCode::kInvalidArgument, "--seed: " + seed.error().message());
  if (seed->empty() || seed->size() > 64) {
    return Error(ErrorCode::kInvalidArgument, "--seed must be 1 to 64 bytes of hex");
  }
  return seed;
}

}  // namespace sevemu::cli
