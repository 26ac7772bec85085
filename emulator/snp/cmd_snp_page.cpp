// SNP_PAGE_UNSMASH and SNP_PAGE_SET_STATE (SNP_PAGE_RECLAIM is with the guest-context
// commands). Check order per AMD-ASPFW snp_mcmd_page_unsmash / page_set_hv_fixed.
#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpPlatformEvent;

}  // namespace

FwStatus SnpPageUnsmash(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpAddrBuf>(buf);
  if ((in.paddr & 0xFFE) || (in.paddr & (rmp::kPageSize2M - 1) & ~1ull)) {
    return FwStatus::kInvalidParam;
  }
  const std::uint64_t spa = in.paddr & ~1ull;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  if (!s.memory.rmp().Covers(spa + rmp::kPageSize2M - 1)) return FwStatus::kInvalidPageState;
  const rmp::RmpEntry first = s.memory.rmp().Get(spa);
  if ((first.gpa() & (rmp::kPageSize2M - 1)) != 0) return FwStatus::kInvalidPageState;
  for (std::uint64_t i = 0; i < rmp::kPagesPer2M; ++i) {
    const rmp::RmpEntry e = s.memory.rmp().Get(spa + i * rmp::kPageSize);
    const bool same =
        e.State() == first.State() && e.asid() == first.asid() &&
        e.gpa() == first.gpa() + i * rmp::kPageSize && e.Encode()[8] == first.Encode()[8] &&
        e.vmpl_perms(1) == first.vmpl_perms(1) && e.vmpl_perms(2) == first.vmpl_perms(2) &&
        e.vmpl_perms(3) == first.vmpl_perms(3);
    if (e.page_size_2m() || !e.immutable() || e.vmsa() || e.asid() == 0 || !same) {
      return FwStatus::kInvalidPageState;
    }
  }
  // ---- nothing above changed state ----
  s.memory.rmp().Update(spa, rmp::kPagesPer2M, [](rmp::RmpEntry& e) { e.set_page_size_2m(true); });
  return FwStatus::kSuccess;
}

FwStatus SnpPageSetState(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpPageSetStateBuf>(buf);
  if (in.length != sizeof(SnpPageSetStateBuf)) return FwStatus::kInvalidLength;
  if (in.reserved != 0 || (in.list_paddr & kAddrReservedMask)) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  std::vector<PageRange> ranges;
  if (FwStatus st = ReadRangeList(s, in.list_paddr, ranges); st != FwStatus::kSuccess) return st;
  for (const PageRange& r : ranges) {
    for (std::uint64_t p = 0; p < r.pages; ++p) {
      const rmp::RmpEntry x = s.memory.rmp().Get(r.base + p * rmp::kPageSize);
      if (x.State() != PageState::kFirmware || x.page_size_2m()) return FwStatus::kInvalidPageState;
    }
  }
  // ---- nothing above changed state ----
  SetHvFixed(s, ranges);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
