// sevemu host ...: administering a running daemon's platform as a host administrator does on a
// real machine. SNP_COMMIT, SNP_SET_CONFIG and SNP_VLEK_LOAD go through the /dev/sev ioctl path
// (the same bytes the kernel driver gets); the certificate table and firmware updates, which
// Linux exposes through the VMM and the firmware loader rather than an ioctl, are management
// operations.
#include <cstring>
#include <iostream>

#include "cli.h"
#include "daemon_client.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/tcb.h"

namespace sevemu::cli {

int RunHost(const std::string& name, const Args& args) {
  std::string action, arg, socket, platform, tcb_text, out;
  bool commit = false, mask_chip_id = false, mask_chip_key = false;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "status | commit | set-config | vlek-load | certs-get | certs-set | certs-auto | firmware-update | sev-export")
      ("file", po::value(&arg), "vlek-load: wrapped VLEK (432 bytes); certs-set: certificate table; firmware-update: image; certs-get: output file; sev-export: output directory")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("platform", po::value(&platform)->default_value(DefaultPlatform(), ""), "platform on the daemon (default: $SEVEMU_PLATFORM, else its first)")
      ("reported-tcb", po::value(&tcb_text), "set-config: reported TCB (default 0 = committed)")
      ("mask-chip-id", po::bool_switch(&mask_chip_id), "set-config: MASK_CHIP_ID")
      ("mask-chip-key", po::bool_switch(&mask_chip_key), "set-config: MASK_CHIP_KEY")
      ("commit", po::bool_switch(&commit), "firmware-update: commit the new firmware");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1);
  int code = 0;
  auto vm = ParseArgs(name, "ACTION [FILE] [options]", desc, args, code, &pos);
  if (!vm) return code;
  const bool needs_file = action == "vlek-load" || action == "certs-set" ||
                          action == "firmware-update" || action == "certs-get" ||
                          action == "sev-export";
  if (needs_file && arg.empty()) return UsageError(name, action + " needs a FILE");
  auto c = ConnectHost(socket, platform);
  if (!c.ok()) return Fail(name, c.error());

  auto ioctl = [&](uapi::SevUserCmd cmd, Bytes data, std::vector<uapi::UserRegion> extra = {}) {
    auto r = IssueSevCmd(*c, cmd, std::move(data), std::move(extra));
    if (!r.ok()) return Fail(name, r.error());
    if (r->ret != 0) return Fail(name, Error(ErrorCode::kRefused, DescribeIoctl(cmd, *r)));
    std::cout << DescribeIoctl(cmd, *r) << "\n";
    return kExitOk;
  };

  if (action == "status") {
    auto j = ManageCall(*c, {{"op", "status"}});
    if (!j.ok()) return Fail(name, j.error());
    std::cout << j->dump(2) << "\n";
    return kExitOk;
  }
  if (action == "commit") return ioctl(uapi::SevUserCmd::kSnpCommit, {});
  if (action == "set-config") {
    uapi::SevUserDataSnpConfig cfg{};
    if (!tcb_text.empty()) {
      auto st = ManageCall(*c, {{"op", "status"}});
      if (!st.ok()) return Fail(name, st.error());
      auto product = emulator::ParseProduct((*st)["product"].get<std::string>());
      if (!product.ok()) return Fail(name, product.error());
      auto tcb = emulator::ParseTcb(*product, tcb_text);
      if (!tcb.ok()) return UsageError(name, "--reported-tcb: " + tcb.error().message());
      cfg.reported_tcb = tcb->raw();
    }
    cfg.flags = (mask_chip_id ? 1u : 0u) | (mask_chip_key ? 2u : 0u);
    Bytes data(sizeof cfg);
    std::memcpy(data.data(), &cfg, sizeof cfg);
    return ioctl(uapi::SevUserCmd::kSnpSetConfig, data);
  }
  if (action == "vlek-load") {
    auto blob = ReadWholeFile(arg, 1u << 20);
    if (!blob.ok()) return Fail(name, blob.error());
    constexpr std::uint64_t kBlobAddr = 0x20000;
    uapi::SevUserDataSnpVlekLoad load{};
    load.len = sizeof load;
    load.vlek_wrapped_address = kBlobAddr;
    Bytes data(sizeof load);
    std::memcpy(data.data(), &load, sizeof load);
    return ioctl(uapi::SevUserCmd::kSnpVlekLoad, data, {{kBlobAddr, *blob}});
  }
  if (action == "sev-export") {
    // SEV_PDH_CERT_EXPORT, as sevctl/sev-tool export the platform's part of the legacy chain:
    // pdh.cert, and the chain PEK ‖ OCA ‖ CEK (the CEK as the firmware exports it, unsigned;
    // its ASK-signed form comes from the KDS — `sevemu certs export` writes it as cek.cert).
    constexpr std::uint64_t kPdhAddr = 0x20000, kChainAddr = 0x30000;
    constexpr std::uint32_t kCert = 0x824;
    uapi::SevUserDataPdhCertExport ex{};
    ex.pdh_cert_address = kPdhAddr;
    ex.pdh_cert_len = kCert;
    ex.cert_chain_address = kChainAddr;
    ex.cert_chain_len = 3 * kCert;
    Bytes data(sizeof ex);
    std::memcpy(data.data(), &ex, sizeof ex);
    auto result = IssueSevCmd(*c, uapi::SevUserCmd::kPdhCertExport, std::move(data),
                              {{kPdhAddr, Bytes(kCert)}, {kChainAddr, Bytes(3 * kCert)}});
    if (!result.ok()) return Fail(name, result.error());
    if (result->ret != 0) {
      return Fail(name, Error(ErrorCode::kRefused,
                              DescribeIoctl(uapi::SevUserCmd::kPdhCertExport, *result)));
    }
    Bytes pdh_bytes, chain;
    for (const auto& w : result->written) {
      if (w.addr == kPdhAddr) pdh_bytes = w.bytes;
      if (w.addr == kChainAddr) chain = w.bytes;
    }
    if (pdh_bytes.size() != kCert || chain.size() != 3 * kCert) {
      return Fail(name, Error(ErrorCode::kCorrupt, "PDH_CERT_EXPORT returned no certificates"));
    }
    if (Status st = MakeDirectories(arg, 0755); !st.ok()) return Fail(name, st.error());
    const ByteSpan all(chain);
    for (const auto& [file, bytes] : {std::pair<const char*, ByteSpan>{"pdh.cert", pdh_bytes},
                                      {"pek.cert", all.first(kCert)},
                                      {"oca.cert", all.subspan(kCert, kCert)}}) {
      if (Status st = WriteFileAtomic(arg + "/" + file, bytes, 0644, false); !st.ok()) {
        return Fail(name, st.error());
      }
    }
    std::cout << "wrote pdh.cert pek.cert oca.cert to " << arg
              << " (ASK-signed cek.cert, ask.cert, ark.cert: sevemu certs export)\n";
    return kExitOk;
  }
  if (action == "certs-get") {
    Bytes table;
    auto j = ManageCall(*c, {{"op", "certs.get"}}, {}, &table);
    if (!j.ok()) return Fail(name, j.error());
    if (Status st = WriteFileAtomic(arg, table, 0644, false); !st.ok())
      return Fail(name, st.error());
    std::cout << "wrote " << table.size() << " bytes of certificate table to " << arg << "\n";
    return kExitOk;
  }
  if (action == "certs-set" || action == "firmware-update") {
    auto blob = ReadWholeFile(arg, 16u << 20);
    if (!blob.ok()) return Fail(name, blob.error());
    nlohmann::json req = {{"op", action == "certs-set" ? "certs.set" : "firmware.download"}};
    if (action == "firmware-update") req["commit"] = commit;
    auto j = ManageCall(*c, req, *blob);
    if (!j.ok()) return Fail(name, j.error());
    if (action == "firmware-update" && (*j)["code"].get<int>() != 0) {
      return Fail(name, Error(ErrorCode::kRefused,
                              "SNP_DOWNLOAD_FIRMWARE_EX: " + (*j)["status"].get<std::string>()));
    }
    std::cout << j->dump() << "\n";
    return kExitOk;
  }
  if (action == "certs-auto") {
    auto j = ManageCall(*c, {{"op", "certs.auto"}});
    if (!j.ok()) return Fail(name, j.error());
    std::cout << "certificate table: automatic (VCEK at the reported TCB, ASK, ARK)\n";
    return kExitOk;
  }
  return UsageError(name, "unknown action '" + action + "'");
}

}  // namespace sevemu::cli
