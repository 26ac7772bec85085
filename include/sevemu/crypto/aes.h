// AES modes the firmware uses: CTR (SEV transport keys, launch secrets), GCM (guest messages,
// wrapped VLEK) and XTS (memory encryption). Thread-safe; no state kept between calls.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto {

constexpr std::size_t kAesBlockSize = 16;
constexpr std::size_t kGcmIvSize = 12;
constexpr std::size_t kGcmTagSize = 16;

// AES-128-CTR with a 16-byte initial counter block. Encryption and decryption are the same
// operation. kInvalidArgument for a key that is not 16 bytes or an IV that is not 16 bytes.
Result<Bytes> Aes128Ctr(ByteSpan key, ByteSpan iv, ByteSpan data);

struct GcmSealed {
  Bytes ciphertext;
  std::array<std::uint8_t, kGcmTagSize> tag{};
};

// AES-256-GCM with a 12-byte IV and a 16-byte tag.
Result<GcmSealed> Aes256GcmSeal(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan plaintext);
// kAuthFailed (and no plaintext) if the tag does not verify.
Result<SecretBytes> Aes256GcmOpen(ByteSpan key, ByteSpan iv, ByteSpan aad, ByteSpan ciphertext,
                                  ByteSpan tag);

// AES-XTS (IEEE 1619): `key` is the two concatenated keys, 32 bytes for AES-128-XTS or 64 for
// AES-256-XTS; `tweak` is the 16-byte data-unit tweak. Data must be at least one block; the two
// key halves must differ (OpenSSL enforces the XTS key check).
Result<Bytes> AesXtsEncrypt(ByteSpan key, ByteSpan tweak, ByteSpan data);
Result<Bytes> AesXtsDecrypt(ByteSpan key, ByteSpan tweak, ByteSpan data);

}  // namespace sevemu::crypto
