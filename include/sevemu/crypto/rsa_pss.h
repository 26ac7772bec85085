// RSA keys from their raw components and RSASSA-PSS with a chosen digest. The SNP hierarchy
// signs with SHA-384 only (PrivateKey::SignRsaPssSha384); the legacy SEV API's certificates
// name the digest in their algorithm field (0x001 RSA-SHA256, 0x101 RSA-SHA384) and carry the
// key as modulus and exponent (SEV-ABI-FACTS.md 9.1). Salt length = digest length and MGF1 uses
// the same digest, as AMD's firmware (AMD-ASPFW sev_uapp/src/rsa.c) and virtee/sev do.
//
// Thread-safe: free functions over immutable keys.
#pragma once

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::crypto {

// An RSA public key from big-endian modulus and exponent (leading zero bytes allowed).
// kInvalidKey if the modulus is not 2048..4096 bits, is even, or the exponent is even or < 3.
Result<PublicKey> RsaPublicKeyFromComponents(ByteSpan modulus, ByteSpan exponent);

// RSASSA-PSS over `message` with `digest`, MGF1 with the same digest, salt = digest length.
// Big-endian signature of the modulus' size. kInvalidKey unless `key` is RSA.
Result<Bytes> SignRsaPss(const PrivateKey& key, HashAlg digest, ByteSpan message);
// kAuthFailed if `signature` does not verify; kInvalidKey unless `key` is RSA.
Status VerifyRsaPss(const PublicKey& key, HashAlg digest, ByteSpan message, ByteSpan signature);

}  // namespace sevemu::crypto
