// Host::SwapOutPages / SwapInPages / MoveGuestPage: a VMM paging an SNP guest's memory out and
// back, and moving it, with the firmware's SNP_PAGE_SWAP_OUT / SWAP_IN / PAGE_MOVE /
// MD_INIT (emulator/snp/cmd_snp_swap.cpp). The host holds the ciphertexts (it is untrusted: it
// may read, replace or replay them); the entries that authenticate them live in METADATA pages
// only the firmware writes.
#include "host_impl.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::hypervisor {

using emulator::FwStatus;
using emulator::SnpCmd;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kEntriesPerPage = kPage / sizeof(emulator::SnpMetadataEntry);

std::string Hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<HostGuest*> SnpGuestNamed(std::map<std::string, HostGuest>& guests,
                                 const std::string& name) {
  auto it = guests.find(name);
  if (it == guests.end()) return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  if (it->second.legacy()) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest '" + name + "' is a legacy SEV guest: only SNP guests swap pages");
  }
  return &it->second;
}

Status CheckRange(std::uint64_t gpa, std::size_t count) {
  if ((gpa & (kPage - 1)) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest address " + Hex(gpa) + " is not 4 KiB aligned");
  }
  if (count == 0 || count > 65536) {
    return Error(ErrorCode::kInvalidArgument, "page count must be 1..65536");
  }
  if (gpa + count * kPage < gpa) {
    return Error(ErrorCode::kInvalidArgument, "guest address range wraps");
  }
  return {};
}

void Recount(HostGuest& g) {
  g.info.pages = g.gpa_to_spa.size() + g.vmsa_spas.size();
  g.info.swapped_pages = g.swapped.size();
  g.info.metadata_pages = g.md_pages.size();
}

}  // namespace

// A free 64-byte entry in one of the guest's METADATA pages; a new page (MD_INIT) when none.
Result<std::uint64_t> Host::Impl::TakeEntry(HostGuest& g) {
  Impl& h = *this;
  if (g.free_md_entries.empty()) {
    SEVEMU_ASSIGN_OR_RETURN(std::uint64_t spa, h.pages.Allocate());
    if (Status st = h.MakeFirmwarePage(spa); !st.ok()) {
      (void)h.ReleasePage(spa);
      return st.error();
    }
    emulator::SnpPageMdInitBuf md{g.info.gctx_paddr, spa};
    if (FwStatus st = h.Run(SnpCmd::kPageMdInit, md); st != FwStatus::kSuccess) {
      (void)h.ReleasePage(spa);
      return CommandError(SnpCmd::kPageMdInit, st);
    }
    g.md_pages.push_back(spa);
    for (std::uint64_t i = kEntriesPerPage; i-- > 0;) {
      g.free_md_entries.push_back(spa + i * sizeof(emulator::SnpMetadataEntry));
    }
  }
  const std::uint64_t entry = g.free_md_entries.back();
  g.free_md_entries.pop_back();
  return entry;
}

// RMPUPDATE that sets IMMUTABLE over the same owner: GUEST_VALID -> PRE_SWAP.
Status Host::Impl::Freeze(const HostGuest& g, std::uint64_t spa, std::uint64_t gpa) {
  Impl& h = *this;
  const auto r = rmp::RmpUpdate(h.fw->memory().rmp(), spa, {gpa, true, false, true, g.info.asid});
  if (r != rmp::RmpResult::kSuccess) {
    return Error(ErrorCode::kRefused,
                 "freezing guest page " + Hex(gpa) + ": RMPUPDATE " + rmp::RmpResultName(r));
  }
  return {};
}

// Undoes Freeze: SNP_PAGE_RECLAIM clears IMMUTABLE (PRE_SWAP -> GUEST_VALID).
void Host::Impl::Thaw(std::uint64_t spa) {
  Impl& h = *this;
  emulator::SnpAddrBuf reclaim{spa};
  (void)h.Run(SnpCmd::kPageReclaim, reclaim);
}

Status Host::Impl::SwapOutOne(HostGuest& g, std::uint64_t gpa) {
  Impl& h = *this;
  auto mapped = g.gpa_to_spa.find(gpa);
  if (mapped == g.gpa_to_spa.end()) {
    return Error(
        ErrorCode::kNotFound,
        "guest page " + Hex(gpa) + (g.swapped.count(gpa) ? " is swapped out" : " is not mapped"));
  }
  const std::uint64_t src = mapped->second;
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t entry, h.TakeEntry(g));
  auto dst = h.pages.Allocate();
  if (!dst.ok()) {
    g.free_md_entries.push_back(entry);
    return dst.error();
  }
  auto undo = [&](Error e) -> Status {
    (void)h.ReleasePage(*dst);
    g.free_md_entries.push_back(entry);
    return e;
  };
  if (Status st = h.MakeFirmwarePage(*dst); !st.ok()) return undo(st.error());
  if (Status st = h.Freeze(g, src, gpa); !st.ok()) return undo(st.error());
  emulator::SnpPageSwapOutBuf out{
      g.info.gctx_paddr, src, *dst, entry, gpa, emulator::SwapFlags(emulator::SwapPageType::kData)};
  if (FwStatus st = h.Run(SnpCmd::kPageSwapOut, out); st != FwStatus::kSuccess) {
    h.Thaw(src);
    return undo(CommandError(SnpCmd::kPageSwapOut, st).Context("guest page " + Hex(gpa)));
  }
  SwappedPage kept;
  kept.ciphertext.resize(kPage);
  (void)h.fw->memory().HvRead(*dst, kept.ciphertext);  // a page of memory: cannot fail
  kept.mdata_paddr = entry;
  (void)h.ReleasePage(*dst);
  // The old page (PRE_GUEST now) back to the hypervisor: RECLAIM, RMPUPDATE, scrub.
  (void)h.ReleasePage(src);
  g.gpa_to_spa.erase(mapped);
  g.swapped[gpa] = std::move(kept);
  return {};
}

Status Host::Impl::SwapInOne(HostGuest& g, std::uint64_t gpa) {
  Impl& h = *this;
  auto out = g.swapped.find(gpa);
  if (out == g.swapped.end()) {
    return Error(ErrorCode::kNotFound, "guest page " + Hex(gpa) + " is not swapped out");
  }
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t spa, h.pages.Allocate());
  // In place: the ciphertext goes into the page that will hold the guest's page.
  if (Status st = h.MakePreGuestPage(spa, gpa, g.info.asid, out->second.ciphertext); !st.ok()) {
    (void)h.ReleasePage(spa);
    return st;
  }
  emulator::SnpPageSwapInBuf in{
      g.info.gctx_paddr,
      spa,
      spa,
      out->second.mdata_paddr,
      0,
      emulator::SwapFlags(emulator::SwapPageType::kData, false, false, true)};
  if (FwStatus st = h.Run(SnpCmd::kPageSwapIn, in); st != FwStatus::kSuccess) {
    (void)h.ReleasePage(spa);
    return CommandError(SnpCmd::kPageSwapIn, st).Context("guest page " + Hex(gpa));
  }
  emulator::SnpAddrBuf reclaim{spa};  // PRE_SWAP -> GUEST_VALID
  if (FwStatus st = h.Run(SnpCmd::kPageReclaim, reclaim); st != FwStatus::kSuccess) {
    return CommandError(SnpCmd::kPageReclaim, st);  // unreachable: the page is PRE_SWAP
  }
  g.free_md_entries.push_back(out->second.mdata_paddr);
  g.swapped.erase(out);
  g.gpa_to_spa[gpa] = spa;
  return {};
}

Result<std::size_t> Host::SwapOutPages(const std::string& name, std::uint64_t gpa,
                                       std::size_t count) {
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuestNamed(impl_->guests, name));
  if (Status st = CheckRange(gpa, count); !st.ok()) return st.error();
  std::size_t done = 0;
  for (; done < count; ++done) {
    const Status st = impl_->SwapOutOne(*g, gpa + done * kPage);
    if (!st.ok()) {
      Recount(*g);
      return st.error().Context(std::to_string(done) + " of " + std::to_string(count) +
                                " pages swapped out");
    }
  }
  Recount(*g);
  return done;
}

Result<std::size_t> Host::SwapInPages(const std::string& name, std::uint64_t gpa,
                                      std::size_t count) {
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuestNamed(impl_->guests, name));
  if (Status st = CheckRange(gpa, count); !st.ok()) return st.error();
  std::size_t done = 0;
  for (; done < count; ++done) {
    const Status st = impl_->SwapInOne(*g, gpa + done * kPage);
    if (!st.ok()) {
      Recount(*g);
      return st.error().Context(std::to_string(done) + " of " + std::to_string(count) +
                                " pages swapped in");
    }
  }
  Recount(*g);
  return done;
}

Status Host::MoveGuestPage(const std::string& name, std::uint64_t gpa) {
  Impl& h = *impl_;
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuestNamed(h.guests, name));
  if (Status st = CheckRange(gpa, 1); !st.ok()) return st;
  auto mapped = g->gpa_to_spa.find(gpa);
  if (mapped == g->gpa_to_spa.end()) {
    return Error(
        ErrorCode::kNotFound,
        "guest page " + Hex(gpa) + (g->swapped.count(gpa) ? " is swapped out" : " is not mapped"));
  }
  const std::uint64_t src = mapped->second;
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t dst, h.pages.Allocate());
  static const Bytes kZero(kPage, 0);
  if (Status st = h.MakePreGuestPage(dst, gpa, g->info.asid, kZero); !st.ok()) {
    (void)h.ReleasePage(dst);
    return st;
  }
  if (Status st = h.Freeze(*g, src, gpa); !st.ok()) {
    (void)h.ReleasePage(dst);
    return st;
  }
  emulator::SnpPageMoveBuf mv{g->info.gctx_paddr, 0, 0, src, dst};
  if (FwStatus st = h.Run(SnpCmd::kPageMove, mv); st != FwStatus::kSuccess) {
    h.Thaw(src);
    (void)h.ReleasePage(dst);
    return CommandError(SnpCmd::kPageMove, st).Context("guest page " + Hex(gpa));
  }
  (void)h.ReleasePage(src);  // GUEST_INVALID now: back to the hypervisor
  mapped->second = dst;
  Recount(*g);
  return {};
}

Result<Bytes> Host::SwappedCiphertext(const std::string& name, std::uint64_t gpa) const {
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuestNamed(impl_->guests, name));
  auto it = g->swapped.find(gpa);
  if (it == g->swapped.end()) {
    return Error(ErrorCode::kNotFound, "guest page " + Hex(gpa) + " is not swapped out");
  }
  return it->second.ciphertext;
}

Status Host::ReplaceSwappedCiphertext(const std::string& name, std::uint64_t gpa,
                                      Bytes ciphertext) {
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuestNamed(impl_->guests, name));
  auto it = g->swapped.find(gpa);
  if (it == g->swapped.end()) {
    return Error(ErrorCode::kNotFound, "guest page " + Hex(gpa) + " is not swapped out");
  }
  if (ciphertext.size() != kPage) {
    return Error(ErrorCode::kInvalidArgument, "a swapped-out page is 4096 bytes");
  }
  it->second.ciphertext = std::move(ciphertext);
  return {};
}

}  // namespace sevemu::hypervisor
