// The AMD-SP's SEV-SNP firmware, simulated: it owns the platform's keys, the simulated memory
// and RMP, the guests, and executes firmware commands with their ABI command buffers.
//
// Contract of Execute: the command buffer's bytes in, an ABI status out. Addresses inside the
// buffer are system physical addresses of the simulated memory, checked as the firmware checks
// them. A command that fails leaves every state unchanged (platform, guests, RMP, memory).
// Checks run in the order of AMD's published firmware (docs/snp-commands.md).
//
// Thread safety: not thread-safe; callers serialise commands (one PSP mailbox).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/firmware_observer.h"
#include "sevemu/emulator/fw_status.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "sevemu/emulator/sev/sev_abi.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/rmp/memory_controller.h"
#include "sevemu/statemachine/sev_platform.h"
#include "sevemu/statemachine/snp_guest.h"
#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::emulator {

struct FirmwareConfig {
  std::uint64_t memory_size = 1ull << 40;  // 1 TiB of (sparse) simulated DRAM
  bool smt_enabled = true;                 // host SMT, checked against the SMT policy bit
  // ASIDs 1..min_sev_asid-1 are for SEV-ES and SNP guests (the BIOS's split; AMD-ASPFW
  // sev_es_validate_asid); 0 means the platform's (PlatformState::min_sev_asid, recorded at
  // provisioning; the product's maximum / 2 if it is not).
  std::uint32_t min_sev_asid = 0;
  // ATTESTATION_REPORT layout version: 0 = the product's (3 on Milan and Genoa, 5 on Turin);
  // 2 may be chosen to test old verifiers.
  std::uint32_t report_version = 0;
  // SYSCFG.SNPEn on every core (the host kernel sets it when it supports SNP). Then legacy
  // INIT needs the RMP built first (AMD-ASPFW sev_mcmd_init_common): INVALID_PLATFORM_STATE.
  bool snp_enabled = true;
  // Told of every command, RMP instruction and page-state change from boot on (docs/trace.md);
  // nullptr: none. Not owned; must outlive the firmware or be replaced by set_observer.
  FirmwareObserver* observer = nullptr;
};

struct FirmwareState;  // emulator/firmware_state.h (private)

// What a boot derives from the chip's fuses before the firmware runs: the boot ROM's hash
// sticks of the current TCB and the VCEK of the reported one (docs/versioned-keys.md). That is
// about a thousand SHA-384s and a P-384 point multiplication, most of a boot; a caller booting
// one platform many times (the command fuzzer: docs/performance.md) derives them once and
// hands them to every Boot. Holds secrets: the sticks are zeroized and the key freed on release.
class BootKeys {
 public:
  static Result<BootKeys> Derive(const Platform& platform);

 private:
  friend class Firmware;
  BootKeys(HashSticks sticks, TcbVersion reported, crypto::PrivateKey vcek, SecretBytes root)
      : sticks_(std::move(sticks)),
        reported_(reported),
        vcek_(std::move(vcek)),
        root_(std::move(root)) {}
  HashSticks sticks_;  // at the current TCB
  TcbVersion reported_;
  crypto::PrivateKey vcek_;
  SecretBytes root_;  // the fuses' hash-stick root they came from
};

// The commands the firmware implements, read from its dispatch tables (firmware.cpp's SNP
// table, sev/sev_dispatch.cpp's legacy one), in table order: what capabilities report.
std::vector<SnpCmd> ImplementedSnpCommands();
// The first ABI (major.minor; build 0) that has SNP command `cmd`: 0.0 for the commands every
// simulated ABI has (SNP_VERIFY_MITIGATION: 1.58).
FirmwareVersion SnpCommandSince(SnpCmd cmd);
std::vector<SevCmd> ImplementedSevCommands();
// The command-buffer size the dispatcher requires for an implemented command (0: none);
// nullopt for an id it does not implement.
std::optional<std::size_t> SnpCommandBufferSize(SnpCmd cmd);
std::optional<std::size_t> SevCommandBufferSize(SevCmd cmd);
// The guest message request types SNP_GUEST_REQUEST answers (messages/cmd_snp_guest_request's
// table): type number and ABI name ("MSG_REPORT_REQ").
struct ImplementedGuestMessage {
  std::uint8_t type;
  const char* name;
};
std::vector<ImplementedGuestMessage> ImplementedGuestMessages();

class Firmware {
 public:
  // Boots over a loaded platform: the boot ROM hands over the hash sticks of the current TCB,
  // from which the VCEK of the reported TCB is derived. The platform starts UNINIT, with the
  // legacy identity of platform.sev_nv (checked as CheckSevNvStore does with this chip's CEK:
  // kCorrupt if it is inconsistent or another chip's).
  static Result<std::unique_ptr<Firmware>> Boot(Platform platform, const FirmwareConfig& config);
  // The same boot with keys already derived for this platform: the same fuses (hash-stick
  // root), current and reported TCB, else kInvalidArgument and nothing boots.
  static Result<std::unique_ptr<Firmware>> Boot(Platform platform, const FirmwareConfig& config,
                                                const BootKeys& keys);
  ~Firmware();

  // Executes one command. `buffer` must be exactly the command's buffer size (none for
  // SNP_INIT, SNP_SHUTDOWN, SNP_DF_FLUSH); otherwise INVALID_LENGTH and nothing runs.
  // Unknown or unimplemented ids give INVALID_COMMAND.
  FwStatus Execute(SnpCmd cmd, MutableByteSpan buffer);
  // A command-buffer struct of snp_abi.h, passed as its bytes. Only plain structs qualify, so a
  // byte container (Bytes, arrays of bytes) always goes to the span overload above.
  template <typename Buf>
  requires(std::is_trivially_copyable_v<Buf>&& std::is_standard_layout_v<Buf> &&
           !std::is_convertible_v<Buf&, MutableByteSpan>) FwStatus Execute(SnpCmd cmd, Buf& buf) {
    return Execute(cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof(Buf)));
  }

  // Executes one legacy SEV command (sev_abi.h), with the same contract as Execute: the
  // buffer must be the command's size (none for SHUTDOWN, PLATFORM_RESET, PEK_GEN, PDH_GEN,
  // DF_FLUSH), else INVALID_LENGTH; unknown ids are INVALID_COMMAND. Lengths the command writes
  // back (PEK_CSR, PDH_CERT_EXPORT, GET_ID) are updated in `buffer`, also when it answers
  // INVALID_LENGTH. Order of checks and statuses: docs/sev-commands.md.
  FwStatus ExecuteSev(SevCmd cmd, MutableByteSpan buffer);
  template <typename Buf>
  requires(std::is_trivially_copyable_v<Buf>&& std::is_standard_layout_v<Buf> &&
           !std::is_convertible_v<Buf&, MutableByteSpan>) FwStatus
      ExecuteSev(SevCmd cmd, Buf& buf) {
    return ExecuteSev(cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof(Buf)));
  }
  statemachine::SevPlatformState sev_state() const;

  // What the hypervisor does outside the firmware: WBINVD on every core (needed before
  // SNP_DF_FLUSH can clean ASIDs).
  void Wbinvd();

  // Replaces the observer (also the RMP's); nullptr detaches it.
  void set_observer(FirmwareObserver* observer);

  rmp::MemoryController& memory();
  const PlatformState& platform_state() const;
  statemachine::SnpPlatformState snp_state() const;
  // True once a command changed what the state directory holds: platform.json (SNP_CONFIG,
  // SNP_COMMIT, ...) or sev-nv.json (INIT generating an identity, PEK_GEN, PDH_GEN,
  // PEK_CERT_IMPORT, PLATFORM_RESET).
  bool persistent_state_changed() const;
  // The legacy SEV persistent store as it is now, for sev-nv.json: always a whole identity (or
  // none), as commands replace it only once they succeed. Holds private keys.
  SevNvStore sev_nv_store() const;

  // An independent firmware in the same state (memory, RMP, guests, keys, RNG draws), without
  // the observer: what a fuzzer restores per input instead of booting (docs/fuzzing.md). The
  // two share nothing mutable; the same commands on both give the same results.
  std::unique_ptr<Firmware> Clone() const;
  // How many derive-down results MSG_KEY_REQ has cached (one per TCB asked for since the TCBs
  // last changed; FirmwareState::derived_seeds). For tests.
  std::size_t derived_seed_count() const;

  // For tests and teaching: a digest of every piece of firmware state, to show that a failed
  // command changed nothing.
  Bytes StateDigest() const;

 private:
  explicit Firmware(std::unique_ptr<FirmwareState> s);
  std::unique_ptr<FirmwareState> s_;
};

}  // namespace sevemu::emulator
