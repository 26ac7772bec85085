// The legacy SEV / SEV-ES guest state machine (SEV API, "Guest State Machine"; AMD-ASPFW
// sev_guest.h sev_guest_state_t and sev_guest.c state_tbl_sev): UNINIT, LUPDATE, LSECRET,
// RUNNING, SUPDATE, RUPDATE, SENT, with the values GUEST_STATUS reports. Boost.MSM in
// statemachine/sev_guest.cpp; same Accepts/Process contract as SevPlatformMachine: a handler
// asks Accepts(event) at its point in the check order and Process(event) only after every check
// passed. The migration commands (SEND_*, RECEIVE_*; emulator/sev/cmd_sev_migrate.cpp) move a
// guest through SUPDATE and SENT on the sender and RUPDATE on the receiver.
//
// Thread safety: not thread-safe; the firmware model serialises commands.
#pragma once

#include <memory>
#include <vector>

#include "sevemu/statemachine/snp_platform.h"  // TransitionRow, ToDot

namespace sevemu::statemachine {

// Values as GUEST_STATUS reports them (SEV-ABI-FACTS.md 8.3). UNINIT is AMD's INVALID: a handle
// that names no guest.
enum class SevGuestState {
  kUninit = 0,
  kLupdate = 1,
  kLsecret = 2,
  kRunning = 3,
  kSupdate = 4,
  kRupdate = 5,
  kSent = 6
};
const char* SevGuestStateName(SevGuestState s);

enum class SevGuestEvent {
  kLaunchStart,    // UNINIT -> LUPDATE
  kLaunchUpdate,   // LAUNCH_UPDATE_DATA / LAUNCH_UPDATE_VMSA: LUPDATE
  kLaunchMeasure,  // LUPDATE -> LSECRET
  kLaunchSecret,   // LSECRET
  kLaunchFinish,   // LSECRET -> RUNNING
  kAttestation,    // LSECRET, RUNNING, SUPDATE, SENT
  kActivate,       // ACTIVATE(_EX): any launched state but SENT
  kDecommission,   // any launched state -> UNINIT
  kSendStart,      // RUNNING -> SUPDATE
  kSendFinish,     // SUPDATE -> SENT
  kSendCancel,     // SUPDATE -> RUNNING
  kReceiveStart,   // UNINIT -> RUPDATE
  kReceiveFinish,  // RUPDATE -> RUNNING
  kSendUpdate,     // SEND_UPDATE_DATA / SEND_UPDATE_VMSA: SUPDATE
  kReceiveUpdate,  // RECEIVE_UPDATE_DATA / RECEIVE_UPDATE_VMSA: RUPDATE
};
const char* SevGuestEventName(SevGuestEvent e);

class SevGuestMachine {
 public:
  SevGuestMachine();
  ~SevGuestMachine();
  // A copy is an independent machine in the same state (Firmware::Clone).
  SevGuestMachine(const SevGuestMachine& other);
  SevGuestMachine& operator=(const SevGuestMachine& other);

  SevGuestState state() const;
  // True iff the table has a row for `e` in the current state.
  bool Accepts(SevGuestEvent e) const;
  // Applies `e`. Returns false, and leaves the state unchanged, if the table has no row for it.
  bool Process(SevGuestEvent e);

  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::statemachine
