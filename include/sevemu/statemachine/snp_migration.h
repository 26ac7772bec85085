// The SNP migration-agent state machine: one per guest context, the context's binding to a
// migration agent (MA) as AMD-ASPFW keeps it in GCTX.MA (migration_agent_paddr) and moves it in
// snp_mcmd_launch_start and the MA guest messages of snp_mcmd_guest_request:
//   MA_UNBOUND   a context from SNP_GCTX_CREATE, not launched (GCTX.MA is the zeroed field, so
//                AMD-ASPFW's "the MA has an MA" rule refuses it as an agent);
//   MA_NONE      launched without MA_EN (GCTX.MA = PADDR_INVALID): it may export itself and
//                absorb without an agent (MSG_ABSORB_NOMA_REQ); every agent is one of these;
//   MA_BOUND     bound to an agent by SNP_LAUNCH_START(MA_EN), MSG_IMPORT_REQ or MSG_ABSORB_REQ;
//                only that agent exports it or installs its VMRK;
//   MA_EXPORTED  moved out by MSG_EXPORT_REQ with IMI_EN=0 (the context is decommissioned).
// Which guest state each message needs is the SNP guest machine's rule (snp_guest.h); who may
// send it (the agent's context address and REPORT_ID) is checked by the handler. Boost.MSM in
// statemachine/snp_migration.cpp; same Accepts/Process contract as SnpPlatformMachine.
#pragma once

#include <memory>
#include <vector>

#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::statemachine {

enum class SnpMigrationState { kUnbound = 0, kNone = 1, kBound = 2, kExported = 3 };
const char* SnpMigrationStateName(SnpMigrationState s);

enum class SnpMigrationEvent {
  kLaunchStart,    // SNP_LAUNCH_START without MA_EN: UNBOUND -> NONE
  kLaunchStartMa,  // SNP_LAUNCH_START with MA_EN: UNBOUND -> BOUND
  kImport,         // MSG_IMPORT_REQ on this context: UNBOUND -> BOUND
  kAbsorb,         // MSG_ABSORB_REQ on this context: NONE or BOUND -> BOUND
  kVmrk,           // MSG_VMRK_REQ on this context: BOUND
  kExportKeep,     // MSG_EXPORT_REQ with IMI_EN=1: NONE or BOUND, unchanged
  kExportMove,     // MSG_EXPORT_REQ with IMI_EN=0: NONE or BOUND -> EXPORTED
  kAbsorbNoma,     // MSG_ABSORB_NOMA_REQ from this context: NONE
};
const char* SnpMigrationEventName(SnpMigrationEvent e);

class SnpMigrationMachine {
 public:
  SnpMigrationMachine();
  ~SnpMigrationMachine();
  // A copy is an independent machine in the same state (Firmware::Clone).
  SnpMigrationMachine(const SnpMigrationMachine& other);
  SnpMigrationMachine& operator=(const SnpMigrationMachine& other);

  SnpMigrationState state() const;
  bool Accepts(SnpMigrationEvent e) const;
  bool Process(SnpMigrationEvent e);
  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::statemachine
