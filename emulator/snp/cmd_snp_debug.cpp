// SNP_DBG_DECRYPT and SNP_DBG_ENCRYPT: the hypervisor reads or writes one 4 KiB page of a
// guest's private memory through the firmware, only if the guest's policy allows debugging.
// Check order per AMD-ASPFW (note ENCRYPT checks the platform state before the addresses).
#include "firmware_state.h"
#include "sevemu/emulator/snp/snp_policy.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpPlatformEvent;

bool IsGuestPage(PageState p) {
  return p == PageState::kPreGuest || p == PageState::kPreSwap || p == PageState::kGuestInvalid ||
         p == PageState::kGuestValid;
}

bool AddressesAligned(const SnpDbgBuf& in) {
  return !((in.gctx_paddr | in.src_addr | in.dst_addr) & kAddrReservedMask);
}

}  // namespace

FwStatus SnpDbgDecrypt(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpDbgBuf>(buf);
  if (!AddressesAligned(in)) return FwStatus::kInvalidParam;
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!IsGuestPage(PageStateAt(s, in.src_addr)) ||
      PageStateAt(s, in.dst_addr) != PageState::kFirmware) {
    return FwStatus::kInvalidPageState;
  }
  if (s.memory.rmp().Get(in.src_addr).asid() != g->asid) return FwStatus::kInvalidPageOwner;
  if (!(g->policy & policy::kDebug)) return FwStatus::kPolicyFailure;
  if (g->activation == Activation::kInactive) return FwStatus::kInactive;
  rmp::Page page{};
  if (s.memory.FirmwareReadGuest(g->asid, in.src_addr, page) != rmp::RmpViolation::kNone) {
    return FwStatus::kHwErrorPlatform;
  }
  (void)s.memory.FirmwareWrite(in.dst_addr, page);
  SecureZero(page.data(), page.size());
  return FwStatus::kSuccess;
}

FwStatus SnpDbgEncrypt(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpDbgBuf>(buf);
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  if (!AddressesAligned(in)) return FwStatus::kInvalidParam;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  const PageState dst = PageStateAt(s, in.dst_addr);
  if (dst != PageState::kPreGuest && dst != PageState::kPreSwap) {
    return FwStatus::kInvalidPageState;
  }
  if (s.memory.rmp().Get(in.dst_addr).asid() != g->asid) return FwStatus::kInvalidPageOwner;
  if (!(g->policy & policy::kDebug)) return FwStatus::kPolicyFailure;
  if (g->activation == Activation::kInactive) return FwStatus::kInactive;
  rmp::Page page{};
  if (!s.memory.FirmwareRead(in.src_addr, page).ok()) return FwStatus::kInvalidAddress;
  (void)s.memory.FirmwareWriteGuest(g->asid, in.dst_addr, page);
  SecureZero(page.data(), page.size());
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
