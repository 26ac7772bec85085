// A simulated platform as it persists between runs, and its state directory.
//
// Directory layout (docs/state-directory.md):
//   platform.json   identity, TCBs, firmware versions, SNP_CONFIG bits   (0644, with .bak)
//   fuses.json      the chip's secrets                                    (0600)
//   sev-nv.json     the legacy SEV persistent store: OCA/PEK/PDH (sev_nv_store.h)  (0600)
//   amd/            the simulated AMD root that manufactured it (AmdRoot)
//   lock            held by the process that owns the directory
// Every file is replaced atomically (write, fsync, rename); platform.json keeps the previous
// version as platform.json.bak. Load never writes, so a failed load loses nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/chip.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"
#include "sevemu/emulator/manufacturing/tcb.h"

namespace sevemu::emulator {

struct FirmwareVersion {
  std::uint8_t major = 0;
  std::uint8_t minor = 0;
  std::uint8_t build = 0;
  bool operator==(const FirmwareVersion&) const = default;
};

struct PlatformState {
  ChipIdentity chip;
  TcbVersion current_tcb;    // TCB of the running firmware stack
  TcbVersion committed_tcb;  // anti-rollback floor (SNP_COMMIT)
  TcbVersion reported_tcb;   // TCB reports claim and the VCEK is derived at (SNP_CONFIG)
  FirmwareVersion current_fw;
  FirmwareVersion committed_fw;
  bool mask_chip_id = false;
  bool mask_chip_key = false;
  std::int64_t manufactured_at = 0;  // seconds since the epoch; VCEK certificates start here
  bool deterministic = false;        // provisioned from a seed
  // The BIOS's "Minimum SEV non-ES ASID" (what Linux reads from CPUID Fn8000_001F_EDX): ASIDs
  // 1..min_sev_asid-1 are for SEV-ES and SNP guests, min_sev_asid..max_asid for SEV guests.
  // 0: not recorded (a platform.json from before the field): MinSevAsid's default.
  std::uint32_t min_sev_asid = 0;

  // kInvalidArgument if the TCBs are not ordered reported <= committed <= current, or if
  // min_sev_asid is set and outside 2..max_asid+1.
  Status Validate() const;
};

// The split in effect: min_sev_asid, or the product's max_asid / 2 when it is not recorded.
std::uint32_t MinSevAsid(const PlatformState& state);

struct Platform {
  PlatformState state;
  ChipFuses fuses;
  AmdRoot root;
  // The legacy SEV identity the firmware keeps until PLATFORM_RESET; empty when new.
  SevNvStore sev_nv = {};
};

// Reads and cross-checks a state directory. kNotFound if it holds none of a platform's files;
// kRefused if the directory or a file is not this user's, or others may change it (or read a
// secret one); kCorrupt, naming the file and field, for anything missing, malformed or
// inconsistent: a platform.json missing beside the other files, fuses.json whose check does not
// match (sev-nv.json included: its PEK must be signed by this chip's CEK). A message about
// platform.json says how to restore it from platform.json.bak when there is one. A directory
// without sev-nv.json has an empty store. Never writes, never blocks on a FIFO.
Result<Platform> LoadPlatform(const std::string& dir);
// Writes all of it (sev-nv.json only if the store is not empty). Used by provisioning: the
// directory must hold none of a platform's files (kAlreadyExists otherwise).
Status SaveNewPlatform(const std::string& dir, const Platform& platform);
// Rewrites platform.json only (the part commands change), keeping a backup.
Status SavePlatformState(const std::string& dir, const PlatformState& state);
// Which of a platform's files (platform.json, platform.json.bak, fuses.json, sev-nv.json, amd)
// are in `dir`. HasPlatform: any. A directory that holds any of them is never provisioned
// over, even when platform.json itself is gone: the fuses are the chip's identity.
std::vector<std::string> PlatformFilesIn(const std::string& dir);
bool HasPlatform(const std::string& dir);

// Serialization, exposed for tests and the fuzzer: bytes -> state, never throws.
Result<PlatformState> ParsePlatformJson(std::string_view text, const std::string& where);
std::string PlatformJson(const PlatformState& state);

// ISO 8601 "2024-01-01T00:00:00Z" <-> epoch seconds.
std::string FormatUtc(std::int64_t t);
Result<std::int64_t> ParseUtc(const std::string& s);

}  // namespace sevemu::emulator
