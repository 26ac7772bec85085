// Legacy SEV guest commands: DECOMMISSION, ACTIVATE, DEACTIVATE, GUEST_STATUS, DBG_DECRYPT,
// DBG_ENCRYPT. Check order and statuses follow AMD-ASPFW sev_mcmd.c (sev_mcmd_decommission,
// mcmd_decommission_common, sev_mcmd_activate, mcmd_activate_common, activate_common,
// sev_mcmd_deactivate, sev_mcmd_guest_status, sev_mcmd_dbg_decrypt/encrypt, debug_crypt_common),
// sev_guest.c (sev_guest_activate, sev_guest_deactivate) and sev_es.c (sev_es_validate_asid);
// docs/sev-commands.md lists them. Every check precedes the first state change.
//
// ASIDs are shared with SNP through FirmwareState::asid_use (AMD's asid_dirty / clean /
// allocated / in_use bitmaps): SEV-ES guests (and SNP guests) use 1..min_sev_asid-1, plain SEV
// guests min_sev_asid..max_asid.
#include <cstring>

#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using statemachine::SevGuestEvent;
using statemachine::SevGuestState;
using statemachine::SevPlatformEvent;
using statemachine::SevPlatformState;
using statemachine::SnpPlatformState;

// sev_es_validate_asid: SEV-ES guests 1 <= asid < MIN_SEV_ASID, others MIN_SEV_ASID..max.
bool AsidInGuestRange(const FirmwareState& s, const SevGuest& g, std::uint32_t asid) {
  if (g.es) return asid >= 1 && asid < s.config.min_sev_asid;
  return asid >= s.config.min_sev_asid && asid <= s.max_asid;
}

// sev_guest_deactivate + the bookkeeping of sev_mcmd_deactivate: an ASID that was allocated but
// never ran is clean again; one that ran is dirty until WBINVD and DF_FLUSH.
void Deactivate(FirmwareState& s, SevGuest& g) {
  if (g.activation == SevActivation::kActive) {
    s.asid_use[g.asid] = AsidUse::kDirty;
    s.wbinvd_done = false;  // clear_wbinvd_done on the cores that ran it
  } else {
    s.asid_use[g.asid] = AsidUse::kClean;
  }
  s.memory.ClearGuestKey(g.asid);
  g.asid = 0;
  g.activation = SevActivation::kInactive;
}

}  // namespace

SevGuest* SevGuestAt(FirmwareState& s, std::uint32_t handle) {
  if (handle == 0 || handle > kSevGuestCountMax) return nullptr;
  auto it = s.sev.guests.find(handle);
  return it == s.sev.guests.end() ? nullptr : it->second.get();
}

FwStatus SevCheckWritable(const FirmwareState& s, std::uint64_t paddr, std::uint64_t len) {
  if (paddr + len < paddr || !s.memory.rmp().Covers(paddr) ||
      (len != 0 && !s.memory.rmp().Covers(paddr + len - 1))) {
    return FwStatus::kInvalidAddress;
  }
  if (s.snp.state() == SnpPlatformState::kUninit) return FwStatus::kSuccess;
  const std::uint64_t first = rmp::PageBase(paddr);
  const std::uint64_t last = rmp::PageBase(paddr + (len == 0 ? 1 : len) - 1);
  for (std::uint64_t page = first; page <= last; page += rmp::kPageSize) {
    const rmp::PageState st = PageStateAt(s, page);
    if (st != rmp::PageState::kFirmware && st != rmp::PageState::kDefault) {
      return FwStatus::kInvalidPageState;
    }
  }
  return FwStatus::kSuccess;
}

// DECOMMISSION: WORKING; a valid handle (INVALID_GUEST); the guest must not hold an ASID any more
// (ACTIVE: DEACTIVATE first). The last guest takes the platform back to INIT.
FwStatus SevDecommission(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevHandleBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (g->activation != SevActivation::kInactive) return FwStatus::kActive;
  // ---- nothing above changed state ----
  g->machine.Process(SevGuestEvent::kDecommission);
  s.sev.guests.erase(in.handle);
  if (s.sev.guest_count > 0) --s.sev.guest_count;
  if (s.sev.guest_count == 0) s.sev.machine.Process(SevPlatformEvent::kLastGuestGone);
  return FwStatus::kSuccess;
}

// ACTIVATE: WORKING; handle; ASID 0 or above the maximum (INVALID_ASID); held by a guest,
// legacy or SNP (ASID_OWNED); this guest already holds one (ACTIVE); SENT (INVALID_GUEST_STATE);
// dirty (DFFLUSH_REQUIRED); not clean (ASID_OWNED); outside the guest's range (INVALID_ASID).
// The key is installed; RUNNING/SUPDATE guests become active, the others pending until
// LAUNCH_FINISH.
FwStatus SevActivate(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevActivateBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (in.asid == 0 || in.asid > s.max_asid) return FwStatus::kInvalidAsid;
  const AsidUse use = s.asid_use[in.asid];
  if (use == AsidUse::kPending || use == AsidUse::kInUse) return FwStatus::kAsidOwned;
  if (g->activation != SevActivation::kInactive) return FwStatus::kActive;
  if (!g->machine.Accepts(SevGuestEvent::kActivate)) return FwStatus::kInvalidGuestState;
  if (use == AsidUse::kDirty) return FwStatus::kDfFlushRequired;
  if (use != AsidUse::kClean) return FwStatus::kAsidOwned;
  if (!AsidInGuestRange(s, *g, in.asid)) return FwStatus::kInvalidAsid;
  // ---- nothing above changed state ----
  if (!s.memory.SetGuestKey(in.asid, g->vek).ok()) return FwStatus::kHwErrorPlatform;
  const SevGuestState st = g->machine.state();
  const bool running = st == SevGuestState::kRunning || st == SevGuestState::kSupdate;
  g->asid = in.asid;
  g->activation = running ? SevActivation::kActive : SevActivation::kPending;
  s.asid_use[in.asid] = running ? AsidUse::kInUse : AsidUse::kPending;
  g->machine.Process(SevGuestEvent::kActivate);
  return FwStatus::kSuccess;
}

// DEACTIVATE: WORKING; handle; the guest holds no ASID (INACTIVE).
FwStatus SevDeactivate(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SevHandleBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  // ---- nothing above changed state ----
  Deactivate(s, *g);
  return FwStatus::kSuccess;
}

// GUEST_STATUS: INIT or WORKING. An unknown handle is not an error: the state reads UNINIT
// (AMD's INVALID) and nothing else is written.
FwStatus SevGuestStatus(FirmwareState& s, MutableByteSpan buf) {
  auto io = ReadBuf<SevGuestStatusBuf>(buf);
  if (s.sev.machine.state() == SevPlatformState::kUninit) return FwStatus::kInvalidPlatformState;
  const SevGuest* g = SevGuestAt(s, io.handle);
  if (g == nullptr) {
    io.state = static_cast<std::uint8_t>(SevGuestState::kUninit);
  } else {
    io.state = static_cast<std::uint8_t>(g->machine.state());
    io.asid = g->activation != SevActivation::kInactive ? g->asid : 0;
    io.policy = g->policy;
  }
  std::memcpy(buf.data(), &io, sizeof io);
  return FwStatus::kSuccess;
}

namespace {

// DBG_DECRYPT / DBG_ENCRYPT: WORKING; both addresses 16-aligned (INVALID_ADDRESS); the length
// 16-aligned (INVALID_LENGTH); handle (INVALID_GUEST); NODBG (POLICY_FAILURE); the destination
// firmware-writable once SNP is up; the guest holds an ASID (INACTIVE). No guest-state rule.
FwStatus DebugCrypt(FirmwareState& s, MutableByteSpan buf, bool encrypt) {
  const auto in = ReadBuf<SevDbgBuf>(buf);
  if (!SevWorking(s)) return FwStatus::kInvalidPlatformState;
  if (!Aligned16(in.src_paddr) || !Aligned16(in.dst_paddr)) return FwStatus::kInvalidAddress;
  if (!Aligned16(in.length)) return FwStatus::kInvalidLength;
  SevGuest* g = SevGuestAt(s, in.handle);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (g->policy & sev_policy::kNoDbg) return FwStatus::kPolicyFailure;
  if (FwStatus st = SevCheckWritable(s, in.dst_paddr, in.length); st != FwStatus::kSuccess) {
    return st;
  }
  if (g->activation == SevActivation::kInactive) return FwStatus::kInactive;
  if (!s.memory.rmp().Covers(in.src_paddr) ||
      (in.length != 0 && !s.memory.rmp().Covers(in.src_paddr + in.length - 1))) {
    return FwStatus::kInvalidAddress;
  }
  if (in.length == 0) return FwStatus::kSuccess;
  // ---- nothing above changed state ----
  Bytes data(in.length);
  bool ok;
  if (encrypt) {
    ok = s.memory.FirmwareRead(in.src_paddr, data).ok() &&
         s.memory.FirmwareWriteGuest(g->asid, in.dst_paddr, data) == rmp::RmpViolation::kNone;
  } else {
    ok = s.memory.FirmwareReadGuest(g->asid, in.src_paddr, data) == rmp::RmpViolation::kNone &&
         s.memory.FirmwareWrite(in.dst_paddr, data).ok();
  }
  SecureZero(data.data(), data.size());
  return ok ? FwStatus::kSuccess : FwStatus::kHwErrorPlatform;
}

}  // namespace

FwStatus SevDbgDecrypt(FirmwareState& s, MutableByteSpan buf) {
  return DebugCrypt(s, buf, false);
}

FwStatus SevDbgEncrypt(FirmwareState& s, MutableByteSpan buf) {
  return DebugCrypt(s, buf, true);
}

void SevClearGuests(FirmwareState& s) {
  for (auto& [handle, g] : s.sev.guests) {
    if (g->activation != SevActivation::kInactive) Deactivate(s, *g);
  }
  s.sev.guests.clear();
}

void AppendSevGuestStateDigest(const FirmwareState& s, Bytes& blob) {
  auto put = [&blob](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    blob.insert(blob.end(), b, b + n);
  };
  auto put64 = [&blob](std::uint64_t v) {
    std::uint8_t b[8];
    StoreLe64(b, v);
    blob.insert(blob.end(), b, b + 8);
  };
  put64(s.sev.guests.size());
  for (const auto& [handle, g] : s.sev.guests) {
    put64(handle);
    put64(static_cast<std::uint64_t>(g->machine.state()));
    put64(g->policy);
    put64(g->asid);
    put64(static_cast<std::uint64_t>(g->activation));
    put64(g->es);
    put64(g->channel.has_value());
    put64(g->measurement.has_value());
    if (g->measurement) put(g->measurement->data(), g->measurement->size());
    put64(g->measured_bytes);
    put(g->launch_digest.data(), g->launch_digest.size());
    put64(g->num_vmsas);
  }
}

}  // namespace sevemu::emulator
