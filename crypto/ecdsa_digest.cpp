#include "sevemu/crypto/ecdsa_digest.h"

#include "key_impl.h"
#include "ossl_util.h"

namespace sevemu::crypto {
using internal::OsslError;

namespace {
const char* DigestName(HashAlg alg) {
  return alg == HashAlg::kSha256 ? "SHA256" : "SHA384";
}
}  // namespace

Result<EcdsaP384Signature> SignEcdsaP384(const PrivateKey& key, HashAlg digest, ByteSpan message) {
  if (key.kind() != KeyKind::kEcP384) return Error(ErrorCode::kInvalidKey, "not a P-384 key");
  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_DigestSignInit_ex(md.get(), nullptr, DigestName(digest), nullptr, nullptr,
                                   key.impl().pkey.get(), nullptr) != 1) {
    return OsslError("ECDSA sign init");
  }
  std::size_t len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return OsslError("ECDSA sign");
  }
  Bytes der(len);
  if (EVP_DigestSign(md.get(), der.data(), &len, message.data(), message.size()) != 1) {
    return OsslError("ECDSA sign");
  }
  der.resize(len);
  return EcdsaP384Signature::FromDer(der);
}

Status VerifyEcdsaP384(const PublicKey& key, HashAlg digest, ByteSpan message,
                       const EcdsaP384Signature& sig) {
  if (key.kind() != KeyKind::kEcP384) return Error(ErrorCode::kInvalidKey, "not a P-384 key");
  SEVEMU_ASSIGN_OR_RETURN(Bytes der, sig.ToDer());
  internal::EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit_ex(md.get(), nullptr, DigestName(digest), nullptr, nullptr,
                                     key.impl().pkey.get(), nullptr) != 1) {
    return OsslError("ECDSA verify init");
  }
  if (EVP_DigestVerify(md.get(), der.data(), der.size(), message.data(), message.size()) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed, "ECDSA P-384 signature does not verify");
  }
  return Status::Ok();
}

}  // namespace sevemu::crypto
