#include "sevemu/emulator/manufacturing/provision.h"

#include <algorithm>

#include "sevemu/common/file_io.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/random.h"
#include "sevemu/emulator/manufacturing/firmware_abi.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"

namespace sevemu::emulator {
namespace {

// Every secret of a seeded chip comes from SevKdf(seed, label): independent values, none of
// which reveals the seed or another.
Result<SecretBytes> FromSeedOrRandom(const std::optional<Bytes>& seed, const char* label,
                                     std::size_t size) {
  if (seed) return crypto::SevKdf(*seed, label, {}, size);
  return crypto::RandomSecret(size);
}

}  // namespace

Result<Platform> Provision(const ProvisionOptions& opts, AmdRoot root) {
  if (opts.seed && (opts.seed->empty() || opts.seed->size() > 64)) {
    return Error(ErrorCode::kInvalidArgument, "seed must be 1 to 64 bytes");
  }
  if (root.product != opts.product) {
    return Error(ErrorCode::kInvalidArgument, std::string("AMD root is for ") +
                                                  Info(root.product).name + ", not " +
                                                  Info(opts.product).name);
  }
  const ProductInfo& info = Info(opts.product);
  PlatformState s;
  s.chip.product = opts.product;
  s.chip.stepping = opts.stepping.value_or(info.default_stepping);
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes id,
                          FromSeedOrRandom(opts.seed, "sevemu-chip-id", kChipIdSize));
  s.chip.chip_id.assign(id.data(), id.data() + id.size());
  // Turin reports an 8-byte ID in a 64-byte field (SEV-ABI-FACTS.md 4.1).
  std::fill(s.chip.chip_id.begin() + static_cast<long>(info.hwid_size), s.chip.chip_id.end(), 0);
  if (std::all_of(s.chip.chip_id.begin(), s.chip.chip_id.end(), [](auto b) { return b == 0; })) {
    s.chip.chip_id[0] = 1;  // an all-zero ID means "masked"; a real part never has one
  }
  SEVEMU_RETURN_IF_ERROR(s.chip.Validate());
  const TcbVersion tcb = opts.tcb.value_or(DefaultTcb(opts.product));
  if (tcb.product() != opts.product) {
    return Error(ErrorCode::kInvalidArgument, "TCB is for another product");
  }
  s.current_tcb = s.committed_tcb = s.reported_tcb = tcb;
  const FirmwareVersion fw = opts.firmware.value_or(DefaultFirmware(opts.product));
  const FirmwareAbi& abi = AbiOf(fw);
  if (abi.major != fw.major || abi.minor != fw.minor) {
    return Error(ErrorCode::kInvalidArgument, "firmware " + std::to_string(fw.major) + "." +
                                                  std::to_string(fw.minor) +
                                                  " is not a simulated ABI");
  }
  s.current_fw = s.committed_fw = fw;
  s.deterministic = opts.seed.has_value();
  s.manufactured_at = opts.seed ? kSeededManufactureTime : opts.now;
  s.min_sev_asid = opts.min_sev_asid.value_or(info.max_asid / 2);
  SEVEMU_RETURN_IF_ERROR(s.Validate());

  ChipFuses fuses;
  SEVEMU_ASSIGN_OR_RETURN(fuses.hash_stick_root,
                          FromSeedOrRandom(opts.seed, "sevemu-hash-stick-root", kHashStickSize));
  SEVEMU_ASSIGN_OR_RETURN(fuses.chip_unique_key,
                          FromSeedOrRandom(opts.seed, "sevemu-chip-unique-key", 32));
  return Platform{std::move(s), std::move(fuses), std::move(root)};
}

Result<HashSticks> BootRomSticks(const Platform& p) {
  return HashSticks::FromRoot(p.fuses.hash_stick_root, p.state.current_tcb);
}

Result<crypto::PrivateKey> FirmwareVcek(const Platform& p) {
  SEVEMU_ASSIGN_OR_RETURN(HashSticks current, BootRomSticks(p));
  SEVEMU_ASSIGN_OR_RETURN(HashSticks reported, current.DeriveDown(p.state.reported_tcb));
  return DeriveVcek(reported);
}

namespace {

// The VCEK certificate for the reported TCB, checked against the firmware's own VCEK.
Result<crypto::Certificate> CheckedVcekCertificate(const Platform& p) {
  const Kds kds(p.root);
  SEVEMU_ASSIGN_OR_RETURN(
      crypto::Certificate vcek,
      kds.Vcek(p.state.chip, p.fuses, p.state.reported_tcb, p.state.manufactured_at));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey fw_vcek, FirmwareVcek(p));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PublicKey cert_key, vcek.SubjectPublicKey());
  if (!(cert_key == fw_vcek.Public())) {
    return Error(ErrorCode::kCorrupt, "the KDS's VCEK and the firmware's VCEK differ");
  }
  return vcek;
}

}  // namespace

Status CheckPlatform(const Platform& p) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::Certificate vcek, CheckedVcekCertificate(p));
  // Checked at a time inside every certificate's validity.
  if (Status st = crypto::VerifyChain({vcek, p.root.ask, p.root.ark}, p.state.manufactured_at + 1);
      !st.ok()) {
    return Error(ErrorCode::kCorrupt, "VCEK -> ASK -> ARK: " + st.error().message());
  }
  return Status::Ok();
}

Status ExportCertificates(const Platform& p, const std::string& out_dir) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::Certificate vcek, CheckedVcekCertificate(p));
  SEVEMU_ASSIGN_OR_RETURN(std::string ark, p.root.ark.ToPem());
  SEVEMU_ASSIGN_OR_RETURN(std::string ask, p.root.ask.ToPem());
  SEVEMU_ASSIGN_OR_RETURN(std::string asvk, p.root.asvk.ToPem());
  SEVEMU_ASSIGN_OR_RETURN(std::string vcek_pem, vcek.ToPem());
  SEVEMU_ASSIGN_OR_RETURN(Bytes vcek_der, vcek.ToDer());
  // The legacy SEV chain's AMD part, in AMD's formats: ARK and ASK as "CA cert v1", and the CEK
  // signed by the ASK as AMD's KDS serves it (kdsintf.amd.com/cek/id/...), so that a guest
  // owner can verify PDH <- PEK <- (OCA, CEK) <- ASK <- ARK.
  SEVEMU_ASSIGN_OR_RETURN(AmdCaCert ark_cert, MakeAmdArk(p.root));
  SEVEMU_ASSIGN_OR_RETURN(AmdCaCert ask_cert, MakeAmdAsk(p.root));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey cek, DeriveCek(p.fuses.chip_unique_key));
  SEVEMU_ASSIGN_OR_RETURN(SevCert cek_cert, MakeSignedCekCert(cek, p.root, p.state.current_fw.major,
                                                              p.state.current_fw.minor));
  const Bytes ark_sev = ark_cert.Encode();
  const Bytes ask_sev = ask_cert.Encode();
  const SevCertBytes cek_sev = cek_cert.Encode();
  SEVEMU_RETURN_IF_ERROR(MakeDirectories(out_dir, 0755));
  const std::string chain = ask + ark;
  struct File {
    const char* name;
    ByteSpan data;
  };
  for (const File& f :
       {File{"ark.pem", AsBytes(ark)}, File{"ask.pem", AsBytes(ask)},
        File{"asvk.pem", AsBytes(asvk)}, File{"vcek.pem", AsBytes(vcek_pem)},
        File{"vcek.der", vcek_der}, File{"cert_chain.pem", AsBytes(chain)},
        File{"ark.cert", ark_sev}, File{"ask.cert", ask_sev}, File{"cek.cert", cek_sev}}) {
    SEVEMU_RETURN_IF_ERROR(WriteFileAtomic(out_dir + "/" + f.name, f.data, 0644, false));
  }
  return Status::Ok();
}

}  // namespace sevemu::emulator
