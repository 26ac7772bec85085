// Private to emulator/: everything the SNP firmware model holds. Command handlers are free
// functions over this state (cmd_snp_*.cpp); firmware.cpp dispatches to them from a table.
//
// Invariants:
//  * guests holds exactly the guests whose context page is in the CONTEXT RMP state.
//  * asid_use[a] describes ASID a (1 <= a <= max_asid); an ASID is held by at most one guest,
//    and a guest with activation != kInactive holds guest.asid.
//  * vcek is the key of platform.state.reported_tcb, derived from sticks (current TCB).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "sev/sev_guest_state.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/firmware_abi.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "sevemu/statemachine/sev_platform.h"
#include "sevemu/statemachine/snp_migration.h"

namespace sevemu::emulator {

// One ASID's cache state (AMD-ASPFW's dirty/clean/allocated/in_use bitmaps, for one CCX).
enum class AsidUse { kDirty, kClean, kPending, kInUse };

enum class Activation { kInactive, kPending, kActive };

struct SnpGuest {
  statemachine::SnpGuestMachine machine;
  std::uint64_t gctx_paddr = 0;
  std::uint64_t policy = 0;
  std::uint32_t asid = 0;
  Activation activation = Activation::kInactive;
  bool ran = false;  // was ever ACTIVE: its ASID is dirty after deactivation
  SecretBytes vek;   // memory encryption key (32 bytes)
  std::array<SecretBytes, 4> vmpck;
  SecretBytes vmrk;
  std::array<std::uint8_t, 32> report_id{};
  std::array<std::uint8_t, 32> report_id_ma{};
  std::uint64_t ma_gctx_paddr = ~0ull;
  std::array<std::uint8_t, 48> launch_digest{};
  std::array<std::uint8_t, 48> imi_digest{};
  bool imi_en = false;
  std::uint32_t desired_tsc_khz = 0;
  std::array<std::uint8_t, 16> gosvw{};
  std::uint64_t launch_tcb = 0;  // raw TCB_VERSION: an imported one may be another product's
  // The verified mitigations when the context was created: the report's LAUNCH_MIT_VECTOR.
  std::uint64_t launch_mit_vector = 0;
  FirmwareVersion created_fw;
  // Recorded by SNP_LAUNCH_FINISH.
  bool id_block_en = false;
  bool author_key_en = false;
  bool vcek_disabled = false;
  std::array<std::uint8_t, 0x60> id_block{};
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
  std::array<std::uint8_t, 32> host_data{};
  // Guest-message sequence counters per VMPCK: the last sequence number used (requests odd,
  // responses even).
  std::array<std::uint64_t, 4> msg_count{};
  // Page swapping (emulator/snp/cmd_snp_swap.cpp). The offline encryption key, drawn at
  // SNP_LAUNCH_START (AMD-ASPFW snp_mcmd_launch_start), wraps swapped-out pages with
  // AES-256-GCM; oek_iv_count is the next IV (AEAD_OFLOW at UINT64_MAX - 1). Both, and the root
  // metadata entry, are part of the guest context a migration agent exports.
  SecretBytes oek;
  std::uint64_t oek_iv_count = 0;
  std::array<std::uint8_t, 64> root_md_entry{};
  // The context's binding to a migration agent (GCTX.MA; docs/migration.md). ma_gctx_paddr is
  // the agent's context page while MA_BOUND, ~0 otherwise.
  statemachine::SnpMigrationMachine migration;
  // Not modelled beyond its value: the PSP's TSC offset (AMD gctx psp_tsc_offset), carried by
  // the exported context.
  std::uint64_t psp_tsc_offset = 0;
};

// Guests are held by pointer (handlers keep references to one across insertions); a copy of
// the map holds copies of them (Firmware::Clone), made by CopyGuest.
template <typename K, typename V>
class GuestMap : public std::map<K, std::unique_ptr<V>> {
 public:
  GuestMap() = default;
  GuestMap(GuestMap&&) noexcept = default;
  GuestMap& operator=(GuestMap&&) noexcept = default;
  GuestMap(const GuestMap& other) : std::map<K, std::unique_ptr<V>>() {
    for (const auto& [k, g] : other) this->emplace(k, CopyGuest(*g));
  }
  GuestMap& operator=(const GuestMap& other) {
    if (this != &other) *this = GuestMap(other);
    return *this;
  }
};
std::unique_ptr<SnpGuest> CopyGuest(const SnpGuest& g);
// A legacy guest whose launch digest is being hashed gets its own hash context.
std::unique_ptr<SevGuest> CopyGuest(const SevGuest& g);

// The legacy SEV platform's identity: what AMD's firmware keeps in its persistent store (SPI
// flash, or INIT_EX's NV area) across SHUTDOWN and reboots until PLATFORM_RESET (AMD-ASPFW
// sev_plat.h sev_persistent_t), hence the state directory's sev-nv.json (sev_nv_store.h).
// Installed from Platform::sev_nv at boot; every handler that changes it replaces it whole
// (built on a copy) and sets FirmwareState::persistent_changed.
using SevIdentity = SevNvStore;

// The legacy SEV platform (AMD-ASPFW sev_t.sev). Handlers: emulator/sev/cmd_sev_platform.cpp.
struct SevLegacyState {
  statemachine::SevPlatformMachine machine;
  std::optional<crypto::PrivateKey> cek;  // derived from the chip-unique key at every INIT
  SevIdentity identity;
  std::uint16_t config_flags = 0;  // INIT(_EX) flags: bit 0 SEV-ES
  std::uint64_t tmr_paddr = 0;     // the SEV-ES trusted memory region, if config_flags ES
  std::uint32_t tmr_length = 0;
  std::uint64_t nv_paddr = 0;  // INIT_EX's NV area (0: SPI flash)
  std::uint32_t guest_count = 0;
  // The legacy guests by handle (AMD sev_t.sev.guests[]; handles 1..kSevGuestCountMax, the
  // lowest free one allocated by LAUNCH_START). guest_count counts them.
  GuestMap<std::uint32_t, SevGuest> guests;
};

struct FirmwareState {
  FirmwareState(Platform p, const FirmwareConfig& c, HashSticks s)
      : platform(std::move(p)), config(c), sticks(std::move(s)), memory(c.memory_size) {}

  Platform platform;  // its sev_nv is moved to sev.identity at boot (the live copy) and empty
  FirmwareConfig config;
  HashSticks sticks;  // from the boot ROM, at platform.state.current_tcb
  std::optional<crypto::PrivateKey> vcek;
  // MSG_KEY_REQ's chip root at each TCB asked for: the seed of `sticks` derived down to that
  // TCB (up to 255 SHA-384s per stick byte, then one over all eight), computed once instead of
  // per request. Keyed by TCB; at most kMaxDerivedSeeds entries (a guest choosing TCBs cannot
  // grow it). SecretBytes, so every entry is zeroed when dropped. DropDerivedSeeds empties it
  // wherever a TCB changes (SNP_CONFIG, SNP_COMMIT, SNP_DOWNLOAD_FIRMWARE_EX); a platform reset
  // boots a new state without it.
  // mutable: a cache, filled by the guest-message handlers, which see the state as const.
  mutable std::map<std::uint64_t, SecretBytes> derived_seeds;
  static constexpr std::size_t kMaxDerivedSeeds = 64;
  // A loaded VLEK (SNP_VLEK_LOAD): its hash sticks (the key-request root) and its key.
  std::optional<HashSticks> vlek_sticks;
  std::optional<crypto::PrivateKey> vlek;
  statemachine::SnpPlatformMachine snp;
  rmp::MemoryController memory;
  std::vector<AsidUse> asid_use;  // index = ASID; [0] unused
  std::uint32_t max_asid = 0;
  bool wbinvd_done = false;
  bool rmp_initialized = false;
  GuestMap<std::uint64_t, SnpGuest> guests;  // by context page SPA
  std::uint32_t guest_count = 0;             // SNP_PLATFORM_STATUS.guest_count
  // A command changed what the state directory holds (platform.json or sev-nv.json).
  bool persistent_changed = false;
  // Draws of the firmware's random number generator so far (deterministic platforms only).
  std::uint64_t rng_draws = 0;
  SevLegacyState sev;  // the legacy SEV API's platform
  // SNP_INIT_EX's RAPL_DIS and CIPHERTEXT_HIDING_EN as the running firmware acted on them
  // (only ABIs with FirmwareAbi::platform_features do; cleared by every SNP_INIT(_EX)).
  bool rapl_disabled = false;
  bool ciphertext_hiding = false;
  // SNP_VERIFY_MITIGATION's mit_verified_vector: the mitigations in force. SNP_INIT(_EX) with a
  // new RMP applies every one the running ABI knows; a firmware update keeps those the new
  // firmware knows too, the rest wait for REQ_VERIFY (docs/firmware-abi.md "Mitigations").
  std::uint64_t verified_mitigations = 0;
  FirmwareObserver* observer = nullptr;  // the trace (firmware_observer.h); not owned
};

// Drops (and so zeroes) every cached derive-down result: called wherever the current, committed
// or reported TCB, or the sticks, change.
inline void DropDerivedSeeds(FirmwareState& s) {
  s.derived_seeds.clear();
}

// What the running firmware's ABI implements (firmware_abi.h).
inline const FirmwareAbi& Abi(const FirmwareState& s) {
  return AbiOf(s.platform.state.current_fw);
}

// The firmware's randomness (guest memory keys, VMPCKs, VMRK, report IDs). On a platform
// provisioned from a seed it is a deterministic stream — SevKdf(fuses, "sevemu-firmware-rng",
// draw number) — so that the same command sequence gives the same guests, reports included
// (principle 3 of the roadmap); otherwise OpenSSL's private DRBG.
Result<SecretBytes> FirmwareRandom(FirmwareState& s, std::size_t n);

// Handlers: one per command, buffer already size-checked by the dispatcher.
FwStatus SnpInit(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpInitEx(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpShutdown(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpShutdownEx(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPlatformStatus(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpDfFlush(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpConfig(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpCommit(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpGctxCreate(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpDecommission(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpActivate(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpGuestStatus(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpLaunchStart(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpLaunchUpdate(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpLaunchFinish(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageReclaim(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageUnsmash(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageSetState(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageSwapOut(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpVerifyMitigation(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageSwapIn(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageMove(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpPageMdInit(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpDbgDecrypt(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpDbgEncrypt(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpActivateEx(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpDownloadFirmwareEx(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpGuestRequest(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpVlekLoad(FirmwareState& s, MutableByteSpan buf);
FwStatus SnpFeatureInfo(FirmwareState& s, MutableByteSpan buf);

// The legacy SEV dispatch table (sev_dispatch.cpp): size check and handler, no tracing
// (Firmware::ExecuteSev adds it).
FwStatus DispatchSev(FirmwareState& s, SevCmd cmd, MutableByteSpan buffer);

// Legacy SEV handlers (cmd_sev_platform.cpp), dispatched by sev_dispatch.cpp.
FwStatus SevInit(FirmwareState& s, MutableByteSpan buf);
FwStatus SevInitEx(FirmwareState& s, MutableByteSpan buf);
FwStatus SevShutdown(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPlatformReset(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPlatformStatus(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPekGen(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPekCsr(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPekCertImport(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPdhCertExport(FirmwareState& s, MutableByteSpan buf);
FwStatus SevPdhGen(FirmwareState& s, MutableByteSpan buf);
FwStatus SevDfFlush(FirmwareState& s, MutableByteSpan buf);
FwStatus SevDownloadFirmware(FirmwareState& s, MutableByteSpan buf);
FwStatus SevGetId(FirmwareState& s, MutableByteSpan buf);
// The legacy platform's part of Firmware::StateDigest (sev_dispatch.cpp).
void AppendSevStateDigest(const FirmwareState& s, Bytes& blob);

// Legacy SEV guest handlers (cmd_sev_guest.cpp, cmd_sev_launch.cpp; docs/sev-commands.md).
FwStatus SevDecommission(FirmwareState& s, MutableByteSpan buf);
FwStatus SevActivate(FirmwareState& s, MutableByteSpan buf);
FwStatus SevDeactivate(FirmwareState& s, MutableByteSpan buf);
FwStatus SevGuestStatus(FirmwareState& s, MutableByteSpan buf);
FwStatus SevDbgDecrypt(FirmwareState& s, MutableByteSpan buf);
FwStatus SevDbgEncrypt(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchStart(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchUpdateData(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchUpdateVmsa(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchMeasure(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchSecret(FirmwareState& s, MutableByteSpan buf);
FwStatus SevLaunchFinish(FirmwareState& s, MutableByteSpan buf);
FwStatus SevAttestation(FirmwareState& s, MutableByteSpan buf);
// Migration (cmd_sev_migrate.cpp; docs/sev-commands.md).
FwStatus SevSendStart(FirmwareState& s, MutableByteSpan buf);
FwStatus SevSendUpdateData(FirmwareState& s, MutableByteSpan buf);
FwStatus SevSendUpdateVmsa(FirmwareState& s, MutableByteSpan buf);
FwStatus SevSendFinish(FirmwareState& s, MutableByteSpan buf);
FwStatus SevSendCancel(FirmwareState& s, MutableByteSpan buf);
FwStatus SevReceiveStart(FirmwareState& s, MutableByteSpan buf);
FwStatus SevReceiveUpdateData(FirmwareState& s, MutableByteSpan buf);
FwStatus SevReceiveUpdateVmsa(FirmwareState& s, MutableByteSpan buf);
FwStatus SevReceiveFinish(FirmwareState& s, MutableByteSpan buf);
// The legacy platform is WORKING (it has guests): the state most guest commands need.
inline bool SevWorking(const FirmwareState& s) {
  return s.sev.machine.state() == statemachine::SevPlatformState::kWorking;
}
// The 16-byte alignment AMD requires of legacy guest addresses and lengths.
inline bool Aligned16(std::uint64_t v) {
  return (v & 0xF) == 0;
}
// The legacy guests' part of Firmware::StateDigest (cmd_sev_guest.cpp).
void AppendSevGuestStateDigest(const FirmwareState& s, Bytes& blob);
// The guest of a valid handle (AMD handle_is_valid + sev_get_guest), or nullptr.
SevGuest* SevGuestAt(FirmwareState& s, std::uint32_t handle);
// A range the firmware writes for a legacy command: inside memory (INVALID_ADDRESS) and, once
// SNP is initialised, every page FIRMWARE or DEFAULT (AMD-ASPFW sev_rmp.c
// check_page_range_firmware_writable: INVALID_PAGE_STATE).
FwStatus SevCheckWritable(const FirmwareState& s, std::uint64_t paddr, std::uint64_t len);
// Shared by LAUNCH_START, SEND_START and RECEIVE_START (cmd_sev_launch.cpp):
// The firmware's API version as PLATFORM_STATUS reports it.
SevApiVersion SevApi(const FirmwareState& s);
// sev_cert_sanity_check(cert, PDH, ECDH_SHA256) and the key for the ECDH: version 1, a valid
// public key, usage PDH, algorithm ECDH-SHA256 (the firmware answers INVALID_CERTIFICATE).
Result<crypto::PublicKey> SevDhCertKey(ByteSpan cert_bytes);
// The lowest free handle (sev_guest.c find_free_guest_handle), or 0.
std::uint32_t SevFreeHandle(const FirmwareState& s);
// A new guest joins the platform under `handle` (LAUNCH_START, RECEIVE_START after all their
// checks): its machine takes `start`, the platform counts one more guest (INIT → WORKING).
void SevAddGuest(FirmwareState& s, std::uint32_t handle, std::unique_ptr<SevGuest> guest,
                 statemachine::SevGuestEvent start);
// The status a certificate refusal (ValidateSevCert, AmdCaCert::Validate) answers with
// (cmd_sev_platform.cpp): kAuthFailed BAD_SIGNATURE, kRefused UNSUPPORTED, else
// INVALID_CERTIFICATE; SUCCESS for an ok status.
FwStatus SevCertStatus(const Status& st);
// What SHUTDOWN does to the legacy guests (AMD-ASPFW sev_plat.c sev_clear): every active or
// pending guest is deactivated (a used ASID becomes dirty, an allocated one clean) and every
// guest is dropped. REQUIRES: called by SevShutdown once it has decided to succeed.
void SevClearGuests(FirmwareState& s);

// What SNP_DECOMMISSION does once its checks passed (AMD-ASPFW snp_decommission_common, also
// run by MSG_EXPORT_REQ with IMI_EN=0): the guest deactivated, its context page CONTEXT ->
// FIRMWARE, the guest dropped. Nothing if `gctx` is not a guest's context.
void DecommissionGuest(FirmwareState& s, std::uint64_t gctx);

// Shared checks (cmd_common.cpp).
constexpr std::uint64_t kAddrReservedMask = 0xFFF;  // AMD-ASPFW SNP_ADDR_RESERVED_MASK

// The RMP state of the page at `spa`; DEFAULT past the end of memory.
rmp::PageState PageStateAt(const FirmwareState& s, std::uint64_t spa);
// The guest whose context page is `gctx`, or nullptr if that page is not CONTEXT.
SnpGuest* GuestAt(FirmwareState& s, std::uint64_t gctx);

template <typename Buf>
Buf ReadBuf(ByteSpan bytes) {
  Buf b;
  std::memcpy(&b, bytes.data(), sizeof(Buf));
  return b;
}

bool AllZero(ByteSpan bytes);

// A RANGE_LIST (SNP_INIT_EX, SNP_PAGE_SET_STATE): u32 count, u32 reserved, then
// {u64 base, u32 page_count, u32 reserved}[count] in one 4 KiB page at `list_paddr`.
struct PageRange {
  std::uint64_t base;
  std::uint64_t pages;
};
// INVALID_ADDRESS if the list or a range lies outside memory; INVALID_PARAM for reserved
// fields, more than 255 entries or a base that is not 2 MiB aligned. Empty ranges are dropped.
FwStatus ReadRangeList(const FirmwareState& s, std::uint64_t list_paddr,
                       std::vector<PageRange>& out);
// Marks every page of `ranges` HV_FIXED (not assigned, immutable).
void SetHvFixed(FirmwareState& s, const std::vector<PageRange>& ranges);

// True if `size` bytes written at `paddr` would cross into the next 4 KiB page (INVALID_PARAM
// for the status-writing commands).
inline bool CrossesPage(std::uint64_t paddr, std::size_t size) {
  return (paddr & kAddrReservedMask) + size > rmp::kPageSize;
}
// Whether the firmware may write a status page at `paddr`: FIRMWARE or DEFAULT state
// (INVALID_PAGE_STATE otherwise; checked only if `check_state`), backed by memory
// (INVALID_ADDRESS otherwise). SNP_PLATFORM_STATUS, SNP_FEATURE_INFO, SNP_GUEST_STATUS.
FwStatus CheckStatusPage(const FirmwareState& s, std::uint64_t paddr, bool check_state);

}  // namespace sevemu::emulator
