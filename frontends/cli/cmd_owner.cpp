// sevemu owner ...: what a legacy SEV guest owner does with sev-tool or sevctl, against a
// platform's exported certificates: make a launch session for its PDH, check the firmware's
// LAUNCH_MEASURE, package a secret for LAUNCH_SECRET, verify the certificate chain and an
// ATTESTATION report. File names follow sev-tool's (godh.cert, tmp_tk.bin = TEK ‖ TIK,
// launch_blob.bin, pdh.cert, pek.cert, oca.cert, cek.cert, ask.cert, ark.cert). And what any
// guest owner does with sev-snp-measure: predict the launch digest (SNP, SEV, SEV-ES, with a
// measured direct boot) of an image, the built-in ones included (`owner image` writes them out).
#include <iostream>

#include "cli.h"
#include "direct_boot.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/sev_launch.h"
#include "sevemu/owner/launch_session.h"

namespace sevemu::cli {

namespace {

Result<Bytes> ReadSmall(const std::string& path) {
  return ReadWholeFile(path, 1u << 20);
}

Result<std::uint32_t> ParsePolicy(const std::string& text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (text.empty() || *end != '\0' || v > 0xFFFFFFFFull) {
    return Error(ErrorCode::kInvalidArgument, "--policy: not a 32-bit number");
  }
  return static_cast<std::uint32_t>(v);
}

Result<emulator::SevApiVersion> ParseApi(const std::string& text) {
  unsigned major = 0, minor = 0, build = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%u.%u.%u%c", &major, &minor, &build, &tail) != 3 || major > 255 ||
      minor > 255 || build > 255) {
    return Error(ErrorCode::kInvalidArgument, "--api: expected MAJOR.MINOR.BUILD, e.g. 1.55.21");
  }
  return emulator::SevApiVersion{static_cast<std::uint8_t>(major), static_cast<std::uint8_t>(minor),
                                 static_cast<std::uint8_t>(build)};
}

// tmp_tk.bin: TEK ‖ TIK, 32 bytes.
Result<emulator::SevTransportKeys> ReadTransportKeys(const std::string& path) {
  auto b = ReadSmall(path);
  if (!b.ok()) return b.error();
  if (b->size() != 32)
    return Error(ErrorCode::kInvalidArgument, path + ": expected 32 bytes (TEK ‖ TIK)");
  emulator::SevTransportKeys k;
  k.tek = SecretBytes(ByteSpan(*b).first(16));
  k.tik = SecretBytes(ByteSpan(*b).subspan(16));
  SecureZero(b->data(), b->size());
  return k;
}

template <std::size_t N>
Result<std::array<std::uint8_t, N>> HexArray(const std::string& what, const std::string& hex) {
  auto b = HexDecode(hex);
  if (!b.ok() || b->size() != N) {
    return Error(ErrorCode::kInvalidArgument,
                 what + ": expected " + std::to_string(N) + " bytes of hex");
  }
  std::array<std::uint8_t, N> out{};
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

Result<emulator::SevCert> ReadSevCert(const std::string& path) {
  auto b = ReadSmall(path);
  if (!b.ok()) return b.error();
  auto c = emulator::SevCert::Parse(*b);
  if (!c.ok()) return c.error().Context(path);
  return c;
}

struct ImageLaunch {
  std::string path;  // a file, or "builtin": sevemu's built-in image (the direct-boot one with
                     // --kernel)
  std::string type;  // snp, sev or sev-es
  unsigned vcpus = 1;
  std::string vcpu_sig, vcpu_type, guest_features;
  std::optional<launch::DirectBoot> direct_boot;
};

Result<std::uint32_t> VcpuSignature(const ImageLaunch& l) {
  if (!l.vcpu_type.empty()) return launch::VcpuSignatureOf(l.vcpu_type);
  char* end = nullptr;
  const unsigned long v = std::strtoul(l.vcpu_sig.c_str(), &end, 16);
  if (*end != '\0' || v > 0xFFFFFFFFul) {
    return Error(ErrorCode::kInvalidArgument, "--vcpu-sig: not a 32-bit hex number");
  }
  return static_cast<std::uint32_t>(v);
}

// The launch digest of `l` (launch/sev_launch.h, launch/expected_digest.h), as sev-snp-measure
// --mode sev|seves|snp computes it: 32 bytes for a legacy launch, 48 for SNP.
Result<Bytes> ImageDigest(const ImageLaunch& l) {
  if (l.type != "sev" && l.type != "sev-es" && l.type != "snp") {
    return Error(ErrorCode::kInvalidArgument, "--type must be snp, sev or sev-es");
  }
  Result<Bytes> bytes = Bytes{};
  if (l.path == "builtin") {
    bytes = l.direct_boot ? hypervisor::DefaultDirectBootImage() : hypervisor::DefaultGuestImage();
  } else {
    bytes = ReadWholeFile(l.path, launch::kMaxOvmfImageSize);
  }
  if (!bytes.ok()) return bytes.error();
  const bool snp = l.type == "snp";
  auto image = snp ? launch::ParseOvmfImage(*bytes) : launch::ParseLegacyOvmfImage(*bytes);
  if (!image.ok()) return image.error().Context(l.path);
  std::uint32_t sig = 0;
  if (l.type != "sev") {
    if (l.vcpu_sig.empty() == l.vcpu_type.empty()) {
      return Error(ErrorCode::kInvalidArgument,
                   "--type " + l.type + " needs --vcpu-sig or --vcpu-type (the VMSAs carry it)");
    }
    SEVEMU_ASSIGN_OR_RETURN(sig, VcpuSignature(l));
  }
  if (!l.guest_features.empty() && !snp) {
    return Error(ErrorCode::kInvalidArgument, "--guest-features is an SNP launch option");
  }
  if (snp) {
    launch::SnpLaunchConfig cfg;
    cfg.vcpus = l.vcpus;
    cfg.vcpu_signature = sig;
    if (!l.guest_features.empty()) {
      char* end = nullptr;
      cfg.sev_features = std::strtoull(l.guest_features.c_str(), &end, 16);
      if (*end != '\0') {
        return Error(ErrorCode::kInvalidArgument, "--guest-features: not a hex number");
      }
    }
    cfg.direct_boot = l.direct_boot;
    SEVEMU_ASSIGN_OR_RETURN(auto d, launch::ExpectedSnpLaunchDigest(*image, cfg));
    return Bytes(d.begin(), d.end());
  }
  launch::SevLaunchConfig cfg;
  cfg.mode = l.type == "sev" ? launch::SevLaunchMode::kSev : launch::SevLaunchMode::kSevEs;
  cfg.vcpus = l.vcpus;
  cfg.vcpu_signature = sig;
  cfg.direct_boot = l.direct_boot;
  SEVEMU_ASSIGN_OR_RETURN(auto d, launch::ExpectedSevLaunchDigest(*image, cfg));
  return Bytes(d.begin(), d.end());
}

}  // namespace

int RunOwner(const std::string& name, const Args& args) {
  std::string action, pdh, out, policy_text = "0", tk, api_text, digest_hex, measurement, secret,
                                dir, report, pek, mnonce_hex, image, type = "sev", vcpu_sig,
                                vcpu_type, guest_features;
  unsigned vcpus = 1;
  bool direct_boot_image = false;
  DirectBootArgs boot_args;
  std::vector<std::string> data_files;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "session | measure | secret | verify-chain | verify-report | image")
      ("pdh", po::value(&pdh), "session: the platform's PDH certificate (pdh.cert)")
      ("policy", po::value(&policy_text), "session, measure, verify-report: the guest policy (u32)")
      ("out", po::value(&out), "session, secret: output directory; image: the file to write")
      ("tk", po::value(&tk), "measure, secret: the transport keys the session kept (tmp_tk.bin)")
      ("api", po::value(&api_text), "measure, secret: the firmware's API version and build, e.g. 1.55.21")
      ("digest", po::value(&digest_hex), "measure, verify-report: SHA-256 launch digest (hex)")
      ("data", po::value(&data_files)->composing(), "measure: instead of --digest, the files the VMM launched (LAUNCH_UPDATE_DATA/VMSA plaintext), in order; repeatable")
      ("image", po::value(&image), "measure: instead of --digest, the OVMF image the guest was launched from ('builtin': sevemu's default image); without --tk and --measurement, print the launch digest predicted for it")
      ("type", po::value(&type), "measure --image: sev (default), sev-es (adds the vCPUs' VMSAs) or snp (prediction only)")
      ("vcpus", po::value(&vcpus), "measure --image --type sev-es|snp: number of vCPUs (default 1)")
      ("vcpu-sig", po::value(&vcpu_sig), "measure --image --type sev-es|snp: the vCPUs' CPUID signature (hex, e.g. 0xa00f11)")
      ("vcpu-type", po::value(&vcpu_type), "measure --image --type sev-es|snp: instead of --vcpu-sig, QEMU's CPU model (e.g. EPYC-Milan)")
      ("guest-features", po::value(&guest_features), "measure --image --type snp: the VMSAs' SEV_FEATURES (hex, default 0x1)")
      ("kernel", po::value(&boot_args.kernel), "measure --image: measured direct boot of this kernel (QEMU -kernel, kernel-hashes=on; 'builtin' is then the built-in direct-boot image)")
      ("initrd", po::value(&boot_args.initrd), "measure --image --kernel: the initrd (QEMU -initrd)")
      ("append", po::value(&boot_args.append), "measure --image --kernel: the kernel command line (QEMU -append)")
      ("direct-boot", po::bool_switch(&direct_boot_image), "image: write the built-in direct-boot image (with the SEV hash table area)")
      ("measurement", po::value(&measurement), "measure, secret: LAUNCH_MEASURE's 48-byte output (file)")
      ("secret", po::value(&secret), "secret: the secret to inject (file; a multiple of 16 bytes)")
      ("dir", po::value(&dir), "verify-chain: directory with pdh/pek/oca/cek/ask/ark.cert")
      ("report", po::value(&report), "verify-report: the 0xD0-byte ATTESTATION report")
      ("pek", po::value(&pek), "verify-report: the platform's PEK certificate")
      ("mnonce", po::value(&mnonce_hex), "verify-report: the nonce given to ATTESTATION (hex)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1);
  int code = 0;
  auto vm = ParseArgs(name, "session|measure|secret|verify-chain|verify-report|image [options]",
                      desc, args, code, &pos);
  if (!vm) return code;
  auto need = [&](const std::string& v, const char* opt) {
    return v.empty() ? std::optional<int>(UsageError(name, action + " needs --" + opt))
                     : std::nullopt;
  };
  auto policy = ParsePolicy(policy_text);
  if (!policy.ok()) return UsageError(name, policy.error().message());

  if (action == "session") {
    if (auto e = need(pdh, "pdh")) return *e;
    if (auto e = need(out, "out")) return *e;
    auto cert = ReadSevCert(pdh);
    if (!cert.ok()) return Fail(name, cert.error());
    auto key = cert->pubkey.ToCrypto();
    if (!key.ok()) return Fail(name, key.error().Context(pdh));
    auto s = owner::MakeLaunchSession(*key, *policy);
    if (!s.ok()) return Fail(name, s.error());
    if (Status st = MakeDirectories(out, 0700); !st.ok()) return Fail(name, st.error());
    Bytes tk_bytes(s->keys.tek.span().begin(), s->keys.tek.span().end());
    tk_bytes.insert(tk_bytes.end(), s->keys.tik.span().begin(), s->keys.tik.span().end());
    const auto blob = s->SessionBytes();
    Status st = WriteFileAtomic(out + "/godh.cert", s->godh_cert, 0644, false);
    if (st.ok()) st = WriteFileAtomic(out + "/launch_blob.bin", blob, 0644, false);
    if (st.ok()) st = WriteFileAtomic(out + "/tmp_tk.bin", tk_bytes, 0600, false);
    SecureZero(tk_bytes.data(), tk_bytes.size());
    if (!st.ok()) return Fail(name, st.error());
    std::cout << "wrote godh.cert launch_blob.bin tmp_tk.bin (0600: TEK and TIK) to " << out
              << "\n";
    return kExitOk;
  }
  boot_args.append_given = vm->count("append") != 0;
  auto boot = HashDirectBootArgs(boot_args);
  if (!boot.ok()) {
    return boot.error().code() == ErrorCode::kInvalidArgument
               ? UsageError(name, boot.error().message())
               : Fail(name, boot.error());
  }
  if (*boot && (action != "measure" || image.empty())) {
    return UsageError(name, "--kernel goes with measure --image");
  }
  const ImageLaunch launch{image, type, vcpus, vcpu_sig, vcpu_type, guest_features, *boot};
  if (action == "image") {
    // The built-in image as a file, to hand to other measurement tools (sev-snp-measure --ovmf).
    if (auto e = need(out, "out")) return *e;
    const Bytes img =
        direct_boot_image ? hypervisor::DefaultDirectBootImage() : hypervisor::DefaultGuestImage();
    if (Status st = WriteFileAtomic(out, img, 0644, false); !st.ok()) return Fail(name, st.error());
    std::cout << "wrote the built-in " << (direct_boot_image ? "direct-boot " : "") << "image ("
              << img.size() << " bytes) to " << out << "\n";
    return kExitOk;
  }
  if (action == "measure" && !image.empty() && tk.empty() && measurement.empty()) {
    // Prediction: the digest the firmware will compute for this launch (an SNP report's
    // MEASUREMENT, or what a legacy LAUNCH_MEASURE's HMAC covers).
    if (!digest_hex.empty() || !data_files.empty()) {
      return UsageError(name, "measure needs one of --digest, --data and --image");
    }
    auto d = ImageDigest(launch);
    if (!d.ok()) return Fail(name, d.error());
    std::cout << HexEncode(*d) << "\n";
    return kExitOk;
  }
  if (action == "measure" || action == "secret") {
    if (auto e = need(tk, "tk")) return *e;
    if (auto e = need(api_text, "api")) return *e;
    if (auto e = need(measurement, "measurement")) return *e;
    auto keys = ReadTransportKeys(tk);
    if (!keys.ok()) return Fail(name, keys.error());
    auto api = ParseApi(api_text);
    if (!api.ok()) return UsageError(name, api.error().message());
    auto m_bytes = ReadSmall(measurement);
    if (!m_bytes.ok()) return Fail(name, m_bytes.error());
    auto m = emulator::ParseSevMeasureOut(*m_bytes);
    if (!m.ok()) return Fail(name, m.error().Context(measurement));
    if (action == "measure") {
      if (int(!digest_hex.empty()) + int(!data_files.empty()) + int(!image.empty()) != 1) {
        return UsageError(name, "measure needs one of --digest, --data and --image");
      }
      Result<emulator::SevDigest> digest = emulator::SevDigest{};
      if (!image.empty()) {
        if (type == "snp") {
          return UsageError(name,
                            "--tk and --measurement check a legacy launch: --type sev|sev-es");
        }
        auto d = ImageDigest(launch);
        if (!d.ok()) return Fail(name, d.error());
        std::copy(d->begin(), d->end(), digest->begin());
      } else if (!digest_hex.empty()) {
        digest = HexArray<emulator::kSevDigestSize>("--digest", digest_hex);
        if (!digest.ok()) return UsageError(name, digest.error().message());
      } else {
        std::vector<Bytes> contents;
        for (const auto& f : data_files) {
          auto b = ReadWholeFile(f, 64u << 20);
          if (!b.ok()) return Fail(name, b.error());
          contents.push_back(std::move(b).value());
        }
        const std::vector<ByteSpan> spans(contents.begin(), contents.end());
        digest = owner::LegacyLaunchDigest(spans);
        if (!digest.ok()) return Fail(name, digest.error());
      }
      Status st = owner::VerifyMeasurement(*keys, *api, *policy, *digest, *m);
      if (!st.ok()) return Fail(name, st.error());
      std::cout << "measurement matches (policy 0x" << std::hex << *policy << std::dec << ", API "
                << api_text << ")\n";
      return kExitOk;
    }
    if (auto e = need(secret, "secret")) return *e;
    if (auto e = need(out, "out")) return *e;
    auto plain = ReadSmall(secret);
    if (!plain.ok()) return Fail(name, plain.error());
    const SecretBytes secret_bytes(*plain);
    SecureZero(plain->data(), plain->size());
    auto packet = owner::PackageLaunchSecret(*keys, *api, m->measurement, secret_bytes);
    if (!packet.ok()) return Fail(name, packet.error());
    if (Status st = MakeDirectories(out, 0700); !st.ok()) return Fail(name, st.error());
    Status st = WriteFileAtomic(out + "/packet_header.bin", packet->HeaderBytes(), 0644, false);
    if (st.ok())
      st = WriteFileAtomic(out + "/encrypted_secret.bin", packet->ciphertext, 0644, false);
    if (!st.ok()) return Fail(name, st.error());
    std::cout << "wrote packet_header.bin encrypted_secret.bin to " << out << "\n";
    return kExitOk;
  }
  if (action == "verify-chain") {
    if (auto e = need(dir, "dir")) return *e;
    auto pdh_c = ReadSevCert(dir + "/pdh.cert");
    auto pek_c = ReadSevCert(dir + "/pek.cert");
    auto oca_c = ReadSevCert(dir + "/oca.cert");
    auto cek_c = ReadSevCert(dir + "/cek.cert");
    for (const auto* r : {&pdh_c, &pek_c, &oca_c, &cek_c}) {
      if (!r->ok()) return Fail(name, r->error());
    }
    auto ask_b = ReadSmall(dir + "/ask.cert");
    auto ark_b = ReadSmall(dir + "/ark.cert");
    if (!ask_b.ok()) return Fail(name, ask_b.error());
    if (!ark_b.ok()) return Fail(name, ark_b.error());
    auto ask = emulator::AmdCaCert::Parse(*ask_b);
    auto ark = emulator::AmdCaCert::Parse(*ark_b);
    if (!ask.ok()) return Fail(name, ask.error().Context(dir + "/ask.cert"));
    if (!ark.ok()) return Fail(name, ark.error().Context(dir + "/ark.cert"));
    Status st = emulator::VerifySevChain(*pdh_c, *pek_c, *oca_c, *cek_c, *ask, *ark);
    if (!st.ok()) return Fail(name, st.error());
    std::cout << "chain verifies: PDH <- PEK <- (OCA, CEK) <- ASK <- ARK\n";
    return kExitOk;
  }
  if (action == "verify-report") {
    if (auto e = need(report, "report")) return *e;
    if (auto e = need(pek, "pek")) return *e;
    auto r = ReadSmall(report);
    if (!r.ok()) return Fail(name, r.error());
    auto pek_c = ReadSevCert(pek);
    if (!pek_c.ok()) return Fail(name, pek_c.error());
    auto pek_key = pek_c->pubkey.ToCrypto();
    if (!pek_key.ok()) return Fail(name, pek_key.error().Context(pek));
    owner::AttestationExpectations expect;
    if (!mnonce_hex.empty()) {
      auto n = HexArray<emulator::kSevNonceSize>("--mnonce", mnonce_hex);
      if (!n.ok()) return UsageError(name, n.error().message());
      expect.mnonce = *n;
    }
    if (!digest_hex.empty()) {
      auto d = HexArray<emulator::kSevDigestSize>("--digest", digest_hex);
      if (!d.ok()) return UsageError(name, d.error().message());
      expect.launch_digest = *d;
    }
    if (vm->count("policy")) expect.policy = *policy;
    auto verified = owner::VerifyLegacyAttestationReport(*r, *pek_key, expect);
    if (!verified.ok()) return Fail(name, verified.error());
    std::cout << "report verifies under the PEK\n";
    return kExitOk;
  }
  return UsageError(name, "unknown action '" + action + "'");
}

}  // namespace sevemu::cli
