#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::rmp {
namespace {

// Hardware keeps one entry per 2 MiB page; sevemu mirrors it into all 512 slots so that a
// lookup of any 4 KiB inside sees the owner. GPA of slot i is the 2 MiB GPA + i * 4 KiB.
void SetRange(RmpTable& rmp, std::uint64_t spa, bool page_2m, const RmpEntry& first) {
  const std::uint64_t n = page_2m ? kPagesPer2M : 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    RmpEntry e = first;
    if (first.assigned()) e.set_gpa(first.gpa() + i * kPageSize);
    rmp.Set(spa + i * kPageSize, e);
  }
}

// The page the guest reaches at `gpa`: assigned to it, at that GPA.
bool OwnedBy(const RmpEntry& e, const GuestContext& g, std::uint64_t gpa) {
  return e.assigned() && e.asid() == g.asid && e.gpa() == PageBase(gpa);
}

}  // namespace

const char* RmpResultName(RmpResult r) {
  switch (r) {
    case RmpResult::kSuccess:
      return "SUCCESS";
    case RmpResult::kFailInput:
      return "FAIL_INPUT";
    case RmpResult::kFailPermission:
      return "FAIL_PERMISSION";
    case RmpResult::kFailInUse:
      return "FAIL_INUSE";
    case RmpResult::kFailOverlap:
      return "FAIL_OVERLAP";
    case RmpResult::kFailSizeMismatch:
      return "FAIL_SIZEMISMATCH";
    case RmpResult::kNoChange:
      return "NO_CHANGE";
  }
  return "?";
}

namespace {

RmpResult DoRmpUpdate(RmpTable& rmp, std::uint64_t spa, const RmpUpdateState& state) {
  const std::uint64_t align = state.page_size_2m ? kPageSize2M : kPageSize;
  if ((spa & (align - 1)) != 0 || !rmp.Covers(spa) || !rmp.Covers(spa + align - 1)) {
    return RmpResult::kFailInput;
  }
  if (state.asid > RmpEntry::kMaxAsid || state.gpa > RmpEntry::kMaxGpa ||
      (state.gpa & (align - 1)) != 0) {
    return RmpResult::kFailInput;
  }
  const std::uint64_t n = state.page_size_2m ? kPagesPer2M : 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (rmp.Get(spa + i * kPageSize).immutable()) return RmpResult::kFailPermission;
  }
  const RmpEntry current = rmp.Get(spa);
  if (!state.page_size_2m && current.page_size_2m() && current.assigned()) {
    return RmpResult::kFailOverlap;  // a 4 KiB change inside an assigned 2 MiB page: PSMASH first
  }
  if (state.page_size_2m) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const RmpEntry e = rmp.Get(spa + i * kPageSize);
      if (e.assigned() && !e.page_size_2m()) return RmpResult::kFailOverlap;
    }
  }
  // Freezing a guest page for the firmware keeps what the guest made of it (see the header).
  if (state.assigned && state.immutable && current.assigned() && !current.immutable() &&
      current.asid() != 0 && current.asid() == state.asid && current.gpa() == state.gpa &&
      current.page_size_2m() == state.page_size_2m) {
    rmp.Update(spa, n, [](RmpEntry& e) { e.set_immutable(true); });
    return RmpResult::kSuccess;
  }
  RmpEntry next;
  next.set_assigned(state.assigned);
  next.set_page_size_2m(state.page_size_2m);
  next.set_immutable(state.immutable);
  if (state.assigned) {
    next.set_asid(state.asid);
    next.set_gpa(state.gpa);
    next.set_vmpl_perms(0, kPermAll);
  }
  // An unassigned 2 MiB update returns the whole range to 4 KiB hypervisor pages.
  if (!state.assigned) next.set_page_size_2m(false);
  SetRange(rmp, spa, state.page_size_2m, next);
  return RmpResult::kSuccess;
}

RmpResult DoPsmash(RmpTable& rmp, std::uint64_t spa) {
  if ((spa & (kPageSize2M - 1)) != 0 || !rmp.Covers(spa)) return RmpResult::kFailInput;
  const RmpEntry e = rmp.Get(spa);
  if (!e.page_size_2m()) return RmpResult::kFailInput;
  if (e.immutable()) return RmpResult::kFailPermission;
  rmp.Update(spa, kPagesPer2M, [](RmpEntry& small) { small.set_page_size_2m(false); });
  return RmpResult::kSuccess;
}

RmpResult DoPvalidate(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa,
                      std::uint64_t spa, bool page_size_2m, bool validate) {
  if (guest.vmpl != 0) return RmpResult::kFailPermission;
  const std::uint64_t align = page_size_2m ? kPageSize2M : kPageSize;
  if ((gpa & (align - 1)) != 0 || (spa & (align - 1)) != 0 || !rmp.Covers(spa)) {
    return RmpResult::kFailInput;
  }
  const RmpEntry e = rmp.Get(spa);
  if (!OwnedBy(e, guest, gpa) || e.immutable()) return RmpResult::kFailInput;
  if (e.page_size_2m() != page_size_2m) return RmpResult::kFailSizeMismatch;
  if (e.validated() == validate) return RmpResult::kNoChange;
  rmp.Update(spa, page_size_2m ? kPagesPer2M : 1, [&](RmpEntry& x) { x.set_validated(validate); });
  return RmpResult::kSuccess;
}

RmpResult DoRmpAdjust(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa,
                      std::uint64_t spa, bool page_size_2m, int target_vmpl, std::uint8_t perms,
                      bool vmsa) {
  const std::uint64_t align = page_size_2m ? kPageSize2M : kPageSize;
  if ((gpa & (align - 1)) != 0 || (spa & (align - 1)) != 0 || !rmp.Covers(spa) || target_vmpl < 0 ||
      target_vmpl > 3 || (perms & ~kPermAll) != 0) {
    return RmpResult::kFailInput;
  }
  const RmpEntry e = rmp.Get(spa);
  if (!OwnedBy(e, guest, gpa) || !e.validated()) return RmpResult::kFailInput;
  if (e.page_size_2m() != page_size_2m) return RmpResult::kFailSizeMismatch;
  // Only a more privileged VMPL may adjust a less privileged one, and only with rights it holds.
  if (target_vmpl <= guest.vmpl) return RmpResult::kFailPermission;
  if ((perms & ~e.vmpl_perms(guest.vmpl)) != 0) return RmpResult::kFailPermission;
  if (vmsa && guest.vmpl != 0) return RmpResult::kFailPermission;
  rmp.Update(spa, page_size_2m ? kPagesPer2M : 1, [&](RmpEntry& x) {
    x.set_vmpl_perms(target_vmpl, perms);
    x.set_vmsa(vmsa);
  });
  return RmpResult::kSuccess;
}

}  // namespace

// Each instruction is reported after it ran, its page-state changes (RmpTable::Set) before it.
RmpResult RmpUpdate(RmpTable& rmp, std::uint64_t spa, const RmpUpdateState& state) {
  const RmpResult r = DoRmpUpdate(rmp, spa, state);
  if (rmp.observer() != nullptr) {
    rmp.observer()->OnRmpInstruction(
        {"RMPUPDATE", spa, state.gpa, state.page_size_2m, state.asid, -1, r});
  }
  return r;
}

RmpResult Psmash(RmpTable& rmp, std::uint64_t spa) {
  const RmpResult r = DoPsmash(rmp, spa);
  if (rmp.observer() != nullptr) {
    rmp.observer()->OnRmpInstruction({"PSMASH", spa, 0, true, 0, -1, r});
  }
  return r;
}

RmpResult Pvalidate(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa, std::uint64_t spa,
                    bool page_size_2m, bool validate) {
  const RmpResult r = DoPvalidate(rmp, guest, gpa, spa, page_size_2m, validate);
  if (rmp.observer() != nullptr) {
    rmp.observer()->OnRmpInstruction(
        {"PVALIDATE", spa, gpa, page_size_2m, guest.asid, guest.vmpl, r});
  }
  return r;
}

RmpResult RmpAdjust(RmpTable& rmp, const GuestContext& guest, std::uint64_t gpa, std::uint64_t spa,
                    bool page_size_2m, int target_vmpl, std::uint8_t perms, bool vmsa) {
  const RmpResult r = DoRmpAdjust(rmp, guest, gpa, spa, page_size_2m, target_vmpl, perms, vmsa);
  if (rmp.observer() != nullptr) {
    rmp.observer()->OnRmpInstruction(
        {"RMPADJUST", spa, gpa, page_size_2m, guest.asid, guest.vmpl, r});
  }
  return r;
}

}  // namespace sevemu::rmp
