// SNP_LAUNCH_START, SNP_LAUNCH_UPDATE, SNP_LAUNCH_FINISH. Check order per AMD-ASPFW
// snp_mcmd_launch_* (docs/snp-commands.md). All checks precede the first state change.
#include <cstring>

#include "firmware_state.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/emulator/firmware_keys.h"
#include "sevemu/emulator/snp/cpuid_page.h"
#include "sevemu/emulator/snp/launch_digest.h"
#include "sevemu/emulator/snp/snp_policy.h"

namespace sevemu::emulator {
namespace {

using rmp::PageState;
using statemachine::SnpGuestEvent;
using statemachine::SnpPlatformEvent;

// The secrets page (SEV-ABI-FACTS.md 3.7): version 3, IMI, FMS, GOSVW, VMPCK0-3, TSC factor.
rmp::Page SecretsPage(const FirmwareState& s, const SnpGuest& g) {
  rmp::Page page{};
  StoreLe32(page.data() + 0x000, 3);
  StoreLe32(page.data() + 0x004, g.imi_en ? 1 : 0);
  StoreLe32(page.data() + 0x008, s.platform.state.chip.cpuid_fms());
  std::memcpy(page.data() + 0x010, g.gosvw.data(), 16);
  for (int i = 0; i < 4; ++i) std::memcpy(page.data() + 0x20 + 32 * i, g.vmpck[i].data(), 32);
  StoreLe32(page.data() + 0x160, 200);  // TSC_FACTOR: (100000 - 99600) / 2, AMD-ASPFW Genoa
  return page;
}

}  // namespace

FwStatus SnpLaunchStart(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpLaunchStartBuf>(buf);
  constexpr std::uint32_t kMaEn = 1, kImiEn = 2;
  if ((in.gctx_paddr & kAddrReservedMask) || (in.flags & ~(kMaEn | kImiEn)) ||
      (in.ma_gctx_paddr & kAddrReservedMask)) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SnpGuestEvent::kLaunchStart)) return FwStatus::kInvalidGuestState;
  PolicyContext ctx;
  ctx.firmware = s.platform.state.current_fw;
  ctx.defined_bits = Abi(s).policy_bits;
  ctx.aes_256_xts = HasAes256Xts(s.platform.state.chip.product);
  ctx.rapl_disabled = s.rapl_disabled;
  ctx.ciphertext_hiding = s.ciphertext_hiding;
  ctx.smt_enabled = s.config.smt_enabled;
  SnpGuest* ma = nullptr;
  if (in.flags & kMaEn) {
    ma = GuestAt(s, in.ma_gctx_paddr);
    if (ma == nullptr) return FwStatus::kInvalidGuest;
    ctx.ma_en = true;
    ctx.ma_policy = ma->policy;
    // AMD-ASPFW tests GCTX.MA != PADDR_INVALID. A context never launched (this one included)
    // still holds the zeroed field, so only a guest launched without an agent (MA_NONE) can be
    // one; a bound or imported guest cannot.
    ctx.ma_has_ma = ma->migration.state() != statemachine::SnpMigrationState::kNone;
  }
  if (CheckSnpPolicy(in.policy, ctx)) return FwStatus::kPolicyFailure;
  std::array<SecretBytes, 4> vmpck;
  for (auto& k : vmpck) {
    auto r = FirmwareRandom(s, 32);
    if (!r.ok()) return FwStatus::kHwErrorPlatform;
    k = std::move(r).value();
  }
  auto vmrk = FirmwareRandom(s, 32);
  auto report_id = FirmwareRandom(s, 32);
  if (!vmrk.ok() || !report_id.ok()) return FwStatus::kHwErrorPlatform;
  // The offline encryption key (AMD draws it first; drawn last here so that a seeded
  // platform's VMPCKs and report IDs stay what they were before page swapping existed).
  auto oek = FirmwareRandom(s, 32);
  if (!oek.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  g->oek = std::move(oek).value();
  g->oek_iv_count = 0;
  g->policy = in.policy;
  g->vmpck = std::move(vmpck);
  g->vmrk = std::move(vmrk).value();
  std::memcpy(g->report_id.data(), report_id->data(), 32);
  g->ma_gctx_paddr = ma != nullptr ? in.ma_gctx_paddr : ~0ull;
  if (ma != nullptr) {
    g->report_id_ma = ma->report_id;
  } else {
    g->report_id_ma.fill(0xFF);  // no migration agent
  }
  g->migration.Process(ma != nullptr ? statemachine::SnpMigrationEvent::kLaunchStartMa
                                     : statemachine::SnpMigrationEvent::kLaunchStart);
  g->imi_en = in.flags & kImiEn;
  g->desired_tsc_khz = in.desired_tsc_khz;
  std::memcpy(g->gosvw.data(), in.gosvw, 16);
  ++s.guest_count;
  g->machine.Process(SnpGuestEvent::kLaunchStart);
  return FwStatus::kSuccess;
}

FwStatus SnpLaunchUpdate(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpLaunchUpdateBuf>(buf);
  if ((in.gctx_paddr & kAddrReservedMask) || (in.address & kAddrReservedMask) ||
      (in.page_info & ~0x1Fu) || in.reserved0 != 0 || (in.vmpl_perms & 0xFF) != 0 ||
      in.reserved1 != 0) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (PageStateAt(s, in.address) != PageState::kPreGuest) return FwStatus::kInvalidPageState;
  const rmp::RmpEntry entry = s.memory.rmp().Get(in.address);
  const bool big = in.page_info & 1;
  if (entry.page_size_2m() != big) return FwStatus::kInvalidPageSize;
  if (big && (in.address & (rmp::kPageSize2M - 1)) != 0) return FwStatus::kInvalidAddress;
  const auto type = static_cast<PageType>((in.page_info >> 1) & 7);
  const bool four_k_only =
      type == PageType::kVmsa || type == PageType::kSecrets || type == PageType::kCpuid;
  if (four_k_only && big) return FwStatus::kInvalidPageSize;
  if ((in.page_info >> 1 & 7) == 0 || (in.page_info >> 1 & 7) == 7) return FwStatus::kInvalidParam;
  if (!g->machine.Accepts(SnpGuestEvent::kLaunchUpdate)) return FwStatus::kInvalidGuestState;
  if (g->activation == Activation::kInactive) return FwStatus::kInactive;
  if (entry.asid() != g->asid) return FwStatus::kInvalidPageOwner;
  const bool imi_page = in.page_info & (1u << 4);
  if (g->imi_en && !imi_page) return FwStatus::kInvalidParam;

  // Prepare every chunk's plaintext and the new digests before changing anything.
  const std::uint64_t chunks = big ? rmp::kPagesPer2M : 1;
  PageInfoInput info;
  info.type = type;
  info.imi_page = imi_page;
  info.vmpl1_perms = static_cast<std::uint8_t>(in.vmpl_perms >> 8);
  info.vmpl2_perms = static_cast<std::uint8_t>(in.vmpl_perms >> 16);
  info.vmpl3_perms = static_cast<std::uint8_t>(in.vmpl_perms >> 24);
  LaunchDigest ld = g->launch_digest, imd = g->imi_digest;
  std::vector<rmp::Page> plain(chunks);
  for (std::uint64_t i = 0; i < chunks; ++i) {
    const std::uint64_t spa = in.address + i * rmp::kPageSize;
    if (!s.memory.FirmwareRead(spa, plain[i]).ok()) return FwStatus::kInvalidAddress;
    if (type == PageType::kCpuid) {
      if (!CpuidPageHeaderValid(plain[i])) return FwStatus::kInvalidParam;
      if (!SanitizeCpuidPage(plain[i], s.platform.state.chip.cpuid_fms())) {
        // The corrected table goes back to the VMM in plaintext; nothing else changes.
        (void)s.memory.FirmwareWrite(in.address, plain[i]);
        return FwStatus::kInvalidParam;
      }
    }
    if (type == PageType::kZero) plain[i].fill(0);
    if (type == PageType::kSecrets) plain[i] = SecretsPage(s, *g);
    info.gpa = s.memory.rmp().Get(spa).gpa();
    // SECRETS and ZERO pages are measured as zero contents: the digest never sees the VMPCKs.
    auto next = ExtendLaunchDigest(ld, plain[i], info);
    if (!next.ok()) return FwStatus::kHwErrorPlatform;
    if (imi_page) {
      auto next_imd = ExtendLaunchDigest(imd, plain[i], info);
      if (!next_imd.ok()) return FwStatus::kHwErrorPlatform;
      imd = *next_imd;
    }
    ld = *next;
  }
  // ---- nothing above changed state ----
  for (std::uint64_t i = 0; i < chunks; ++i) {
    const std::uint64_t spa = in.address + i * rmp::kPageSize;
    (void)s.memory.FirmwareWriteGuest(g->asid, spa, plain[i]);
    SecureZero(plain[i].data(), plain[i].size());
    rmp::RmpEntry e = s.memory.rmp().Get(spa);
    e.set_vmpl_perms(1, info.vmpl1_perms);
    e.set_vmpl_perms(2, info.vmpl2_perms);
    e.set_vmpl_perms(3, info.vmpl3_perms);
    e.set_vmsa(type == PageType::kVmsa);
    e.set_validated(true);
    e.set_immutable(false);  // PRE_GUEST -> GUEST_VALID
    s.memory.rmp().Set(spa, e);
  }
  g->launch_digest = ld;
  g->imi_digest = imd;
  g->machine.Process(SnpGuestEvent::kLaunchUpdate);
  return FwStatus::kSuccess;
}

namespace {

// ID block (0x60) and ID authentication information (4 KiB) offsets (SEV-ABI-FACTS.md 7.2).
constexpr std::size_t kIdBlockSize = 0x60;
constexpr std::size_t kIdAuthSize = 0x1000;
constexpr std::size_t kAuthIdBlockSig = 0x040;
constexpr std::size_t kAuthIdKey = 0x240;
constexpr std::size_t kAuthIdKeySig = 0x680;
constexpr std::size_t kAuthAuthorKey = 0x880;

struct IdCheck {
  FwStatus status = FwStatus::kSuccess;
  std::array<std::uint8_t, 48> id_key_digest{};
  std::array<std::uint8_t, 48> author_key_digest{};
};

// Verifies `sig_slot` (512-byte firmware signature) over `msg` with the 0x404-byte `key`.
FwStatus VerifyFwSignature(ByteSpan key, ByteSpan msg, ByteSpan sig_slot) {
  auto pub = ParseFwPublicKey(key);
  if (!pub.ok()) return FwStatus::kBadSignature;
  auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(sig_slot);
  if (!sig.ok() || !pub->VerifyEcdsaSha384(msg, *sig).ok()) return FwStatus::kBadSignature;
  return FwStatus::kSuccess;
}

IdCheck CheckIdBlock(const SnpGuest& g, ByteSpan id_block, ByteSpan auth, bool author_key_en) {
  IdCheck r;
  if (std::memcmp(id_block.data(), g.launch_digest.data(), 48) != 0) {
    r.status = FwStatus::kBadMeasurement;
  } else if (LoadLe64(id_block.data() + 0x58) != g.policy) {
    r.status = FwStatus::kPolicyFailure;
  } else if (LoadLe32(auth.data()) != kAlgoEcdsaP384Sha384 ||
             (author_key_en && LoadLe32(auth.data() + 4) != kAlgoEcdsaP384Sha384)) {
    r.status = FwStatus::kInvalidParam;
  } else {
    r.status = VerifyFwSignature(auth.subspan(kAuthIdKey, kFwPublicKeySize), id_block,
                                 auth.subspan(kAuthIdBlockSig, kFwSignatureSize));
    if (r.status == FwStatus::kSuccess && author_key_en) {
      r.status = VerifyFwSignature(auth.subspan(kAuthAuthorKey, kFwPublicKeySize),
                                   auth.subspan(kAuthIdKey, kFwPublicKeySize),
                                   auth.subspan(kAuthIdKeySig, kFwSignatureSize));
    }
  }
  if (r.status != FwStatus::kSuccess) return r;
  auto id_digest = crypto::Sha384(auth.subspan(kAuthIdKey, kFwPublicKeySize));
  if (!id_digest.ok()) return {FwStatus::kHwErrorPlatform};
  std::memcpy(r.id_key_digest.data(), id_digest->data(), 48);
  if (author_key_en) {
    auto a = crypto::Sha384(auth.subspan(kAuthAuthorKey, kFwPublicKeySize));
    if (!a.ok()) return {FwStatus::kHwErrorPlatform};
    std::memcpy(r.author_key_digest.data(), a->data(), 48);
  }
  return r;
}

}  // namespace

FwStatus SnpLaunchFinish(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpLaunchFinishBuf>(buf);
  constexpr std::uint64_t kIdBlockEn = 1, kAuthKeyEn = 2, kVcekDis = 4;
  if ((in.gctx_paddr & kAddrReservedMask) || (in.flags & ~(kIdBlockEn | kAuthKeyEn | kVcekDis))) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kGuestCommand)) return FwStatus::kInvalidPlatformState;
  SnpGuest* g = GuestAt(s, in.gctx_paddr);
  if (g == nullptr) return FwStatus::kInvalidGuest;
  if (!g->machine.Accepts(SnpGuestEvent::kLaunchFinish) || g->imi_en) {
    return FwStatus::kInvalidGuestState;
  }
  if (g->activation == Activation::kInactive) return FwStatus::kInactive;
  const bool id_block_en = in.flags & kIdBlockEn;
  const bool author_key_en = in.flags & kAuthKeyEn;
  IdCheck id;
  std::array<std::uint8_t, kIdBlockSize> id_block{};
  if (id_block_en) {
    Bytes auth(kIdAuthSize);
    if (!s.memory.FirmwareRead(in.id_block_paddr, id_block).ok() ||
        !s.memory.FirmwareRead(in.id_auth_paddr, auth).ok()) {
      return FwStatus::kInvalidAddress;
    }
    id = CheckIdBlock(*g, id_block, auth, author_key_en);
    if (id.status != FwStatus::kSuccess) return id.status;
  }
  // ---- nothing above changed state ----
  g->id_block_en = id_block_en;
  g->author_key_en = author_key_en;
  g->vcek_disabled = in.flags & kVcekDis;
  g->id_block = id_block;
  g->id_key_digest = id.id_key_digest;
  g->author_key_digest = id.author_key_digest;
  std::memcpy(g->host_data.data(), in.host_data, 32);
  if (g->activation == Activation::kPending) {
    g->activation = Activation::kActive;
    g->ran = true;
    s.asid_use[g->asid] = AsidUse::kInUse;
  }
  g->machine.Process(SnpGuestEvent::kLaunchFinish);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
