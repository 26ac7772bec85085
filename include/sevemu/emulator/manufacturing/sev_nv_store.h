// The legacy SEV platform's persistent store: what AMD's firmware keeps in SPI flash (or in
// INIT_EX's NV area) across SHUTDOWN and reboots until PLATFORM_RESET (AMD-ASPFW sev_plat.h
// sev_persistent_t): the PDH and PEK key pairs with their certificates, the owner flag, and the
// OCA — its key pair while the platform owns itself, only its certificate once an owner's OCA
// was imported. The CEK is not stored: it is derived from the chip-unique key at every INIT.
//
// In the state directory it is sev-nv.json (0600, docs/state-directory.md):
//   {"format": "sevemu-sev-nv", "version": 1, "ext_owned": false,
//    "oca_cert": hex, "pek_cert": hex, "pdh_cert": hex,        (0x824-byte SEV certificates)
//    "oca_key": PEM, "pek_key": PEM, "pdh_key": PEM}           (PKCS#8; no oca_key if ext_owned)
// An empty store (never INITed, or PLATFORM_RESET) has none of the certificate and key fields;
// a missing file is an empty store. Every check that loading makes is in CheckSevNvStore.
//
// Thread-safe: pure functions, no shared state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"

namespace sevemu::emulator {

inline constexpr char kSevNvFile[] = "sev-nv.json";

struct SevNvStore {
  // The OCA key exists only while the platform owns itself; an imported OCA comes without it.
  std::optional<crypto::PrivateKey> oca, pek, pdh;
  // A certificate with usage INVALID is "none".
  SevCert oca_cert, pek_cert, pdh_cert;
  bool ext_owned = false;  // PLATFORM_STATUS owner flag: the PEK was signed by an imported OCA

  // Nothing stored: the next INIT makes a new self-owned identity.
  bool empty() const;
};

// Everything a stored identity must satisfy, in this order: empty, or complete (all three
// certificates); each certificate well-formed with its usage (OCA, PEK, PDH); self-owned with
// the OCA key, externally owned without it; the PEK and PDH keys present; each key a P-384 key
// equal to its certificate's public key; the OCA self-signed; the PEK signed by the OCA and
// carrying a CEK signature; the PDH signed by the PEK. With `cek` (this chip's CEK, DeriveCek)
// the PEK's CEK signature must verify under it: a store made on another chip is refused.
// kCorrupt, one line naming `where` and the field ("DIR/sev-nv.json.pdh_cert is not signed by
// the PEK: ..."); never a key's bytes.
Status CheckSevNvStore(const SevNvStore& store, const crypto::PublicKey* cek,
                       const std::string& where);

// Reads DIR/sev-nv.json (absent: an empty store) and checks it (CheckSevNvStore with `cek`).
// Never writes.
Result<SevNvStore> LoadSevNvStore(const std::string& dir, const crypto::PublicKey* cek);
// Replaces DIR/sev-nv.json atomically (mode 0600) after CheckSevNvStore without a CEK: an
// inconsistent store never reaches the disk.
Status SaveSevNvStore(const std::string& dir, const SevNvStore& store);

// Serialization, exposed for tests and the fuzzer: bytes -> store (checked as by
// CheckSevNvStore without a CEK), never throws. The text holds private keys: SecretBytes.
Result<SevNvStore> ParseSevNvJson(std::string_view text, const std::string& where);
Result<SecretBytes> SevNvJson(const SevNvStore& store);

// The public part of a store — owner flag and certificates — which changes whenever the store
// does (every key change is a certificate change): for noticing that it needs saving.
Bytes SevNvFingerprint(const SevNvStore& store);

}  // namespace sevemu::emulator
