#include "sevemu/emulator/snp/page_states.h"

namespace sevemu::emulator {

const std::vector<PageTransition>& PageTransitions() {
  using S = rmp::PageState;
  // clang-format off
  static const std::vector<PageTransition> kRows = {
    // The hypervisor's RMPUPDATE (rmp_instructions.h; Linux rmp_make_private/shared).
    {S::kHypervisor,   S::kFirmware,     "RMPUPDATE assigned, ASID 0, immutable"},
    {S::kHypervisor,   S::kPreGuest,     "RMPUPDATE assigned, ASID, immutable"},
    {S::kHypervisor,   S::kGuestInvalid, "RMPUPDATE assigned, ASID"},
    {S::kGuestInvalid, S::kPreGuest,     "RMPUPDATE immutable, same owner"},
    {S::kGuestValid,   S::kPreSwap,      "RMPUPDATE immutable, same owner"},
    {S::kGuestInvalid, S::kHypervisor,   "RMPUPDATE unassigned"},
    {S::kGuestValid,   S::kHypervisor,   "RMPUPDATE unassigned"},
    {S::kReclaim,      S::kHypervisor,   "RMPUPDATE unassigned"},
    // The guest's PVALIDATE.
    {S::kGuestInvalid, S::kGuestValid,   "PVALIDATE validate"},
    {S::kGuestValid,   S::kGuestInvalid, "PVALIDATE rescind"},
    // Firmware commands (AMD-ASPFW sev_mcmd.c).
    {S::kFirmware,     S::kContext,      "SNP_GCTX_CREATE"},
    {S::kContext,      S::kFirmware,     "SNP_DECOMMISSION"},
    {S::kPreGuest,     S::kGuestValid,   "SNP_LAUNCH_UPDATE"},
    {S::kFirmware,     S::kMetadata,     "SNP_PAGE_MD_INIT"},
    {S::kPreSwap,      S::kPreGuest,     "SNP_PAGE_SWAP_OUT source"},
    {S::kMetadata,     S::kFirmware,     "SNP_PAGE_SWAP_OUT metadata source"},
    {S::kPreGuest,     S::kPreSwap,      "SNP_PAGE_SWAP_IN validated page"},
    {S::kFirmware,     S::kMetadata,     "SNP_PAGE_SWAP_IN metadata page"},
    {S::kPreSwap,      S::kGuestInvalid, "SNP_PAGE_MOVE source"},
    {S::kPreGuest,     S::kGuestInvalid, "SNP_PAGE_MOVE source"},
    {S::kPreGuest,     S::kGuestValid,   "SNP_PAGE_MOVE destination of a PRE_SWAP page"},
    {S::kPreGuest,     S::kGuestInvalid, "SNP_PAGE_MOVE destination of a PRE_GUEST page"},
    {S::kMetadata,     S::kFirmware,     "SNP_PAGE_MOVE metadata source"},
    {S::kFirmware,     S::kMetadata,     "SNP_PAGE_MOVE metadata destination"},
    {S::kPreSwap,      S::kGuestValid,   "SNP_PAGE_RECLAIM"},
    {S::kPreGuest,     S::kGuestInvalid, "SNP_PAGE_RECLAIM"},
    {S::kFirmware,     S::kReclaim,      "SNP_PAGE_RECLAIM"},
    {S::kMetadata,     S::kReclaim,      "SNP_PAGE_RECLAIM"},
    {S::kFirmware,     S::kHvFixed,      "SNP_PAGE_SET_STATE"},
  };
  // clang-format on
  return kRows;
}

std::vector<statemachine::TransitionRow> PageTransitionRows() {
  std::vector<statemachine::TransitionRow> rows;
  for (const PageTransition& t : PageTransitions()) {
    rows.push_back({rmp::PageStateName(t.from), t.by, rmp::PageStateName(t.to)});
  }
  return rows;
}

}  // namespace sevemu::emulator
