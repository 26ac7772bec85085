#include "sevemu/emulator/manufacturing/versioned_keys.h"

#include <algorithm>
#include <cstring>

#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/random.h"

namespace sevemu::emulator {
namespace {

// Hashes `stick` in place `times` times.
Status HashForward(std::uint8_t* stick, unsigned times) {
  for (unsigned i = 0; i < times; ++i) {
    SEVEMU_ASSIGN_OR_RETURN(Bytes next, crypto::Sha384({stick, kHashStickSize}));
    std::memcpy(stick, next.data(), kHashStickSize);
    SecureZero(next.data(), next.size());
  }
  return Status::Ok();
}

constexpr char kStickBaseLabel[] = "sevemu-hash-stick-base";

}  // namespace

Result<HashSticks> HashSticks::FromRoot(const SecretBytes& root, const TcbVersion& tcb) {
  if (root.size() != kHashStickSize) {
    return Error(ErrorCode::kInvalidArgument, "hash stick root must be 48 bytes");
  }
  SecretBytes sticks(kHashSticksBlobSize);
  for (std::size_t i = 0; i < kHashStickCount; ++i) {
    // Independent bases per byte make the order componentwise (docs/versioned-keys.md explains
    // why this differs from AMD's chained bases).
    const std::uint8_t index = static_cast<std::uint8_t>(i);
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes base, crypto::SevKdf(root.span(), kStickBaseLabel,
                                                             {&index, 1}, kHashStickSize));
    std::uint8_t* stick = sticks.data() + i * kHashStickSize;
    std::memcpy(stick, base.data(), kHashStickSize);
    SEVEMU_RETURN_IF_ERROR(HashForward(stick, 256u - tcb.byte(static_cast<int>(i))));
  }
  return HashSticks(std::move(sticks), tcb);
}

Result<HashSticks> HashSticks::FromBlob(ByteSpan blob, const TcbVersion& tcb) {
  if (blob.size() != kHashSticksBlobSize) {
    return Error(ErrorCode::kInvalidArgument, "hash stick blob must be 384 bytes");
  }
  return HashSticks(SecretBytes(blob), tcb);
}

Result<HashSticks> HashSticks::DeriveDown(const TcbVersion& target) const {
  if (target.product() != tcb_.product()) {
    return Error(ErrorCode::kInvalidArgument, "TCB of another product");
  }
  for (int i = 0; i < static_cast<int>(kHashStickCount); ++i) {
    if (target.byte(i) > tcb_.byte(i)) {
      return Error(ErrorCode::kRefused, "TCB " + target.ToString() + " is above " +
                                            tcb_.ToString() + " in byte " + std::to_string(i) +
                                            ": its key cannot be derived (rollback protection)");
    }
  }
  SecretBytes sticks = sticks_;
  for (std::size_t i = 0; i < kHashStickCount; ++i) {
    const unsigned steps = tcb_.byte(static_cast<int>(i)) - target.byte(static_cast<int>(i));
    SEVEMU_RETURN_IF_ERROR(HashForward(sticks.data() + i * kHashStickSize, steps));
  }
  return HashSticks(std::move(sticks), target);
}

Result<SecretBytes> HashSticks::Seed() const {
  SEVEMU_ASSIGN_OR_RETURN(Bytes seed, crypto::Sha384(sticks_.span()));
  SecretBytes out{ByteSpan(seed)};
  SecureZero(seed.data(), seed.size());
  return out;
}

Result<crypto::PrivateKey> KeyFromSeed(const SecretBytes& seed, const char* label) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes extra, crypto::SevKdf(seed.span(), label, {}, 56));
  // The firmware reads the 56 bytes as a little-endian integer; our P-384 helper reads
  // big-endian, so reverse first.
  std::reverse(extra.data(), extra.data() + extra.size());
  return crypto::PrivateKey::EcP384FromSeed(extra);
}

Result<crypto::PrivateKey> DeriveVcek(const HashSticks& sticks) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes seed, sticks.Seed());
  return KeyFromSeed(seed, kVcekLabel);
}

Result<crypto::PrivateKey> DeriveVlek(const HashSticks& vlek_sticks) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes seed, vlek_sticks.Seed());
  return KeyFromSeed(seed, kVlekLabel);
}

Result<crypto::PrivateKey> DeriveCek(const SecretBytes& chip_unique_key) {
  if (chip_unique_key.size() != 32) {
    return Error(ErrorCode::kInvalidArgument, "chip-unique key must be 32 bytes");
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes digest, crypto::Sha256(chip_unique_key.span()));
  SecretBytes seed{ByteSpan(digest)};
  SecureZero(digest.data(), digest.size());
  return KeyFromSeed(seed, kCekLabel);
}

namespace {

constexpr std::size_t kWrapIvOff = 0x000;
constexpr std::size_t kWrapCtOff = 0x010;
constexpr std::size_t kWrapTcbOff = 0x190;
constexpr std::size_t kWrapAadSize = 0x10;  // tcb_version || reserved[8]
constexpr std::size_t kWrapTagOff = 0x1A0;
static_assert(kWrapCtOff + kHashSticksBlobSize == kWrapTcbOff);
static_assert(kWrapTagOff + crypto::kGcmTagSize == kWrappedVlekSize);

Result<SecretBytes> WrappingKey(const HashSticks& chip_sticks) {
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes seed, chip_sticks.Seed());
  return crypto::SevKdf(seed.span(), kVlekWrappingLabel, {}, 32);
}

}  // namespace

Result<Bytes> WrapVlek(const HashSticks& chip_sticks_at_tcb, const HashSticks& vlek_sticks) {
  if (!(chip_sticks_at_tcb.tcb() == vlek_sticks.tcb())) {
    return Error(ErrorCode::kInvalidArgument, "chip and VLEK sticks are for different TCBs");
  }
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes key, WrappingKey(chip_sticks_at_tcb));
  Bytes out(kWrappedVlekSize, 0);
  SEVEMU_ASSIGN_OR_RETURN(Bytes iv, crypto::RandomBytes(crypto::kGcmIvSize));
  std::memcpy(out.data() + kWrapIvOff, iv.data(), iv.size());
  StoreLe64(out.data() + kWrapTcbOff, vlek_sticks.tcb().raw());
  SEVEMU_ASSIGN_OR_RETURN(
      crypto::GcmSealed sealed,
      crypto::Aes256GcmSeal(key.span(), iv, {out.data() + kWrapTcbOff, kWrapAadSize},
                            vlek_sticks.blob().span()));
  std::memcpy(out.data() + kWrapCtOff, sealed.ciphertext.data(), sealed.ciphertext.size());
  std::memcpy(out.data() + kWrapTagOff, sealed.tag.data(), sealed.tag.size());
  return out;
}

Result<HashSticks> UnwrapVlek(const HashSticks& chip_sticks_at_reported, ByteSpan wrapped) {
  if (wrapped.size() != kWrappedVlekSize) {
    return Error(ErrorCode::kInvalidArgument, "wrapped VLEK must be 432 bytes");
  }
  const std::uint64_t tcb_raw = LoadLe64(wrapped.data() + kWrapTcbOff);
  if (tcb_raw != chip_sticks_at_reported.tcb().raw()) {
    return Error(ErrorCode::kRefused, "wrapped VLEK is for another TCB than the reported TCB");
  }
  SEVEMU_ASSIGN_OR_RETURN(SecretBytes key, WrappingKey(chip_sticks_at_reported));
  SEVEMU_ASSIGN_OR_RETURN(
      SecretBytes plain,
      crypto::Aes256GcmOpen(key.span(), wrapped.subspan(kWrapIvOff, crypto::kGcmIvSize),
                            wrapped.subspan(kWrapTcbOff, kWrapAadSize),
                            wrapped.subspan(kWrapCtOff, kHashSticksBlobSize),
                            wrapped.subspan(kWrapTagOff, crypto::kGcmTagSize)));
  return HashSticks::FromBlob(plain.span(), chip_sticks_at_reported.tcb());
}

}  // namespace sevemu::emulator
