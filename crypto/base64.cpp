#include "sevemu/crypto/base64.h"

#include <openssl/evp.h>

#include <memory>

namespace sevemu::crypto {

std::string Base64Encode(ByteSpan data) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes (rounded up) and a NUL, no line breaks.
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<Bytes> Base64Decode(std::string_view text) {
  // The streaming decoder, unlike EVP_DecodeBlock, accepts line breaks and does not turn the
  // padding into trailing zero bytes.
  std::string trimmed;
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') trimmed.push_back(c);
  }
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(),
                                                                      &EVP_ENCODE_CTX_free);
  if (!ctx) return Error(ErrorCode::kCrypto, "base64: out of memory");
  EVP_DecodeInit(ctx.get());
  Bytes out(trimmed.size() / 4 * 3 + 3);
  int n = 0, tail = 0;
  if (EVP_DecodeUpdate(ctx.get(), out.data(), &n,
                       reinterpret_cast<const unsigned char*>(trimmed.data()),
                       static_cast<int>(trimmed.size())) < 0 ||
      EVP_DecodeFinal(ctx.get(), out.data() + n, &tail) != 1) {
    return Error(ErrorCode::kInvalidArgument, "not valid base64");
  }
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

}  // namespace sevemu::crypto
