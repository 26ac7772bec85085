#include "sevemu/emulator/manufacturing/kds.h"

#include "sevemu/crypto/kdf.h"

namespace sevemu::emulator {
namespace {

using crypto::Certificate;
using crypto::CertificateTemplate;
using crypto::DerInteger;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kVcekValidity = (7 * 365 + 2) * kDay;  // 7 calendar years
constexpr std::int64_t kVlekValidity = 365 * kDay;

void AddSpl(CertificateTemplate& t, const char* oid, std::uint8_t value) {
  t.AddLiteral({oid, false, DerInteger(value)});
}

// The SPL extensions in the order real KDS certificates carry them (docs/certificates.md):
// Milan/Genoa: bl, tee, spl4..7, snp, ucode. Turin: fmc, bl, tee, snp, spl5..7, ucode.
void AddSplExtensions(CertificateTemplate& t, const TcbVersion& tcb) {
  const TcbParts p = tcb.parts();
  if (tcb.product() == Product::kTurin) {
    AddSpl(t, kOidFmcSpl, p.fmc);
    AddSpl(t, kOidBlSpl, p.boot_loader);
    AddSpl(t, kOidTeeSpl, p.tee);
    AddSpl(t, kOidSnpSpl, p.snp);
    AddSpl(t, kOidSpl5, 0);
    AddSpl(t, kOidSpl6, 0);
    AddSpl(t, kOidSpl7, 0);
  } else {
    AddSpl(t, kOidBlSpl, p.boot_loader);
    AddSpl(t, kOidTeeSpl, p.tee);
    AddSpl(t, kOidSpl4, tcb.byte(2));
    AddSpl(t, kOidSpl5, tcb.byte(3));
    AddSpl(t, kOidSpl6, tcb.byte(4));
    AddSpl(t, kOidSpl7, tcb.byte(5));
    AddSpl(t, kOidSnpSpl, p.snp);
  }
  AddSpl(t, kOidUcodeSpl, p.microcode);
}

Result<CertificateTemplate> LeafTemplate(Product p, const std::string& cn,
                                         const std::string& issuer_cn,
                                         const std::string& product_name, const TcbVersion& tcb,
                                         std::int64_t not_before, std::int64_t validity) {
  if (tcb.product() != p) return Error(ErrorCode::kInvalidArgument, "TCB of another product");
  CertificateTemplate t;
  t.serial = 0;
  t.subject = AmdName(cn);
  t.issuer = AmdName(issuer_cn);
  t.not_before = not_before;
  t.not_after = not_before + validity;
  t.AddLiteral({kOidStructVersion, false, DerInteger(Info(p).vcek_struct_version)});
  SEVEMU_ASSIGN_OR_RETURN(Bytes name, crypto::DerIa5String(product_name));
  t.AddLiteral({kOidProductName, false, name});
  AddSplExtensions(t, tcb);
  return t;
}

}  // namespace

Result<Certificate> IssueVcekCertificate(const AmdRoot& root, const ChipIdentity& chip,
                                         const TcbVersion& tcb, const crypto::PublicKey& vcek,
                                         std::int64_t not_before) {
  SEVEMU_RETURN_IF_ERROR(chip.Validate());
  if (chip.product != root.product) {
    return Error(ErrorCode::kInvalidArgument, "chip and AMD root are for different products");
  }
  SEVEMU_ASSIGN_OR_RETURN(
      CertificateTemplate t,
      LeafTemplate(chip.product, "SEV-VCEK", std::string("SEV-") + Info(chip.product).name,
                   VcekProductName(chip.product, chip.stepping), tcb, not_before, kVcekValidity));
  // hwID is the raw chip ID bytes directly in extnValue, without an inner OCTET STRING.
  const ByteSpan hw_id = chip.hw_id();
  t.AddLiteral({kOidHwId, false, Bytes(hw_id.begin(), hw_id.end())});
  return Certificate::Sign(t, vcek, root.ask_key, &root.ask);
}

Result<Certificate> IssueVlekCertificate(const AmdRoot& root, const std::string& csp_id,
                                         const TcbVersion& tcb, const crypto::PublicKey& vlek,
                                         std::int64_t not_before) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes csp, crypto::DerIa5String(csp_id));
  SEVEMU_ASSIGN_OR_RETURN(
      CertificateTemplate t,
      LeafTemplate(root.product, "SEV-VLEK", std::string("SEV-VLEK-") + Info(root.product).name,
                   Info(root.product).name, tcb, not_before, kVlekValidity));
  t.AddLiteral({kOidCspId, false, csp});
  return Certificate::Sign(t, vlek, root.asvk_key, &root.asvk);
}

Result<Certificate> Kds::Vcek(const ChipIdentity& chip, const ChipFuses& fuses,
                              const TcbVersion& tcb, std::int64_t not_before) const {
  SEVEMU_ASSIGN_OR_RETURN(HashSticks sticks, HashSticks::FromRoot(fuses.hash_stick_root, tcb));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey vcek, DeriveVcek(sticks));
  return IssueVcekCertificate(root_, chip, tcb, vcek.Public(), not_before);
}

Result<HashSticks> Kds::VlekSticks(const std::string& csp_id, const TcbVersion& tcb) const {
  if (csp_id.empty()) return Error(ErrorCode::kInvalidArgument, "empty CSP ID");
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes csp_root,
                          crypto::SevKdf(root_.vlek_secret.span(), "sevemu-vlek-csp-root",
                                         AsBytes(csp_id), kHashStickSize));
  return HashSticks::FromRoot(csp_root, tcb);
}

Result<Kds::VlekIssue> Kds::Vlek(const ChipIdentity& chip, const ChipFuses& fuses,
                                 const std::string& csp_id, const TcbVersion& tcb,
                                 std::int64_t not_before) const {
  SEVEMU_ASSIGN_OR_RETURN(HashSticks vlek_sticks, VlekSticks(csp_id, tcb));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey vlek, DeriveVlek(vlek_sticks));
  SEVEMU_ASSIGN_OR_RETURN(Certificate cert,
                          IssueVlekCertificate(root_, csp_id, tcb, vlek.Public(), not_before));
  SEVEMU_RETURN_IF_ERROR(chip.Validate());
  SEVEMU_ASSIGN_OR_RETURN(HashSticks chip_sticks, HashSticks::FromRoot(fuses.hash_stick_root, tcb));
  SEVEMU_ASSIGN_OR_RETURN(Bytes wrapped, WrapVlek(chip_sticks, vlek_sticks));
  return VlekIssue{std::move(cert), std::move(wrapped)};
}

}  // namespace sevemu::emulator
