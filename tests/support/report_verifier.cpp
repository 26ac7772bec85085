#include "report_verifier.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace sevemu::test {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr LoadPem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return X509Ptr(x, X509_free);
}

// The raw value of extension `oid` (its extnValue content), or empty.
std::vector<std::uint8_t> Ext(X509* x, const char* oid) {
  ASN1_OBJECT* obj = OBJ_txt2obj(oid, 1);
  const int idx = X509_get_ext_by_OBJ(x, obj, -1);
  ASN1_OBJECT_free(obj);
  if (idx < 0) return {};
  ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
  return {ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v)};
}

// The last byte of a DER INTEGER extension: SPLs are small non-negative integers.
int Spl(X509* x, const char* oid) {
  const auto v = Ext(x, oid);
  if (v.size() < 3 || v[0] != 0x02 || v[1] + 2u != v.size()) return -1;
  return v.back();
}

}  // namespace

ReportCheck VerifyAttestationReport(const std::vector<std::uint8_t>& report,
                                    const std::string& leaf_pem,
                                    const std::string& intermediate_pem, const std::string& ark_pem,
                                    long long at) {
  if (report.size() != 0x4A0) return {false, "report is not 0x4A0 bytes"};
  X509Ptr leaf = LoadPem(leaf_pem), mid = LoadPem(intermediate_pem), ark = LoadPem(ark_pem);
  if (!leaf || !mid || !ark) return {false, "unreadable certificate"};

  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ark.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, mid.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf.get(), untrusted);
  X509_STORE_CTX_set_time(ctx, 0, static_cast<time_t>(at));
  const bool chain_ok = X509_verify_cert(ctx) == 1;
  const std::string chain_err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  if (!chain_ok) return {false, "chain: " + chain_err};

  // ECDSA signature: r and s are 72-byte little-endian fields; 48 significant bytes.
  std::uint8_t r_be[48], s_be[48];
  std::reverse_copy(report.begin() + 0x2A0, report.begin() + 0x2A0 + 48, r_be);
  std::reverse_copy(report.begin() + 0x2E8, report.begin() + 0x2E8 + 48, s_be);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(r_be, 48, nullptr), BN_bin2bn(s_be, 48, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_PKEY* pub = X509_get0_pubkey(leaf.get());
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  const bool sig_ok =
      der_len > 0 && pub != nullptr &&
      EVP_DigestVerifyInit_ex(md, nullptr, "SHA384", nullptr, nullptr, pub, nullptr) == 1 &&
      EVP_DigestVerify(md, der, static_cast<std::size_t>(der_len), report.data(), 0x2A0) == 1;
  EVP_MD_CTX_free(md);
  OPENSSL_free(der);
  if (!sig_ok) return {false, "report signature does not verify"};

  // A VCEK must speak for this report's REPORTED_TCB and CHIP_ID (Milan/Genoa TCB layout).
  const auto hwid = Ext(leaf.get(), "1.3.6.1.4.1.3704.1.4");
  if (!hwid.empty()) {
    const std::uint8_t* tcb = report.data() + 0x180;
    if (Spl(leaf.get(), "1.3.6.1.4.1.3704.1.3.1") != tcb[0] ||
        Spl(leaf.get(), "1.3.6.1.4.1.3704.1.3.2") != tcb[1] ||
        Spl(leaf.get(), "1.3.6.1.4.1.3704.1.3.3") != tcb[6] ||
        Spl(leaf.get(), "1.3.6.1.4.1.3704.1.3.8") != tcb[7]) {
      return {false, "VCEK TCB extensions differ from the report's REPORTED_TCB"};
    }
    if (!std::equal(hwid.begin(), hwid.end(), report.begin() + 0x1A0)) {
      return {false, "VCEK hwID differs from the report's CHIP_ID"};
    }
  }
  return {true, ""};
}

}  // namespace sevemu::test
