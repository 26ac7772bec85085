// The RMP instructions, as the CPU executes them (AMD APM vol. 3, "RMPUPDATE", "PSMASH",
// "PVALIDATE", "RMPADJUST"; return codes as Linux arch/x86/include/asm/sev.h names them).
// RMPUPDATE and PSMASH are the hypervisor's; PVALIDATE and RMPADJUST the guest's. Each either
// changes the table as the instruction does or returns its failure code and changes nothing.
#pragma once

#include <cstdint>

#include "sevemu/rmp/rmp_table.h"

namespace sevemu::rmp {

// Instruction results in RAX. kNoChange is PVALIDATE's "CF=1" (Linux reports it as 255).
enum class RmpResult : std::uint32_t {
  kSuccess = 0,
  kFailInput = 1,
  kFailPermission = 2,
  kFailInUse = 3,
  kFailOverlap = 4,       // RMPUPDATE: 4 KiB/2 MiB overlap
  kFailSizeMismatch = 6,  // PVALIDATE / RMPADJUST
  kNoChange = 255,        // PVALIDATE: VALIDATED already had the requested value
};
const char* RmpResultName(RmpResult r);

// RMPUPDATE's operand (Linux struct rmp_state): the new ownership of the page.
struct RmpUpdateState {
  std::uint64_t gpa = 0;
  bool assigned = false;
  bool page_size_2m = false;
  bool immutable = false;
  std::uint32_t asid = 0;
};

// Host RMPUPDATE of the page at `spa` (4 KiB, or 2 MiB when state.page_size_2m). Clears
// VALIDATED and VMSA; an assigned page gets full VMPL0 permissions and none for VMPL1-3.
// One exception: setting IMMUTABLE on a guest page while keeping its owner (ASID, GPA, size)
// keeps VALIDATED, VMSA and the permissions, so GUEST_VALID becomes PRE_SWAP and GUEST_INVALID
// PRE_GUEST: how a hypervisor hands a running guest's page to SNP_PAGE_SWAP_OUT / PAGE_MOVE
// (the page-state figure of AMD's SEV-SNP white paper; SNP_PAGE_RECLAIM reverses it).
// kFailInput: misaligned or outside memory, ASID/GPA out of range; kFailPermission: the entry
// is immutable (firmware-owned); kFailOverlap: 4 KiB inside an assigned 2 MiB page, or a 2 MiB
// update over assigned 4 KiB pages.
RmpResult RmpUpdate(RmpTable& rmp, std::uint64_t spa, const RmpUpdateState& state);

// Host PSMASH: splits the 2 MiB entry at `spa` (2 MiB aligned) into 512 4 KiB entries with the
// same owner, consecutive GPAs and the same VALIDATED bit. kFailInput if not aligned or not a
// 2 MiB entry; kFailPermission if immutable.
RmpResult Psmash(RmpTable& rmp, std::uint64_t spa);

// What the guest executing an instruction is.
struct GuestContext {
  std::uint32_t asid;
  int vmpl;  // 0..3
};

// Guest PVALIDATE of the page it maps at `gpa` (backed by `spa`). Only VMPL0 may execute it
// (kFailPermission stands for the #GP). The page must be assigned to this ASID at this GPA
// (kFailInput stands for the #NPF); page-size disagreement is kFailSizeMismatch.
RmpResult Pvalidate(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa, std::uint64_t spa,
                    bool page_size_2m, bool validate);

// Guest RMPADJUST: grants `target_vmpl` (> guest.vmpl) the permission mask `perms` (a subset
// of the caller's own) on the page, and optionally marks it a VMSA (VMPL0 callers only).
RmpResult RmpAdjust(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa, std::uint64_t spa,
                    bool page_size_2m, int target_vmpl, std::uint8_t perms, bool vmsa);

// All permission bits of a VMPL permission mask.
constexpr std::uint8_t kPermAll =
    kPermRead | kPermWrite | kPermExecUser | kPermExecSupervisor | kPermSupervisorShadowStack;

}  // namespace sevemu::rmp
