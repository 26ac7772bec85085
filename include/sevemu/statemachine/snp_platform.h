// The SNP platform state machine (SEV-SNP ABI, "Platform State Machine"): UNINIT and INIT.
// Implemented with Boost.MSM in statemachine/snp_platform.cpp; this header is a plain class
// so that no other translation unit pays MSM's compile cost.
//
// Thread safety: not thread-safe; the emulator serialises firmware commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace sevemu::statemachine {

// Values as reported by SNP_PLATFORM_STATUS (SEV-ABI-FACTS.md 8.3).
enum class SnpPlatformState { kUninit = 0, kInit = 1 };
const char* SnpPlatformStateName(SnpPlatformState s);

enum class SnpPlatformEvent { kInit, kShutdown };
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
  SnpPlatformMachine(const SnpPlatformMachine&) = delete;
  SnpPlatformMachine& operator=(const SnpPlatformMachine&) = delete;

  SnpPlatformState state() const;
  // Applies `e`. Returns false, and leaves the state unchanged, if the table has no row for
  // `e` in the current state (the firmware answers INVALID_PLATFORM_STATE then).
  bool Process(SnpPlatformEvent e);

  // The transition table the machine runs, read from the MSM table itself.
  static std::vector<TransitionRow> Table();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Graphviz dot for a table ("digraph <name> { ... }").
std::string ToDot(const std::string& name, const std::vector<TransitionRow>& rows);

}  // namespace sevemu::statemachine
