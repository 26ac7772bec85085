// The SNP platform state machine (SEV-SNP ABI, "Platform State Machine"): UNINIT and INIT.
// Implemented with Boost.MSM in statemachine/snp_platform.cpp; this header is a plain class
// so that no other translation unit pays MSM's compile cost.
//
// Commands ask the machine whether the current state accepts their event at the point of their
// own check order (Accepts), and apply it only after every check passed (Process), so a refused
// command never changes the state. The table is the one the machine runs; Table() reads it.
//
// Thread safety: not thread-safe; the firmware model serialises commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sevemu::statemachine {

// Values as reported by SNP_PLATFORM_STATUS (SEV-ABI-FACTS.md 8.3).
enum class SnpPlatformState { kUninit = 0, kInit = 1 };
const char* SnpPlatformStateName(SnpPlatformState s);

enum class SnpPlatformEvent {
  kInit,          // SNP_INIT, SNP_INIT_EX
  kShutdown,      // SNP_SHUTDOWN, SNP_SHUTDOWN_EX
  kGuestCommand,  // every command that needs an initialised platform (GCTX_CREATE, LAUNCH_*, ...)
};
const char* SnpPlatformEventName(SnpPlatformEvent e);

struct TransitionRow {
  std::string from;
  std::string event;
  std::string to;
};

class SnpPlatformMachine {
 public:
  SnpPlatformMachine();
  ~SnpPlatformMachine();
  // A copy is an independent machine in the same state (Firmware::Clone).
  SnpPlatformMachine(const SnpPlatformMachine& other);
  SnpPlatformMachine& operator=(const SnpPlatformMachine& other);

  SnpPlatformState state() const;
  // True iff the table has a row for `e` in the current state.
  bool Accepts(SnpPlatformEvent e) const;
  // Applies `e`. Returns false, and leaves the state unchanged, if the table has no row for it.
  bool Process(SnpPlatformEvent e);

  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Graphviz dot for a table ("digraph <name> { ... }").
std::string ToDot(const std::string& name, const std::vector<TransitionRow>& rows);

}  // namespace sevemu::statemachine
