// The legacy SEV platform state machine (SEV API, "Platform State Machine"; AMD-ASPFW
// sev_plat.c state_tbl_sev): UNINIT, INIT and WORKING. Implemented with Boost.MSM in
// statemachine/sev_platform.cpp; this header is a plain class so that no other translation unit
// pays MSM's compile cost. Same contract as SnpPlatformMachine: commands ask Accepts(event) at
// their point in the check order and Process(event) only after every check passed.
//
// Thread safety: not thread-safe; the firmware model serialises commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sevemu/statemachine/snp_platform.h"  // TransitionRow, ToDot

namespace sevemu::statemachine {

// Values as reported by PLATFORM_STATUS (SEV-ABI-FACTS.md 1.3).
enum class SevPlatformState { kUninit = 0, kInit = 1, kWorking = 2 };
const char* SevPlatformStateName(SevPlatformState s);

enum class SevPlatformEvent {
  kInit,              // INIT, INIT_EX
  kShutdown,          // SHUTDOWN (from any state)
  kPlatformReset,     // PLATFORM_RESET (UNINIT only)
  kDownloadFirmware,  // DOWNLOAD_FIRMWARE (UNINIT only; SNP must be UNINIT too)
  kPekGen,            // PEK_GEN (INIT only)
  kPekCertImport,     // PEK_CERT_IMPORT (INIT only)
  kIdentityCommand,   // PEK_CSR, PDH_GEN, PDH_CERT_EXPORT (INIT or WORKING)
  kGuestLaunched,     // LAUNCH_START, RECEIVE_START: a guest exists
  kLastGuestGone,     // DECOMMISSION of the last guest
};
const char* SevPlatformEventName(SevPlatformEvent e);

class SevPlatformMachine {
 public:
  SevPlatformMachine();
  ~SevPlatformMachine();
  // A copy is an independent machine in the same state (Firmware::Clone).
  SevPlatformMachine(const SevPlatformMachine& other);
  SevPlatformMachine& operator=(const SevPlatformMachine& other);

  SevPlatformState state() const;
  // True iff the table has a row for `e` in the current state.
  bool Accepts(SevPlatformEvent e) const;
  // Applies `e`. Returns false, and leaves the state unchanged, if the table has no row for it.
  bool Process(SevPlatformEvent e);

  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::statemachine
