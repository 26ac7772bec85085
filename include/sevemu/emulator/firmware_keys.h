// The firmware's encodings of P-384 keys and signatures (SEV-SNP ABI, "ECC Public Key Format"
// and "ECDSA Signature Format"; SEV-ABI-FACTS.md 7.2): little-endian 72-byte integers.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::emulator {

constexpr std::size_t kFwPublicKeySize = 0x404;  // u32 curve, qx[72], qy[72], zero to 0x404
constexpr std::size_t kFwSignatureSize = 0x200;  // r[72], s[72], zero to 0x200
constexpr std::uint32_t kCurveP384 = 2;
constexpr std::uint32_t kAlgoEcdsaP384Sha384 = 1;

// kInvalidKey unless the curve is P-384, the point is on the curve, and the padding is zero.
Result<crypto::PublicKey> ParseFwPublicKey(ByteSpan key);
Result<Bytes> EncodeFwPublicKey(const crypto::PublicKey& key);
Bytes EncodeFwSignature(const crypto::EcdsaP384Signature& sig);

}  // namespace sevemu::emulator
