// What a tracer sees of the firmware: every command dispatched (its id, its command buffer
// decoded field by field, its status, the state machines it moved) and, through the RMP's
// observer, every RMP instruction and page-state change. The firmware only calls this
// interface; it knows nothing of the file or socket behind it (docs/trace.md).
//
// Secrets never reach an observer: the decoded fields are a whitelist per command
// (command_fields.h), and the firmware passes no key, VMPCK, OEK, TEK/TIK or fuse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sevemu/emulator/command_fields.h"
#include "sevemu/emulator/fw_status.h"
#include "sevemu/rmp/rmp_observer.h"

namespace sevemu::emulator {

// One state machine that moved during a command: "snp_platform", "sev_platform",
// "snp_guest" (id = its context page's SPA) or "sev_guest" (id = its handle).
struct StateTransition {
  std::string machine;
  std::uint64_t id = 0;
  std::string from;  // "" when the machine came into being (a new guest)
  std::string to;    // "" when it went away (a decommissioned guest)
};

struct CommandEvent {
  const char* api = "";  // "snp" or "sev"
  std::uint32_t id = 0;
  const char* name = "";
  std::size_t length = 0;         // bytes of the command buffer given
  std::vector<CommandField> in;   // the buffer as the firmware received it
  std::vector<CommandField> out;  // the fields the firmware wrote back (changed ones only)
  FwStatus status = FwStatus::kSuccess;
  std::vector<StateTransition> transitions;
};

class FirmwareObserver : public rmp::RmpObserver {
 public:
  // Called once the command has run (its page-state changes were reported before).
  virtual void OnCommand(const CommandEvent& event) = 0;
};

}  // namespace sevemu::emulator
