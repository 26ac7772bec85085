// SNP_PAGE_SWAP_OUT, SNP_PAGE_SWAP_IN, SNP_PAGE_MOVE and SNP_PAGE_MD_INIT: the commands that let
// the hypervisor page a guest's memory out and back, and move it, without reading, forging or
// replaying it. Check order and statuses per AMD-ASPFW sev_mcmd.c snp_mcmd_swap_out (~L7606),
// snp_mcmd_swap_in (~L7902), snp_mcmd_page_move (~L8283), snp_mcmd_md_init (~L8462); the
// metadata entry per sev_rmp.h snp_metadata_page_t. docs/snp-commands.md lists the order.
//
// What defends a swapped-out page: its ciphertext is AES-256-GCM under the guest's OEK with a
// fresh IV from the guest context's counter, and its 64-byte entry (IV, tag, GPA, validated,
// VMPL permissions) lives where the hypervisor cannot write — a METADATA page or the guest
// context's root entry. SWAP_IN takes the GPA and permissions from the entry, checks the tag
// and clears the entry's valid bit, so a page comes back once, at its GPA, in its guest.
#include <cstring>

#include "firmware_state.h"
#include "sevemu/crypto/aes.h"
#include "sevemu/emulator/snp/snp_policy.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpGuestEvent;
using statemachine::SnpPlatformEvent;

constexpr std::uint64_t kMdEntrySize = sizeof(SnpMetadataEntry);
// AMD-ASPFW sev_rmp.h RMP_GPA_STATE_SHIFT: a METADATA page's RMP GPA is its guest context's SPA
// with state 1 at GPA-field bit 36 (address bit 48), so that a context at SPA 0 still makes the
// GPA non-zero.
constexpr std::uint64_t kMetadataGpaFlag = 1ull << (36 + 12);
constexpr std::uint64_t kSwapReservedFlags = ~0x17ull;  // bits 3 and 5-63 (SWAP_OUT)
constexpr std::uint64_t kSwapInReservedFlags = ~0x1Full;

rmp::RmpEntry EntryAt(const FirmwareState& s, std::uint64_t spa) {
  return s.memory.rmp().Covers(spa) ? s.memory.rmp().Get(spa) : rmp::RmpEntry{};
}

std::uint64_t MetadataOwner(const rmp::RmpEntry& e) {
  return e.gpa() & ~kMetadataGpaFlag;
}

bool Overlaps(std::uint64_t a, std::uint64_t alen, std::uint64_t b, std::uint64_t blen) {
  return a < b + blen && b < a + alen;
}

// The metadata-page checks SWAP_OUT and SWAP_IN share when the entry is not the root one:
// 64-byte alignment and no overlap with src/dst → INVALID_PARAM; not METADATA →
// INVALID_PAGE_STATE; a metadata page of another guest → INVALID_PAGE_OWNER.
FwStatus CheckMdataPaddr(const FirmwareState& s, const SnpPageSwapBuf& in, std::uint64_t size) {
  if (in.mdata_paddr % kMdEntrySize != 0) return FwStatus::kInvalidParam;
  if (Overlaps(in.mdata_paddr, kMdEntrySize, in.src_paddr, size) ||
      Overlaps(in.mdata_paddr, kMdEntrySize, in.dst_paddr, size)) {
    return FwStatus::kInvalidParam;
  }
  const rmp::RmpEntry md = EntryAt(s, in.mdata_paddr);
  if (PageStateAt(s, in.mdata_paddr) != PageState::kMetadata) return FwStatus::kInvalidPageState;
  if (MetadataOwner(md) != in.gctx_paddr) return FwStatus::kInvalidPageOwner;
  return FwStatus::kSuccess;
}

// sevemu's own address rule, after AMD's: a 2 MiB page is 2 MiB aligned, and every byte the
// command reads or writes is backed by memory (AMD's x86 copy fails there, after it has moved
// the IV counter; here nothing changes). INVALID_ADDRESS, as SNP_PAGE_RECLAIM answers it.
bool InMemory(const FirmwareState& s, std::uint64_t spa, std::uint64_t size) {
  return (spa & (size - 1)) == 0 && s.memory.rmp().Covers(spa) &&
         s.memory.rmp().Covers(spa + size - 1);
}

// The GCM IV of counter value `count`: the 8-byte little-endian counter, zero-padded to the
// 96 bits OpenSSL's GCM takes directly (AMD feeds the CCP the 8 bytes with its own padding).
std::array<std::uint8_t, crypto::kGcmIvSize> GcmIv(std::uint64_t count) {
  std::array<std::uint8_t, crypto::kGcmIvSize> iv{};
  StoreLe64(iv.data(), count);
  return iv;
}

// The plaintext of the page(s) at `spa`: guest memory decrypted with the guest's key, or a
// metadata page as it is (AMD: ASID 0 for metadata pages).
Result<SecretBytes> ReadPlain(const FirmwareState& s, std::uint32_t asid, std::uint64_t spa,
                              std::uint64_t size) {
  SecretBytes plain(size);
  if (asid == 0) {
    SEVEMU_RETURN_IF_ERROR(s.memory.FirmwareRead(spa, plain.mutable_span()));
  } else if (s.memory.FirmwareReadGuest(asid, spa, plain.mutable_span()) !=
             rmp::RmpViolation::kNone) {
    return Error(ErrorCode::kInvalidArgument, "guest memory unreadable");
  }
  return plain;
}

bool WritePlain(FirmwareState& s, std::uint32_t asid, std::uint64_t spa, ByteSpan plain) {
  if (asid == 0) return s.memory.FirmwareWrite(spa, plain).ok();
  return s.memory.FirmwareWriteGuest(asid, spa, plain) == rmp::RmpViolation::kNone;
}

void StoreEntry(FirmwareState& s, SnpGuest& g, const SnpPageSwapBuf& in, bool root,
                const SnpMetadataEntry& md) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&md);
  if (root) {
    std::memcpy(g.root_md_entry.data(), bytes, kMdEntrySize);
  } else {
    (void)s.memory.FirmwareWrite(in.mdata_paddr, {bytes, kMdEntrySize});  // checked METADATA
  }
}

// The guest-state checks of all four commands, at AMD's point: LAUNCH or RUNNING →
// else INVALID_GUEST_STATE; then (not MD_INIT) activated or pending → else INACTIVE.
FwStatus CheckGuest(const SnpGuest& g, SnpGuestEvent ev, bool need_active) {
  if (!g.machine.Accepts(ev)) return FwStatus::kInvalidGuestState;
  if (need_active && g.activation == Activation::kInactive) return FwStatus::kInactive;
  return FwStatus::kSuccess;
}

// PAGE_SWAP_DISABLE (guest policy bit 25, ABI 1.58): the guest forbids SNP_PAGE_SWAP_OUT,
// SNP_PAGE_SWAP_IN and SNP_PAGE_MOVE. AMD-ASPFW's published source is 1.55.25, which has no such
// bit, and no public source gives the status or the point of the check: the bit's definition
// (go-sev-guest SnpPolicy, virtee/sev "Disable Guest support for Page Swap and Page Move
// commands", Linux psp-sev.h SNP_POLICY_MASK_PAGE_SWAP_DISABLE) names the three commands.
// sevemu's choice: POLICY_FAILURE, checked as soon as the guest context is found (its policy is
// known there), before any page or metadata check, so nothing is read or changed.
// SNP_PAGE_MD_INIT is not one of the three and stays allowed.
FwStatus CheckSwapPolicy(const FirmwareState& s, const SnpGuest& g) {
  return PolicyForbidsPageSwap(g.policy, s.platform.state.current_fw) ? FwStatus::kPolicyFailure
                                                                      : FwStatus::kSuccess;
}

}  // namespace

FwStatus SnpPageSwapOut(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpPageSwapOutBuf>(buf);
  const bool big = in.flags & kSwapPageSize2M;
  const bool root = in.flags & kSwapRootMdata;
  const auto type = static_cast<std::uint8_t>(in.flags >> 1 & 3);
  const std::uint64_t size = big ? rmp::kPageSize2M : rmp::kPageSize;
  if ((in.gctx_paddr & kAddrReservedMask) || (in.src_paddr & kAddrReservedMask) ||
      (in.dst_paddr & kAddrReservedMask) || (in.flags & kSwapReservedFlags)) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (FwStatus st = CheckSwapPolicy(s, *g); st != FwStatus::kSuccess) return st;
  if (!root) {
    if (FwStatus st = CheckMdataPaddr(s, in, size); st != FwStatus::kSuccess) return st;
  }
  const rmp::RmpEntry src = EntryAt(s, in.src_paddr);
  const PageState src_state = PageStateAt(s, in.src_paddr);
  const PageState dst_state = PageStateAt(s, in.dst_paddr);
  if (src.page_size_2m() != big ||
      (dst_state != PageState::kDefault && EntryAt(s, in.dst_paddr).page_size_2m() != big)) {
    return FwStatus::kInvalidPageSize;
  }
  if (FwStatus st = CheckGuest(*g, SnpGuestEvent::kPageSwapOut, true); st != FwStatus::kSuccess) {
    return st;
  }
  const bool dst_ok = dst_state == PageState::kFirmware || dst_state == PageState::kDefault;
  SnpMetadataEntry md{};
  md.software_data = in.software_data;
  switch (static_cast<SwapPageType>(type)) {
    case SwapPageType::kData:
    case SwapPageType::kVmsa:
      if ((src_state != PageState::kPreSwap && src_state != PageState::kPreGuest) || !dst_ok) {
        return FwStatus::kInvalidPageState;
      }
      if (src.asid() != g->asid) return FwStatus::kInvalidPageOwner;
      md.entry = kMdValid | (src.validated() ? kMdPageValidated : 0) |
                 (type == static_cast<std::uint8_t>(SwapPageType::kVmsa) ? kMdVmsa : 0) |
                 (big ? kMdPageSize2M : 0) | (src.gpa() & kMdGpaMask);
      md.vmpl = src.perms_qword();
      break;
    case SwapPageType::kMetadata:
      if (src_state != PageState::kMetadata || !dst_ok) return FwStatus::kInvalidPageState;
      if (MetadataOwner(src) != in.gctx_paddr) return FwStatus::kInvalidPageOwner;
      md.entry = kMdValid | kMdMetadata | (big ? kMdPageSize2M : 0) | kMdGpaMask;
      break;
    default:
      return FwStatus::kInvalidPageState;
  }
  if (!InMemory(s, in.src_paddr, size) || !InMemory(s, in.dst_paddr, size)) {
    return FwStatus::kInvalidAddress;
  }
  if (g->oek_iv_count == UINT64_MAX - 1) return FwStatus::kAeadOverflow;
  const bool metadata = type == static_cast<std::uint8_t>(SwapPageType::kMetadata);
  auto plain = ReadPlain(s, metadata ? 0 : g->asid, in.src_paddr, size);
  if (!plain.ok()) return FwStatus::kHwErrorPlatform;
  md.iv = g->oek_iv_count;
  auto sealed = crypto::Aes256GcmSeal(g->oek.span(), GcmIv(md.iv), {}, plain->span());
  if (!sealed.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  ++g->oek_iv_count;
  std::memcpy(md.auth_tag, sealed->tag.data(), sizeof md.auth_tag);
  (void)s.memory.FirmwareWrite(in.dst_paddr, sealed->ciphertext);  // checked in memory
  s.memory.rmp().Update(in.src_paddr, size / rmp::kPageSize, [&](rmp::RmpEntry& e) {
    if (metadata) {
      e.set_gpa(0);  // METADATA -> FIRMWARE
      e.set_vmsa(false);
    } else {
      e.set_validated(false);  // PRE_SWAP / PRE_GUEST -> PRE_GUEST
    }
  });
  StoreEntry(s, *g, in, root, md);
  g->machine.Process(SnpGuestEvent::kPageSwapOut);
  return FwStatus::kSuccess;
}

FwStatus SnpPageSwapIn(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpPageSwapInBuf>(buf);
  const bool big = in.flags & kSwapPageSize2M;
  const bool root = in.flags & kSwapRootMdata;
  const bool in_place = in.flags & kSwapInPlace;
  const auto type = static_cast<std::uint8_t>(in.flags >> 1 & 3);
  const std::uint64_t size = big ? rmp::kPageSize2M : rmp::kPageSize;
  if ((in.gctx_paddr & kAddrReservedMask) || (in.src_paddr & kAddrReservedMask) ||
      (in.dst_paddr & kAddrReservedMask) || in.software_data != 0 ||
      (in.flags & kSwapInReservedFlags)) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (FwStatus st = CheckSwapPolicy(s, *g); st != FwStatus::kSuccess) return st;
  if (!root) {
    if (FwStatus st = CheckMdataPaddr(s, in, size); st != FwStatus::kSuccess) return st;
  }
  if (FwStatus st = CheckGuest(*g, SnpGuestEvent::kPageSwapIn, true); st != FwStatus::kSuccess) {
    return st;
  }
  SnpMetadataEntry md{};
  if (root) {
    std::memcpy(&md, g->root_md_entry.data(), kMdEntrySize);
  } else {
    (void)s.memory.FirmwareRead(in.mdata_paddr,
                                {reinterpret_cast<std::uint8_t*>(&md), kMdEntrySize});
  }
  // The page type comes from the entry; both bits set is no type at all.
  const bool md_meta = md.entry & kMdMetadata, md_vmsa = md.entry & kMdVmsa;
  if (md_meta && md_vmsa) return FwStatus::kInvalidMdataEntry;
  const auto md_type =
      md_meta ? SwapPageType::kMetadata : (md_vmsa ? SwapPageType::kVmsa : SwapPageType::kData);
  if (static_cast<std::uint8_t>(md_type) != type || !(md.entry & kMdValid)) {
    return FwStatus::kInvalidMdataEntry;
  }
  const PageState src_state = PageStateAt(s, in.src_paddr);
  const PageState dst_state = PageStateAt(s, in.dst_paddr);
  const rmp::RmpEntry dst = EntryAt(s, in.dst_paddr);
  if ((src_state != PageState::kDefault && EntryAt(s, in.src_paddr).page_size_2m() != big) ||
      dst.page_size_2m() != big || static_cast<bool>(md.entry & kMdPageSize2M) != big) {
    return FwStatus::kInvalidPageSize;
  }
  switch (md_type) {
    case SwapPageType::kData:
      if (in_place) {
        if (in.src_paddr != in.dst_paddr) return FwStatus::kInvalidAddress;
        if (src_state != PageState::kPreGuest) return FwStatus::kInvalidPageState;
      }
      if (dst_state != PageState::kPreGuest) return FwStatus::kInvalidPageState;
      if (dst.asid() != g->asid) return FwStatus::kInvalidPageOwner;
      break;
    case SwapPageType::kMetadata:
      if (in_place) return FwStatus::kInvalidParam;
      if (dst_state != PageState::kFirmware) return FwStatus::kInvalidPageState;
      break;
    case SwapPageType::kVmsa:
      if (in_place) return FwStatus::kInvalidParam;
      if (big) return FwStatus::kInvalidPageSize;
      if (dst_state != PageState::kPreGuest) return FwStatus::kInvalidPageState;
      if (dst.asid() != g->asid) return FwStatus::kInvalidPageOwner;
      break;
  }
  if (!InMemory(s, in.src_paddr, size) || !InMemory(s, in.dst_paddr, size)) {
    return FwStatus::kInvalidAddress;
  }
  Bytes cipher(size);
  (void)s.memory.FirmwareRead(in.src_paddr, cipher);  // checked in memory
  // A tag that does not verify: AMD's aes256gcm_authenticated_decrypt_x86addr answers
  // BAD_MEASUREMENT (ccp_direct_cipher.c) and writes nothing.
  auto plain = crypto::Aes256GcmOpen(g->oek.span(), GcmIv(md.iv), {}, cipher,
                                     ByteSpan(md.auth_tag, sizeof md.auth_tag));
  if (!plain.ok()) return FwStatus::kBadMeasurement;
  // ---- nothing above changed state ----
  const bool metadata = md_type == SwapPageType::kMetadata;
  if (!WritePlain(s, metadata ? 0 : g->asid, in.dst_paddr, plain->span())) {
    return FwStatus::kHwErrorPlatform;  // unreachable: dst is the guest's, with its key
  }
  md.entry &= ~kMdValid;  // a page comes back once
  const std::uint64_t gpa = md.entry & kMdGpaMask & rmp::RmpEntry::kMaxGpa;
  s.memory.rmp().Update(in.dst_paddr, size / rmp::kPageSize,
                        [&, i = 0ull](rmp::RmpEntry& e) mutable {
                          if (metadata) {
                            e.set_gpa(in.gctx_paddr | kMetadataGpaFlag);  // FIRMWARE -> METADATA
                            return;
                          }
                          e.set_gpa(gpa + rmp::kPageSize * i++);
                          e.set_vmsa(md_type == SwapPageType::kVmsa);
                          e.set_perms_qword(md.vmpl);
                          if (md.entry & kMdPageValidated)
                            e.set_validated(true);  // PRE_GUEST -> PRE_SWAP
                        });
  StoreEntry(s, *g, in, root, md);
  g->machine.Process(SnpGuestEvent::kPageSwapIn);
  return FwStatus::kSuccess;
}

FwStatus SnpPageMove(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpPageMoveBuf>(buf);
  const bool big = in.page_size & 1;
  const std::uint64_t size = big ? rmp::kPageSize2M : rmp::kPageSize;
  if ((in.gctx_paddr & kAddrReservedMask) || (in.src_paddr & kAddrReservedMask) ||
      (in.dst_paddr & kAddrReservedMask) || (in.page_size & ~1u) || in.reserved != 0) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (FwStatus st = CheckSwapPolicy(s, *g); st != FwStatus::kSuccess) return st;
  const rmp::RmpEntry src = EntryAt(s, in.src_paddr);
  const rmp::RmpEntry dst = EntryAt(s, in.dst_paddr);
  if (src.page_size_2m() != big || dst.page_size_2m() != big) return FwStatus::kInvalidPageSize;
  if (FwStatus st = CheckGuest(*g, SnpGuestEvent::kPageMove, true); st != FwStatus::kSuccess) {
    return st;
  }
  const PageState src_state = PageStateAt(s, in.src_paddr);
  const PageState dst_state = PageStateAt(s, in.dst_paddr);
  const bool guest_page = (src_state == PageState::kPreSwap || src_state == PageState::kPreGuest) &&
                          dst_state == PageState::kPreGuest;
  const bool metadata_page = src_state == PageState::kMetadata && dst_state == PageState::kFirmware;
  if (guest_page) {
    if (src.asid() != g->asid || dst.asid() != g->asid) return FwStatus::kInvalidPageOwner;
  } else if (metadata_page) {
    if (MetadataOwner(src) != in.gctx_paddr) return FwStatus::kInvalidPageOwner;
  } else {
    return FwStatus::kInvalidPageState;
  }
  if (!InMemory(s, in.src_paddr, size) || !InMemory(s, in.dst_paddr, size)) {
    return FwStatus::kInvalidAddress;
  }
  auto plain = ReadPlain(s, guest_page ? g->asid : 0, in.src_paddr, size);
  if (!plain.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  if (in.src_paddr != in.dst_paddr) {
    (void)WritePlain(s, guest_page ? g->asid : 0, in.dst_paddr, plain->span());
  }
  const std::uint64_t pages = size / rmp::kPageSize;
  if (guest_page) {
    const bool was_validated = src_state == PageState::kPreSwap;
    // Source first, then destination, as AMD writes them (src == dst ends as the destination).
    s.memory.rmp().Update(in.src_paddr, pages, [](rmp::RmpEntry& e) {
      e.set_validated(false);  // PRE_SWAP / PRE_GUEST -> GUEST_INVALID
      e.set_immutable(false);
    });
    s.memory.rmp().Update(in.dst_paddr, pages, [&, i = 0ull](rmp::RmpEntry& e) mutable {
      e.set_gpa(src.gpa() + rmp::kPageSize * i++);
      e.set_vmsa(src.vmsa());
      e.set_perms_qword(src.perms_qword());
      e.set_validated(was_validated);  // -> GUEST_VALID, or GUEST_INVALID
      e.set_immutable(false);
    });
  } else {
    s.memory.rmp().Update(in.src_paddr, pages, [](rmp::RmpEntry& e) {
      e.set_gpa(0);  // METADATA -> FIRMWARE
      e.set_vmsa(false);
    });
    s.memory.rmp().Update(in.dst_paddr, pages, [&](rmp::RmpEntry& e) {
      e.set_gpa(in.gctx_paddr | kMetadataGpaFlag);  // FIRMWARE -> METADATA
    });
  }
  g->machine.Process(SnpGuestEvent::kPageMove);
  return FwStatus::kSuccess;
}

FwStatus SnpPageMdInit(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpPageMdInitBuf>(buf);
  if ((in.gctx_paddr & kAddrReservedMask) || (in.page_paddr & kAddrReservedMask)) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (PageStateAt(s, in.page_paddr) != PageState::kFirmware) return FwStatus::kInvalidPageState;
  // AMD checks the guest state but not its activation here.
  if (FwStatus st = CheckGuest(*g, SnpGuestEvent::kPageMdInit, false); st != FwStatus::kSuccess) {
    return st;
  }
  const bool big = s.memory.rmp().Get(in.page_paddr).page_size_2m();
  const std::uint64_t size = big ? rmp::kPageSize2M : rmp::kPageSize;
  if (!InMemory(s, in.page_paddr, size)) return FwStatus::kInvalidAddress;
  // ---- nothing above changed state ----
  for (std::uint64_t off = 0; off < size; off += rmp::kPageSize) {
    (void)s.memory.FirmwareWrite(in.page_paddr + off, rmp::Page{});  // the page is zeroed
  }
  s.memory.rmp().Update(in.page_paddr, size / rmp::kPageSize, [&](rmp::RmpEntry& e) {
    e.set_gpa(in.gctx_paddr | kMetadataGpaFlag);  // FIRMWARE -> METADATA
  });
  g->machine.Process(SnpGuestEvent::kPageMdInit);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
