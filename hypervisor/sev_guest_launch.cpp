// Legacy SEV / SEV-ES guests on the host: the launch QEMU drives through KVM (target/i386/sev.c
// sev_launch_start, sev_encrypt_flash, sev_launch_get_measure, sev_inject_launch_secret,
// sev_launch_finish, sev_get_attestation_report) and what KVM does for each (arch/x86/kvm/svm/
// sev.c: sev_guest_init, sev_launch_start + sev_bind_asid, sev_launch_update_data,
// sev_launch_update_vmsa, sev_launch_measure, sev_launch_secret, sev_launch_finish,
// sev_get_attestation_report). Firmware commands go through the /dev/sev driver's kernel entry
// (SevDevice::IssueGuestCmd), as KVM's go through sev_issue_cmd.
#include <cstring>
#include <regex>

#include "host_impl.h"
#include "sevemu/launch/sev_launch.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::hypervisor {

using emulator::SevCmd;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint32_t kPolicyEs = 1u << 2;  // SEV guest policy bit 2, ES

Status CheckSpec(const SevGuestLaunchSpec& spec) {
  static const std::regex kName("[A-Za-z0-9._-]{1,64}");
  if (!std::regex_match(spec.name, kName)) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest name must be 1-64 characters of A-Z a-z 0-9 . _ -");
  }
  // QEMU makes a guest SEV-ES exactly when its policy has the ES bit.
  if (((spec.policy & kPolicyEs) != 0) != spec.es) {
    return Error(ErrorCode::kInvalidArgument,
                 spec.es ? "an SEV-ES guest needs the ES bit (0x4) in its policy"
                         : "the policy has the ES bit (0x4): launch it as an SEV-ES guest");
  }
  if (spec.godh_cert.empty() != spec.session.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "a GODH certificate and a session blob go together (or neither)");
  }
  // psp_copy_user_blob: at most SEV_FW_BLOB_MAX_SIZE each (the kernel's EINVAL).
  if (spec.godh_cert.size() > uapi::kSevFwBlobMaxSize ||
      spec.session.size() > uapi::kSevFwBlobMaxSize) {
    return Error(ErrorCode::kInvalidArgument, "GODH certificate or session larger than 16 KiB");
  }
  if (spec.vcpus == 0 || spec.vcpus > launch::kMaxVcpus) {
    return Error(ErrorCode::kInvalidArgument,
                 "vcpus must be 1.." + std::to_string(launch::kMaxVcpus));
  }
  return {};
}

}  // namespace

Result<GuestInfo> Host::LaunchSevGuest(const SevGuestLaunchSpec& spec) {
  const FaultSet::ActingFor acting(impl_->faults, spec.name);
  Impl& h = *impl_;
  if (Status st = CheckSpec(spec); !st.ok()) return st.error();
  if (h.guests.count(spec.name) != 0) {
    return Error(ErrorCode::kAlreadyExists, "a guest named '" + spec.name + "' exists");
  }
  const Bytes image_bytes = !spec.image.empty() ? spec.image
                            : spec.direct_boot  ? DefaultDirectBootImage()
                                                : DefaultGuestImage();
  auto image = launch::ParseLegacyOvmfImage(image_bytes);
  if (!image.ok()) return image.error().Context("guest image");
  launch::SevLaunchConfig cfg;
  cfg.mode = spec.es ? launch::SevLaunchMode::kSevEs : launch::SevLaunchMode::kSev;
  cfg.vcpus = spec.vcpus;
  cfg.vcpu_signature =
      spec.vcpu_signature != 0 ? spec.vcpu_signature : h.fw->platform_state().chip.cpuid_fms();
  cfg.direct_boot = spec.direct_boot;
  std::optional<launch::SevHashTableArea> hash_area;
  if (spec.direct_boot) {
    auto area = launch::DirectBootArea(*image);
    if (!area.ok()) return area.error().Context("guest image");
    hash_area = *area;
  }
  auto vmsas = launch::PlanSevEsVmsas(*image, cfg);
  if (!vmsas.ok()) return vmsas.error();
  auto digest = launch::ExpectedSevLaunchDigest(*image, cfg);
  if (!digest.ok()) return digest.error();

  // sev_asid_new: SEV-ES guests share the low ASIDs with SNP, SEV guests take the rest.
  auto asid = spec.es ? h.FreeAsid(1, h.asid_limit, "SEV-ES")
                      : h.FreeAsid(h.asid_limit, h.max_asid + 1, "SEV");
  if (!asid.ok()) return asid.error();
  // sev_guest_init: the legacy platform must be up (the driver INITs it on demand).
  std::uint32_t init_error = 0;
  if (h.sev->PlatformInit(&init_error) != 0) {
    return Error(ErrorCode::kRefused,
                 std::string("SEV INIT: ") +
                     emulator::FwStatusName(static_cast<emulator::FwStatus>(init_error)));
  }

  HostGuest g;
  g.info.name = spec.name;
  g.info.type = spec.es ? GuestType::kSevEs : GuestType::kSev;
  g.info.asid = *asid;
  g.info.policy = spec.policy;
  g.info.vcpus = spec.vcpus;
  g.info.vcpu_signature = cfg.vcpu_signature;
  g.info.kernel_hashes = spec.direct_boot.has_value();
  g.info.launch_digest = *digest;
  const auto& fw = h.fw->platform_state().current_fw;
  g.info.api_major = fw.major;
  g.info.api_minor = fw.minor;
  g.info.build = fw.build;
  h.asids_in_use.insert(*asid);
  bool started = false;  // LAUNCH_START succeeded: teardown must DEACTIVATE/DECOMMISSION
  auto fail = [&](Error e) -> Result<GuestInfo> {
    h.Teardown(g, started);
    return e;
  };

  // LAUNCH_START with the owner's blobs copied into host memory, then ACTIVATE (sev_bind_asid).
  emulator::SevLaunchStartBuf start{};
  start.policy = spec.policy;
  std::uint64_t cert_spa = 0, session_spa = 0;
  if (!spec.godh_cert.empty()) {
    auto c = h.CopyBlob(spec.godh_cert);
    if (!c.ok()) return fail(c.error());
    cert_spa = *c;
    auto s = h.CopyBlob(spec.session);
    if (!s.ok()) {
      h.ReleaseBlob(cert_spa, spec.godh_cert.size());
      return fail(s.error());
    }
    session_spa = *s;
    start.dh_cert_paddr = cert_spa;
    start.dh_cert_len = static_cast<std::uint32_t>(spec.godh_cert.size());
    start.session_paddr = session_spa;
    start.session_len = static_cast<std::uint32_t>(spec.session.size());
  }
  const Status started_st =
      h.RunSev(SevCmd::kLaunchStart, start,
               {{cert_spa, start.dh_cert_len}, {session_spa, start.session_len}});
  if (cert_spa != 0) {
    h.ReleaseBlob(cert_spa, spec.godh_cert.size());
    h.ReleaseBlob(session_spa, spec.session.size());
  }
  if (!started_st.ok()) return fail(started_st.error());
  started = true;
  g.info.handle = start.handle;
  emulator::SevActivateBuf activate{start.handle, *asid};
  if (Status st = h.RunSev(SevCmd::kActivate, activate); !st.ok()) return fail(st.error());

  // sev_encrypt_flash: the whole image, encrypted in place where the guest maps it. KVM issues
  // one LAUNCH_UPDATE_DATA per physically contiguous run; page by page measures the same bytes.
  const std::uint64_t base = image->Gpa();
  for (std::size_t off = 0; off < image->image.size(); off += kPage) {
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    g.gpa_to_spa.emplace(base + off, *spa);
    if (h.fw->memory().HvWrite(*spa, ByteSpan(image->image).subspan(off, kPage)) !=
        rmp::RmpViolation::kNone) {
      return fail(Error(ErrorCode::kRefused, "host write to a page it does not own"));
    }
    emulator::SevLaunchUpdateBuf upd{g.info.handle, 0, *spa, static_cast<std::uint32_t>(kPage)};
    if (Status st = h.RunSev(SevCmd::kLaunchUpdateData, upd, {{*spa, kPage}}); !st.ok()) {
      return fail(st.error().Context("page at GPA " + std::to_string(base + off)));
    }
  }
  // sev_add_kernel_loader_hashes: the table written into guest RAM at the area and encrypted in
  // place (sev_encrypt_flash), 176 bytes, after the image.
  if (hash_area) {
    const std::uint64_t page = hash_area->base & ~(kPage - 1);
    const std::uint64_t offset = hash_area->base - page;
    if (offset + launch::kPaddedSevHashTableSize > kPage) {
      return fail(Error(ErrorCode::kInvalidArgument, "the image's hash table area crosses a page"));
    }
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    if (!g.gpa_to_spa.emplace(page, *spa).second) {
      h.pages.Free(*spa);
      return fail(Error(ErrorCode::kInvalidArgument,
                        "the image's hash table area overlaps the image itself"));
    }
    const Bytes table = launch::BuildSevHashTable(*spec.direct_boot);
    if (h.fw->memory().HvWrite(*spa + offset, table) != rmp::RmpViolation::kNone) {
      return fail(Error(ErrorCode::kRefused, "host write to a page it does not own"));
    }
    emulator::SevLaunchUpdateBuf upd{g.info.handle, 0, *spa + offset,
                                     static_cast<std::uint32_t>(table.size())};
    // The driver hands the firmware the whole page the range lies in.
    if (Status st = h.RunSev(SevCmd::kLaunchUpdateData, upd, {{*spa, kPage}}); !st.ok()) {
      return fail(st.error().Context("the kernel hashes table"));
    }
  }
  // The secret area is guest RAM, not measured: contiguous pages, as KVM's LAUNCH_SECRET needs
  // the range it writes. An area overlapping the image is the image's mistake.
  if (image->sev_secret_area) {
    const auto& area = *image->sev_secret_area;
    const std::uint64_t first = area.base & ~(kPage - 1);
    const std::uint64_t last = (std::uint64_t{area.base} + area.size + kPage - 1) & ~(kPage - 1);
    const std::size_t n = static_cast<std::size_t>((last - first) / kPage);
    auto spa = h.pages.AllocateContiguous(n);
    if (!spa.ok()) return fail(spa.error());
    for (std::size_t i = 0; i < n; ++i) {
      if (!g.gpa_to_spa.emplace(first + i * kPage, *spa + i * kPage).second) {
        h.pages.Free(*spa + i * kPage);
        return fail(Error(ErrorCode::kInvalidArgument,
                          "the image's secret area overlaps the image itself"));
      }
    }
    g.info.secret_gpa = area.base;
    g.info.secret_size = area.size;
  }
  // SEV-ES: sev_launch_update_vmsa, every vCPU's VMSA encrypted and measured.
  for (const launch::VmsaPage& vmsa : *vmsas) {
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    g.vmsa_spas.push_back(*spa);
    if (h.fw->memory().HvWrite(*spa, vmsa) != rmp::RmpViolation::kNone) {
      return fail(Error(ErrorCode::kRefused, "host write to a page it does not own"));
    }
    emulator::SevLaunchUpdateBuf upd{g.info.handle, 0, *spa, static_cast<std::uint32_t>(kPage)};
    if (Status st = h.RunSev(SevCmd::kLaunchUpdateVmsa, upd, {{*spa, kPage}}); !st.ok()) {
      return fail(st.error());
    }
  }
  g.info.pages = g.gpa_to_spa.size() + g.vmsa_spas.size();

  // LAUNCH_MEASURE into a host buffer; the owner gets it (query-sev-launch-measure).
  auto measure_len = ProbeLength(
      *h.sev, SevCmd::kLaunchMeasure, emulator::SevLaunchMeasureBuf{g.info.handle, 0, 0, 0},
      [](const emulator::SevLaunchMeasureBuf& b) { return b.measure_len; });
  if (!measure_len.ok()) return fail(measure_len.error());
  if (*measure_len != g.info.launch_measure.size()) {
    return fail(Error(ErrorCode::kRefused, "LAUNCH_MEASURE: the firmware wants " +
                                               std::to_string(*measure_len) + " bytes"));
  }
  auto out = h.pages.Allocate();
  if (!out.ok()) return fail(out.error());
  emulator::SevLaunchMeasureBuf measure{g.info.handle, 0, *out, *measure_len};
  Status measured = h.RunSev(SevCmd::kLaunchMeasure, measure, {{*out, kPage}});
  if (measured.ok() && !h.fw->memory().FirmwareRead(*out, g.info.launch_measure).ok()) {
    measured = Error(ErrorCode::kIo, "reading LAUNCH_MEASURE's output failed");
  }
  (void)h.ReleasePage(*out);
  if (!measured.ok()) return fail(measured.error());

  g.info.launch_id = ++h.launches;
  GuestInfo info = g.info;
  h.guests.emplace(spec.name, std::move(g));
  return info;
}

Status Host::InjectLaunchSecret(const std::string& name, ByteSpan header, ByteSpan secret,
                                std::optional<std::uint64_t> gpa) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  // QEMU: "SEV: Not in correct state. (LSECRET)".
  if (g.info.launch_finished) {
    return Error(ErrorCode::kRefused,
                 "guest '" + name + "' has finished its launch: no more secrets");
  }
  if (!gpa) {
    if (g.info.secret_gpa == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "the guest's image has no secret area: give the guest address");
    }
    gpa = g.info.secret_gpa;
  }
  // psp_copy_user_blob for the header and the ciphertext; the guest range as KVM pins it.
  if (header.empty() || secret.empty() || header.size() > uapi::kSevFwBlobMaxSize ||
      secret.size() > uapi::kSevFwBlobMaxSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "packet header and secret must each be 1 byte to 16 KiB");
  }
  if (*gpa + secret.size() < *gpa) {
    return Error(ErrorCode::kInvalidArgument, "guest address range wraps");
  }
  std::uint64_t spa = 0;
  std::vector<SevDevice::CmdBuffer> guest_pages;
  for (std::uint64_t page = *gpa & ~(kPage - 1); page < *gpa + secret.size(); page += kPage) {
    auto m = g.gpa_to_spa.find(page);
    if (m == g.gpa_to_spa.end()) {
      return Error(ErrorCode::kNotFound,
                   "guest page at " + std::to_string(page) + " is not mapped");
    }
    if (guest_pages.empty()) {
      spa = m->second + (*gpa - page);
    } else if (m->second != guest_pages.back().spa + kPage) {
      // sev_launch_secret: "the secret must be copied into contiguous memory region".
      return Error(ErrorCode::kInvalidArgument,
                   "the guest range is not physically contiguous on the host");
    }
    guest_pages.push_back({m->second, kPage});
  }
  auto hdr_spa = h.CopyBlob(header);
  if (!hdr_spa.ok()) return hdr_spa.error();
  auto trans_spa = h.CopyBlob(secret);
  if (!trans_spa.ok()) {
    h.ReleaseBlob(*hdr_spa, header.size());
    return trans_spa.error();
  }
  emulator::SevLaunchSecretBuf buf{};
  buf.handle = g.info.handle;
  buf.hdr_paddr = *hdr_spa;
  buf.hdr_len = static_cast<std::uint32_t>(header.size());
  buf.guest_paddr = spa;
  buf.guest_len = static_cast<std::uint32_t>(secret.size());
  buf.trans_paddr = *trans_spa;
  buf.trans_len = static_cast<std::uint32_t>(secret.size());
  std::vector<SevDevice::CmdBuffer> buffers = guest_pages;
  buffers.push_back({*hdr_spa, header.size()});
  buffers.push_back({*trans_spa, secret.size()});
  const Status st =
      h.RunSev(SevCmd::kLaunchUpdateSecret,
               MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof buf), buffers);
  h.ReleaseBlob(*hdr_spa, header.size());
  h.ReleaseBlob(*trans_spa, secret.size());
  if (!st.ok()) return st;
  g.info.secret_injected = true;
  return {};
}

Result<GuestInfo> Host::FinishSevLaunch(const std::string& name) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  if (g.info.launch_finished) {
    return Error(ErrorCode::kRefused, "guest '" + name + "' has already finished its launch");
  }
  emulator::SevHandleBuf buf{g.info.handle};
  if (Status st = h.RunSev(SevCmd::kLaunchFinish, buf); !st.ok()) return st.error();
  g.info.launch_finished = true;
  return g.info;
}

Result<Bytes> Host::SevAttestationReport(const std::string& name,
                                         const std::array<std::uint8_t, 16>& mnonce) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  emulator::SevAttestationBuf buf{};
  buf.handle = g.info.handle;
  auto length = ProbeLength(*h.sev, SevCmd::kAttestation, buf,
                            [](const emulator::SevAttestationBuf& b) { return b.length; });
  if (!length.ok()) return length.error();
  if (*length != emulator::kSevAttestationReportSize) {
    return Error(ErrorCode::kRefused,
                 "ATTESTATION: the firmware wants " + std::to_string(*length) + " bytes");
  }
  auto out = h.pages.Allocate();
  if (!out.ok()) return out.error();
  buf.paddr = *out;
  std::memcpy(buf.mnonce, mnonce.data(), mnonce.size());
  buf.length = *length;
  Status st = h.RunSev(SevCmd::kAttestation, buf, {{*out, kPage}});
  Bytes report(emulator::kSevAttestationReportSize);
  if (st.ok() && !h.fw->memory().FirmwareRead(*out, report).ok()) {
    st = Error(ErrorCode::kIo, "reading the ATTESTATION report failed");
  }
  (void)h.ReleasePage(*out);
  if (!st.ok()) return st.error();
  return report;
}

}  // namespace sevemu::hypervisor
