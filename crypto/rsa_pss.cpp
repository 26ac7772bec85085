#include "sevemu/crypto/rsa_pss.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "key_impl.h"
#include "ossl_util.h"

namespace sevemu::crypto {
using internal::OsslError;

namespace {

const char* DigestName(HashAlg alg) {
  return alg == HashAlg::kSha256 ? "SHA256" : "SHA384";
}

Status SetPss(EVP_PKEY_CTX* pctx, HashAlg digest) {
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, static_cast<int>(DigestSize(digest))) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, DigestName(digest), nullptr) != 1) {
    return OsslError("RSA-PSS parameters");
  }
  return Status::Ok();
}

}  // namespace

Result<PublicKey> RsaPublicKeyFromComponents(ByteSpan modulus, ByteSpan exponent) {
  internal::BnPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  internal::BnPtr e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  if (!n || !e) return OsslError("RSA components");
  const int bits = BN_num_bits(n.get());
  if (bits < 2048 || bits > 4096 || !BN_is_odd(n.get())) {
    return Error(ErrorCode::kInvalidKey, "RSA modulus must be odd and 2048..4096 bits");
  }
  if (!BN_is_odd(e.get()) || BN_num_bits(e.get()) < 2 || BN_cmp(e.get(), n.get()) >= 0) {
    return Error(ErrorCode::kInvalidKey, "RSA public exponent must be odd, >= 3 and below n");
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) != 1 ||
      (params = OSSL_PARAM_BLD_to_param(bld)) == nullptr) {
    OSSL_PARAM_BLD_free(bld);
    return OsslError("RSA key parameters");
  }
  OSSL_PARAM_BLD_free(bld);
  internal::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  const bool ok = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                  EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  if (!ok) return OsslError("RSA public key import", ErrorCode::kInvalidKey);
  auto impl = std::make_shared<PublicKey::Impl>();
  impl->pkey = internal::EvpPkeyPtr(raw);
  return PublicKey(std::move(impl));
}

Result<Bytes> SignRsaPss(const PrivateKey& key, HashAlg digest, ByteSpan message) {
  if (key.kind() != KeyKind::kRsa) return Error(ErrorCode::kInvalidKey, "not an RSA key");
  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestSignInit_ex(md.get(), &pctx, DigestName(digest), nullptr, nullptr,
                                   key.impl().pkey.get(), nullptr) != 1) {
    return OsslError("RSA-PSS sign init");
  }
  SEVEMU_RETURN_IF_ERROR(SetPss(pctx, digest));
  std::size_t len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return OsslError("RSA-PSS sign");
  }
  Bytes sig(len);
  if (EVP_DigestSign(md.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return OsslError("RSA-PSS sign");
  }
  sig.resize(len);
  return sig;
}

Status VerifyRsaPss(const PublicKey& key, HashAlg digest, ByteSpan message, ByteSpan signature) {
  if (key.kind() != KeyKind::kRsa) return Error(ErrorCode::kInvalidKey, "not an RSA key");
  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!md || EVP_DigestVerifyInit_ex(md.get(), &pctx, DigestName(digest), nullptr, nullptr,
                                     key.impl().pkey.get(), nullptr) != 1) {
    return OsslError("RSA-PSS verify init");
  }
  SEVEMU_RETURN_IF_ERROR(SetPss(pctx, digest));
  if (EVP_DigestVerify(md.get(), signature.data(), signature.size(), message.data(),
                       message.size()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed, "RSA-PSS signature does not verify");
  }
  return Status::Ok();
}

}  // namespace sevemu::crypto
