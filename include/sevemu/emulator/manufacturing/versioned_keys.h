// Versioned chip keys: the rollback-resistant construction that binds the VCEK (and a loaded
// VLEK) to the TCB of the firmware that uses it. Design and diagrams: docs/versioned-keys.md.
//
// In one line: each of the 8 TCB_VERSION bytes i has its own hash chain ("hash stick")
//   S_i(v) = SHA-384^(256 - v)(B_i),      B_i = per-chip secret base for byte i,
// so a higher SVN is *fewer* hashes from the secret. Holding S_i(v) lets anyone compute
// S_i(v') = SHA-384^(v - v')(S_i(v)) for v' <= v, while going up would need a SHA-384 preimage.
// Firmware at TCB t is handed the 8 sticks S_i(t_i) by the boot ROM (never the bases), so it
// can derive the key of every TCB that is at or below t in every byte, and of no other.
//
// Thread safety: immutable values; safe to share.
#pragma once

#include <array>
#include <cstddef>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/manufacturing/tcb.h"

namespace sevemu::emulator {

constexpr std::size_t kHashStickSize = 48;  // SHA-384 (AMD-ASPFW PSP_HASHSTICK_LENGTH)
constexpr std::size_t kHashStickCount = 8;  // one per TCB_VERSION byte
constexpr std::size_t kHashSticksBlobSize = kHashStickSize * kHashStickCount;  // 0x180

// AMD's KDF labels (AMD-ASPFW sev_plat.c / sev_mcmd.c; see docs/versioned-keys.md).
inline constexpr char kVcekLabel[] = "sev-versioned-chip-endorsement-key";
inline constexpr char kVlekLabel[] = "sev-versioned-loaded-attestation-key";
inline constexpr char kVlekWrappingLabel[] = "vlek-wrapping-key";
inline constexpr char kCekLabel[] = "sev-chip-endorsement-key";

// The eight hash sticks for one TCB. This is what firmware holds instead of the chip secret.
class HashSticks {
 public:
  // The boot ROM's computation: the sticks at `tcb` from a 48-byte root secret (the fuses,
  // or a CSP's VLEK root at the simulated KDS). kInvalidArgument for a root of another size.
  static Result<HashSticks> FromRoot(const SecretBytes& root, const TcbVersion& tcb);
  // From the 0x180-byte serialized form (8 x 48, byte index order), e.g. an unwrapped VLEK.
  static Result<HashSticks> FromBlob(ByteSpan blob, const TcbVersion& tcb);

  const TcbVersion& tcb() const { return tcb_; }
  // The sticks of `target`. kRefused, naming the first byte that is higher, unless
  // target.AtOrBelow(tcb()); kInvalidArgument if target is another product's TCB.
  Result<HashSticks> DeriveDown(const TcbVersion& target) const;
  // The 0x180-byte blob: stick 0 first. Secret.
  const SecretBytes& blob() const { return sticks_; }
  // SHA-384 over all eight sticks: the TCB-bound seed every versioned key is derived from.
  Result<SecretBytes> Seed() const;

 private:
  HashSticks(SecretBytes sticks, TcbVersion tcb) : sticks_(std::move(sticks)), tcb_(tcb) {}
  SecretBytes sticks_;
  TcbVersion tcb_;
};

// A P-384 key from a seed the way AMD's firmware does it (AMD-ASPFW key_from_hash and
// ecc_keypair_from_extra_bits): 56 bytes = SevKdf(seed, label), read as a little-endian
// integer c, d = (c mod (n - 1)) + 1.
Result<crypto::PrivateKey> KeyFromSeed(const SecretBytes& seed, const char* label);

// The VCEK for `sticks.tcb()`.
Result<crypto::PrivateKey> DeriveVcek(const HashSticks& sticks);
// The VLEK from a CSP's sticks (as unwrapped by SNP_VLEK_LOAD).
Result<crypto::PrivateKey> DeriveVlek(const HashSticks& vlek_sticks);
// The legacy SEV CEK from the 32-byte chip-unique key: not versioned (AMD-ASPFW: SHA-256 of the
// chip-unique key, then SevKdf with "sev-chip-endorsement-key").
Result<crypto::PrivateKey> DeriveCek(const SecretBytes& chip_unique_key);

// ---- Wrapped VLEK (SNP_VLEK_LOAD's hashstick, SEV-ABI-FACTS.md 1.3) ----
constexpr std::size_t kWrappedVlekSize = 0x1B0;

// The KDS side: wraps a CSP's VLEK sticks for one chip. The wrapping key is
// SevKdf(chip VCEK seed at the VLEK's TCB, "vlek-wrapping-key", 32); AES-256-GCM with a random
// 12-byte IV; AAD = the 16 bytes at 0x190 (tcb_version || reserved).
Result<Bytes> WrapVlek(const HashSticks& chip_sticks_at_tcb, const HashSticks& vlek_sticks);

// The firmware side. `chip_sticks_at_reported` are the chip's sticks at its reported TCB.
// kRefused if the blob's tcb_version differs from that TCB (the firmware's BAD_SVN);
// kAuthFailed if the tag does not verify (BAD_MEASUREMENT); kInvalidArgument for a wrong size.
Result<HashSticks> UnwrapVlek(const HashSticks& chip_sticks_at_reported, ByteSpan wrapped);

}  // namespace sevemu::emulator
