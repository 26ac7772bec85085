#include "sevemu/emulator/firmware.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "firmware_state.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::emulator {
namespace {

using Handler = FwStatus (*)(FirmwareState&, MutableByteSpan);

struct CommandSpec {
  SnpCmd id;
  Handler handler;
  std::size_t buffer_size;  // bytes of the command buffer; 0 = no buffer
  // The first ABI that has the command (0.0: every one simulated); an older one answers
  // INVALID_COMMAND, as a firmware without it does, before looking at the buffer.
  std::uint8_t since_major = 0, since_minor = 0;
};

// The SNP commands this firmware implements, with their command-buffer sizes (AMD-ASPFW
// sev_dispatch.c master_handler_table; Linux psp-sev.h). Anything else is INVALID_COMMAND.
// clang-format off
constexpr CommandSpec kSnpCommands[] = {
  //  id                          handler              buffer bytes
  { SnpCmd::kInit,                &SnpInit,            0                                },
  { SnpCmd::kShutdown,            &SnpShutdown,        0                                },
  { SnpCmd::kPlatformStatus,      &SnpPlatformStatus,  sizeof(SnpAddrBuf)               },
  { SnpCmd::kDfFlush,             &SnpDfFlush,         0                                },
  { SnpCmd::kInitEx,              &SnpInitEx,          sizeof(SnpInitExBuf)             },
  { SnpCmd::kShutdownEx,          &SnpShutdownEx,      sizeof(SnpShutdownExBuf)         },
  { SnpCmd::kDecommission,        &SnpDecommission,    sizeof(SnpAddrBuf)               },
  { SnpCmd::kActivate,            &SnpActivate,        sizeof(SnpActivateBuf)           },
  { SnpCmd::kGuestStatus,         &SnpGuestStatus,     sizeof(SnpGuestStatusBuf)        },
  { SnpCmd::kGctxCreate,          &SnpGctxCreate,      sizeof(SnpAddrBuf)               },
  { SnpCmd::kGuestRequest,        &SnpGuestRequest,    sizeof(SnpGuestRequestBuf)       },
  { SnpCmd::kLaunchStart,         &SnpLaunchStart,     sizeof(SnpLaunchStartBuf)        },
  { SnpCmd::kLaunchUpdate,        &SnpLaunchUpdate,    sizeof(SnpLaunchUpdateBuf)       },
  { SnpCmd::kLaunchFinish,        &SnpLaunchFinish,    sizeof(SnpLaunchFinishBuf)       },
  { SnpCmd::kActivateEx,          &SnpActivateEx,      sizeof(SnpActivateExBuf)         },
  { SnpCmd::kDbgDecrypt,          &SnpDbgDecrypt,      sizeof(SnpDbgBuf)                },
  { SnpCmd::kDbgEncrypt,          &SnpDbgEncrypt,      sizeof(SnpDbgBuf)                },
  // Only where the ABI has it (FirmwareAbi::mitigations); INVALID_COMMAND elsewhere.
  { SnpCmd::kVerifyMitigation,    &SnpVerifyMitigation, sizeof(SnpVerifyMitigationBuf), 1, 58 },
  { SnpCmd::kPageSwapOut,         &SnpPageSwapOut,     sizeof(SnpPageSwapOutBuf)        },
  { SnpCmd::kPageSwapIn,          &SnpPageSwapIn,      sizeof(SnpPageSwapInBuf)         },
  { SnpCmd::kPageMove,            &SnpPageMove,        sizeof(SnpPageMoveBuf)           },
  { SnpCmd::kPageMdInit,          &SnpPageMdInit,      sizeof(SnpPageMdInitBuf)         },
  { SnpCmd::kPageSetState,        &SnpPageSetState,    sizeof(SnpPageSetStateBuf)       },
  { SnpCmd::kPageReclaim,         &SnpPageReclaim,     sizeof(SnpAddrBuf)               },
  { SnpCmd::kPageUnsmash,         &SnpPageUnsmash,     sizeof(SnpAddrBuf)               },
  { SnpCmd::kConfig,              &SnpConfig,          sizeof(SnpConfigBuf)             },
  { SnpCmd::kDownloadFirmwareEx,  &SnpDownloadFirmwareEx, sizeof(SnpDownloadFirmwareExBuf) },
  { SnpCmd::kCommit,              &SnpCommit,          sizeof(SnpCommitBuf)             },
  { SnpCmd::kVlekLoad,            &SnpVlekLoad,        sizeof(SnpVlekLoadBuf)           },
  { SnpCmd::kFeatureInfo,         &SnpFeatureInfo,     sizeof(SnpFeatureInfoBuf)        },
};
// clang-format on

const CommandSpec* FindCommand(SnpCmd id) {
  for (const auto& c : kSnpCommands) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

}  // namespace

FirmwareVersion SnpCommandSince(SnpCmd cmd) {
  const CommandSpec* spec = FindCommand(cmd);
  return spec == nullptr ? FirmwareVersion{}
                         : FirmwareVersion{spec->since_major, spec->since_minor, 0};
}

std::vector<SnpCmd> ImplementedSnpCommands() {
  std::vector<SnpCmd> out;
  for (const auto& c : kSnpCommands) out.push_back(c.id);
  return out;
}

std::optional<std::size_t> SnpCommandBufferSize(SnpCmd cmd) {
  const CommandSpec* c = FindCommand(cmd);
  return c == nullptr ? std::nullopt : std::optional<std::size_t>(c->buffer_size);
}

const char* SnpCmdName(SnpCmd c) {
  switch (c) {
    case SnpCmd::kInit:
      return "SNP_INIT";
    case SnpCmd::kShutdown:
      return "SNP_SHUTDOWN";
    case SnpCmd::kPlatformStatus:
      return "SNP_PLATFORM_STATUS";
    case SnpCmd::kDfFlush:
      return "SNP_DF_FLUSH";
    case SnpCmd::kInitEx:
      return "SNP_INIT_EX";
    case SnpCmd::kShutdownEx:
      return "SNP_SHUTDOWN_EX";
    case SnpCmd::kDecommission:
      return "SNP_DECOMMISSION";
    case SnpCmd::kActivate:
      return "SNP_ACTIVATE";
    case SnpCmd::kGuestStatus:
      return "SNP_GUEST_STATUS";
    case SnpCmd::kGctxCreate:
      return "SNP_GCTX_CREATE";
    case SnpCmd::kGuestRequest:
      return "SNP_GUEST_REQUEST";
    case SnpCmd::kActivateEx:
      return "SNP_ACTIVATE_EX";
    case SnpCmd::kLaunchStart:
      return "SNP_LAUNCH_START";
    case SnpCmd::kLaunchUpdate:
      return "SNP_LAUNCH_UPDATE";
    case SnpCmd::kLaunchFinish:
      return "SNP_LAUNCH_FINISH";
    case SnpCmd::kDbgDecrypt:
      return "SNP_DBG_DECRYPT";
    case SnpCmd::kDbgEncrypt:
      return "SNP_DBG_ENCRYPT";
    case SnpCmd::kVerifyMitigation:
      return "SNP_VERIFY_MITIGATION";
    case SnpCmd::kPageSwapOut:
      return "SNP_PAGE_SWAP_OUT";
    case SnpCmd::kPageSwapIn:
      return "SNP_PAGE_SWAP_IN";
    case SnpCmd::kPageMove:
      return "SNP_PAGE_MOVE";
    case SnpCmd::kPageMdInit:
      return "SNP_PAGE_MD_INIT";
    case SnpCmd::kPageSetState:
      return "SNP_PAGE_SET_STATE";
    case SnpCmd::kPageReclaim:
      return "SNP_PAGE_RECLAIM";
    case SnpCmd::kPageUnsmash:
      return "SNP_PAGE_UNSMASH";
    case SnpCmd::kConfig:
      return "SNP_CONFIG";
    case SnpCmd::kDownloadFirmwareEx:
      return "SNP_DOWNLOAD_FIRMWARE_EX";
    case SnpCmd::kCommit:
      return "SNP_COMMIT";
    case SnpCmd::kVlekLoad:
      return "SNP_VLEK_LOAD";
    case SnpCmd::kFeatureInfo:
      return "SNP_FEATURE_INFO";
  }
  return "UNKNOWN";
}

Result<BootKeys> BootKeys::Derive(const Platform& platform) {
  SEVEMU_ASSIGN_OR_RETURN(HashSticks sticks, BootRomSticks(platform));
  SEVEMU_ASSIGN_OR_RETURN(HashSticks reported, sticks.DeriveDown(platform.state.reported_tcb));
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey vcek, DeriveVcek(reported));
  return BootKeys(std::move(sticks), platform.state.reported_tcb, std::move(vcek),
                  platform.fuses.hash_stick_root);
}

Result<std::unique_ptr<Firmware>> Firmware::Boot(Platform platform, const FirmwareConfig& config) {
  if (config.memory_size == 0 || config.memory_size % rmp::kPageSize2M != 0) {
    return Error(ErrorCode::kInvalidArgument, "memory size must be a non-zero multiple of 2 MiB");
  }
  SEVEMU_ASSIGN_OR_RETURN(BootKeys keys, BootKeys::Derive(platform));
  return Boot(std::move(platform), config, keys);
}

Result<std::unique_ptr<Firmware>> Firmware::Boot(Platform platform, const FirmwareConfig& config,
                                                 const BootKeys& keys) {
  if (config.memory_size == 0 || config.memory_size % rmp::kPageSize2M != 0) {
    return Error(ErrorCode::kInvalidArgument, "memory size must be a non-zero multiple of 2 MiB");
  }
  if (keys.sticks_.tcb() != platform.state.current_tcb ||
      keys.reported_ != platform.state.reported_tcb ||
      !(keys.root_ == platform.fuses.hash_stick_root)) {
    return Error(ErrorCode::kInvalidArgument, "boot keys of another chip or TCB");
  }
  HashSticks sticks = keys.sticks_;
  crypto::PrivateKey vcek = keys.vcek_;
  const std::uint32_t max_asid = Info(platform.state.chip.product).max_asid;
  FirmwareConfig cfg = config;
  if (cfg.min_sev_asid == 0) cfg.min_sev_asid = MinSevAsid(platform.state);  // the BIOS's
  if (cfg.min_sev_asid < 2 || cfg.min_sev_asid > max_asid + 1) {
    return Error(ErrorCode::kInvalidArgument,
                 "min_sev_asid outside 2.." + std::to_string(max_asid + 1));
  }
  if (cfg.report_version != 0 && cfg.report_version != 2 && cfg.report_version != 3 &&
      cfg.report_version != 5) {
    return Error(ErrorCode::kInvalidArgument, "report version must be 2, 3 or 5");
  }
  // The legacy persistent store must be whole and this chip's (its PEK signed by the CEK).
  if (!platform.sev_nv.empty()) {
    SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey cek, DeriveCek(platform.fuses.chip_unique_key));
    const crypto::PublicKey cek_public = cek.Public();
    SEVEMU_RETURN_IF_ERROR(CheckSevNvStore(platform.sev_nv, &cek_public, "SEV persistent store"));
  }
  auto s = std::make_unique<FirmwareState>(std::move(platform), cfg, std::move(sticks));
  s->sev.identity = std::move(s->platform.sev_nv);
  s->platform.sev_nv = SevNvStore{};
  s->vcek = std::move(vcek);
  s->max_asid = max_asid;
  s->asid_use.assign(max_asid + 1, AsidUse::kDirty);
  auto fw = std::unique_ptr<Firmware>(new Firmware(std::move(s)));
  fw->set_observer(cfg.observer);
  return fw;
}

Firmware::Firmware(std::unique_ptr<FirmwareState> s) : s_(std::move(s)) {}
Firmware::~Firmware() = default;

namespace {

FwStatus DispatchSnp(FirmwareState& s, SnpCmd cmd, MutableByteSpan buffer) {
  const CommandSpec* spec = FindCommand(cmd);
  if (spec == nullptr) return FwStatus::kInvalidCommand;
  const FirmwareVersion& fw = s.platform.state.current_fw;
  if (std::tie(fw.major, fw.minor) < std::tie(spec->since_major, spec->since_minor)) {
    return FwStatus::kInvalidCommand;
  }
  if (buffer.size() != spec->buffer_size) return FwStatus::kInvalidLength;
  return spec->handler(s, buffer);
}

// Every state machine's state, to report the transitions a command made.
struct MachineState {
  const char* machine;
  std::uint64_t id;
  const char* state;
};

std::vector<MachineState> Machines(const FirmwareState& s) {
  std::vector<MachineState> m;
  m.push_back({"snp_platform", 0, statemachine::SnpPlatformStateName(s.snp.state())});
  m.push_back({"sev_platform", 0, statemachine::SevPlatformStateName(s.sev.machine.state())});
  for (const auto& [gctx, g] : s.guests) {
    m.push_back({"snp_guest", gctx, statemachine::SnpGuestStateName(g->machine.state())});
  }
  for (const auto& [handle, g] : s.sev.guests) {
    m.push_back({"sev_guest", handle, statemachine::SevGuestStateName(g->machine.state())});
  }
  return m;
}

std::vector<StateTransition> Transitions(const std::vector<MachineState>& before,
                                         const std::vector<MachineState>& after) {
  std::vector<StateTransition> t;
  auto find = [](const std::vector<MachineState>& in, const MachineState& x) {
    for (const auto& y : in) {
      if (std::strcmp(x.machine, y.machine) == 0 && x.id == y.id) return &y;
    }
    return static_cast<const MachineState*>(nullptr);
  };
  for (const auto& b : before) {
    const MachineState* a = find(after, b);
    if (a == nullptr) {
      t.push_back({b.machine, b.id, b.state, ""});
    } else if (std::strcmp(a->state, b.state) != 0) {
      t.push_back({b.machine, b.id, b.state, a->state});
    }
  }
  for (const auto& a : after) {
    if (find(before, a) == nullptr) t.push_back({a.machine, a.id, "", a.state});
  }
  return t;
}

// Runs `dispatch` and, with an observer, reports the command: its fields before and the ones
// it wrote back, its status and its transitions.
template <typename Cmd, typename Decode, typename Dispatch>
FwStatus Observed(FirmwareState& s, const char* api, Cmd cmd, const char* name,
                  MutableByteSpan buffer, Decode decode, Dispatch dispatch) {
  if (s.observer == nullptr) return dispatch(s, cmd, buffer);
  CommandEvent e;
  e.api = api;
  e.id = static_cast<std::uint32_t>(cmd);
  e.name = name;
  e.length = buffer.size();
  e.in = decode(cmd, buffer);
  const auto before = Machines(s);
  e.status = dispatch(s, cmd, buffer);
  for (CommandField& f : decode(cmd, buffer)) {
    bool same = false;
    for (const CommandField& g : e.in) same = same || f == g;
    if (!same) e.out.push_back(std::move(f));
  }
  e.transitions = Transitions(before, Machines(s));
  s.observer->OnCommand(e);
  return e.status;
}

}  // namespace

FwStatus Firmware::Execute(SnpCmd cmd, MutableByteSpan buffer) {
  return Observed(*s_, "snp", cmd, SnpCmdName(cmd), buffer, &DecodeSnpCommand, &DispatchSnp);
}

FwStatus Firmware::ExecuteSev(SevCmd cmd, MutableByteSpan buffer) {
  return Observed(*s_, "sev", cmd, SevCmdName(cmd), buffer, &DecodeSevCommand, &DispatchSev);
}

std::unique_ptr<SnpGuest> CopyGuest(const SnpGuest& g) {
  return std::make_unique<SnpGuest>(g);
}

std::unique_ptr<SevGuest> CopyGuest(const SevGuest& g) {
  auto copy = std::make_unique<SevGuest>(g);
  if (g.ld.has_value()) {
    auto ld = g.ld->Clone();
    if (!ld.ok()) std::abort();  // only an allocation failure in OpenSSL
    copy->ld = std::move(ld).value();
  }
  return copy;
}

std::unique_ptr<Firmware> Firmware::Clone() const {
  auto s = std::make_unique<FirmwareState>(*s_);
  s->observer = nullptr;
  s->config.observer = nullptr;
  s->memory.rmp().set_observer(nullptr);
  return std::unique_ptr<Firmware>(new Firmware(std::move(s)));
}

void Firmware::set_observer(FirmwareObserver* observer) {
  s_->observer = observer;
  s_->memory.rmp().set_observer(observer);
}

void Firmware::Wbinvd() {
  s_->wbinvd_done = true;
}
rmp::MemoryController& Firmware::memory() {
  return s_->memory;
}
const PlatformState& Firmware::platform_state() const {
  return s_->platform.state;
}
std::size_t Firmware::derived_seed_count() const {
  return s_->derived_seeds.size();
}
statemachine::SnpPlatformState Firmware::snp_state() const {
  return s_->snp.state();
}
bool Firmware::persistent_state_changed() const {
  return s_->persistent_changed;
}
SevNvStore Firmware::sev_nv_store() const {
  return s_->sev.identity;
}

Bytes Firmware::StateDigest() const {
  Bytes blob;
  auto put = [&blob](const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    blob.insert(blob.end(), b, b + n);
  };
  auto put64 = [&put](std::uint64_t v) { put(&v, sizeof v); };
  const std::string platform = PlatformJson(s_->platform.state);
  put(platform.data(), platform.size());
  put64(static_cast<std::uint64_t>(s_->snp.state()));
  put64(s_->wbinvd_done);
  put64(s_->rmp_initialized);
  put64(s_->guest_count);
  put64(s_->verified_mitigations);
  put64(s_->vlek_sticks.has_value());
  for (AsidUse u : s_->asid_use) put64(static_cast<std::uint64_t>(u));
  for (const auto& [gctx, g] : s_->guests) {
    put64(gctx);
    put64(static_cast<std::uint64_t>(g->machine.state()));
    put64(g->policy);
    put64(g->asid);
    put64(static_cast<std::uint64_t>(g->activation));
    put(g->launch_digest.data(), g->launch_digest.size());
    put(g->host_data.data(), g->host_data.size());
    put(g->id_key_digest.data(), g->id_key_digest.size());
    for (std::uint64_t c : g->msg_count) put64(c);
    put64(g->oek_iv_count);
    put(g->root_md_entry.data(), g->root_md_entry.size());
    // What the migration-agent messages read and write (docs/migration.md).
    put64(static_cast<std::uint64_t>(g->migration.state()));
    put64(g->ma_gctx_paddr);
    put(g->report_id.data(), g->report_id.size());
    put(g->report_id_ma.data(), g->report_id_ma.size());
    put(g->imi_digest.data(), g->imi_digest.size());
    put64(g->imi_en);
    put64(g->launch_tcb);
    put64(g->launch_mit_vector);
    put(g->author_key_digest.data(), g->author_key_digest.size());
    put(g->id_block.data(), g->id_block.size());
    put64((g->id_block_en ? 1u : 0u) | (g->author_key_en ? 2u : 0u) | (g->vcek_disabled ? 4u : 0u));
    put(g->gosvw.data(), g->gosvw.size());
    put64(g->desired_tsc_khz);
    // The keys enter as one SHA-384, so the blob never holds them.
    SecretBytes keys(6 * 32);
    auto key_at = [&keys](std::size_t slot, const SecretBytes& k) {
      if (!k.empty())
        std::memcpy(keys.data() + 32 * slot, k.data(), std::min<std::size_t>(32, k.size()));
    };
    for (std::size_t i = 0; i < 4; ++i) key_at(i, g->vmpck[i]);
    key_at(4, g->vmrk);  // unset (empty) until SNP_LAUNCH_START
    key_at(5, g->oek);
    auto keys_digest = crypto::Sha384(keys.span());
    if (keys_digest.ok()) put(keys_digest->data(), keys_digest->size());
  }
  AppendSevStateDigest(*s_, blob);
  // The RMP and the memory: every 4 KiB page of every touched 2 MiB region of the RMP, and the
  // bytes of memory the RMP names, are covered through the controller's own views.
  // The RMP entries of every 2 MiB region the RMP tracks, and the contents of every page
  // assigned to a guest or the firmware (hypervisor-owned memory is not firmware state).
  const auto& rmp = s_->memory.rmp();
  for (std::uint64_t base : rmp.RegionBases()) {
    put64(base);
    for (std::uint64_t i = 0; i < rmp::kPagesPer2M; ++i) {
      const std::uint64_t spa = base + i * rmp::kPageSize;
      const rmp::RmpEntry entry = rmp.Get(spa);
      const auto raw = entry.Encode();
      put(raw.data(), raw.size());
      if (!entry.assigned()) continue;  // hypervisor memory is not the firmware's
      rmp::Page page{};
      (void)s_->memory.FirmwareRead(spa, page);
      put(page.data(), page.size());
    }
  }
  auto digest = crypto::Sha384(blob);
  return digest.ok() ? *digest : Bytes{};
}

}  // namespace sevemu::emulator
