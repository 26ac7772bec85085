// The host's side of an SNP live migration (docs/migration.md "Driving it from the daemon"):
// what a VMM does around its two migration agents. No Linux or QEMU release migrates SNP
// guests, so the order is the ABI's (SEV-SNP ABI 1.55 "Guest Migration", AMD-ASPFW
// sev_mcmd.c snp_mcmd_swap_out / snp_mcmd_swap_in / snp_mcmd_activate): the guest's pages go
// out under its offline encryption key (SNP_PAGE_SWAP_OUT), the METADATA pages holding their
// entries go out the same way one level at a time until one entry is left, which the
// firmware keeps in the context itself (root_mdata_en, the entry MSG_EXPORT_REQ carries and
// MSG_IMPORT_REQ requires VALID). On the destination the pages come back down the same tree.
// The host only ever holds ciphertext; the context travels between the agents.
#include "host_impl.h"

namespace sevemu::hypervisor {

using emulator::FwStatus;
using emulator::SnpCmd;
using emulator::SwapFlags;
using emulator::SwapPageType;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kEntriesPerPage = kPage / sizeof(emulator::SnpMetadataEntry);

Result<HostGuest*> SnpGuest(std::map<std::string, HostGuest>& guests, const std::string& name) {
  auto it = guests.find(name);
  if (it == guests.end()) return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  if (it->second.legacy()) {
    return Error(ErrorCode::kInvalidArgument, "guest '" + name + "' is a legacy SEV guest");
  }
  return &it->second;
}

void Recount(HostGuest& g) {
  g.info.pages = g.gpa_to_spa.size() + g.vmsa_spas.size();
  g.info.swapped_pages = g.swapped.size();
  g.info.metadata_pages = g.md_pages.size();
}

}  // namespace

Result<SnpMigrationImage> Host::Impl::SwapOutAll(HostGuest& g) {
  Impl& h = *this;
  // 1. Every data page, entries in the guest's METADATA pages (MD_INIT as needed).
  std::vector<std::uint64_t> gpas;
  for (const auto& [gpa, spa] : g.gpa_to_spa) gpas.push_back(gpa);
  for (std::size_t i = 0; i < gpas.size(); ++i) {
    if (Status st = h.SwapOutOne(g, gpas[i]); !st.ok()) {
      // The pages out so far come back in: the guest is as it was.
      for (std::size_t j = 0; j < i; ++j) (void)h.SwapInOne(g, gpas[j]);
      Recount(g);
      return st.error();
    }
  }
  SnpMigrationImage image;
  image.info = g.info;
  // The children waiting for the page (by its host address) that holds their entries.
  std::map<std::uint64_t, std::vector<std::size_t>> children;
  for (auto& [gpa, sp] : g.swapped) {
    children[sp.mdata_paddr & ~(kPage - 1)].push_back(image.pages.size());
    image.pages.push_back({false, gpa, -1, static_cast<std::uint32_t>(sp.mdata_paddr & (kPage - 1)),
                           std::move(sp.ciphertext)});
  }
  g.swapped.clear();
  std::vector<std::uint64_t> level = std::move(g.md_pages);
  g.md_pages.clear();
  g.free_md_entries.clear();
  if (level.empty()) return Error(ErrorCode::kInvalidArgument, "the guest has no pages");
  // 2. The METADATA pages, a level at a time, until the last goes under the root entry.
  for (;;) {
    const bool root = level.size() == 1;
    std::vector<std::uint64_t> next, free_entries;
    for (std::uint64_t md : level) {
      std::uint64_t entry = 0;
      if (!root) {
        if (free_entries.empty()) {
          SEVEMU_ASSIGN_OR_RETURN(std::uint64_t spa, h.pages.Allocate());
          if (Status st = h.MakeFirmwarePage(spa); !st.ok()) return st.error();
          emulator::SnpPageMdInitBuf init{g.info.gctx_paddr, spa};
          if (FwStatus st = h.Run(SnpCmd::kPageMdInit, init); st != FwStatus::kSuccess) {
            return CommandError(SnpCmd::kPageMdInit, st);
          }
          next.push_back(spa);
          for (std::uint64_t i = kEntriesPerPage; i-- > 0;) {
            free_entries.push_back(spa + i * sizeof(emulator::SnpMetadataEntry));
          }
        }
        entry = free_entries.back();
        free_entries.pop_back();
      }
      SEVEMU_ASSIGN_OR_RETURN(std::uint64_t dst, h.pages.Allocate());
      if (Status st = h.MakeFirmwarePage(dst); !st.ok()) return st.error();
      emulator::SnpPageSwapOutBuf out{
          g.info.gctx_paddr, md, dst, entry, 0, SwapFlags(SwapPageType::kMetadata, false, root)};
      if (FwStatus st = h.Run(SnpCmd::kPageSwapOut, out); st != FwStatus::kSuccess) {
        (void)h.ReleasePage(dst);
        return CommandError(SnpCmd::kPageSwapOut, st).Context("a metadata page");
      }
      SnpMigrationImage::Page p;
      p.metadata = true;
      p.entry_offset = static_cast<std::uint32_t>(entry & (kPage - 1));
      p.ciphertext.resize(kPage);
      (void)h.fw->memory().HvRead(dst, p.ciphertext);  // as SwapOutOne: a page of memory
      (void)h.ReleasePage(dst);
      (void)h.ReleasePage(md);  // FIRMWARE now
      const std::size_t index = image.pages.size();
      for (std::size_t c : children[md]) image.pages[c].parent = static_cast<std::int64_t>(index);
      children.erase(md);
      if (!root) children[entry & ~(kPage - 1)].push_back(index);
      image.pages.push_back(std::move(p));
    }
    if (root) break;
    level = std::move(next);
  }
  Recount(g);
  return image;
}

Status Host::Impl::SwapInAll(HostGuest& g, const SnpMigrationImage& image) {
  Impl& h = *this;
  // A page's parent went out after it, so walking backwards meets every parent first.
  std::vector<std::uint64_t> placed(image.pages.size(), 0);
  for (std::size_t i = image.pages.size(); i-- > 0;) {
    const SnpMigrationImage::Page& p = image.pages[i];
    const bool root = p.parent < 0;
    if (!root && (static_cast<std::size_t>(p.parent) <= i ||
                  static_cast<std::size_t>(p.parent) >= image.pages.size() ||
                  placed[static_cast<std::size_t>(p.parent)] == 0 ||
                  p.entry_offset % sizeof(emulator::SnpMetadataEntry) != 0 ||
                  p.entry_offset >= kPage || p.ciphertext.size() != kPage)) {
      return Error(ErrorCode::kInvalidArgument, "the migration image is malformed");
    }
    const std::uint64_t mdata =
        root ? 0 : placed[static_cast<std::size_t>(p.parent)] + p.entry_offset;
    SEVEMU_ASSIGN_OR_RETURN(std::uint64_t dst, h.pages.Allocate());
    if (p.metadata) {
      // Out of place: the ciphertext in a host page, the page itself into a FIRMWARE page that
      // becomes METADATA.
      if (Status st = h.MakeFirmwarePage(dst); !st.ok()) return st;
      auto src = h.pages.Allocate();
      if (!src.ok()) return src.error();
      (void)h.fw->memory().HvWrite(*src, p.ciphertext);
      emulator::SnpPageSwapInBuf in{
          g.info.gctx_paddr, *src, dst, mdata, 0, SwapFlags(SwapPageType::kMetadata, false, root)};
      const FwStatus st = h.Run(SnpCmd::kPageSwapIn, in);
      (void)h.ReleasePage(*src);
      if (st != FwStatus::kSuccess) {
        (void)h.ReleasePage(dst);
        return CommandError(SnpCmd::kPageSwapIn, st).Context("a metadata page");
      }
      placed[i] = dst;
      g.md_pages.push_back(dst);  // the guest's until the walk ends (a failure tears it down)
      continue;
    }
    // A data page: in place, as SwapInOne.
    if (Status st = h.MakePreGuestPage(dst, p.gpa, g.info.asid, p.ciphertext); !st.ok()) {
      (void)h.ReleasePage(dst);
      return st;
    }
    emulator::SnpPageSwapInBuf in{
        g.info.gctx_paddr, dst, dst, mdata, 0, SwapFlags(SwapPageType::kData, false, root, true)};
    if (FwStatus st = h.Run(SnpCmd::kPageSwapIn, in); st != FwStatus::kSuccess) {
      (void)h.ReleasePage(dst);
      return CommandError(SnpCmd::kPageSwapIn, st);
    }
    emulator::SnpAddrBuf reclaim{dst};  // PRE_SWAP -> GUEST_VALID
    if (FwStatus st = h.Run(SnpCmd::kPageReclaim, reclaim); st != FwStatus::kSuccess) {
      return CommandError(SnpCmd::kPageReclaim, st);
    }
    g.gpa_to_spa[p.gpa] = dst;
  }
  // Every entry of the tree has been used once (invalid now): its pages go back to the host.
  // (Both callers start with no METADATA pages: SwapOutAll took them all into the tree.)
  for (std::uint64_t spa : g.md_pages) (void)h.ReleasePage(spa);
  g.md_pages.clear();
  g.free_md_entries.clear();
  Recount(g);
  return {};
}

Result<GuestInfo> Host::BeginSnpMigration(const std::string& name) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuest(impl_->guests, name));
  if (g->info.migrating) {
    return Error(ErrorCode::kRefused, "guest '" + name + "' is already being migrated");
  }
  auto image = impl_->SwapOutAll(*g);
  if (!image.ok()) {
    return image.error().Context("swapping out '" + name + "' for migration");
  }
  g->outgoing = std::move(image).value();
  g->info.migrating = true;
  g->info.swapped_pages = g->outgoing->pages.size();
  return g->info;
}

Result<GuestInfo> Host::CancelSnpMigration(const std::string& name) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuest(impl_->guests, name));
  if (!g->outgoing) return Error(ErrorCode::kRefused, "guest '" + name + "' is not migrating");
  if (Status st = impl_->SwapInAll(*g, *g->outgoing); !st.ok()) {
    return st.error().Context("swapping '" + name + "' back in");
  }
  g->outgoing.reset();
  g->info.migrating = false;
  return g->info;
}

Result<SnpMigrationImage> Host::FinishSnpSend(const std::string& name) {
  Impl& h = *impl_;
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuest(h.guests, name));
  if (!g->outgoing) return Error(ErrorCode::kRefused, "guest '" + name + "' is not migrating");
  // MSG_EXPORT_REQ with IMI_EN = 0 decommissions the context: its page is FIRMWARE again.
  if (h.fw->memory().rmp().Get(g->info.gctx_paddr).State() == rmp::PageState::kContext) {
    return Error(ErrorCode::kRefused, "guest '" + name + "' has not been exported");
  }
  SnpMigrationImage image = std::move(*g->outgoing);
  g->outgoing.reset();
  h.Teardown(*g, false);
  // The ASID is reusable after WBINVD + DF_FLUSH, as after any decommission.
  h.fw->Wbinvd();
  (void)h.Run(SnpCmd::kDfFlush, MutableByteSpan{});
  h.guests.erase(name);
  return image;
}

Result<GuestInfo> Host::CreateIncomingSnpContext(const std::string& name) {
  Impl& h = *impl_;
  const FaultSet::ActingFor acting(h.faults, name);
  if (h.guests.count(name) != 0) {
    return Error(ErrorCode::kAlreadyExists, "a guest named '" + name + "' exists");
  }
  HostGuest g;
  g.info.name = name;
  g.info.type = GuestType::kSnp;
  g.info.migrating = true;
  SEVEMU_ASSIGN_OR_RETURN(g.info.gctx_paddr, h.pages.Allocate());
  if (Status st = h.MakeFirmwarePage(g.info.gctx_paddr); !st.ok()) {
    (void)h.ReleasePage(g.info.gctx_paddr);
    return st.error();
  }
  emulator::SnpAddrBuf gctx{g.info.gctx_paddr};
  if (FwStatus st = h.Run(SnpCmd::kGctxCreate, gctx); st != FwStatus::kSuccess) {
    (void)h.ReleasePage(g.info.gctx_paddr);
    return CommandError(SnpCmd::kGctxCreate, st);
  }
  g.info.launch_id = ++h.launches;
  GuestInfo info = g.info;
  h.guests.emplace(name, std::move(g));
  return info;
}

Result<GuestInfo> Host::ReceiveSnpGuest(const std::string& name, SnpMigrationImage image,
                                        const std::string& migration_agent) {
  Impl& h = *impl_;
  const FaultSet::ActingFor acting(h.faults, name);
  SEVEMU_ASSIGN_OR_RETURN(HostGuest * g, SnpGuest(h.guests, name));
  if (!g->info.migrating || g->info.asid != 0 || g->outgoing) {
    return Error(ErrorCode::kRefused, "guest '" + name + "' is not an incoming context");
  }
  std::uint32_t asid = 1;
  while (asid < h.asid_limit && h.asids_in_use.count(asid) != 0) ++asid;
  if (asid >= h.asid_limit) return Error(ErrorCode::kRefused, "no free SNP ASID");
  emulator::SnpActivateBuf act{g->info.gctx_paddr, asid};
  if (FwStatus st = h.Run(SnpCmd::kActivate, act); st != FwStatus::kSuccess) {
    return CommandError(SnpCmd::kActivate, st);
  }
  h.asids_in_use.insert(asid);
  g->info.asid = asid;
  if (Status st = h.SwapInAll(*g, image); !st.ok()) return st.error();
  for (std::uint64_t* spa : {&g->request_spa, &g->response_spa}) {
    SEVEMU_ASSIGN_OR_RETURN(*spa, h.pages.Allocate());
  }
  if (Status st = h.MakeFirmwarePage(g->response_spa); !st.ok()) return st.error();
  // The VMM's description of the machine came with the pages; the rest is this host's.
  GuestInfo info = std::move(image.info);
  info.asid = asid;
  info.gctx_paddr = g->info.gctx_paddr;
  info.launch_id = g->info.launch_id;
  info.migration_agent = migration_agent;
  info.migrating = false;
  g->info = info;
  Recount(*g);
  return g->info;
}

}  // namespace sevemu::hypervisor
