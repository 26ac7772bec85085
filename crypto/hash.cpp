#include "sevemu/crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include "ossl_util.h"

namespace sevemu::crypto {
using internal::OsslError;

namespace {
const char* MdName(HashAlg alg) {
  return alg == HashAlg::kSha256 ? "SHA256" : "SHA384";
}
}  // namespace

struct Hasher::Impl {
  internal::EvpMdCtxPtr ctx;
  HashAlg alg;
  bool finished = false;
};

Result<Hasher> Hasher::Create(HashAlg alg) {
  const EVP_MD* md = internal::FetchedMd(MdName(alg));
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (md == nullptr || !ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) {
    return OsslError("digest init");
  }
  auto impl = std::make_shared<Impl>();
  impl->ctx = std::move(ctx);
  impl->alg = alg;
  return Hasher(std::move(impl));
}

Status Hasher::Update(ByteSpan data) {
  if (impl_->finished) return Error(ErrorCode::kInvalidArgument, "hasher already finished");
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) {
    return OsslError("digest update");
  }
  return Status::Ok();
}

Result<Bytes> Hasher::Finish() {
  if (impl_->finished) return Error(ErrorCode::kInvalidArgument, "hasher already finished");
  impl_->finished = true;
  Bytes out(DigestSize(impl_->alg));
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    return OsslError("digest final");
  }
  return out;
}

Result<Hasher> Hasher::Clone() const {
  internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), impl_->ctx.get()) != 1) return OsslError("digest copy");
  auto impl = std::make_shared<Impl>();
  impl->ctx = std::move(ctx);
  impl->alg = impl_->alg;
  impl->finished = impl_->finished;
  return Hasher(std::move(impl));
}

Result<Bytes> Hash(HashAlg alg, ByteSpan data) {
  // One shot with the method fetched once (fetched.cpp): the fetch cost more than hashing the
  // short inputs hashed most (hash sticks, 48 bytes, a thousand per key derivation). OpenSSL
  // 3.0's SHA384() would fetch by name on every call.
  const EVP_MD* md = internal::FetchedMd(MdName(alg));
  if (md == nullptr) return OsslError("digest fetch");
  Bytes out(DigestSize(alg));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != out.size()) {
    return OsslError("digest");
  }
  return out;
}

Result<SecretBytes> Hmac(HashAlg alg, ByteSpan key, ByteSpan data) {
  EVP_MAC* mac = internal::FetchedMac("HMAC");
  if (mac == nullptr) return OsslError("HMAC fetch");
  internal::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac));
  if (!ctx) return OsslError("HMAC context");
  char digest[8];
  std::snprintf(digest, sizeof(digest), "%s", MdName(alg));
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  // OpenSSL rejects a NULL key pointer even for a zero-length key.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* key_ptr = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx.get(), key_ptr, key.size(), params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    return OsslError("HMAC");
  }
  SecretBytes out(DigestSize(alg));
  std::size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    return OsslError("HMAC final");
  }
  return out;
}

}  // namespace sevemu::crypto
