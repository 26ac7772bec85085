// SNP platform commands: SNP_INIT(_EX), SNP_SHUTDOWN(_EX), SNP_PLATFORM_STATUS, SNP_DF_FLUSH,
// SNP_CONFIG, SNP_COMMIT. Check order and statuses follow AMD-ASPFW sev_mcmd.c
// (docs/snp-commands.md); every check precedes the first state change.
#include <bit>

#include "firmware_state.h"

namespace sevemu::emulator {
namespace {

using statemachine::SnpPlatformEvent;
using statemachine::SnpPlatformState;

// SNP_INIT marks every ASID dirty: WBINVD and SNP_DF_FLUSH must follow before any ACTIVATE.
// Rebuilding the RMP returns every page to the hypervisor, except the ranges of an INIT_EX
// list, which become HV_FIXED; guest contexts and keys do not survive it.
void InitCommon(FirmwareState& s, bool rebuild_rmp, const std::vector<PageRange>& hv_fixed) {
  if (rebuild_rmp) {
    s.memory.rmp().Clear();
    for (const auto& [gctx, g] : s.guests) {
      if (g->activation != Activation::kInactive) s.memory.ClearGuestKey(g->asid);
    }
    s.guests.clear();
    SetHvFixed(s, hv_fixed);
    // A firmware that builds the RMP applies every mitigation it knows ("without needing a
    // full RMP re-build" is what SNP_VERIFY_MITIGATION saves: Linux's commit message).
    s.verified_mitigations = Abi(s).mitigations;
  }
  s.asid_use.assign(s.max_asid + 1, AsidUse::kDirty);
  s.rapl_disabled = false;
  s.ciphertext_hiding = false;
  s.wbinvd_done = false;
  s.rmp_initialized = true;
  s.guest_count = 0;
  s.snp.Process(SnpPlatformEvent::kInit);
}

bool AnyAsidNotClean(const FirmwareState& s) {
  for (std::uint32_t a = 1; a <= s.max_asid; ++a) {
    if (s.asid_use[a] != AsidUse::kClean) return true;
  }
  return false;
}

constexpr std::uint32_t kInitExInitRmp = 1u << 0;
constexpr std::uint32_t kInitExListPaddrEn = 1u << 1;
constexpr std::uint32_t kInitExRaplDis = 1u << 2;
constexpr std::uint32_t kInitExCiphertextHiding = 1u << 3;
constexpr std::uint32_t kInitExKnownFlags =
    0x1F;  // init_rmp, list_paddr_en, rapl_dis, ciphertext hiding, tio

}  // namespace

FwStatus SnpInit(FirmwareState& s, MutableByteSpan) {
  if (!s.snp.Accepts(SnpPlatformEvent::kInit)) return FwStatus::kInvalidPlatformState;
  InitCommon(s, true, {});  // SNP_INIT always (re)builds the RMP
  return FwStatus::kSuccess;
}

FwStatus SnpInitEx(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpInitExBuf>(buf);
  if ((in.flags & ~kInitExKnownFlags) != 0 || in.reserved0 != 0 || !AllZero(in.reserved1)) {
    return FwStatus::kInvalidParam;
  }
  if (!s.snp.Accepts(SnpPlatformEvent::kInit)) return FwStatus::kInvalidPlatformState;
  if ((in.flags & kInitExInitRmp) == 0) {
    // Resume without rebuilding the RMP: only if it was built before (AMD-ASPFW also requires
    // the same TCB, which holds here as the TCB cannot change while the firmware runs).
    if (!s.rmp_initialized) return FwStatus::kRmpInitRequired;
    if (in.flags & kInitExListPaddrEn) return FwStatus::kInvalidParam;
  }
  std::vector<PageRange> hv_fixed;
  if (in.flags & kInitExListPaddrEn) {
    if (in.list_paddr & kAddrReservedMask) return FwStatus::kInvalidParam;
    if (FwStatus st = ReadRangeList(s, in.list_paddr, hv_fixed); st != FwStatus::kSuccess) {
      return st;
    }
  }
  // From ABI 1.57 the firmware acts on RAPL_DIS and CIPHERTEXT_HIDING_EN (1.55 accepts and
  // ignores them). Ciphertext hiding needs a part that has it and MAX_SNP_ASID, the ASIDs it
  // covers, inside the SNP/SEV-ES range (Linux __sev_snp_init_locked passes max_snp_asid with
  // it). sevemu records the setting; it does not split the ASID range.
  const bool features = Abi(s).platform_features;
  const bool hiding = features && (in.flags & kInitExCiphertextHiding);
  if (hiding && (!HasCiphertextHiding(s.platform.state.chip.product) || in.max_snp_asid == 0 ||
                 in.max_snp_asid >= s.config.min_sev_asid)) {
    return FwStatus::kInvalidParam;
  }
  InitCommon(s, in.flags & kInitExInitRmp, hv_fixed);
  s.rapl_disabled = features && (in.flags & kInitExRaplDis);
  s.ciphertext_hiding = hiding;
  return FwStatus::kSuccess;
}

FwStatus SnpShutdown(FirmwareState& s, MutableByteSpan) {
  if (s.snp.state() == SnpPlatformState::kUninit) return FwStatus::kSuccess;
  if (AnyAsidNotClean(s)) return FwStatus::kDfFlushRequired;
  s.snp.Process(SnpPlatformEvent::kShutdown);
  s.vlek.reset();  // a successful shutdown wipes the VLEK (AMD-ASPFW)
  s.vlek_sticks.reset();
  return FwStatus::kSuccess;
}

FwStatus SnpShutdownEx(FirmwareState& s, MutableByteSpan buf) {
  if (s.snp.state() == SnpPlatformState::kUninit) return FwStatus::kSuccess;
  if (AnyAsidNotClean(s)) return FwStatus::kDfFlushRequired;
  const auto in = ReadBuf<SnpShutdownExBuf>(buf);
  constexpr std::uint32_t kIommu = 1u << 0, kX86 = 1u << 1;
  if (in.length != sizeof(SnpShutdownExBuf) || (in.flags & ~(kIommu | kX86)) != 0 ||
      ((in.flags & kX86) && !(in.flags & kIommu))) {
    return FwStatus::kInvalidParam;
  }
  s.snp.Process(SnpPlatformEvent::kShutdown);
  if (in.flags & kIommu) s.rmp_initialized = false;  // the RMP is torn down with the IOMMU
  s.vlek.reset();
  s.vlek_sticks.reset();
  return FwStatus::kSuccess;
}

FwStatus SnpPlatformStatus(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpAddrBuf>(buf);
  if (CrossesPage(in.paddr, sizeof(SnpPlatformStatusPage))) return FwStatus::kInvalidParam;
  // The page rule applies only once SNP is initialised (AMD-ASPFW).
  const bool init = s.snp.state() == SnpPlatformState::kInit;
  if (FwStatus st = CheckStatusPage(s, in.paddr, init); st != FwStatus::kSuccess) return st;
  const PlatformState& p = s.platform.state;
  SnpPlatformStatusPage out{};
  out.api_major = p.current_fw.major;
  out.api_minor = p.current_fw.minor;
  out.state = static_cast<std::uint8_t>(s.snp.state());
  out.is_rmp_initialized = s.rmp_initialized ? 1 : 0;
  out.build_id = p.current_fw.build;
  out.feature_flags =
      (p.mask_chip_id ? 1u : 0u) | (p.mask_chip_key ? 2u : 0u) | (s.vlek ? 4u : 0u) | (1u << 3);
  if (Abi(s).platform_features) {  // bits 4-6: rapl_dis, ciphertext_hiding_cap, _en (Linux)
    out.feature_flags |= (s.rapl_disabled ? 1u << 4 : 0u) |
                         (HasCiphertextHiding(p.chip.product) ? 1u << 5 : 0u) |
                         (s.ciphertext_hiding ? 1u << 6 : 0u);
  }
  out.guest_count = s.guest_count;
  out.current_tcb = p.current_tcb.raw();
  out.reported_tcb = p.reported_tcb.raw();
  (void)s.memory.FirmwareWrite(in.paddr, {reinterpret_cast<const std::uint8_t*>(&out), sizeof out});
  return FwStatus::kSuccess;
}

FwStatus SnpDfFlush(FirmwareState& s, MutableByteSpan) {
  if (!s.wbinvd_done) return FwStatus::kWbinvdRequired;
  for (auto& use : s.asid_use) {
    if (use == AsidUse::kDirty) use = AsidUse::kClean;
  }
  return FwStatus::kSuccess;
}

FwStatus SnpConfig(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpConfigBuf>(buf);
  if ((in.flags & ~3u) != 0 || !AllZero(in.reserved)) return FwStatus::kInvalidParam;
  PlatformState& p = s.platform.state;
  TcbVersion reported = p.committed_tcb;
  if (in.reported_tcb != 0) {
    auto tcb = TcbVersion::FromRaw(p.chip.product, in.reported_tcb);
    // Above the committed TCB in any component: refused (AMD compares the packed value; the
    // componentwise rule is what sevemu's key ladder can honour, docs/versioned-keys.md).
    if (!tcb.ok() || !tcb->AtOrBelow(p.committed_tcb)) return FwStatus::kInvalidParam;
    reported = *tcb;
  }
  auto sticks = s.sticks.DeriveDown(reported);
  if (!sticks.ok()) return FwStatus::kInvalidParam;
  auto vcek = DeriveVcek(*sticks);
  if (!vcek.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  p.reported_tcb = reported;
  p.mask_chip_id = in.flags & 1;
  p.mask_chip_key = in.flags & 2;
  s.vcek = std::move(vcek).value();
  DropDerivedSeeds(s);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

FwStatus SnpCommit(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpCommitBuf>(buf);
  if (in.length != sizeof(SnpCommitBuf)) return FwStatus::kInvalidParam;
  PlatformState& p = s.platform.state;
  auto vcek = DeriveVcek(s.sticks);  // the new reported TCB is the current one
  if (!vcek.ok()) return FwStatus::kHwErrorPlatform;
  p.committed_tcb = p.current_tcb;
  p.committed_fw = p.current_fw;
  p.reported_tcb = p.current_tcb;
  s.vcek = std::move(vcek).value();
  DropDerivedSeeds(s);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {

// SNP_VLEK_LOAD (AMD-ASPFW snp_mcmd_vlek_load): the wrapped hashstick must be for exactly the
// reported TCB (BAD_SVN) and authenticate under this chip's wrapping key (BAD_MEASUREMENT).
// AMD checks no platform state here.
FwStatus SnpVlekLoad(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpVlekLoadBuf>(buf);
  if (in.length != sizeof(SnpVlekLoadBuf) || in.vlek_wrapped_version != 0 ||
      !AllZero(in.reserved)) {
    return FwStatus::kInvalidParam;
  }
  Bytes wrapped(kWrappedVlekSize);
  if (!s.memory.FirmwareRead(in.vlek_wrapped_paddr, wrapped).ok()) return FwStatus::kInvalidAddress;
  auto chip = s.sticks.DeriveDown(s.platform.state.reported_tcb);
  if (!chip.ok()) return FwStatus::kHwErrorPlatform;
  auto sticks = UnwrapVlek(*chip, wrapped);
  if (!sticks.ok()) {
    return sticks.error().code() == ErrorCode::kRefused ? FwStatus::kBadSvn
                                                        : FwStatus::kBadMeasurement;
  }
  auto vlek = DeriveVlek(*sticks);
  if (!vlek.ok()) return FwStatus::kHwErrorPlatform;
  // ---- nothing above changed state ----
  s.vlek_sticks = std::move(sticks).value();
  s.vlek = std::move(vlek).value();
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {

// SNP_FEATURE_INFO (SEV-ABI-FACTS.md 8.2): CPUID-like leaves describing this firmware. Leaf 0:
// EAX the highest leaf (1), EBX bit0 legacy SEV commands / bit1 SEV-TIO (neither yet), ECX
// bit0 VLEK and bit1 X86_SNP_SHUTDOWN (both supported), from ABI 1.57 bits 2-5 (RAPL_DIS,
// CIPHERTEXT_HIDING, AES_256_XTS and CXL_ALLOW policies supported). Leaf 1: EAX bit n = guest
// message type group n supported (type 2n+1: KEY 1, REPORT 2, the migration-agent messages
// EXPORT 3 .. ABSORB_NOMA 7, TSC_INFO 8; AMD-ASPFW sev_mcmd.h SEV_FEATURE_INFO_x01_EAX sets all
// nine, CPUID 0 is not modelled yet). Leaves above 1 read as zero, as CPUID's do.
// The output page follows SNP_PLATFORM_STATUS's rule (FIRMWARE or DEFAULT once initialised).
FwStatus SnpFeatureInfo(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpFeatureInfoBuf>(buf);
  if (in.length != sizeof(SnpFeatureInfoBuf)) return FwStatus::kInvalidParam;
  if (CrossesPage(in.feature_info_paddr, 16)) return FwStatus::kInvalidParam;
  const bool init = s.snp.state() == SnpPlatformState::kInit;
  if (FwStatus st = CheckStatusPage(s, in.feature_info_paddr, init); st != FwStatus::kSuccess) {
    return st;
  }
  std::uint8_t out[16] = {};
  if (in.ecx_in == 0) {
    StoreLe32(out + 0, 1);
    std::uint32_t ecx = (1u << 0) | (1u << 1);
    if (Abi(s).platform_features) {  // the policy bits 21-24 this part honours (Linux psp-sev.h)
      const Product product = s.platform.state.chip.product;
      ecx |= (1u << 2) | (HasCiphertextHiding(product) ? 1u << 3 : 0u) |
             (HasAes256Xts(product) ? 1u << 4 : 0u) | (1u << 5);
    }
    // Bit 13: SNP_VERIFY_MITIGATION (Linux psp-sev.h SNP_VERIFY_MITIGATION_SUPPORTED).
    if (Abi(s).mitigations != 0) ecx |= 1u << 13;
    StoreLe32(out + 8, ecx);
  } else if (in.ecx_in == 1) {
    StoreLe32(out + 0, (1u << 1) | (1u << 2) | (0x1Fu << 3) | (1u << 8));
  }
  (void)s.memory.FirmwareWrite(in.feature_info_paddr, out);
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {

// SNP_VERIFY_MITIGATION (ABI 1.58). The buffer, the sub-commands and the result are Linux's
// (psp-sev.h sev_data_snp_verify_mitigation, _dst; sev-dev.c snp_verify_mitigation); the checks,
// their order and the failure status are sevemu's, as no public source gives the firmware's:
// the buffer's own fields (length, sub-command, reserved bits, src_paddr_en: no simulated
// mitigation takes input) → INVALID_PARAM; REQ_VERIFY before SNP_INIT → INVALID_PLATFORM_STATE,
// a vector of other than one bit → INVALID_PARAM (Linux v5 refuses more than one before asking);
// the result page follows SNP_PLATFORM_STATUS's rule. A bit the firmware does not know is no
// command failure: the result says so in mit_failure_status (kMitFailureUnsupported) and the
// verified vector is unchanged. docs/firmware-abi.md "Mitigations".
FwStatus SnpVerifyMitigation(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpVerifyMitigationBuf>(buf);
  const bool dst_en = in.flags & kMitDstPaddrEn;
  if (in.length != sizeof(SnpVerifyMitigationBuf) || in.subcommand > kMitSubcmdVerify ||
      in.reserved0 != 0 || (in.flags & ~kMitDstPaddrEn) != 0 || !AllZero(in.reserved1) ||
      !AllZero(in.reserved2) ||
      (dst_en && CrossesPage(in.dst_paddr, sizeof(SnpVerifyMitigationDst)))) {
    return FwStatus::kInvalidParam;
  }
  const bool init = s.snp.state() == SnpPlatformState::kInit;
  const bool verify = in.subcommand == kMitSubcmdVerify;
  if (verify && !init) return FwStatus::kInvalidPlatformState;
  if (verify && !std::has_single_bit(in.vector)) return FwStatus::kInvalidParam;
  if (!verify && in.vector != 0) return FwStatus::kInvalidParam;
  if (dst_en) {
    if (FwStatus st = CheckStatusPage(s, in.dst_paddr, init); st != FwStatus::kSuccess) return st;
  }
  // ---- nothing above changed state ----
  SnpVerifyMitigationDst out{};
  const std::uint64_t supported = Abi(s).mitigations;
  if (verify) {
    if (in.vector & supported) {
      s.verified_mitigations |= in.vector;
    } else {
      out.mit_failure_status = kMitFailureUnsupported;
    }
  }
  out.mit_verified_vector = s.verified_mitigations;
  out.mit_supported_vector = supported;
  if (dst_en) {
    (void)s.memory.FirmwareWrite(in.dst_paddr,
                                 {reinterpret_cast<const std::uint8_t*>(&out), sizeof out});
  }
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
