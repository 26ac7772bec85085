// Randomness from OpenSSL's CSPRNG (RAND_priv_bytes for secrets).
#pragma once

#include <cstddef>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto {

Result<Bytes> RandomBytes(std::size_t n);
// From the private DRBG, which OpenSSL keeps apart from the one public values come from.
Result<SecretBytes> RandomSecret(std::size_t n);

}  // namespace sevemu::crypto
