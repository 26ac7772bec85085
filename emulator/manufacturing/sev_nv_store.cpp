#include "sevemu/emulator/manufacturing/sev_nv_store.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "sevemu/common/file_io.h"

namespace sevemu::emulator {
namespace {

using internal::JsonFields;
using nlohmann::ordered_json;

constexpr std::size_t kMaxSevNvFile = 64 * 1024;  // a full store is about 14 KiB
constexpr char kFormat[] = "sevemu-sev-nv";

bool HasCert(const SevCert& c) {
  return c.pubkey.usage != sev_usage::kInvalid;
}

// One identity part: its certificate, its key, their field names and the usage they must have.
struct Part {
  const char* cert_field;
  const char* key_field;
  std::uint32_t usage;
  SevCert SevNvStore::*cert;
  std::optional<crypto::PrivateKey> SevNvStore::*key;
};
constexpr Part kParts[] = {
    {"oca_cert", "oca_key", sev_usage::kOca, &SevNvStore::oca_cert, &SevNvStore::oca},
    {"pek_cert", "pek_key", sev_usage::kPek, &SevNvStore::pek_cert, &SevNvStore::pek},
    {"pdh_cert", "pdh_key", sev_usage::kPdh, &SevNvStore::pdh_cert, &SevNvStore::pdh},
};

Error Bad(const std::string& where, const std::string& field, const std::string& what) {
  return Error(ErrorCode::kCorrupt, where + "." + field + " " + what);
}

std::string UsageText(std::uint32_t usage) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%04x", usage);
  return std::string(hex) + " (" + SevUsageName(usage) + ")";
}

// Overwrites every string in `j` (the PEM keys among them) before it is freed.
template <typename Json>
void WipeStrings(Json& j) {
  if (j.is_string()) {
    auto& s = j.template get_ref<typename Json::string_t&>();
    SecureZero(s.data(), s.size());
  } else if (j.is_structured()) {
    for (auto& v : j) WipeStrings(v);
  }
}

Result<SevNvStore> ParseFields(const nlohmann::json& j, const std::string& where) {
  JsonFields f(j, where);
  SEVEMU_RETURN_IF_ERROR(internal::CheckFormat(f, where, kFormat));
  SevNvStore s;
  SEVEMU_ASSIGN_OR_RETURN(s.ext_owned, f.Bool("ext_owned"));
  // Absent certificate and key fields are "none"; CheckSevNvStore says which must be there.
  for (const Part& p : kParts) {
    if (!j.contains(p.cert_field)) continue;
    SEVEMU_ASSIGN_OR_RETURN(Bytes bytes, f.Hex(p.cert_field, kSevCertSize));
    auto cert = SevCert::Parse(bytes);
    if (!cert.ok()) {
      return f.Bad(p.cert_field, "is not a valid SEV certificate: " + cert.error().message());
    }
    if (!HasCert(*cert)) return f.Bad(p.cert_field, "has usage " + UsageText(sev_usage::kInvalid));
    s.*p.cert = std::move(cert).value();
  }
  for (const Part& p : kParts) {
    if (!j.contains(p.key_field)) continue;
    SEVEMU_ASSIGN_OR_RETURN(std::string pem, f.String(p.key_field));
    auto key = crypto::PrivateKey::FromPem(pem);
    SecureZero(pem.data(), pem.size());
    // OpenSSL's reason is not repeated: nothing about the key's text reaches a message.
    if (!key.ok()) return f.Bad(p.key_field, "is not a PEM private key");
    s.*p.key = std::move(key).value();
  }
  SEVEMU_RETURN_IF_ERROR(CheckSevNvStore(s, nullptr, where));
  return s;
}

// The PEK of a non-empty store carries this chip's CEK signature.
Status CheckCekSignature(const SevNvStore& s, const crypto::PublicKey& cek,
                         const std::string& where) {
  if (s.empty()) return Status::Ok();
  auto cek_key = SevPubKey::FromCrypto(cek, sev_usage::kCek, sev_algo::kEcdsaSha256);
  if (!cek_key.ok()) return Bad(where, "pek_cert", "cannot be checked: the CEK is unusable");
  if (Status st = ValidateSevCert(s.pek_cert, *cek_key); !st.ok()) {
    return Bad(where, "pek_cert",
               "is not signed by this chip's CEK (the store belongs to another chip): " +
                   st.error().message());
  }
  return Status::Ok();
}

}  // namespace

bool SevNvStore::empty() const {
  return !ext_owned && !oca && !pek && !pdh && !HasCert(oca_cert) && !HasCert(pek_cert) &&
         !HasCert(pdh_cert);
}

Status CheckSevNvStore(const SevNvStore& s, const crypto::PublicKey* cek,
                       const std::string& where) {
  if (s.empty()) return Status::Ok();
  // Complete, well-formed certificates of the right usages.
  for (const Part& p : kParts) {
    const SevCert& cert = s.*p.cert;
    if (!HasCert(cert)) {
      return Bad(where, p.cert_field, "is missing (a stored identity has OCA, PEK and PDH)");
    }
    if (Status st = cert.Validate(); !st.ok()) {
      return Bad(where, p.cert_field, "is not a valid SEV certificate: " + st.error().message());
    }
    if (cert.pubkey.usage != p.usage) {
      return Bad(where, p.cert_field,
                 "has usage " + UsageText(cert.pubkey.usage) + ", expected " + UsageText(p.usage));
    }
  }
  // The owner flag decides whether the OCA key is here; the PEK and PDH keys always are.
  if (!s.ext_owned && !s.oca) {
    return Bad(where, "oca_key", "is missing: a self-owned platform keeps its OCA key");
  }
  if (s.ext_owned && s.oca) {
    return Bad(where, "oca_key", "must be absent: an externally owned platform has no OCA key");
  }
  for (const Part& p : kParts) {
    const std::optional<crypto::PrivateKey>& key = s.*p.key;
    if (!key) {
      if (p.usage == sev_usage::kOca) continue;
      return Bad(where, p.key_field, "is missing");
    }
    if (key->kind() != crypto::KeyKind::kEcP384) {
      return Bad(where, p.key_field, "must be a P-384 key");
    }
    auto pub = (s.*p.cert).pubkey.ToCrypto();
    if (!pub.ok() || !(*pub == key->Public())) {
      return Bad(where, p.key_field, std::string("does not match ") + p.cert_field);
    }
  }
  // The chain: OCA self-signed, PEK by the OCA and the CEK, PDH by the PEK.
  if (Status st = ValidateSevCert(s.oca_cert, s.oca_cert.pubkey); !st.ok()) {
    return Bad(where, "oca_cert", "is not self-signed: " + st.error().message());
  }
  if (Status st = ValidateSevCert(s.pek_cert, s.oca_cert.pubkey); !st.ok()) {
    return Bad(where, "pek_cert", "is not signed by the OCA: " + st.error().message());
  }
  bool cek_signed = false;
  for (const SevCertSig& slot : s.pek_cert.sigs) cek_signed |= slot.usage == sev_usage::kCek;
  if (!cek_signed) return Bad(where, "pek_cert", "has no CEK signature");
  if (Status st = ValidateSevCert(s.pdh_cert, s.pek_cert.pubkey); !st.ok()) {
    return Bad(where, "pdh_cert", "is not signed by the PEK: " + st.error().message());
  }
  return cek != nullptr ? CheckCekSignature(s, *cek, where) : Status::Ok();
}

Result<SevNvStore> ParseSevNvJson(std::string_view text, const std::string& where) {
  auto parsed = internal::ParseJsonText(text, where);
  if (!parsed.ok()) return parsed.error();
  nlohmann::json j = std::move(parsed).value();
  auto store = ParseFields(j, where);
  WipeStrings(j);
  return store;
}

Result<SecretBytes> SevNvJson(const SevNvStore& s) {
  ordered_json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["ext_owned"] = s.ext_owned;
  for (const Part& p : kParts) {
    if (HasCert(s.*p.cert)) j[p.cert_field] = HexEncode((s.*p.cert).Encode());
  }
  for (const Part& p : kParts) {
    if (!(s.*p.key)) continue;
    auto pem = (s.*p.key)->ToPem();
    if (!pem.ok()) {
      WipeStrings(j);
      return pem.error();
    }
    j[p.key_field] = std::string(pem->data(), pem->data() + pem->size());
  }
  std::string text = j.dump(2);
  WipeStrings(j);
  SecretBytes out(text.size() + 1);
  std::copy(text.begin(), text.end(), out.data());
  out[text.size()] = '\n';
  SecureZero(text.data(), text.size());
  return out;
}

Result<SevNvStore> LoadSevNvStore(const std::string& dir, const crypto::PublicKey* cek) {
  const std::string path = dir + "/" + kSevNvFile;
  if (!PathExists(path)) return SevNvStore{};  // never written: nothing stored yet
  SEVEMU_ASSIGN_OR_RETURN(std::string text, internal::ReadStateText(path, kMaxSevNvFile));
  auto store = ParseSevNvJson(text, path);
  SecureZero(text.data(), text.size());
  if (!store.ok()) return store.error();
  if (cek != nullptr) SEVEMU_RETURN_IF_ERROR(CheckCekSignature(*store, *cek, path));
  return store;
}

Status SaveSevNvStore(const std::string& dir, const SevNvStore& store) {
  const std::string path = dir + "/" + kSevNvFile;
  SEVEMU_RETURN_IF_ERROR(CheckSevNvStore(store, nullptr, path));
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes text, SevNvJson(store));
  return WriteFileAtomic(path, text.span(), 0600, false);
}

Bytes SevNvFingerprint(const SevNvStore& s) {
  Bytes out{static_cast<std::uint8_t>(s.ext_owned)};
  for (const Part& p : kParts) {
    const SevCertBytes b = (s.*p.cert).Encode();
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}

}  // namespace sevemu::emulator
