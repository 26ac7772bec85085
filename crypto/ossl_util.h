// Private to crypto/: RAII owners for OpenSSL objects and error capture.
// No header outside crypto/ includes OpenSSL.
#pragma once

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto::internal {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

template <typename T, auto Fn>
using OsslPtr = std::unique_ptr<T, Deleter<Fn>>;

using EvpPkeyPtr = OsslPtr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = OsslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = OsslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EvpCipherCtxPtr = OsslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using EvpMacPtr = OsslPtr<EVP_MAC, EVP_MAC_free>;
using EvpMacCtxPtr = OsslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using EvpKdfPtr = OsslPtr<EVP_KDF, EVP_KDF_free>;
using EvpKdfCtxPtr = OsslPtr<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using EvpCipherPtr = OsslPtr<EVP_CIPHER, EVP_CIPHER_free>;
using EvpMdPtr = OsslPtr<EVP_MD, EVP_MD_free>;
using BnPtr = OsslPtr<BIGNUM, BN_clear_free>;
using BnCtxPtr = OsslPtr<BN_CTX, BN_CTX_free>;
using EcGroupPtr = OsslPtr<EC_GROUP, EC_GROUP_free>;
using EcPointPtr = OsslPtr<EC_POINT, EC_POINT_clear_free>;
using X509Ptr = OsslPtr<X509, X509_free>;
using X509NamePtr = OsslPtr<X509_NAME, X509_NAME_free>;
using X509ExtPtr = OsslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using Asn1ObjectPtr = OsslPtr<ASN1_OBJECT, ASN1_OBJECT_free>;
using Asn1OctetPtr = OsslPtr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using Asn1IntegerPtr = OsslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using BioPtr = OsslPtr<BIO, BIO_free_all>;

// The default provider's algorithm `name`, fetched once per process and shared (fetched.cpp);
// nullptr if the provider has none. The caller must not free it.
const EVP_MD* FetchedMd(const char* name);
const EVP_CIPHER* FetchedCipher(const char* name);
EVP_MAC* FetchedMac(const char* name);

// An Error carrying `what` and the first queued OpenSSL reason (the queue is then cleared).
// OpenSSL reasons never contain key material.
inline Error OsslError(const std::string& what, ErrorCode code = ErrorCode::kCrypto) {
  const unsigned long e = ERR_get_error();
  std::string msg = what;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += " (" + std::string(buf) + ")";
  }
  ERR_clear_error();
  return Error(code, msg);
}

// DER of an OpenSSL object through its i2d_* function.
template <typename T>
Result<Bytes> ToDerBytes(const T* obj, int (*i2d)(const T*, unsigned char**), const char* what) {
  unsigned char* der = nullptr;
  const int len = i2d(obj, &der);
  if (len <= 0) return OsslError(what);
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// PEM text written by `write` (a PEM_write_bio_* call) into a memory BIO.
template <typename Write>
Result<std::string> ToPemString(Write write, const char* what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OsslError(what);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace sevemu::crypto::internal
