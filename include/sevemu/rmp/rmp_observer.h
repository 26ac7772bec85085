// What a tracer sees of the RMP: every RMP instruction executed (who, where, result) and every
// RMP entry that changed, whoever changed it (an instruction or the firmware). The RMP layer
// only calls the interface; where the events go (a file, a socket) is the observer's business.
#pragma once

#include <cstdint>

#include "sevemu/rmp/rmp_entry.h"

namespace sevemu::rmp {

enum class RmpResult : std::uint32_t;

// One executed RMP instruction. `vmpl` is -1 for the hypervisor's RMPUPDATE and PSMASH.
struct RmpInstructionEvent {
  const char* instruction = "";  // "RMPUPDATE", "PSMASH", "PVALIDATE", "RMPADJUST"
  std::uint64_t spa = 0;
  std::uint64_t gpa = 0;  // the operand's GPA (RMPUPDATE: the new owner's)
  bool page_size_2m = false;
  std::uint32_t asid = 0;  // RMPUPDATE: the new owner; guest instructions: the caller
  int vmpl = -1;
  RmpResult result{};
};

class RmpObserver {
 public:
  virtual ~RmpObserver() = default;
  virtual void OnRmpInstruction(const RmpInstructionEvent& event) = 0;
  // The entry of the 4 KiB page at `spa` changed from `before` to `after` (never equal).
  virtual void OnPageState(std::uint64_t spa, const RmpEntry& before, const RmpEntry& after) = 0;
};

}  // namespace sevemu::rmp
