// MSG_EXPORT_REQ, MSG_IMPORT_REQ, MSG_ABSORB_REQ, MSG_VMRK_REQ and MSG_ABSORB_NOMA_REQ (SEV-SNP
// ABI 7.4-7.8). Checks, their order, statuses and what each copies follow AMD-ASPFW sev_mcmd.c
// snp_mcmd_guest_request (the cases after SNP_MSG_REPORT_REQ) and sev_rmp.h; the payload
// layouts are in migration_context.h. Refusals go in the response's status.
#include "ma_messages.h"

#include <algorithm>
#include <cstring>

#include "sevemu/emulator/messages/migration_context.h"

namespace sevemu::emulator {
namespace {

using statemachine::SnpGuestEvent;
using statemachine::SnpGuestStateId;
using statemachine::SnpMigrationEvent;
using statemachine::SnpMigrationState;

constexpr std::uint32_t kFlagAuthorKeyEn = 1, kFlagIdBlockEn = 2, kFlagVcekDis = 4;

Bytes StatusOnly(FwStatus st) {
  Bytes out(kMaStatusRspSize, 0);
  StoreLe32(out.data(), static_cast<std::uint32_t>(st));
  return out;
}

bool ZeroBytes(ByteSpan b, std::size_t from, std::size_t to) {
  return std::all_of(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to),
                     [](std::uint8_t x) { return x == 0; });
}

void PutBytes(std::uint8_t* out, const std::uint8_t* data, std::size_t n) {
  if (n != 0) std::memcpy(out, data, n);
}

// The exported context of `g` (AMD's "Set the payload" list, in its order).
void EncodeGctx(const SnpGuest& g, std::uint8_t* out) {
  PutBytes(out + gctx::kLd, g.launch_digest.data(), 48);
  PutBytes(out + gctx::kOek, g.oek.data(), std::min<std::size_t>(g.oek.size(), 32));
  for (int i = 0; i < 4; ++i) {
    PutBytes(out + gctx::kVmpck0 + 32 * i, g.vmpck[i].data(),
             std::min<std::size_t>(g.vmpck[i].size(), 32));
  }
  PutBytes(out + gctx::kVmrk, g.vmrk.data(), std::min<std::size_t>(g.vmrk.size(), 32));
  PutBytes(out + gctx::kHostData, g.host_data.data(), 32);
  PutBytes(out + gctx::kIdKeyDigest, g.id_key_digest.data(), 48);
  PutBytes(out + gctx::kAuthorKeyDigest, g.author_key_digest.data(), 48);
  PutBytes(out + gctx::kReportId, g.report_id.data(), 32);
  PutBytes(out + gctx::kImd, g.imi_digest.data(), 48);
  for (int i = 0; i < 4; ++i) StoreLe64(out + gctx::kMsgCount0 + 8 * i, g.msg_count[i]);
  PutBytes(out + gctx::kRootMdEntry, g.root_md_entry.data(), 64);
  StoreLe32(out + gctx::kFlags, (g.author_key_en ? kFlagAuthorKeyEn : 0) |
                                    (g.id_block_en ? kFlagIdBlockEn : 0) |
                                    (g.vcek_disabled ? kFlagVcekDis : 0));
  StoreLe64(out + gctx::kPolicy, g.policy);
  out[gctx::kState] = static_cast<std::uint8_t>(g.machine.state());
  StoreLe64(out + gctx::kOekIvCount, g.oek_iv_count);
  PutBytes(out + gctx::kIdBlock, g.id_block.data(), g.id_block.size());
  PutBytes(out + gctx::kGosvw, g.gosvw.data(), 16);
  StoreLe32(out + gctx::kDesiredTscFreq, g.desired_tsc_khz);
  StoreLe64(out + gctx::kPspTscOffset, g.psp_tsc_offset);
  StoreLe64(out + gctx::kLaunchTcb, g.launch_tcb);
}

// What IMPORT, ABSORB and ABSORB_NOMA copy from an incoming context. All three take the keys,
// digests, counters, root entry, policy and TSC fields; IMPORT and ABSORB also the launch's
// endorsement (`with_identity`: key digests, ID block, its flags). None takes REPORT_ID,
// VCEK_DIS or the state: the guest keeps its own (AMD-ASPFW copies exactly these fields).
void ApplyGctx(SnpGuest& g, const std::uint8_t* in, bool with_identity) {
  std::memcpy(g.launch_digest.data(), in + gctx::kLd, 48);
  g.oek = SecretBytes(ByteSpan(in + gctx::kOek, 32));
  for (int i = 0; i < 4; ++i) g.vmpck[i] = SecretBytes(ByteSpan(in + gctx::kVmpck0 + 32 * i, 32));
  g.vmrk = SecretBytes(ByteSpan(in + gctx::kVmrk, 32));
  std::memcpy(g.host_data.data(), in + gctx::kHostData, 32);
  if (with_identity) {
    std::memcpy(g.id_key_digest.data(), in + gctx::kIdKeyDigest, 48);
    std::memcpy(g.author_key_digest.data(), in + gctx::kAuthorKeyDigest, 48);
  }
  std::memcpy(g.imi_digest.data(), in + gctx::kImd, 48);
  for (int i = 0; i < 4; ++i) g.msg_count[i] = LoadLe64(in + gctx::kMsgCount0 + 8 * i);
  std::memcpy(g.root_md_entry.data(), in + gctx::kRootMdEntry, 64);
  if (with_identity) {
    const std::uint32_t flags = LoadLe32(in + gctx::kFlags);
    g.author_key_en = flags & kFlagAuthorKeyEn;
    g.id_block_en = flags & kFlagIdBlockEn;
  }
  g.policy = LoadLe64(in + gctx::kPolicy);
  g.oek_iv_count = LoadLe64(in + gctx::kOekIvCount);
  if (with_identity) std::memcpy(g.id_block.data(), in + gctx::kIdBlock, g.id_block.size());
  std::memcpy(g.gosvw.data(), in + gctx::kGosvw, 16);
  g.desired_tsc_khz = LoadLe32(in + gctx::kDesiredTscFreq);
  g.psp_tsc_offset = LoadLe64(in + gctx::kPspTscOffset);
  g.launch_tcb = LoadLe64(in + gctx::kLaunchTcb);
}

bool RootMdValid(const std::uint8_t* entry) {
  return (entry[0x20] & 1) != 0;  // mdata_entry bit 0 VALID
}

// The requester is `target`'s migration agent: GCTX.MA names the requester's context and
// GCTX.REPORT_ID_MA its REPORT_ID (AMD-ASPFW is_ma_export, and the VMRK check).
bool IsAgentOf(const MaContext& c, const SnpGuest& target) {
  return target.migration.state() == SnpMigrationState::kBound &&
         target.ma_gctx_paddr == c.requester_gctx &&
         std::memcmp(target.report_id_ma.data(), c.requester.report_id.data(), 32) == 0;
}

// The incoming context's size and version fields (IMPORT, ABSORB, ABSORB_NOMA).
bool GctxHeaderOk(ByteSpan req) {
  return LoadLe32(req.data() + 8) == kGctxExportSize &&
         LoadLe32(req.data() + 12) == kGctxExportVersion;
}

}  // namespace

Bytes HandleExportReq(const MaContext& c, ByteSpan req, MaCommit& commit) {
  Bytes out(kExportRspSize, 0);
  StoreLe32(out.data() + 4, kGctxExportSize);
  StoreLe32(out.data() + 8, kGctxExportVersion);
  auto refuse = [&out](FwStatus st) {
    StoreLe32(out.data(), static_cast<std::uint32_t>(st));
    return out;
  };
  if (req.size() < kExportReqSize) return refuse(FwStatus::kInvalidParam);
  const std::uint64_t target_gctx = LoadLe64(req.data());
  const std::uint32_t flags = LoadLe32(req.data() + 8);
  const bool imi_en = flags & 1;
  if ((target_gctx & kAddrReservedMask) || (flags & ~1u) || LoadLe32(req.data() + 12) != 0) {
    return refuse(FwStatus::kInvalidParam);
  }
  SnpGuest* target = GuestAt(c.s, target_gctx);
  if (target == nullptr) return refuse(FwStatus::kInvalidGuest);
  if (!target->machine.Accepts(SnpGuestEvent::kExport)) {
    return refuse(FwStatus::kInvalidGuestState);
  }
  // An agent exporting its guest, or a guest without an agent exporting itself (which AMD
  // allows only under VMPCK0, and without looking at MIGRATE_MA).
  const bool ma_export = IsAgentOf(c, *target);
  const bool self_export =
      target_gctx == c.requester_gctx && c.requester.migration.state() == SnpMigrationState::kNone;
  if (!ma_export && !self_export) return refuse(FwStatus::kInvalidGuest);
  if (self_export && c.vmpck != 0) return refuse(FwStatus::kInvalidGuest);
  const SnpMigrationEvent event =
      imi_en ? SnpMigrationEvent::kExportKeep : SnpMigrationEvent::kExportMove;
  if (!target->migration.Accepts(event)) return refuse(FwStatus::kInvalidGuest);
  std::uint8_t* ctx = out.data() + kExportRspGctx;
  EncodeGctx(*target, ctx);
  if (imi_en) {
    // The guest keeps running here: its root metadata entry is not exported.
    std::memset(ctx + gctx::kRootMdEntry, 0, 64);
  } else {
    // The guest moves: it is decommissioned here, its context page back to FIRMWARE.
    FirmwareState& s = c.s;
    commit = [&s, target, target_gctx] {
      target->migration.Process(SnpMigrationEvent::kExportMove);
      DecommissionGuest(s, target_gctx);
    };
  }
  return out;
}

Bytes HandleImportReq(const MaContext& c, ByteSpan req, MaCommit& commit) {
  if (req.size() < kImportReqSize) return StatusOnly(FwStatus::kInvalidParam);
  const std::uint64_t target_gctx = LoadLe64(req.data());
  if ((target_gctx & kAddrReservedMask) || !ZeroBytes(req, 0x10, 0x20)) {
    return StatusOnly(FwStatus::kInvalidParam);
  }
  if (!GctxHeaderOk(req)) return StatusOnly(FwStatus::kInvalidParam);
  SnpGuest* target = GuestAt(c.s, target_gctx);
  if (target == nullptr) return StatusOnly(FwStatus::kInvalidGuest);
  if (!target->machine.Accepts(SnpGuestEvent::kImport) ||
      !target->migration.Accepts(SnpMigrationEvent::kImport)) {
    return StatusOnly(FwStatus::kInvalidGuestState);
  }
  // The source swapped the guest's pages out under the root entry (SNP_PAGE_SWAP_OUT): an
  // export without it carries no pages to swap in.
  const std::uint8_t* in = req.data() + kImportReqGctx;
  if (!RootMdValid(in + gctx::kRootMdEntry)) return StatusOnly(FwStatus::kInvalidMdataEntry);
  auto report_id = FirmwareRandom(c.s, 32);  // a fresh REPORT_ID on this platform
  if (!report_id.ok()) return StatusOnly(FwStatus::kHwErrorPlatform);
  SecretBytes incoming(ByteSpan(in, kGctxExportSize));
  SnpGuest& agent = c.requester;
  const std::uint64_t agent_gctx = c.requester_gctx;
  commit = [target, &agent, agent_gctx, incoming = std::move(incoming),
            id = SecretBytes(report_id->span())] {
    ApplyGctx(*target, incoming.data(), true);
    target->ma_gctx_paddr = agent_gctx;
    target->report_id_ma = agent.report_id;
    target->imi_en = false;
    std::memcpy(target->report_id.data(), id.data(), 32);
    target->migration.Process(SnpMigrationEvent::kImport);
    target->machine.Process(SnpGuestEvent::kImport);  // INIT -> RUNNING
  };
  return StatusOnly(FwStatus::kSuccess);
}

Bytes HandleAbsorbReq(const MaContext& c, ByteSpan req, MaCommit& commit) {
  if (req.size() < kImportReqSize) return StatusOnly(FwStatus::kInvalidParam);
  const std::uint64_t target_gctx = LoadLe64(req.data());
  if ((target_gctx & kAddrReservedMask) || !ZeroBytes(req, 0x10, 0x20)) {
    return StatusOnly(FwStatus::kInvalidParam);
  }
  SnpGuest* target = GuestAt(c.s, target_gctx);
  if (target == nullptr) return StatusOnly(FwStatus::kInvalidGuest);
  if (!target->machine.Accepts(SnpGuestEvent::kAbsorb) || !target->imi_en ||
      !target->migration.Accepts(SnpMigrationEvent::kAbsorb)) {
    return StatusOnly(FwStatus::kInvalidGuestState);
  }
  if (RootMdValid(target->root_md_entry.data())) return StatusOnly(FwStatus::kInvalidMdataEntry);
  // The incoming guest's IMI pages are exactly what this (empty) guest was launched with.
  const std::uint8_t* in = req.data() + kImportReqGctx;
  if (std::memcmp(in + gctx::kImd, target->launch_digest.data(), 48) != 0) {
    return StatusOnly(FwStatus::kBadMeasurement);
  }
  if (!GctxHeaderOk(req)) return StatusOnly(FwStatus::kInvalidParam);
  SecretBytes incoming(ByteSpan(in, kGctxExportSize));
  SnpGuest& agent = c.requester;
  const std::uint64_t agent_gctx = c.requester_gctx;
  commit = [target, &agent, agent_gctx, incoming = std::move(incoming)] {
    ApplyGctx(*target, incoming.data(), true);  // REPORT_ID stays LAUNCH_START's
    target->ma_gctx_paddr = agent_gctx;
    target->report_id_ma = agent.report_id;
    target->migration.Process(SnpMigrationEvent::kAbsorb);
    target->machine.Process(SnpGuestEvent::kAbsorb);  // LAUNCH -> RUNNING
  };
  return StatusOnly(FwStatus::kSuccess);
}

Bytes HandleVmrkReq(const MaContext& c, ByteSpan req, MaCommit& commit) {
  // Only the agent's VMPL0 may install a VMRK.
  if (c.vmpck != 0) return StatusOnly(FwStatus::kInvalidParam);
  if (req.size() < kVmrkReqSize) return StatusOnly(FwStatus::kInvalidParam);
  const std::uint64_t target_gctx = LoadLe64(req.data());
  if ((target_gctx & kAddrReservedMask) || !ZeroBytes(req, 0x08, 0x20)) {
    return StatusOnly(FwStatus::kInvalidParam);
  }
  SnpGuest* target = GuestAt(c.s, target_gctx);
  if (target == nullptr) return StatusOnly(FwStatus::kInvalidGuest);
  if (!target->machine.Accepts(SnpGuestEvent::kVmrk) || target->imi_en) {
    return StatusOnly(FwStatus::kInvalidGuestState);
  }
  if (!IsAgentOf(c, *target) || !target->migration.Accepts(SnpMigrationEvent::kVmrk)) {
    return StatusOnly(FwStatus::kInvalidGuest);
  }
  commit = [target, vmrk = SecretBytes(req.subspan(0x20, 32))] {
    target->vmrk = vmrk;
    target->migration.Process(SnpMigrationEvent::kVmrk);
  };
  return StatusOnly(FwStatus::kSuccess);
}

Bytes HandleAbsorbNomaReq(const MaContext& c, ByteSpan req, MaCommit& commit) {
  if (req.size() < kImportReqSize) return StatusOnly(FwStatus::kInvalidParam);
  if (LoadLe64(req.data()) != 0 || !ZeroBytes(req, 0x10, 0x20)) {
    return StatusOnly(FwStatus::kInvalidParam);
  }
  SnpGuest& g = c.requester;
  if (!g.migration.Accepts(SnpMigrationEvent::kAbsorbNoma)) {
    return StatusOnly(FwStatus::kInvalidGuest);  // the guest has an agent
  }
  // The incoming guest's IMI pages are what this guest was launched with, all of it.
  const std::uint8_t* in = req.data() + kImportReqGctx;
  if (std::memcmp(in + gctx::kImd, g.launch_digest.data(), 48) != 0 ||
      std::memcmp(in + gctx::kImd, g.imi_digest.data(), 48) != 0) {
    return StatusOnly(FwStatus::kBadMeasurement);
  }
  if (!GctxHeaderOk(req)) return StatusOnly(FwStatus::kInvalidParam);
  // The response goes out under the VMPCK the request came with; the counters become the
  // incoming ones, then advance by two for this exchange (as AMD-ASPFW does).
  commit = [&g, incoming = SecretBytes(ByteSpan(in, kGctxExportSize))] {
    ApplyGctx(g, incoming.data(), false);
    g.migration.Process(SnpMigrationEvent::kAbsorbNoma);
  };
  return StatusOnly(FwStatus::kSuccess);
}

}  // namespace sevemu::emulator
