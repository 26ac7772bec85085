// SNP guest-context commands: SNP_GCTX_CREATE, SNP_ACTIVATE, SNP_GUEST_STATUS,
// SNP_DECOMMISSION, and SNP_PAGE_RECLAIM. Check order per AMD-ASPFW (docs/snp-commands.md).
#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpGuestEvent;
using statemachine::SnpPlatformEvent;

}  // namespace

FwStatus SnpGctxCreate(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpAddrBuf>(buf);
  if (in.paddr & kAddrReservedMask) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  if (PageStateAt(s, in.paddr) != PageState::kFirmware) return FwStatus::kInvalidPageState;
  rmp::RmpEntry e = s.memory.rmp().Get(in.paddr);
  if (e.page_size_2m()) return FwStatus::kInvalidPageSize;
  auto guest = std::make_unique<SnpGuest>();
  auto vek = FirmwareRandom(s, 32);
  if (!vek.ok()) return FwStatus::kHwErrorPlatform;
  guest->gctx_paddr = in.paddr;
  guest->vek = std::move(vek).value();
  guest->launch_tcb = s.platform.state.committed_tcb.raw();
  guest->launch_mit_vector = s.verified_mitigations;
  guest->created_fw = s.platform.state.current_fw;
  // ---- nothing above changed state ----
  (void)s.memory.FirmwareWrite(in.paddr, rmp::Page{});  // the context page is zeroed
  e.set_vmsa(true);                                     // FIRMWARE -> CONTEXT
  s.memory.rmp().Set(in.paddr, e);
  s.guests[in.paddr] = std::move(guest);
  return FwStatus::kSuccess;
}

namespace {

// The ASID checks and the activation shared by SNP_ACTIVATE and SNP_ACTIVATE_EX, in
// AMD-ASPFW's mcmd_activate_common / activate_common order.
FwStatus ActivateCommon(FirmwareState& s, SnpGuest& g, std::uint32_t asid) {
  if (asid == 0 || asid > s.max_asid) return FwStatus::kInvalidAsid;
  for (const auto& [gctx, other] : s.guests) {
    if (other.get() != &g && other->activation != Activation::kInactive && other->asid == asid) {
      return FwStatus::kAsidOwned;
    }
  }
  if (g.activation != Activation::kInactive) return FwStatus::kActive;
  if (s.asid_use[asid] == AsidUse::kDirty) return FwStatus::kDfFlushRequired;
  if (s.asid_use[asid] != AsidUse::kClean) return FwStatus::kAsidOwned;
  // SNP guests are SEV-ES guests: their ASIDs lie below the BIOS's SEV/ES split.
  if (asid >= s.config.min_sev_asid) return FwStatus::kInvalidAsid;
  // ---- nothing above changed state ----
  if (!s.memory.SetGuestKey(asid, g.vek).ok()) return FwStatus::kHwErrorPlatform;
  g.asid = asid;
  const bool running = g.machine.state() == statemachine::SnpGuestStateId::kRunning;
  g.activation = running ? Activation::kActive : Activation::kPending;
  g.ran = g.ran || running;
  s.asid_use[asid] = running ? AsidUse::kInUse : AsidUse::kPending;
  g.machine.Process(SnpGuestEvent::kActivate);
  return FwStatus::kSuccess;
}

}  // namespace

FwStatus SnpActivate(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpActivateBuf>(buf);
  if (in.gctx_paddr & kAddrReservedMask) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SnpGuestEvent::kActivate)) return FwStatus::kInvalidGuestState;
  if (in.asid >= 2048) return FwStatus::kInvalidAsid;
  // Pages still assigned to the ASID (e.g. of a decommissioned guest, not yet reclaimed) would
  // become readable by the new owner: AMD-ASPFW check_rmp_for_asid refuses the activation.
  // (ASID 0's pages are the firmware's own; it falls to INVALID_ASID below.)
  if (in.asid != 0 && s.memory.rmp().AssignedPages(in.asid) != 0) return FwStatus::kInvalidConfig;
  return ActivateCommon(s, *g, in.asid);
}

FwStatus SnpActivateEx(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpActivateExBuf>(buf);
  if (in.ex_len != sizeof(SnpActivateExBuf)) return FwStatus::kInvalidParam;
  if (in.reserved != 0 || (in.gctx_paddr & kAddrReservedMask)) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SnpGuestEvent::kActivate)) return FwStatus::kInvalidGuestState;
  if (g->activation == Activation::kInactive) {
    if (in.asid >= 2048) return FwStatus::kInvalidAsid;
    if (in.asid != 0 && s.memory.rmp().AssignedPages(in.asid) != 0) {
      return FwStatus::kInvalidConfig;
    }
  }
  if (in.asid == 0 || in.asid > s.max_asid) return FwStatus::kInvalidAsid;
  // The APIC-ID list names the cores the guest may run on (1..1024 ids). The simulated part
  // is one socket, so any readable list is acceptable.
  if (in.numids == 0 || in.numids > 1024) return FwStatus::kInvalidParam;
  Bytes ids(std::size_t{in.numids} * 4);
  if (!s.memory.FirmwareRead(in.ids_paddr, ids).ok()) return FwStatus::kInvalidAddress;
  return ActivateCommon(s, *g, in.asid);
}

FwStatus SnpGuestStatus(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpGuestStatusBuf>(buf);
  if (in.gctx_paddr & kAddrReservedMask) return FwStatus::kInvalidParam;
  if (CrossesPage(in.status_paddr, sizeof(SnpGuestStatusPage))) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (FwStatus st = CheckStatusPage(s, in.status_paddr, true); st != FwStatus::kSuccess) {
    return st;
  }
  SnpGuestStatusPage out{};
  out.policy = g->policy;
  out.asid = g->activation == Activation::kInactive ? 0 : g->asid;
  out.state = static_cast<std::uint8_t>(g->machine.state());
  out.flags = g->vcek_disabled ? 1 : 0;
  (void)s.memory.FirmwareWrite(in.status_paddr,
                               {reinterpret_cast<const std::uint8_t*>(&out), sizeof out});
  return FwStatus::kSuccess;
}

FwStatus SnpDecommission(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpAddrBuf>(buf);
  if (in.paddr & kAddrReservedMask) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  if (GuestAt(s, in.paddr) == nullptr) return FwStatus::kInvalidGuest;
  // ---- no further checks: DECOMMISSION works in every guest state ----
  DecommissionGuest(s, in.paddr);
  return FwStatus::kSuccess;
}

void DecommissionGuest(FirmwareState& s, std::uint64_t gctx) {
  SnpGuest* g = GuestAt(s, gctx);
  if (g == nullptr) return;
  if (g->activation != Activation::kInactive) {
    // The ASID's caches may hold the guest's lines if it ran: dirty until WBINVD + DF_FLUSH.
    s.asid_use[g->asid] =
        g->activation == Activation::kActive || g->ran ? AsidUse::kDirty : AsidUse::kClean;
    s.memory.ClearGuestKey(g->asid);
    s.wbinvd_done = false;
  }
  if (g->machine.state() != statemachine::SnpGuestStateId::kInit && s.guest_count > 0) {
    --s.guest_count;
  }
  rmp::RmpEntry e = s.memory.rmp().Get(gctx);
  e.set_vmsa(false);  // CONTEXT -> FIRMWARE
  s.memory.rmp().Set(gctx, e);
  s.guests.erase(gctx);
}

FwStatus SnpPageReclaim(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpAddrBuf>(buf);
  const bool big = in.paddr & 1;
  const std::uint64_t spa = in.paddr & ~kAddrReservedMask;
  if (in.paddr & 0xFFE) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  const std::uint64_t size = big ? rmp::kPageSize2M : rmp::kPageSize;
  if (!s.memory.rmp().Covers(spa) || !s.memory.rmp().Covers(spa + size - 1)) {
    return FwStatus::kInvalidAddress;
  }
  rmp::RmpEntry e = s.memory.rmp().Get(spa);
  if (e.page_size_2m() != big) return FwStatus::kInvalidPageSize;
  if (big && (spa & (rmp::kPageSize2M - 1)) != 0) return FwStatus::kInvalidAddress;
  if (!e.immutable()) return FwStatus::kSuccess;  // nothing to reclaim
  switch (e.State()) {
    case PageState::kMetadata:
    case PageState::kFirmware:
    case PageState::kPreGuest:
    case PageState::kPreSwap:
      break;
    default:
      return FwStatus::kInvalidPageState;  // CONTEXT must be decommissioned first
  }
  s.memory.rmp().Update(spa, big ? rmp::kPagesPer2M : 1, [](rmp::RmpEntry& x) {
    x.set_immutable(false);  // -> RECLAIM, GUEST_INVALID or GUEST_VALID
    if (x.State() == PageState::kReclaim) x.set_gpa(0);
  });
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
