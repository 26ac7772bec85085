#include "sevemu/crypto/aes.h"

#include <climits>

#include "ossl_util.h"

namespace sevemu::crypto {
using internal::OsslError;

namespace {

Result<const EVP_CIPHER*> FetchCipher(const char* name) {
  const EVP_CIPHER* c = internal::FetchedCipher(name);
  if (c == nullptr) return OsslError(std::string("cipher fetch ") + name);
  return c;
}

Error BadSize(const char* what, std::size_t got) {
  return Error(ErrorCode::kInvalidArgument,
               std::string(what) + " has wrong size " + std::to_string(got));
}

// One-shot CTR/XTS pass (no padding, no tag).
Result<Bytes> Crypt(const char* cipher_name, ByteSpan key, ByteSpan iv, ByteSpan data,
                    bool encrypt) {
  if (data.size() > INT_MAX) return Error(ErrorCode::kInvalidArgument, "data too large");
  SEVEMU_ASSIGN_OR_RETURN(auto cipher, FetchCipher(cipher_name));
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_CipherInit_ex2(ctx.get(), cipher, key.data(), iv.data(), encrypt ? 1 : 0, nullptr) != 1) {
    return OsslError(std::string(cipher_name) + " init", ErrorCode::kInvalidKey);
  }
  EVP_CIPHER_CTX_set_padding(ctx.get(), 0);
  Bytes out(data.size() + kAesBlockSize);
  int len = 0, fin = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, data.data(), static_cast<int>(data.size())) !=
          1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin) != 1) {
    return OsslError(cipher_name);
  }
  out.resize(static_cast<std::size_t>(len + fin));
  return out;
}

Result<Bytes> Xts(ByteSpan key, ByteSpan tweak, ByteSpan data, bool encrypt) {
  const char* name = key.size() == 32 ? "AES-128-XTS" : key.size() == 64 ? "AES-256-XTS" : nullptr;
  if (name == nullptr) return BadSize("AES-XTS key", key.size());
  if (tweak.size() != kAesBlockSize) return BadSize("AES-XTS tweak", tweak.size());
  if (data.size() < kAesBlockSize) {
    return Error(ErrorCode::kInvalidArgument, "AES-XTS data shorter than one block");
  }
  return Crypt(name, key, tweak, data, encrypt);
}

}  // namespace

Result<Bytes> Aes128Ctr(ByteSpan key, ByteSpan iv, ByteSpan data) {
  if (key.size() != 16) return BadSize("AES-128-CTR key", key.size());
  if (iv.size() != kAesBlockSize) return BadSize("AES-128-CTR IV", iv.size());
  return Crypt("AES-128-CTR", key, iv, data, true);
}

Result<Bytes> AesXtsEncrypt(ByteSpan key, ByteSpan tweak, ByteSpan data) {
  return Xts(key, tweak, data, true);
}
Result<Bytes> AesXtsDecrypt(ByteSpan key, ByteSpan tweak, ByteSpan data) {
  return Xts(key, tweak, data, false);
}

Result<GcmSealed> Aes256GcmSeal(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext) {
  if (key.size() != 32) return BadSize("AES-256-GCM key", key.size());
  if (iv.size() != kGcmIvSize) return BadSize("AES-256-GCM IV", iv.size());
  if (plaintext.size() > INT_MAX || aad.size() > INT_MAX) {
    return Error(ErrorCode::kInvalidArgument, "AES-256-GCM input too large");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto cipher, FetchCipher("AES-256-GCM"));
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  GcmSealed out;
  out.ciphertext.resize(plaintext.size() + kAesBlockSize);
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), cipher, key.data(), iv.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1)) {
    return OsslError("AES-256-GCM init");
  }
  int ct_len = 0, fin = 0;
  if (EVP_EncryptUpdate(ctx.get(), out.ciphertext.data(), &ct_len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.ciphertext.data() + ct_len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, out.tag.data()) != 1) {
    return OsslError("AES-256-GCM seal");
  }
  out.ciphertext.resize(static_cast<std::size_t>(ct_len + fin));
  return out;
}

Result<SecretBytes> Aes256GcmOpen(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                                  ByteSpan tag) {
  if (key.size() != 32) return BadSize("AES-256-GCM key", key.size());
  if (iv.size() != kGcmIvSize) return BadSize("AES-256-GCM IV", iv.size());
  if (tag.size() != kGcmTagSize) return BadSize("AES-256-GCM tag", tag.size());
  if (ciphertext.size() > INT_MAX || aad.size() > INT_MAX) {
    return Error(ErrorCode::kInvalidArgument, "AES-256-GCM input too large");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto cipher, FetchCipher("AES-256-GCM"));
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), cipher, key.data(), iv.data(), nullptr) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1)) {
    return OsslError("AES-256-GCM init");
  }
  SecretBytes pt(ciphertext.size() + kAesBlockSize);
  int pt_len = 0, fin = 0;
  if (EVP_DecryptUpdate(ctx.get(), pt.data(), &pt_len, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize,
                          const_cast<std::uint8_t*>(tag.data())) != 1) {
    return OsslError("AES-256-GCM open");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), pt.data() + pt_len, &fin) != 1) {
    ERR_clear_error();
    return Error(ErrorCode::kAuthFailed, "AES-256-GCM tag mismatch");
  }
  SecretBytes exact(ByteSpan(pt.data(), static_cast<std::size_t>(pt_len + fin)));
  return exact;
}

}  // namespace sevemu::crypto
