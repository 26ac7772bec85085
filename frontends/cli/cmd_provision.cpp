// sevemu provision / show / root mint
#include <ctime>
#include <iostream>

#include "cli.h"
#include "sevemu/common/bytes.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/firmware_abi.h"
#include "sevemu/emulator/manufacturing/provision.h"

namespace sevemu::cli {

int RunProvision(const std::string& name, const Args& args) {
  std::string state, product_name, seed_hex, tcb_text, root_dir, firmware_text;
  int stepping = -1;
  std::uint32_t min_sev_asid = 0;
  bool mint = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("state", po::value(&state)->required(), "state directory to create (must not hold a platform)")
      ("product", po::value(&product_name)->default_value("milan"), "milan | genoa | turin")
      ("seed", po::value(&seed_hex), "hex seed: same seed, same chip ID, secrets and keys")
      ("stepping", po::value(&stepping), "CPUID stepping (default: the product's)")
      ("tcb", po::value(&tcb_text), "initial TCB, e.g. bl=3,tee=0,snp=8,ucode=115 (fmc=.. on Turin)")
      ("firmware", po::value(&firmware_text), "firmware it ships with, by ABI: 1.55[.BUILD] | 1.57[.BUILD] | 1.58[.BUILD] (default: the newest, 1.58; 1.55 is the product's own build; docs/firmware-abi.md)")
      ("min-sev-asid", po::value(&min_sev_asid), "the BIOS's Minimum SEV non-ES ASID: ASIDs below it are for SNP and SEV-ES guests (default: the product's ASID count / 2, 254 on Milan)")
      ("root", po::value(&root_dir), "manufacture with the AMD root in this directory")
      ("mint-root", po::bool_switch(&mint), "manufacture with a freshly minted AMD root");
  // clang-format on
  int code = 0;
  auto vm = ParseArgs(name, "--state DIR [--product P] [--seed HEX] [...]", desc, args, code);
  if (!vm) return code;
  if (mint && !root_dir.empty())
    return UsageError(name, "--root and --mint-root exclude each other");
  auto product = emulator::ParseProduct(product_name);
  if (!product.ok()) return UsageError(name, "--product: " + product.error().message());
  emulator::ProvisionOptions opts;
  opts.product = *product;
  opts.now = static_cast<std::int64_t>(std::time(nullptr));
  if (!seed_hex.empty()) {
    auto seed = ParseSeed(seed_hex);
    if (!seed.ok()) return UsageError(name, seed.error().message());
    opts.seed = *seed;
  }
  if (vm->count("stepping")) {
    if (stepping < 0 || stepping > 15) return UsageError(name, "--stepping must be 0..15");
    opts.stepping = static_cast<std::uint8_t>(stepping);
  }
  if (!tcb_text.empty()) {
    auto tcb = emulator::ParseTcb(opts.product, tcb_text);
    if (!tcb.ok()) return UsageError(name, "--tcb: " + tcb.error().message());
    opts.tcb = *tcb;
  }
  if (!firmware_text.empty()) {
    auto fw = emulator::ParseSimulatedFirmware(opts.product, firmware_text);
    if (!fw.ok()) return UsageError(name, "--firmware: " + fw.error().message());
    opts.firmware = *fw;
  }
  if (vm->count("min-sev-asid")) {
    const std::uint32_t max_asid = emulator::Info(opts.product).max_asid;
    if (min_sev_asid < 2 || min_sev_asid > max_asid + 1) {
      return UsageError(name, "--min-sev-asid must be 2.." + std::to_string(max_asid + 1) + " on " +
                                  emulator::Info(opts.product).name);
    }
    opts.min_sev_asid = min_sev_asid;
  }
  if (const auto present = emulator::PlatformFilesIn(state); !present.empty()) {
    std::string held;
    for (const auto& f : present) held += (held.empty() ? "" : ", ") + f;
    return Fail(name,
                Error(ErrorCode::kAlreadyExists, state + ": already holds a platform's files (" +
                                                     held + "); refusing to provision over them"));
  }
  if (Status st = MakeDirectories(state, 0700); !st.ok()) return Fail(name, st.error());
  auto lock = DirLock::Acquire(state);
  if (!lock.ok()) return Fail(name, lock.error());
  auto root = ChooseRoot(opts.product, root_dir, mint, opts.now, opts.seed);
  if (!root.ok()) return Fail(name, root.error());
  auto platform = emulator::Provision(opts, std::move(root).value());
  if (!platform.ok()) return Fail(name, platform.error());
  if (Status st = emulator::SaveNewPlatform(state, *platform); !st.ok())
    return Fail(name, st.error());
  std::cout << "provisioned " << emulator::Info(opts.product).name << " platform in " << state
            << "\n  chip_id " << HexEncode(platform->state.chip.chip_id) << "\n  tcb     "
            << platform->state.current_tcb.ToString() << "\n  firmware "
            << int{platform->state.current_fw.major} << "." << int{platform->state.current_fw.minor}
            << "." << int{platform->state.current_fw.build} << "\n";
  return kExitOk;
}

int RunShow(const std::string& name, const Args& args) {
  std::string state = DefaultStateDir();
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("state", po::value(&state), "state directory (default: $SEVEMU_STATE_DIR or ~/.local/state/sevemu/default)");
  // clang-format on
  int code = 0;
  auto vm = ParseArgs(name, "[--state DIR]", desc, args, code);
  if (!vm) return code;
  auto platform = emulator::LoadPlatform(state);
  if (!platform.ok()) return Fail(name, platform.error());
  // platform.json holds no secrets; printing it is the canonical, scriptable view.
  std::cout << emulator::PlatformJson(platform->state);
  return kExitOk;
}

int RunRoot(const std::string& name, const Args& args) {
  std::string action, product_name, out, not_before_text, seed_hex;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "mint")
      ("seed", po::value(&seed_hex), "hex seed: the same seed gives the same root keys")
      ("product", po::value(&product_name)->required(), "milan | genoa | turin")
      ("out", po::value(&out)->required(), "directory to write the root into")
      ("not-before", po::value(&not_before_text), "validity start, e.g. 2024-01-01T00:00:00Z (default: now)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1);
  int code = 0;
  auto vm = ParseArgs(name, "mint --product P --out DIR", desc, args, code, &pos);
  if (!vm) return code;
  if (action != "mint") return UsageError(name, "unknown action '" + action + "' (expected mint)");
  auto product = emulator::ParseProduct(product_name);
  if (!product.ok()) return UsageError(name, "--product: " + product.error().message());
  std::int64_t not_before = static_cast<std::int64_t>(std::time(nullptr));
  if (!not_before_text.empty()) {
    auto t = emulator::ParseUtc(not_before_text);
    if (!t.ok()) return UsageError(name, "--not-before: " + t.error().message());
    not_before = *t;
  }
  std::optional<Bytes> seed;
  if (!seed_hex.empty()) {
    auto s = ParseSeed(seed_hex);
    if (!s.ok()) return UsageError(name, s.error().message());
    seed = *s;
  }
  if (PathExists(out + "/kds.json")) {
    return Fail(name, Error(ErrorCode::kAlreadyExists, out + ": already holds a root"));
  }
  auto root = emulator::AmdRoot::Mint(*product, not_before, seed);
  if (!root.ok()) return Fail(name, root.error());
  if (Status st = root->Save(out); !st.ok()) return Fail(name, st.error());
  std::cout << "minted " << emulator::Info(*product).name << " root in " << out << "\n";
  return kExitOk;
}

}  // namespace sevemu::cli
