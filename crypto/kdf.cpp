#include "sevemu/crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>
#include <limits>

#include "ossl_util.h"
#include "sevemu/crypto/hash.h"

namespace sevemu::crypto {
using internal::OsslError;

Result<SecretBytes> KbkdfCounterHmacSha256(ByteSpan key, ByteSpan fixed_input, std::size_t out_len,
                                           Endian counter_endian) {
  if (out_len == 0) return Error(ErrorCode::kInvalidArgument, "KDF output length is zero");
  const std::size_t blocks = (out_len + kSha256Size - 1) / kSha256Size;
  if (blocks > std::numeric_limits<std::uint32_t>::max()) {
    return Error(ErrorCode::kInvalidArgument, "KDF output length too large");
  }
  SecretBytes out(out_len);
  SecretBytes input(4 + fixed_input.size());
  if (!fixed_input.empty()) std::memcpy(input.data() + 4, fixed_input.data(), fixed_input.size());
  std::size_t done = 0;
  for (std::uint32_t i = 1; done < out_len; ++i) {
    if (counter_endian == Endian::kLittle) {
      StoreLe32(input.data(), i);
    } else {
      for (int b = 0; b < 4; ++b) input[b] = static_cast<std::uint8_t>(i >> (24 - 8 * b));
    }
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes block, Hmac(HashAlg::kSha256, key, input.span()));
    const std::size_t take = std::min(block.size(), out_len - done);
    std::memcpy(out.data() + done, block.data(), take);
    done += take;
  }
  return out;
}

Result<SecretBytes> SevKdf(ByteSpan key, std::string_view label, ByteSpan context,
                           std::size_t out_len) {
  if (out_len == 0 || out_len > (std::numeric_limits<std::uint32_t>::max() / 8)) {
    return Error(ErrorCode::kInvalidArgument, "KDF output length out of range");
  }
  Bytes fixed;
  fixed.reserve(label.size() + 1 + context.size() + 4);
  fixed.insert(fixed.end(), label.begin(), label.end());
  fixed.push_back(0x00);
  fixed.insert(fixed.end(), context.begin(), context.end());
  std::uint8_t l_bits[4];
  StoreLe32(l_bits, static_cast<std::uint32_t>(out_len * 8));
  fixed.insert(fixed.end(), l_bits, l_bits + 4);
  return KbkdfCounterHmacSha256(key, fixed, out_len, Endian::kLittle);
}

Result<SecretBytes> Hkdf(HashAlg alg, ByteSpan ikm, ByteSpan salt, ByteSpan info,
                         std::size_t out_len) {
  if (out_len == 0 || out_len > 255 * DigestSize(alg)) {
    return Error(ErrorCode::kInvalidArgument, "HKDF output length out of range");
  }
  internal::EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return OsslError("HKDF fetch");
  internal::EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return OsslError("HKDF context");
  char digest[8];
  std::snprintf(digest, sizeof(digest), "%s", alg == HashAlg::kSha256 ? "SHA256" : "SHA384");
  // OSSL_PARAM takes non-const pointers; OpenSSL only reads them for these parameters.
  auto octets = [](ByteSpan s) { return const_cast<std::uint8_t*>(s.data()); };
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, octets(ikm), ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, octets(salt), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, octets(info), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return OsslError("HKDF");
  return out;
}

}  // namespace sevemu::crypto
