// ECDSA on P-384 with a chosen message digest. The SEV-SNP keys sign with SHA-384 only
// (PrivateKey::SignEcdsaSha384); the legacy SEV API's keys are P-384 as well but their
// certificates name the digest: algorithm 0x002 ECDSA-SHA256 (what the PEK, OCA and CEK use, and
// what the PEK signs a legacy ATTESTATION report with) or 0x102 ECDSA-SHA384
// (SEV-ABI-FACTS.md 9.1, 9.5; AMD-ASPFW sev_uapp/src/ecdsa.c hashes with the algorithm's digest,
// then signs the digest).
//
// Thread-safe: free functions over immutable keys.
#pragma once

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::crypto {

// Hashes `message` with `digest`, then signs with a fresh random nonce. (r, s) big-endian.
// kInvalidKey unless `key` is a P-384 key.
Result<EcdsaP384Signature> SignEcdsaP384(const PrivateKey& key, HashAlg digest, ByteSpan message);

// kAuthFailed if `sig` is not a signature of `message` under `key` with `digest`; kInvalidKey
// unless `key` is a P-384 key.
Status VerifyEcdsaP384(const PublicKey& key, HashAlg digest, ByteSpan message,
                       const EcdsaP384Signature& sig);

}  // namespace sevemu::crypto
