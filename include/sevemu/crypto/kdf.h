// Key derivation functions.
#pragma once

#include <cstddef>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/hash.h"

namespace sevemu::crypto {

enum class Endian { kBig, kLittle };

// NIST SP 800-108 KDF in counter mode with HMAC-SHA256 as the PRF and a 32-bit counter placed
// before the fixed input: K(i) = HMAC(key, [i]_32 || fixed_input), i = 1, 2, ...; the output is
// the first `out_len` bytes of K(1) || K(2) || ... . `counter_endian` selects how [i] is encoded
// (NIST's test vectors use big-endian; AMD's firmware uses little-endian).
// kInvalidArgument if out_len is 0 or needs more than 2^32-1 blocks.
Result<SecretBytes> KbkdfCounterHmacSha256(ByteSpan key, ByteSpan fixed_input, std::size_t out_len,
                                           Endian counter_endian);

// The KDF of the SEV API (SEV API spec, "Key Derivation Function"; AMD-ASPFW nist_kdf.c,
// sev-tool kdf): SP 800-108 counter mode, HMAC-SHA256, with
//   fixed_input = label || 0x00 || context || [L]_32,   L = out_len * 8,
// and both the counter and L little-endian.
Result<SecretBytes> SevKdf(ByteSpan key, std::string_view label, ByteSpan context,
                           std::size_t out_len);

// HKDF (RFC 5869) with SHA-256 or SHA-384: extract with `salt`, expand with `info`.
Result<SecretBytes> Hkdf(HashAlg alg, ByteSpan ikm, ByteSpan salt, ByteSpan info,
                         std::size_t out_len);

}  // namespace sevemu::crypto
