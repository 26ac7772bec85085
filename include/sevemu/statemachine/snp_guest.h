// The SNP guest state machine (SEV-SNP ABI, "Guest State Machine"; states as SNP_GUEST_STATUS
// reports them): INIT after SNP_GCTX_CREATE, LAUNCH after SNP_LAUNCH_START, RUNNING after
// SNP_LAUNCH_FINISH, MSG_IMPORT_REQ (from INIT) or MSG_ABSORB_REQ (from LAUNCH). Boost.MSM in
// statemachine/snp_guest.cpp; same Accepts/Process contract as SnpPlatformMachine. Commands without
// a guest-state rule (DECOMMISSION, DBG_*) are not events.
#pragma once

#include <memory>
#include <vector>

#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::statemachine {

enum class SnpGuestStateId { kInit = 0, kLaunch = 1, kRunning = 2 };
const char* SnpGuestStateName(SnpGuestStateId s);

enum class SnpGuestEvent {
  kLaunchStart,   // INIT -> LAUNCH
  kLaunchUpdate,  // LAUNCH
  kLaunchFinish,  // LAUNCH -> RUNNING
  kActivate,      // LAUNCH or RUNNING
  kGuestRequest,  // RUNNING (the requesting guest)
  kPageSwapOut,   // LAUNCH or RUNNING (AMD-ASPFW snp_mcmd_swap_out)
  kPageSwapIn,    // LAUNCH or RUNNING
  kPageMove,      // LAUNCH or RUNNING
  kPageMdInit,    // LAUNCH or RUNNING
  // Migration-agent messages, as events of the context they act on (docs/migration.md):
  kImport,  // INIT -> RUNNING
  kAbsorb,  // LAUNCH -> RUNNING
  kVmrk,    // LAUNCH
  kExport,  // RUNNING (an export that moves the guest then decommissions it)
};
const char* SnpGuestEventName(SnpGuestEvent e);

class SnpGuestMachine {
 public:
  SnpGuestMachine();
  ~SnpGuestMachine();
  // A copy is an independent machine in the same state (Firmware::Clone).
  SnpGuestMachine(const SnpGuestMachine& other);
  SnpGuestMachine& operator=(const SnpGuestMachine& other);

  SnpGuestStateId state() const;
  bool Accepts(SnpGuestEvent e) const;
  bool Process(SnpGuestEvent e);
  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::statemachine
