// SNP_PAGE_UNSMASH and SNP_PAGE_SET_STATE (SNP_PAGE_RECLAIM is with the guest-context
// commands). Check order per AMD-ASPFW snp_mcmd_page_unsmash / page_set_hv_fixed.
#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpPlatformEvent;

constexpr std::size_t kRangeListMax = 255;  // (4096 / 16) - 1 entries after the header

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
  rmp::Page list{};
  if (!s.memory.FirmwareRead(in.list_paddr, list).ok()) return FwStatus::kInvalidAddress;
  // RANGE_LIST: u32 count, u32 reserved, then {u64 base, u32 page_count, u32 reserved}[count].
  const std::uint32_t count = LoadLe32(list.data());
  if (LoadLe32(list.data() + 4) != 0 || count > kRangeListMax) return FwStatus::kInvalidParam;
  struct Range {
    std::uint64_t base, pages;
  };
  std::vector<Range> ranges;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* e = list.data() + 8 + 16 * i;
    const Range r{LoadLe64(e), LoadLe32(e + 8)};
    if (LoadLe32(e + 12) != 0 || (r.base & (rmp::kPageSize2M - 1)) != 0) {
      return FwStatus::kInvalidParam;
    }
    if (r.pages == 0) continue;
    if (!s.memory.rmp().Covers(r.base) ||
        !s.memory.rmp().Covers(r.base + r.pages * rmp::kPageSize - 1)) {
      return FwStatus::kInvalidAddress;
    }
    for (std::uint64_t p = 0; p < r.pages; ++p) {
      const rmp::RmpEntry x = s.memory.rmp().Get(r.base + p * rmp::kPageSize);
      if (x.State() != PageState::kFirmware || x.page_size_2m()) return FwStatus::kInvalidPageState;
    }
    ranges.push_back(r);
  }
  // ---- nothing above changed state ----
  rmp::RmpEntry hv_fixed;
  hv_fixed.set_immutable(true);  // not assigned, immutable: HV_FIXED
  for (const Range& r : ranges) {
    for (std::uint64_t p = 0; p < r.pages; ++p)
      s.memory.rmp().Set(r.base + p * rmp::kPageSize, hv_fixed);
  }
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
