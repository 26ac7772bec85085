#include "sevemu/crypto/x509.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>

#include <cstring>

#include "key_impl.h"
#include "ossl_util.h"

namespace sevemu::crypto {
using internal::OsslError;

struct Certificate::Impl {
  internal::X509Ptr x509;
};

namespace {

Result<internal::X509NamePtr> BuildName(const DistinguishedName& dn) {
  internal::X509NamePtr name(X509_NAME_new());
  if (!name) return OsslError("X509_NAME_new");
  for (const auto& [attr, value] : dn) {
    // MBSTRING_UTF8 lets OpenSSL's string table choose: PrintableString for C, UTF8String else.
    if (X509_NAME_add_entry_by_txt(name.get(), attr.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return OsslError("bad name attribute " + attr, ErrorCode::kInvalidArgument);
    }
  }
  return name;
}

std::string NameText(const X509_NAME* name) {
  std::string out;
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(e);
    out += "/";
    out += nid != NID_undef ? OBJ_nid2sn(nid) : "?";
    out += "=";
    out.append(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

std::string CommonName(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::string OidText(const ASN1_OBJECT* obj) {
  char buf[128];
  const int n = OBJ_obj2txt(buf, sizeof(buf), obj, 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(std::min<int>(n, sizeof(buf) - 1))) : "";
}

Result<internal::X509ExtPtr> LiteralExtension(const Extension& e) {
  internal::Asn1ObjectPtr obj(OBJ_txt2obj(e.oid.c_str(), 1));
  if (!obj) return OsslError("bad extension OID " + e.oid, ErrorCode::kInvalidArgument);
  internal::Asn1OctetPtr oct(ASN1_OCTET_STRING_new());
  if (!oct ||
      ASN1_OCTET_STRING_set(oct.get(), e.value.data(), static_cast<int>(e.value.size())) != 1) {
    return OsslError("extension value");
  }
  internal::X509ExtPtr ext(
      X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), e.critical ? 1 : 0, oct.get()));
  if (!ext) return OsslError("extension " + e.oid);
  return ext;
}

std::int64_t AsnTimeToEpoch(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&tm));
}

// RSASSA-PSS-params { SHA-384, MGF1(SHA-384), salt 48, trailerField 1 } (RFC 4055), the
// parameter bytes of AMD's ARK/ASK/ASVK certificates.
constexpr std::uint8_t kPssParamsWithTrailer[] = {
    0x30, 0x39, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
    0x02, 0x02, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
    0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
    0x02, 0x02, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01};

Status SetPssAlgorithm(X509_ALGOR* alg) {
  ASN1_STRING* params = ASN1_STRING_new();
  if (params == nullptr ||
      ASN1_STRING_set(params, kPssParamsWithTrailer, sizeof(kPssParamsWithTrailer)) != 1 ||
      X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params) != 1) {
    ASN1_STRING_free(params);
    return OsslError("PSS algorithm identifier");
  }
  return Status::Ok();
}

// Replaces both AlgorithmIdentifiers with the explicit-trailer form and signs the re-encoded
// TBS again. OpenSSL offers no option for the trailer, so the fields are set directly; the
// getters return const only to discourage this, the objects are the certificate's own.
Status ResignWithPssTrailer(X509* x, const PrivateKey& issuer_key) {
  SEVEMU_RETURN_IF_ERROR(SetPssAlgorithm(const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(x))));
  const ASN1_BIT_STRING* sig_const = nullptr;
  const X509_ALGOR* outer = nullptr;
  X509_get0_signature(&sig_const, &outer, x);
  SEVEMU_RETURN_IF_ERROR(SetPssAlgorithm(const_cast<X509_ALGOR*>(outer)));
  unsigned char* tbs = nullptr;
  const int tbs_len = i2d_re_X509_tbs(x, &tbs);
  if (tbs_len <= 0) return OsslError("re-encode TBS");
  auto sig = issuer_key.SignRsaPssSha384({tbs, static_cast<std::size_t>(tbs_len)});
  OPENSSL_free(tbs);
  if (!sig.ok()) return sig.error();
  auto* bits = const_cast<ASN1_BIT_STRING*>(sig_const);
  if (ASN1_BIT_STRING_set(bits, sig->data(), static_cast<int>(sig->size())) != 1) {
    return OsslError("set signature");
  }
  bits->flags = (bits->flags & ~0x07L) | ASN1_STRING_FLAG_BITS_LEFT;  // no unused bits
  return Status::Ok();
}

// True if `alg` is RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48 and trailer 1 (or absent).
bool IsAmdPss(const X509_ALGOR* alg) {
  if (alg == nullptr || OBJ_obj2nid(alg->algorithm) != NID_rsassaPss) return false;
  // Re-derive the parameters the way a verifier does: through the signature's own context.
  RSA_PSS_PARAMS* pss = static_cast<RSA_PSS_PARAMS*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter));
  if (pss == nullptr) return false;
  // The MGF1 hash sits inside maskGenAlgorithm's own parameters.
  X509_ALGOR* mgf1_hash =
      pss->maskGenAlgorithm != nullptr && OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) == NID_mgf1
          ? static_cast<X509_ALGOR*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
                                                               pss->maskGenAlgorithm->parameter))
          : nullptr;
  const bool ok = pss->hashAlgorithm != nullptr &&
                  OBJ_obj2nid(pss->hashAlgorithm->algorithm) == NID_sha384 &&
                  mgf1_hash != nullptr && OBJ_obj2nid(mgf1_hash->algorithm) == NID_sha384 &&
                  pss->saltLength != nullptr && ASN1_INTEGER_get(pss->saltLength) == 48 &&
                  (pss->trailerField == nullptr || ASN1_INTEGER_get(pss->trailerField) == 1);
  X509_ALGOR_free(mgf1_hash);
  RSA_PSS_PARAMS_free(pss);
  return ok;
}

Certificate Wrap(internal::X509Ptr x509) {
  auto impl = std::make_shared<Certificate::Impl>();
  impl->x509 = std::move(x509);
  return Certificate(std::move(impl));
}

}  // namespace

Result<Certificate> Certificate::Sign(const CertificateTemplate& tmpl, const PublicKey& subject_key,
                                      const PrivateKey& issuer_key,
                                      const Certificate* issuer_cert) {
  internal::X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) return OsslError("X509_new");
  internal::Asn1IntegerPtr serial(ASN1_INTEGER_new());
  if (!serial || ASN1_INTEGER_set_uint64(serial.get(), tmpl.serial) != 1 ||
      X509_set_serialNumber(x.get(), serial.get()) != 1) {
    return OsslError("serial number");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto subject, BuildName(tmpl.subject));
  SEVEMU_ASSIGN_OR_RETURN(auto issuer, BuildName(tmpl.issuer));
  if (X509_set_subject_name(x.get(), subject.get()) != 1 ||
      X509_set_issuer_name(x.get(), issuer.get()) != 1) {
    return OsslError("names");
  }
  if (tmpl.not_after <= tmpl.not_before) {
    return Error(ErrorCode::kInvalidArgument, "certificate validity ends before it starts");
  }
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime after (RFC 5280 4.1.2.5).
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(tmpl.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(tmpl.not_after)) == nullptr) {
    return OsslError("validity");
  }
  if (X509_set_pubkey(x.get(), subject_key.impl().pkey.get()) != 1) return OsslError("pubkey");

  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, issuer_cert != nullptr ? issuer_cert->impl_->x509.get() : x.get(), x.get(),
                 nullptr, nullptr, 0);
  for (const auto& entry : tmpl.extensions) {
    internal::X509ExtPtr ext;
    if (entry.conf_name.empty()) {
      SEVEMU_ASSIGN_OR_RETURN(ext, LiteralExtension(entry.literal));
    } else {
      ext.reset(X509V3_EXT_nconf(nullptr, &v3, entry.conf_name.c_str(), entry.conf_value.c_str()));
      if (!ext) {
        return OsslError("extension " + entry.conf_name + "=" + entry.conf_value,
                         ErrorCode::kInvalidArgument);
      }
    }
    if (X509_add_ext(x.get(), ext.get(), -1) != 1) return OsslError("X509_add_ext");
  }

  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestSignInit_ex(md.get(), &pctx, "SHA384", nullptr, nullptr,
                                   issuer_key.impl().pkey.get(), nullptr) != 1) {
    return OsslError("certificate signing init");
  }
  if (issuer_key.kind() != KeyKind::kRsa) {
    return Error(ErrorCode::kInvalidKey, "AMD certificates are signed with RSA keys");
  }
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", nullptr) != 1 ||
      X509_sign_ctx(x.get(), md.get()) <= 0) {
    return OsslError("certificate signing");
  }
  if (tmpl.explicit_pss_trailer) SEVEMU_RETURN_IF_ERROR(ResignWithPssTrailer(x.get(), issuer_key));
  return Wrap(std::move(x));
}

Result<Certificate> Certificate::FromDer(ByteSpan der) {
  const unsigned char* p = der.data();
  X509* raw = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr || p != der.data() + der.size()) {
    X509_free(raw);
    return OsslError("malformed DER certificate", ErrorCode::kInvalidArgument);
  }
  return Wrap(internal::X509Ptr(raw));
}

Result<std::vector<Certificate>> Certificate::AllFromPem(std::string_view pem) {
  internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OsslError("BIO_new_mem_buf");
  std::vector<Certificate> out;
  while (true) {
    X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (raw == nullptr) break;
    out.push_back(Wrap(internal::X509Ptr(raw)));
  }
  // PEM_read_bio_X509 ends with "no start line" at EOF; anything else means a damaged block.
  const unsigned long err = ERR_peek_last_error();
  const bool clean_eof = ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  ERR_clear_error();
  if (out.empty()) return Error(ErrorCode::kInvalidArgument, "no PEM certificate found");
  if (err != 0 && !clean_eof) {
    return Error(ErrorCode::kInvalidArgument, "damaged PEM certificate block");
  }
  return out;
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  SEVEMU_ASSIGN_OR_RETURN(auto all, AllFromPem(pem));
  if (all.size() != 1) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected one PEM certificate, found " + std::to_string(all.size()));
  }
  return all.front();
}

Result<Bytes> Certificate::ToDer() const {
  return internal::ToDerBytes<X509>(impl_->x509.get(), i2d_X509, "i2d_X509");
}

Result<std::string> Certificate::ToPem() const {
  return internal::ToPemString(
      [this](BIO* bio) { return PEM_write_bio_X509(bio, impl_->x509.get()); },
      "PEM_write_bio_X509");
}

int Certificate::version() const {
  return static_cast<int>(X509_get_version(impl_->x509.get())) + 1;
}

Bytes Certificate::SerialBigEndian() const {
  const ASN1_INTEGER* s = X509_get0_serialNumber(impl_->x509.get());
  return Bytes(ASN1_STRING_get0_data(s), ASN1_STRING_get0_data(s) + ASN1_STRING_length(s));
}

std::string Certificate::SubjectCommonName() const {
  return CommonName(X509_get_subject_name(impl_->x509.get()));
}
std::string Certificate::IssuerCommonName() const {
  return CommonName(X509_get_issuer_name(impl_->x509.get()));
}
std::string Certificate::SubjectText() const {
  return NameText(X509_get_subject_name(impl_->x509.get()));
}
std::string Certificate::IssuerText() const {
  return NameText(X509_get_issuer_name(impl_->x509.get()));
}
std::int64_t Certificate::NotBefore() const {
  return AsnTimeToEpoch(X509_get0_notBefore(impl_->x509.get()));
}
std::int64_t Certificate::NotAfter() const {
  return AsnTimeToEpoch(X509_get0_notAfter(impl_->x509.get()));
}

Result<PublicKey> Certificate::SubjectPublicKey() const {
  SEVEMU_ASSIGN_OR_RETURN(
      Bytes spki, internal::ToDerBytes<X509_PUBKEY>(X509_get_X509_PUBKEY(impl_->x509.get()),
                                                    i2d_X509_PUBKEY, "certificate public key"));
  return PublicKey::FromDer(spki);
}

std::vector<Extension> Certificate::Extensions() const {
  std::vector<Extension> out;
  const X509* x = impl_->x509.get();
  for (int i = 0; i < X509_get_ext_count(x); ++i) {
    // OpenSSL 3.0 getters take non-const pointers but do not modify.
    X509_EXTENSION* e = const_cast<X509_EXTENSION*>(X509_get_ext(x, i));
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(e);
    out.push_back(
        {OidText(X509_EXTENSION_get_object(e)), X509_EXTENSION_get_critical(e) == 1,
         Bytes(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v))});
  }
  return out;
}

std::optional<Extension> Certificate::FindExtension(std::string_view oid) const {
  for (auto& e : Extensions()) {
    if (e.oid == oid) return e;
  }
  return std::nullopt;
}

bool Certificate::HasAmdPssSignature() const {
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(nullptr, &alg, impl_->x509.get());
  return IsAmdPss(alg);
}

Status Certificate::VerifySignedBy(const PublicKey& issuer) const {
  if (X509_verify(impl_->x509.get(), issuer.impl().pkey.get()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed,
                 "certificate '" + SubjectCommonName() + "' is not signed by the given key");
  }
  return Status::Ok();
}

Bytes DerInteger(std::uint64_t value) {
  // Big-endian, minimal, with a leading zero when the top bit is set (X.690 8.3).
  std::uint8_t be[9] = {};
  int n = 0;
  do {
    be[8 - n++] = static_cast<std::uint8_t>(value & 0xFF);
    value >>= 8;
  } while (value != 0);
  if (be[9 - n] & 0x80) be[8 - n++] = 0x00;
  Bytes out(2 + static_cast<std::size_t>(n));
  out[0] = 0x02;
  out[1] = static_cast<std::uint8_t>(n);
  std::copy(be + 9 - n, be + 9, out.begin() + 2);
  return out;
}

Result<Bytes> DerIa5String(std::string_view value) {
  if (value.size() > 127) return Error(ErrorCode::kInvalidArgument, "IA5String too long");
  for (char c : value) {
    if (static_cast<unsigned char>(c) > 0x7F) {
      return Error(ErrorCode::kInvalidArgument, "IA5String must be ASCII");
    }
  }
  Bytes out{0x16, static_cast<std::uint8_t>(value.size())};
  out.insert(out.end(), value.begin(), value.end());
  return out;
}

// ---- certificate revocation lists ----

using X509CrlPtr = internal::OsslPtr<X509_CRL, X509_CRL_free>;
using X509RevokedPtr = internal::OsslPtr<X509_REVOKED, X509_REVOKED_free>;
using Asn1TimePtr = internal::OsslPtr<ASN1_TIME, ASN1_TIME_free>;

struct Crl::Impl {
  X509CrlPtr crl;
};

namespace {

Crl WrapCrl(X509CrlPtr crl) {
  auto impl = std::make_shared<Crl::Impl>();
  impl->crl = std::move(crl);
  return Crl(std::move(impl));
}

Result<Asn1TimePtr> AsnTime(std::int64_t t) {
  Asn1TimePtr out(ASN1_TIME_new());
  if (!out || ASN1_TIME_set(out.get(), static_cast<time_t>(t)) == nullptr) {
    return OsslError("CRL time");
  }
  return out;
}

Result<internal::Asn1IntegerPtr> AsnInteger(std::uint64_t v) {
  internal::Asn1IntegerPtr out(ASN1_INTEGER_new());
  if (!out || ASN1_INTEGER_set_uint64(out.get(), v) != 1) return OsslError("CRL integer");
  return out;
}

}  // namespace

Result<Crl> Crl::Sign(const CrlTemplate& tmpl, const Certificate& issuer_cert,
                      const PrivateKey& issuer_key) {
  if (tmpl.next_update <= tmpl.this_update) {
    return Error(ErrorCode::kInvalidArgument, "CRL nextUpdate is not after thisUpdate");
  }
  if (issuer_key.kind() != KeyKind::kRsa) {
    return Error(ErrorCode::kInvalidKey, "AMD CRLs are signed with RSA keys");
  }
  X509* issuer = issuer_cert.impl().x509.get();
  if (X509_check_private_key(issuer, issuer_key.impl().pkey.get()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kInvalidKey, "CRL signing key does not match the issuer certificate");
  }
  X509CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1) {
    return OsslError("X509_CRL_new");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto this_update, AsnTime(tmpl.this_update));
  SEVEMU_ASSIGN_OR_RETURN(auto next_update, AsnTime(tmpl.next_update));
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
    return OsslError("CRL validity");
  }
  for (const auto& r : tmpl.revoked) {
    X509RevokedPtr entry(X509_REVOKED_new());
    SEVEMU_ASSIGN_OR_RETURN(auto serial, AsnInteger(r.serial));
    SEVEMU_ASSIGN_OR_RETURN(auto when, AsnTime(r.revoked_at));
    if (!entry || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return OsslError("CRL entry");
    }
    entry.release();  // owned by the CRL now
  }
  if (X509_CRL_sort(crl.get()) != 1) return OsslError("X509_CRL_sort");

  // RFC 5280 5.2.1 and 5.2.3: authorityKeyIdentifier, then cRLNumber, both non-critical.
  X509V3_CTX v3{};
  X509V3_set_ctx(&v3, issuer, nullptr, nullptr, crl.get(), 0);
  internal::X509ExtPtr aki(
      X509V3_EXT_nconf(nullptr, &v3, "authorityKeyIdentifier", "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
    return OsslError("CRL authorityKeyIdentifier (issuer needs a subjectKeyIdentifier)",
                     ErrorCode::kInvalidArgument);
  }
  SEVEMU_ASSIGN_OR_RETURN(auto number, AsnInteger(tmpl.crl_number));
  if (X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
    return OsslError("CRL number");
  }

  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md ||
      EVP_DigestSignInit_ex(md.get(), &pctx, "SHA384", nullptr, nullptr,
                            issuer_key.impl().pkey.get(), nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", nullptr) != 1 ||
      X509_CRL_sign_ctx(crl.get(), md.get()) <= 0) {
    return OsslError("CRL signing");
  }
  return WrapCrl(std::move(crl));
}

Result<Crl> Crl::FromDer(ByteSpan der) {
  const unsigned char* p = der.data();
  X509_CRL* raw = d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()));
  if (raw == nullptr || p != der.data() + der.size()) {
    X509_CRL_free(raw);
    return OsslError("malformed DER CRL", ErrorCode::kInvalidArgument);
  }
  return WrapCrl(X509CrlPtr(raw));
}

Result<Bytes> Crl::ToDer() const {
  return internal::ToDerBytes<X509_CRL>(impl_->crl.get(), i2d_X509_CRL, "i2d_X509_CRL");
}

Result<std::string> Crl::ToPem() const {
  return internal::ToPemString(
      [this](BIO* bio) { return PEM_write_bio_X509_CRL(bio, impl_->crl.get()); },
      "PEM_write_bio_X509_CRL");
}

int Crl::version() const {
  return static_cast<int>(X509_CRL_get_version(impl_->crl.get())) + 1;
}

std::string Crl::IssuerText() const {
  return NameText(X509_CRL_get_issuer(impl_->crl.get()));
}

std::int64_t Crl::ThisUpdate() const {
  return AsnTimeToEpoch(X509_CRL_get0_lastUpdate(impl_->crl.get()));
}

std::int64_t Crl::NextUpdate() const {
  const ASN1_TIME* t = X509_CRL_get0_nextUpdate(impl_->crl.get());
  return t == nullptr ? 0 : AsnTimeToEpoch(t);
}

std::vector<Bytes> Crl::RevokedSerials() const {
  std::vector<Bytes> out;
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(impl_->crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const ASN1_INTEGER* s = X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i));
    out.emplace_back(ASN1_STRING_get0_data(s), ASN1_STRING_get0_data(s) + ASN1_STRING_length(s));
  }
  return out;
}

std::vector<Extension> Crl::Extensions() const {
  std::vector<Extension> out;
  const X509_CRL* c = impl_->crl.get();
  for (int i = 0; i < X509_CRL_get_ext_count(c); ++i) {
    X509_EXTENSION* e = X509_CRL_get_ext(c, i);
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(e);
    out.push_back(
        {OidText(X509_EXTENSION_get_object(e)), X509_EXTENSION_get_critical(e) == 1,
         Bytes(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v))});
  }
  return out;
}

bool Crl::HasAmdPssSignature() const {
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(impl_->crl.get(), nullptr, &alg);
  return IsAmdPss(alg);
}

Status Crl::VerifySignedBy(const PublicKey& issuer) const {
  if (X509_CRL_verify(impl_->crl.get(), issuer.impl().pkey.get()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed, "CRL is not signed by the given key");
  }
  return Status::Ok();
}

Status VerifyChain(const std::vector<Certificate>& leaf_to_root, std::int64_t at) {
  if (leaf_to_root.empty()) return Error(ErrorCode::kInvalidArgument, "empty chain");
  using StorePtr = internal::OsslPtr<X509_STORE, X509_STORE_free>;
  using StoreCtxPtr = internal::OsslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
  using StackPtr = std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)>;
  StorePtr store(X509_STORE_new());
  StackPtr untrusted(sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return OsslError("X509 store");
  const auto& root = leaf_to_root.back();
  if (X509_STORE_add_cert(store.get(), root.impl().x509.get()) != 1) {
    return OsslError("add trusted root");
  }
  for (std::size_t i = 1; i + 1 < leaf_to_root.size(); ++i) {
    sk_X509_push(untrusted.get(), leaf_to_root[i].impl().x509.get());
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf_to_root.front().impl().x509.get(),
                          untrusted.get()) != 1) {
    return OsslError("X509_STORE_CTX_init");
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at));
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed,
                 std::string("chain does not verify: ") + X509_verify_cert_error_string(err));
  }
  return Status::Ok();
}

}  // namespace sevemu::crypto
