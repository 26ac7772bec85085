#include "sevemu/emulator/manufacturing/amd_root.h"

#include <nlohmann/json.hpp>

#include "sevemu/common/file_io.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/random.h"

namespace sevemu::emulator {
namespace {

using crypto::Certificate;
using crypto::CertificateTemplate;
using crypto::PrivateKey;

constexpr std::int64_t kDay = 86400;
// 25 years, as AMD's ARK/ASK/ASVK (leap days included: same calendar date 25 years on).
constexpr std::int64_t kRootValidity = (25 * 365 + 6) * kDay;
constexpr std::size_t kMaxPemSize = 64 * 1024;

std::string CrlUrl(const char* family, Product p) {
  return std::string(kKdsBaseUrl) + "/" + family + "/v1/" + Info(p).name + "/crl";
}

// ARK: keyUsage, SKI, basicConstraints, CRL DP, in that order (AMD's ARK-Milan/Genoa/Turin).
CertificateTemplate ArkTemplate(Product p, std::int64_t not_before) {
  CertificateTemplate t;
  t.serial = Info(p).root_serial_base;
  t.subject = t.issuer = AmdName(std::string("ARK-") + Info(p).name);
  t.not_before = not_before;
  t.not_after = not_before + kRootValidity;
  t.explicit_pss_trailer = true;
  t.AddStandard("keyUsage", "critical,keyCertSign,cRLSign");
  t.AddStandard("subjectKeyIdentifier", "hash");
  t.AddStandard("basicConstraints", "critical,CA:TRUE");
  t.AddStandard("crlDistributionPoints", "URI:" + CrlUrl("vcek", p));
  return t;
}

// ASK / ASVK: SKI, AKI (keyid only), basicConstraints pathlen 0, keyUsage, CRL DP.
CertificateTemplate IntermediateTemplate(Product p, std::int64_t not_before, bool vlek) {
  CertificateTemplate t;
  t.serial = vlek ? Info(p).asvk_serial : Info(p).ask_serial;
  t.subject = AmdName(std::string(vlek ? "SEV-VLEK-" : "SEV-") + Info(p).name);
  t.issuer = AmdName(std::string("ARK-") + Info(p).name);
  t.not_before = not_before;
  t.not_after = not_before + kRootValidity;
  t.explicit_pss_trailer = true;
  t.AddStandard("subjectKeyIdentifier", "hash");
  t.AddStandard("authorityKeyIdentifier", "keyid:always");
  t.AddStandard("basicConstraints", "critical,CA:TRUE,pathlen:0");
  // AMD encodes keyCertSign as 03 02 01 04 (one unused bit), where OpenSSL's minimal DER would
  // be 03 02 02 04; verifiers accept both, and we reproduce AMD's bytes.
  t.AddLiteral({"2.5.29.15", true, {0x03, 0x02, 0x01, 0x04}});
  t.AddStandard("crlDistributionPoints", "URI:" + CrlUrl(vlek ? "vlek" : "vcek", p));
  return t;
}

Result<crypto::Certificate> ParseCert(const std::string& text, const std::string& where) {
  auto cert = Certificate::FromPem(text);
  if (!cert.ok()) return Error(ErrorCode::kCorrupt, where + ": " + cert.error().message());
  return cert;
}

Result<PrivateKey> ParseKey(const std::string& text, const std::string& where) {
  auto key = PrivateKey::FromPem(text);
  if (!key.ok()) return Error(ErrorCode::kCorrupt, where + ": " + key.error().message());
  if (key->kind() != crypto::KeyKind::kRsa || key->bits() != 4096) {
    return Error(ErrorCode::kCorrupt, where + ": not an RSA-4096 key");
  }
  return key;
}

}  // namespace

crypto::DistinguishedName AmdName(const std::string& common_name) {
  return {{"OU", "Engineering"},           {"C", "US"},        {"L", "Santa Clara"}, {"ST", "CA"},
          {"O", "Advanced Micro Devices"}, {"CN", common_name}};
}

Result<AmdRoot> AmdRoot::Mint(Product p, std::int64_t not_before,
                              const std::optional<Bytes>& seed) {
  auto make_key = [&](const char* label) -> Result<PrivateKey> {
    if (!seed) return PrivateKey::GenerateRsa(4096);
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes key_seed, crypto::SevKdf(*seed, label, {}, 48));
    return PrivateKey::RsaFromSeed(key_seed, 4096);
  };
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey ark_key, make_key("sevemu-ark"));
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey ask_key, make_key("sevemu-ask"));
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey asvk_key, make_key("sevemu-asvk"));
  SEVEMU_ASSIGN_OR_RETURN(Certificate ark, Certificate::Sign(ArkTemplate(p, not_before),
                                                             ark_key.Public(), ark_key, nullptr));
  SEVEMU_ASSIGN_OR_RETURN(Certificate ask,
                          Certificate::Sign(IntermediateTemplate(p, not_before, false),
                                            ask_key.Public(), ark_key, &ark));
  SEVEMU_ASSIGN_OR_RETURN(Certificate asvk,
                          Certificate::Sign(IntermediateTemplate(p, not_before, true),
                                            asvk_key.Public(), ark_key, &ark));
  SEVEMU_ASSIGN_OR_RETURN(
      SecretBytes vlek_secret,
      seed ? crypto::SevKdf(*seed, "sevemu-kds-vlek-secret", {}, 48) : crypto::RandomSecret(48));
  AmdRoot root{p, ark_key, ask_key, asvk_key, ark, ask, asvk, std::move(vlek_secret)};
  SEVEMU_RETURN_IF_ERROR(root.Validate());
  return root;
}

Status AmdRoot::Validate() const {
  const std::string name = Info(product).name;
  struct Expect {
    const char* what;  // also the file stem: ark.pem / ark.key
    const crypto::Certificate& cert;
    const crypto::PrivateKey& key;
    std::string cn;
  };
  const Expect expect[] = {{"ark", ark, ark_key, "ARK-" + name},
                           {"ask", ask, ask_key, "SEV-" + name},
                           {"asvk", asvk, asvk_key, "SEV-VLEK-" + name}};
  SEVEMU_ASSIGN_OR_RETURN(crypto::PublicKey ark_pub, ark.SubjectPublicKey());
  for (const auto& e : expect) {
    SEVEMU_ASSIGN_OR_RETURN(crypto::PublicKey pub, e.cert.SubjectPublicKey());
    if (!(pub == e.key.Public())) {
      return Error(ErrorCode::kCorrupt,
                   std::string(e.what) + ".key does not match " + e.what + ".pem");
    }
    if (e.cert.SubjectCommonName() != e.cn) {
      return Error(ErrorCode::kCorrupt, std::string(e.what) + ".pem is named '" +
                                            e.cert.SubjectCommonName() + "', expected '" + e.cn +
                                            "'");
    }
    if (!e.cert.VerifySignedBy(ark_pub).ok()) {
      return Error(ErrorCode::kCorrupt, std::string(e.what) + ".pem is not signed by the ARK");
    }
  }
  if (vlek_secret.size() != 48) {
    return Error(ErrorCode::kCorrupt, "kds.json: VLEK secret must be 48 bytes");
  }
  return Status::Ok();
}

const char* const AmdRoot::kFileNames[7] = {"ark.pem",  "ark.key",  "ask.pem", "ask.key",
                                            "asvk.pem", "asvk.key", "kds.json"};

Result<AmdRoot> AmdRoot::Load(const std::string& dir) {
  FileTexts files;
  for (const char* name : kFileNames) {
    SEVEMU_ASSIGN_OR_RETURN(Bytes b, ReadWholeFile(dir + "/" + name, kMaxPemSize));
    files[name] = std::string(b.begin(), b.end());
    SecureZero(b.data(), b.size());
  }
  auto root = FromFiles(files, dir);
  for (auto& [name, text] : files) SecureZero(text.data(), text.size());
  return root;
}

Result<AmdRoot> AmdRoot::FromFiles(const FileTexts& files, const std::string& where) {
  auto text = [&](const char* name) -> Result<std::string> {
    auto it = files.find(name);
    if (it == files.end())
      return Error(ErrorCode::kNotFound, where + "/" + name + ": file is missing");
    return it->second;
  };
  const std::string kds_path = where + "/kds.json";
  SEVEMU_ASSIGN_OR_RETURN(std::string kds_text, text("kds.json"));
  const auto kds = nlohmann::json::parse(kds_text, nullptr, false);
  SecureZero(kds_text.data(), kds_text.size());
  if (kds.is_discarded() || !kds.is_object()) {
    return Error(ErrorCode::kCorrupt, kds_path + ": not valid JSON");
  }
  if (kds.value("format", "") != "sevemu-amd-root" || kds.value("version", 0) != 1 ||
      !kds.contains("product") || !kds["product"].is_string() || !kds.contains("vlek_secret") ||
      !kds["vlek_secret"].is_string()) {
    return Error(
        ErrorCode::kCorrupt,
        kds_path + ": expected {format: sevemu-amd-root, version: 1, product, vlek_secret}");
  }
  auto product = ParseProduct(kds["product"].get<std::string>());
  if (!product.ok()) return Error(ErrorCode::kCorrupt, kds_path + ": " + product.error().message());
  auto secret = HexDecode(kds["vlek_secret"].get<std::string>());
  if (!secret.ok() || secret->size() != 48) {
    return Error(ErrorCode::kCorrupt, kds_path + ": vlek_secret must be 96 hex digits");
  }
  SecretBytes vlek_secret{ByteSpan(*secret)};
  SecureZero(secret->data(), secret->size());
  auto key = [&](const char* name) -> Result<PrivateKey> {
    SEVEMU_ASSIGN_OR_RETURN(std::string t, text(name));
    auto k = ParseKey(t, where + "/" + name);
    SecureZero(t.data(), t.size());
    return k;
  };
  auto cert = [&](const char* name) -> Result<Certificate> {
    SEVEMU_ASSIGN_OR_RETURN(std::string t, text(name));
    return ParseCert(t, where + "/" + name);
  };
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey ark_key, key("ark.key"));
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey ask_key, key("ask.key"));
  SEVEMU_ASSIGN_OR_RETURN(PrivateKey asvk_key, key("asvk.key"));
  SEVEMU_ASSIGN_OR_RETURN(Certificate ark, cert("ark.pem"));
  SEVEMU_ASSIGN_OR_RETURN(Certificate ask, cert("ask.pem"));
  SEVEMU_ASSIGN_OR_RETURN(Certificate asvk, cert("asvk.pem"));
  AmdRoot root{*product, ark_key, ask_key, asvk_key, ark, ask, asvk, std::move(vlek_secret)};
  if (Status st = root.Validate(); !st.ok()) {
    return Error(ErrorCode::kCorrupt, where + "/" + st.error().message());
  }
  return root;
}

Status AmdRoot::Save(const std::string& dir) const {
  SEVEMU_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  struct Item {
    const char* name;
    const crypto::PrivateKey& key;
    const crypto::Certificate& cert;
  };
  for (const Item& it :
       {Item{"ark", ark_key, ark}, Item{"ask", ask_key, ask}, Item{"asvk", asvk_key, asvk}}) {
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes key_pem, it.key.ToPem());
    SEVEMU_RETURN_IF_ERROR(
        WriteFileAtomic(dir + "/" + it.name + ".key", key_pem.span(), 0600, false));
    SEVEMU_ASSIGN_OR_RETURN(std::string cert_pem, it.cert.ToPem());
    SEVEMU_RETURN_IF_ERROR(
        WriteFileAtomic(dir + "/" + it.name + ".pem", AsBytes(cert_pem), 0644, false));
  }
  nlohmann::ordered_json kds;
  kds["format"] = "sevemu-amd-root";
  kds["version"] = 1;
  kds["product"] = Info(product).name;
  kds["vlek_secret"] = HexEncode(vlek_secret.span());
  std::string text = kds.dump(2) + "\n";
  const Status st = WriteFileAtomic(dir + "/kds.json", AsBytes(text), 0600, false);
  SecureZero(text.data(), text.size());
  return st;
}

}  // namespace sevemu::emulator
