#include "sevemu/crypto/random.h"

#include <openssl/rand.h>

#include <climits>

#include "ossl_util.h"

namespace sevemu::crypto {

Result<Bytes> RandomBytes(std::size_t n) {
  if (n > INT_MAX) return Error(ErrorCode::kInvalidArgument, "random request too large");
  Bytes out(n);
  if (n != 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    return internal::OsslError("RAND_bytes");
  }
  return out;
}

Result<SecretBytes> RandomSecret(std::size_t n) {
  if (n > INT_MAX) return Error(ErrorCode::kInvalidArgument, "random request too large");
  SecretBytes out(n);
  if (n != 0 && RAND_priv_bytes(out.data(), static_cast<int>(n)) != 1) {
    return internal::OsslError("RAND_priv_bytes");
  }
  return out;
}

}  // namespace sevemu::crypto
