// Private to emulator/: one legacy SEV / SEV-ES guest as the firmware keeps it (AMD-ASPFW
// sev_guest.h sev_guest_t). Handlers: cmd_sev_guest.cpp (ACTIVATE, DEACTIVATE, DECOMMISSION,
// GUEST_STATUS, DBG_*), cmd_sev_launch.cpp (LAUNCH_*, ATTESTATION) and cmd_sev_migrate.cpp
// (SEND_*, RECEIVE_*).
//
// Invariants:
//  * a guest lives in SevLegacyState::guests under its handle (1..kSevGuestCountMax) from
//    LAUNCH_START until DECOMMISSION; its machine is never UNINIT while it is there.
//  * activation != kInactive iff the guest holds `asid`, whose memory key is `vek`
//    (FirmwareState::asid_use[asid] is kPending or kInUse, memory has the key installed).
//  * transport keys exist iff LAUNCH_START had a session (dh_cert_paddr != 0), from SEND_START
//    (keys it made) and from RECEIVE_START (keys it unwrapped); they are dropped by
//    LAUNCH_FINISH, SEND_FINISH, SEND_CANCEL and RECEIVE_FINISH (AMD sev_channel_close).
//  * a received guest has no launch digest (zeros) and no measurement: the firmware does not
//    carry them across (cmd_sev_migrate.cpp).
// Legacy guests have no RMP integrity: their memory is ordinary DRAM encrypted with `vek` under
// their ASID (rmp::MemoryController::FirmwareWriteGuest), readable by the host as ciphertext.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/statemachine/sev_guest.h"

namespace sevemu::emulator {

// AMD-ASPFW sev_plat.h SEV_GUEST_COUNT_MAX: handles are 1..1024 (sev_guest.c
// SEV_GUEST_HANDLE_MIN/MAX); LAUNCH_START answers RESOURCE_LIMIT when none is free.
constexpr std::uint32_t kSevGuestCountMax = 1024;

// AMD's guest_flags ACTIVE / PENDING (sev_guest.h guest_is_active/pending/inactive): ACTIVATE
// before LAUNCH_FINISH leaves the guest pending (key installed, ASID not yet valid), LAUNCH_FINISH
// completes it.
enum class SevActivation { kInactive, kPending, kActive };

struct SevGuest {
  statemachine::SevGuestMachine machine;
  std::uint32_t handle = 0;
  std::uint32_t policy = 0;
  std::uint32_t asid = 0;  // meaningful while activation != kInactive
  SevActivation activation = SevActivation::kInactive;
  bool es = false;  // SEV-ES guest (policy ES on a platform initialised with ES)
  SecretBytes vek;  // memory encryption key (32 bytes; shared with a LAUNCH_START handle != 0)
  std::optional<SevTransportKeys> channel;  // TEK/TIK of the launch or migration session
  std::optional<SevMac> measurement;        // LAUNCH_MEASURE's, for LAUNCH_SECRET's MAC
  // The running SHA-256 over LAUNCH_UPDATE_DATA/VMSA plaintext (AMD guest->ld), finalised by
  // LAUNCH_MEASURE into launch_digest; measured_bytes counts what it has hashed (StateDigest
  // cannot read the hash context).
  std::optional<crypto::Hasher> ld;
  std::uint64_t measured_bytes = 0;
  SevDigest launch_digest{};
  std::uint32_t num_vmsas = 0;  // LAUNCH_UPDATE_VMSA count (AMD: es.num_vcpus)
};

}  // namespace sevemu::emulator
