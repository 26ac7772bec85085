// MSG_REPORT_REQ, MSG_KEY_REQ and MSG_TSC_INFO_REQ (SEV-SNP ABI "Guest Messages"; rules per
// SEV-ABI-FACTS.md 3.4-3.6 and AMD-ASPFW snp_mcmd_guest_request).
#include "guest_msg_handlers.h"

#include <cstring>

#include "sevemu/crypto/kdf.h"
#include "sevemu/emulator/messages/attestation_report.h"
#include "sevemu/emulator/snp/snp_policy.h"

namespace sevemu::emulator {
namespace {

Bytes StatusOnly(std::size_t size, FwStatus st) {
  Bytes out(size, 0);
  StoreLe32(out.data(), static_cast<std::uint32_t>(st));
  return out;
}

constexpr std::uint32_t kKeySelDefault = 0, kKeySelVcek = 1, kKeySelVlek = 2;

// PLATFORM_INFO (SEV-ABI-FACTS.md 5.2): bit 0 SMT_EN; from ABI 1.57, bit 3 RAPL_DIS and bit 4
// CIPHERTEXT_HIDING_EN as SNP_INIT_EX set them (go-sev-guest ParseSnpPlatformInfo).
std::uint64_t PlatformInfo(const FirmwareState& s) {
  return (s.config.smt_enabled ? 1u : 0u) | (s.rapl_disabled ? 1u << 3 : 0u) |
         (s.ciphertext_hiding ? 1u << 4 : 0u);
}

}  // namespace

FwStatus BuildSignedReport(const MsgContext& c, ByteSpan report_data, std::uint32_t vmpl,
                           std::uint32_t key_sel, std::array<std::uint8_t, 0x4A0>& out) {
  const FirmwareState& s = c.s;
  const SnpGuest& g = c.guest;
  const PlatformState& p = s.platform.state;
  if (vmpl < c.requester_vmpl || vmpl > 3) return FwStatus::kInvalidParam;
  const bool vlek_loaded = s.vlek.has_value();
  if (key_sel > kKeySelVlek) return FwStatus::kInvalidKey;
  if (key_sel == kKeySelVlek && !vlek_loaded) return FwStatus::kInvalidKey;
  if (key_sel == kKeySelVcek && g.vcek_disabled) return FwStatus::kInvalidKey;
  if (key_sel == kKeySelDefault && g.vcek_disabled && !vlek_loaded) return FwStatus::kInvalidKey;

  ReportFields f;
  const ProductInfo& info = Info(p.chip.product);
  f.version = s.config.report_version != 0        ? s.config.report_version
              : p.chip.product == Product::kTurin ? 5
                                                  : Abi(s).report_version;
  f.guest_svn = g.id_block_en ? LoadLe32(g.id_block.data() + 0x54) : 0;
  f.policy = g.policy;
  if (g.id_block_en) {
    std::memcpy(f.family_id.data(), g.id_block.data() + 0x30, 16);
    std::memcpy(f.image_id.data(), g.id_block.data() + 0x40, 16);
  }
  f.vmpl = vmpl;
  f.current_tcb = p.current_tcb.raw();
  f.platform_info = PlatformInfo(s);
  f.author_key_en = g.author_key_en;
  f.mask_chip_key = p.mask_chip_key;
  // KEY_SEL 0 prefers a loaded VLEK; MASK_CHIP_KEY leaves a VCEK-signed report unsigned.
  const bool use_vlek = vlek_loaded && key_sel != kKeySelVcek;
  f.signing_key = use_vlek          ? SigningKey::kVlek
                  : p.mask_chip_key ? SigningKey::kNone
                                    : SigningKey::kVcek;
  std::memcpy(f.report_data.data(), report_data.data(), 64);
  f.measurement = g.launch_digest;
  f.host_data = g.host_data;
  f.id_key_digest = g.id_key_digest;
  f.author_key_digest = g.author_key_digest;
  f.report_id = g.report_id;
  f.report_id_ma = g.report_id_ma;
  f.reported_tcb = p.reported_tcb.raw();
  f.cpuid_family = info.family;
  f.cpuid_model = info.model;
  f.cpuid_stepping = p.chip.stepping;
  if (!p.mask_chip_id) std::memcpy(f.chip_id.data(), p.chip.chip_id.data(), 64);
  f.committed_tcb = p.committed_tcb.raw();
  f.current_build = p.current_fw.build;
  f.current_minor = p.current_fw.minor;
  f.current_major = p.current_fw.major;
  f.committed_build = p.committed_fw.build;
  f.committed_minor = p.committed_fw.minor;
  f.committed_major = p.committed_fw.major;
  f.launch_tcb = g.launch_tcb;
  f.launch_mit_vector = g.launch_mit_vector;      // v5 only (EncodeReport)
  f.current_mit_vector = s.verified_mitigations;  // SNP_VERIFY_MITIGATION's verified vector
  out = EncodeReport(f);
  if (f.signing_key != SigningKey::kNone) {
    const auto& key = f.signing_key == SigningKey::kVlek ? s.vlek : s.vcek;
    if (!key || !SignReport(out, *key).ok()) return FwStatus::kHwErrorPlatform;
  }
  return FwStatus::kSuccess;
}

Bytes HandleReportReq(const MsgContext& c, ByteSpan req) {
  if (req.size() < kReportReqSize || (LoadLe32(req.data() + 0x44) & ~3u) != 0 ||
      !AllZero(req.subspan(0x48, 0x18))) {
    return StatusOnly(kReportRspSize, FwStatus::kInvalidParam);
  }
  std::array<std::uint8_t, 0x4A0> report{};
  const FwStatus st = BuildSignedReport(c, req.first(64), LoadLe32(req.data() + 0x40),
                                        LoadLe32(req.data() + 0x44) & 3u, report);
  if (st != FwStatus::kSuccess) return StatusOnly(kReportRspSize, st);
  Bytes out(kReportRspSize, 0);
  StoreLe32(out.data() + 4, static_cast<std::uint32_t>(report.size()));
  std::memcpy(out.data() + 0x20, report.data(), report.size());
  return out;
}

namespace keyfield {
constexpr std::uint64_t kPolicy = 1u << 0, kImageId = 1u << 1, kFamilyId = 1u << 2,
                        kMeasurement = 1u << 3, kGuestSvn = 1u << 4, kTcbVersion = 1u << 5,
                        kLaunchMitVector = 1u << 6;  // ABI 1.58 (virtee/sev GuestFieldSelect)
// The bits the running ABI knows (FirmwareAbi::key_field_select; 63:6 MBZ in ABI 1.55).
}  // namespace keyfield

Bytes HandleKeyReq(const MsgContext& c, ByteSpan req) {
  const FirmwareState& s = c.s;
  const SnpGuest& g = c.guest;
  const PlatformState& p = s.platform.state;
  if (req.size() < kKeyReqSize) return StatusOnly(kKeyRspSize, FwStatus::kInvalidParam);
  const std::uint32_t sel = LoadLe32(req.data());
  const bool vmrk_root = sel & 1;
  const std::uint32_t key_sel = (sel >> 1) & 3;
  const std::uint64_t gfs = LoadLe64(req.data() + 8);
  const std::uint32_t vmpl = LoadLe32(req.data() + 0x10);
  const std::uint32_t svn = LoadLe32(req.data() + 0x14);
  const std::uint64_t tcb_raw = LoadLe64(req.data() + 0x18);
  // MSG_KEY_REQ version 2 (ABI 1.58) adds LAUNCH_MIT_VECTOR at 0x20. Linux's sev-guest sends
  // only its 32-byte snp_derived_key_req whatever the version, so a shorter payload reads as a
  // zero vector; in version 1 it is zero (virtee/sev bea9ab3).
  const std::uint64_t launch_mit_vector =
      c.msg_version >= 2 && req.size() >= kKeyReqSize + 8 ? LoadLe64(req.data() + kKeyReqSize) : 0;
  if ((sel & ~7u) != 0 || LoadLe32(req.data() + 4) != 0 || (gfs & ~Abi(s).key_field_select) != 0 ||
      vmpl < c.requester_vmpl || vmpl > 3) {
    return StatusOnly(kKeyRspSize, FwStatus::kInvalidParam);
  }
  const std::uint32_t id_svn = g.id_block_en ? LoadLe32(g.id_block.data() + 0x54) : 0;
  if ((gfs & keyfield::kGuestSvn) && svn > id_svn) {
    return StatusOnly(kKeyRspSize, FwStatus::kInvalidParam);
  }
  TcbVersion tcb = p.reported_tcb;
  if (gfs & keyfield::kTcbVersion) {
    auto requested = TcbVersion::FromRaw(p.chip.product, tcb_raw);
    if (!requested.ok() || !requested->AtOrBelow(p.committed_tcb)) {
      return StatusOnly(kKeyRspSize, FwStatus::kInvalidParam);
    }
    tcb = *requested;
  }
  if (key_sel == 3 || (key_sel == kKeySelVlek && !s.vlek_sticks)) {
    return StatusOnly(kKeyRspSize, FwStatus::kInvalidKey);
  }
  if (!vmrk_root && p.mask_chip_key) return StatusOnly(kKeyRspSize, FwStatus::kInvalidKey);
  const bool vlek_root = !vmrk_root && s.vlek_sticks && key_sel != kKeySelVcek;

  SecretBytes root;
  if (vmrk_root) {
    root = g.vmrk;
  } else if (vlek_root) {
    // A loaded VLEK roots the keys (AMD uses its last stick; sevemu its seed of all eight).
    auto seed = s.vlek_sticks->Seed();
    if (!seed.ok()) return StatusOnly(kKeyRspSize, FwStatus::kHwErrorPlatform);
    root = std::move(seed).value();
  } else if (auto cached = s.derived_seeds.find(tcb.raw()); cached != s.derived_seeds.end()) {
    root = cached->second;  // derived down from the same sticks before (firmware_state.h)
  } else {
    auto sticks = s.sticks.DeriveDown(tcb);
    if (!sticks.ok()) return StatusOnly(kKeyRspSize, FwStatus::kInvalidParam);
    auto seed = sticks->Seed();
    if (!seed.ok()) return StatusOnly(kKeyRspSize, FwStatus::kHwErrorPlatform);
    root = std::move(seed).value();
    if (s.derived_seeds.size() >= FirmwareState::kMaxDerivedSeeds) s.derived_seeds.clear();
    s.derived_seeds.emplace(tcb.raw(), root);
  }
  // The mixing context: every selectable field, zero unless selected; always the VMPL, the host
  // data and the launch's key digests (sevemu's own layout: real derived keys cannot be
  // reproduced off-chip, only their selection rules can).
  Bytes mix;
  auto put = [&mix](const void* data, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(data);
    mix.insert(mix.end(), b, b + n);
  };
  auto put64 = [&put](std::uint64_t v) {
    std::uint8_t b[8];
    StoreLe64(b, v);
    put(b, 8);
  };
  put64(vmpl);
  put64(gfs);
  put64(gfs & keyfield::kPolicy ? g.policy : 0);
  const std::array<std::uint8_t, 16> zero16{};
  put(gfs & keyfield::kImageId ? g.id_block.data() + 0x40 : zero16.data(), 16);
  put(gfs & keyfield::kFamilyId ? g.id_block.data() + 0x30 : zero16.data(), 16);
  const std::array<std::uint8_t, 48> zero48{};
  put(gfs & keyfield::kMeasurement ? g.launch_digest.data() : zero48.data(), 48);
  put64(gfs & keyfield::kGuestSvn ? svn : 0);
  put64(gfs & keyfield::kTcbVersion ? tcb.raw() : 0);
  // Only where selected, so that every key of ABI 1.55 is what it always was.
  if (gfs & keyfield::kLaunchMitVector) put64(launch_mit_vector);
  put(g.host_data.data(), 32);
  // Which key endorsed the launch: none, the ID key, or the author key (AMD's "idblock key
  // select" 0/1/2), and that key's digest.
  const std::uint8_t idsel = !g.id_block_en ? 0 : (g.author_key_en ? 2 : 1);
  put(&idsel, 1);
  put(g.author_key_en ? g.author_key_digest.data() : g.id_key_digest.data(), 48);
  auto key = crypto::SevKdf(root.span(), "gmsg-keyreq", mix, 32);
  if (!key.ok()) return StatusOnly(kKeyRspSize, FwStatus::kHwErrorPlatform);
  Bytes out(kKeyRspSize, 0);
  std::memcpy(out.data() + 0x20, key->data(), 32);
  return out;
}

Bytes HandleTscInfoReq(const MsgContext& c, ByteSpan req) {
  if (req.size() < kTscInfoSize || !AllZero(req.first(kTscInfoSize))) {
    return StatusOnly(kTscInfoSize, FwStatus::kInvalidParam);
  }
  Bytes out(kTscInfoSize, 0);
  // A guest TSC at the host's rate: scale 1.0 in 8.32 fixed point, no offset, and AMD's Genoa
  // TSC_FACTOR (also in the secrets page).
  StoreLe64(out.data() + 0x08, 1ull << 32);
  StoreLe64(out.data() + 0x10, 0);
  StoreLe32(out.data() + 0x18, 200);
  (void)c;
  return out;
}

}  // namespace sevemu::emulator
