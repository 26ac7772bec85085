// Host::LaunchGuest: the SNP launch a VMM (QEMU with KVM) performs, command by command.
#include <cstring>
#include <regex>

#include "host_impl.h"
#include "sevemu/launch/expected_digest.h"
#include "sevemu/launch/ovmf_image.h"

namespace sevemu::hypervisor {

using emulator::FwStatus;
using emulator::SnpCmd;

namespace {

constexpr std::size_t kIdBlockSize = 0x60;
constexpr std::size_t kIdAuthSize = 0x1000;

Status CheckSpec(const GuestLaunchSpec& spec) {
  static const std::regex kName("[A-Za-z0-9._-]{1,64}");
  if (!std::regex_match(spec.name, kName)) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest name must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  if (!spec.id_block.empty() && spec.id_block.size() != kIdBlockSize) {
    return Error(ErrorCode::kInvalidArgument, "ID block must be 96 bytes");
  }
  if (!spec.id_auth.empty() && spec.id_auth.size() != kIdAuthSize) {
    return Error(ErrorCode::kInvalidArgument, "ID authentication information must be 4096 bytes");
  }
  if (spec.id_block.empty() != spec.id_auth.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "an ID block and its authentication information go together");
  }
  if (spec.author_key_en && spec.id_block.empty()) {
    return Error(ErrorCode::kInvalidArgument, "an author key needs an ID block");
  }
  // KVM runs an SNP guest's vCPUs with SEV_FEATURES.SNPActive (sev_es_sync_vmsa).
  if ((spec.sev_features & 1) == 0) {
    return Error(ErrorCode::kInvalidArgument, "guest features must include SNPActive (bit 0)");
  }
  return {};
}

}  // namespace

Result<GuestInfo> Host::LaunchGuest(const GuestLaunchSpec& spec) {
  const FaultSet::ActingFor acting(impl_->faults, spec.name);
  Impl& h = *impl_;
  if (Status st = CheckSpec(spec); !st.ok()) return st.error();
  if (h.guests.count(spec.name) != 0) {
    return Error(ErrorCode::kAlreadyExists, "a guest named '" + spec.name + "' exists");
  }
  const Bytes image_bytes = !spec.image.empty() ? spec.image
                            : spec.direct_boot  ? DefaultDirectBootImage()
                                                : DefaultGuestImage();
  auto image = launch::ParseOvmfImage(image_bytes);
  if (!image.ok()) return image.error().Context("guest image");
  launch::SnpLaunchConfig cfg;
  cfg.vcpus = spec.vcpus;
  cfg.vcpu_signature =
      spec.vcpu_signature != 0 ? spec.vcpu_signature : h.fw->platform_state().chip.cpuid_fms();
  cfg.sev_features = spec.sev_features;
  cfg.direct_boot = spec.direct_boot;
  auto plan = launch::PlanSnpLaunch(*image, cfg);
  if (!plan.ok()) return plan.error();
  auto digest = launch::LaunchDigestOf(*plan);
  if (!digest.ok()) return digest.error();

  // MA_EN: the agent must be a guest of this host (the firmware checks the rest: that it is a
  // guest context launched without an agent, and MIGRATE_MA in the policy).
  std::uint64_t ma_gctx = 0;
  if (!spec.migration_agent.empty()) {
    auto ma = h.guests.find(spec.migration_agent);
    if (ma == h.guests.end() || ma->second.legacy()) {
      return Error(ErrorCode::kNotFound,
                   "no SNP guest named '" + spec.migration_agent + "' to be the migration agent");
    }
    ma_gctx = ma->second.info.gctx_paddr;
  }

  std::uint32_t asid = 1;
  while (asid < h.asid_limit && h.asids_in_use.count(asid) != 0) ++asid;
  if (asid >= h.asid_limit) return Error(ErrorCode::kRefused, "no free SNP ASID");

  HostGuest g;
  g.info.name = spec.name;
  g.info.asid = asid;
  g.info.policy = spec.policy;
  g.info.vcpus = spec.vcpus;
  g.info.vcpu_signature = cfg.vcpu_signature;
  g.info.sev_features = cfg.sev_features;
  g.info.host_data = spec.host_data;
  g.info.measurement = *digest;
  g.info.id_block = !spec.id_block.empty();
  g.info.kernel_hashes = spec.direct_boot.has_value();
  g.info.migration_agent = spec.migration_agent;
  for (const auto& s : image->sections) {
    if (s.type == launch::SevSectionType::kSnpSecrets) g.info.secrets_gpa = s.base;
    if (s.type == launch::SevSectionType::kCpuid) g.info.cpuid_gpa = s.base;
  }
  if (g.info.secrets_gpa == 0) {
    return Error(ErrorCode::kInvalidArgument, "guest image has no SNP secrets page");
  }
  h.asids_in_use.insert(asid);
  bool launched = false;  // GCTX_CREATE succeeded: teardown must DECOMMISSION
  auto fail = [&](Error e) -> Result<GuestInfo> {
    h.Teardown(g, launched);
    return e;
  };
  auto run = [&](SnpCmd cmd, auto& buf) -> Status {
    const FwStatus st = h.Run(cmd, buf);
    if (st != FwStatus::kSuccess) return CommandError(cmd, st);
    return {};
  };

  auto page = h.pages.Allocate();
  if (!page.ok()) return fail(page.error());
  g.info.gctx_paddr = *page;
  if (Status st = h.MakeFirmwarePage(g.info.gctx_paddr); !st.ok()) return fail(st.error());
  emulator::SnpAddrBuf gctx{g.info.gctx_paddr};
  if (Status st = run(SnpCmd::kGctxCreate, gctx); !st.ok()) return fail(st.error());
  launched = true;
  emulator::SnpLaunchStartBuf start{};
  start.gctx_paddr = g.info.gctx_paddr;
  start.policy = spec.policy;
  if (ma_gctx != 0) {
    start.ma_gctx_paddr = ma_gctx;
    start.flags = 1;  // MA_EN
  }
  if (Status st = run(SnpCmd::kLaunchStart, start); !st.ok()) return fail(st.error());
  emulator::SnpActivateBuf act{g.info.gctx_paddr, asid};
  if (Status st = run(SnpCmd::kActivate, act); !st.ok()) return fail(st.error());

  static const Bytes kZeroPage(4096, 0);
  for (const auto& p : *plan) {
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    if (p.type == emulator::PageType::kVmsa) {
      g.vmsa_spas.push_back(*spa);
    } else if (!g.gpa_to_spa.emplace(p.gpa, *spa).second) {
      h.pages.Free(*spa);
      return fail(Error(ErrorCode::kInvalidArgument, "guest image launches a page twice"));
    }
    const ByteSpan contents = p.contents.empty() ? ByteSpan(kZeroPage) : ByteSpan(p.contents);
    if (Status st = h.MakePreGuestPage(*spa, p.gpa, asid, contents); !st.ok()) {
      return fail(st.error());
    }
    emulator::SnpLaunchUpdateBuf upd{};
    upd.gctx_paddr = g.info.gctx_paddr;
    upd.address = *spa;
    upd.page_info = static_cast<std::uint32_t>(p.type) << 1;
    if (Status st = run(SnpCmd::kLaunchUpdate, upd); !st.ok()) {
      return fail(st.error().Context("page at GPA " + std::to_string(p.gpa)));
    }
  }
  g.info.pages = g.gpa_to_spa.size() + g.vmsa_spas.size();

  emulator::SnpLaunchFinishBuf finish{};
  finish.gctx_paddr = g.info.gctx_paddr;
  std::memcpy(finish.host_data, spec.host_data.data(), sizeof finish.host_data);
  std::uint64_t id_pages[2] = {0, 0};
  if (!spec.id_block.empty()) {
    // The ID block and its auth information sit in host memory the firmware reads.
    for (int i = 0; i < 2; ++i) {
      auto spa = h.pages.Allocate();
      if (!spa.ok()) return fail(spa.error());
      id_pages[i] = *spa;
      Bytes buf(4096, 0);
      const Bytes& src = i == 0 ? spec.id_block : spec.id_auth;
      std::copy(src.begin(), src.end(), buf.begin());
      (void)h.fw->memory().HvWrite(*spa, buf);
    }
    finish.id_block_paddr = id_pages[0];
    finish.id_auth_paddr = id_pages[1];
    finish.flags = 1u | (spec.author_key_en ? 2u : 0u);
  }
  const Status finished = run(SnpCmd::kLaunchFinish, finish);
  for (std::uint64_t spa : id_pages) {
    if (spa != 0) (void)h.ReleasePage(spa);
  }
  if (!finished.ok()) return fail(finished.error());

  // The VMM's pages for the guest-request exit: a shared request page and a firmware page
  // SNP_GUEST_REQUEST writes the response into.
  auto req = h.pages.Allocate();
  if (!req.ok()) return fail(req.error());
  g.request_spa = *req;
  auto rsp = h.pages.Allocate();
  if (!rsp.ok()) return fail(rsp.error());
  g.response_spa = *rsp;
  if (Status st = h.MakeFirmwarePage(g.response_spa); !st.ok()) return fail(st.error());

  g.info.launch_id = ++h.launches;
  GuestInfo info = g.info;
  h.guests.emplace(spec.name, std::move(g));
  return info;
}

}  // namespace sevemu::hypervisor
