// sevemu certs export / kds vlek (kds serve: cmd_kds_serve.cpp)
#include <ctime>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/manufacturing/provision.h"

namespace sevemu::cli {

int RunCerts(const std::string& name, const Args& args) {
  std::string action, state = DefaultStateDir(), out;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "export")
      ("state", po::value(&state), "state directory (default: $SEVEMU_STATE_DIR or ~/.local/state/sevemu/default)")
      ("out", po::value(&out)->required(), "directory to write ark.pem ask.pem asvk.pem vcek.pem vcek.der cert_chain.pem");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1);
  int code = 0;
  auto vm = ParseArgs(name, "export --state DIR --out DIR", desc, args, code, &pos);
  if (!vm) return code;
  if (action != "export")
    return UsageError(name, "unknown action '" + action + "' (expected export)");
  auto platform = emulator::LoadPlatform(state);
  if (!platform.ok()) return Fail(name, platform.error());
  if (Status st = emulator::ExportCertificates(*platform, out); !st.ok())
    return Fail(name, st.error());
  std::cout << "wrote ark.pem ask.pem asvk.pem vcek.pem vcek.der cert_chain.pem ark.cert ask.cert "
               "cek.cert to "
            << out << " (VCEK at reported TCB " << platform->state.reported_tcb.ToString() << ")\n";
  return kExitOk;
}

int RunKds(const std::string& name, const Args& args) {
  // `kds serve` has options of its own (frontends/cli/cmd_kds_serve.cpp).
  if (!args.empty() && args.front() == "serve") {
    return RunKdsServe(name, Args(args.begin() + 1, args.end()));
  }
  std::string action, state = DefaultStateDir(), out, csp_id, tcb_text;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "vlek")
      ("state", po::value(&state), "state directory of the chip the VLEK is wrapped for")
      ("csp-id", po::value(&csp_id)->required(), "cloud provider ID (the VLEK certificate's cspID)")
      ("tcb", po::value(&tcb_text), "TCB of the VLEK (default: the chip's reported TCB)")
      ("out", po::value(&out)->required(), "directory for vlek.pem, vlek.der, vlek_wrapped.bin, asvk.pem, ark.pem");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1);
  int code = 0;
  auto vm = ParseArgs(name, "vlek --csp-id ID --out DIR [--state DIR] [--tcb SPEC]", desc, args,
                      code, &pos);
  if (!vm) return code;
  if (action != "vlek") {
    return UsageError(name, "unknown action '" + action + "' (expected vlek or serve)");
  }
  auto platform = emulator::LoadPlatform(state);
  if (!platform.ok()) return Fail(name, platform.error());
  emulator::TcbVersion tcb = platform->state.reported_tcb;
  if (!tcb_text.empty()) {
    auto t = emulator::ParseTcb(platform->state.chip.product, tcb_text);
    if (!t.ok()) return UsageError(name, "--tcb: " + t.error().message());
    tcb = *t;
  }
  const emulator::Kds kds(platform->root);
  // A VLEK is a one-year credential issued on request, so it starts now (the wrapped blob's IV
  // is random too: VLEK issuance is not reproducible, unlike the chip's own keys).
  auto vlek = kds.Vlek(platform->state.chip, platform->fuses, csp_id, tcb,
                       static_cast<std::int64_t>(std::time(nullptr)));
  if (!vlek.ok()) return Fail(name, vlek.error());
  auto pem = vlek->certificate.ToPem();
  auto der = vlek->certificate.ToDer();
  auto asvk = platform->root.asvk.ToPem();
  auto ark = platform->root.ark.ToPem();
  if (!pem.ok() || !der.ok() || !asvk.ok() || !ark.ok()) {
    return Fail(name, Error(ErrorCode::kCrypto, "encoding the VLEK certificate failed"));
  }
  if (Status st = MakeDirectories(out, 0755); !st.ok()) return Fail(name, st.error());
  const std::string chain = *asvk + *ark;
  struct File {
    const char* name;
    ByteSpan data;
    mode_t mode;
  };
  for (const File& f :
       {File{"vlek.pem", AsBytes(*pem), 0644}, File{"vlek.der", *der, 0644},
        File{"vlek_wrapped.bin", vlek->wrapped, 0600}, File{"asvk.pem", AsBytes(*asvk), 0644},
        File{"ark.pem", AsBytes(*ark), 0644}, File{"cert_chain.pem", AsBytes(chain), 0644}}) {
    if (Status st = WriteFileAtomic(out + "/" + f.name, f.data, f.mode, false); !st.ok()) {
      return Fail(name, st.error());
    }
  }
  std::cout << "issued VLEK for '" << csp_id << "' at " << tcb.ToString() << " into " << out
            << "\n";
  return kExitOk;
}

}  // namespace sevemu::cli
