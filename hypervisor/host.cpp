#include "sevemu/hypervisor/host.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "host_impl.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/rmp/rmp_instructions.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::hypervisor {

using emulator::FwStatus;
using emulator::SnpCmd;

namespace {

constexpr std::uint64_t kPage = 4096;
// Host pages the /dev/sev driver uses for command buffers (SevDevice::kScratchPages), and the
// 2 MiB SEV-ES TMR it hands the legacy INIT, below the allocator's range.
constexpr std::uint64_t kSevScratchSpa = 0x100000;
constexpr std::uint64_t kSevEsTmrSpa = 0x200000;

Error RmpError(const char* what, rmp::RmpResult r) {
  return Error(ErrorCode::kRefused, std::string(what) + ": RMPUPDATE " + rmp::RmpResultName(r));
}

}  // namespace

const char* GuestTypeName(GuestType t) {
  switch (t) {
    case GuestType::kSnp:
      return "snp";
    case GuestType::kSev:
      return "sev";
    case GuestType::kSevEs:
      return "sev-es";
  }
  return "unknown";
}

Error CommandError(SnpCmd cmd, FwStatus st) {
  char code[8];
  std::snprintf(code, sizeof code, "0x%02x", static_cast<unsigned>(st));
  return Error(ErrorCode::kRefused, std::string(emulator::SnpCmdName(cmd)) + ": " +
                                        emulator::FwStatusName(st) + " (" + code + ")");
}

Result<std::uint64_t> PageAllocator::Allocate() {
  if (!free_.empty()) {
    const std::uint64_t spa = free_.back();
    free_.pop_back();
    return spa;
  }
  return AllocateContiguous(1);
}

Result<std::uint64_t> PageAllocator::AllocateContiguous(std::size_t count) {
  const std::uint64_t bytes = count * kPage;
  if (count == 0 || bytes / kPage != count || next_ > limit_ || limit_ - next_ < bytes) {
    return Error(ErrorCode::kRefused, "host memory exhausted");
  }
  const std::uint64_t spa = next_;
  next_ += bytes;
  return spa;
}

Status Host::Impl::MakeFirmwarePage(std::uint64_t spa) {
  const auto r = rmp::RmpUpdate(fw->memory().rmp(), spa, {0, true, false, true, 0});
  if (r != rmp::RmpResult::kSuccess) return RmpError("firmware page", r);
  return {};
}

Status Host::Impl::MakePreGuestPage(std::uint64_t spa, std::uint64_t gpa, std::uint32_t asid,
                                    ByteSpan contents) {
  if (fw->memory().HvWrite(spa, contents) != rmp::RmpViolation::kNone) {
    return Error(ErrorCode::kRefused, "host write to a page it does not own");
  }
  const auto r = rmp::RmpUpdate(fw->memory().rmp(), spa, {gpa, true, false, true, asid});
  if (r != rmp::RmpResult::kSuccess) return RmpError("pre-guest page", r);
  return {};
}

Status Host::Impl::ReleasePage(std::uint64_t spa) {
  auto& rmp_table = fw->memory().rmp();
  if (rmp_table.Get(spa).immutable()) {
    emulator::SnpAddrBuf reclaim{spa};
    if (FwStatus st = Run(SnpCmd::kPageReclaim, reclaim); st != FwStatus::kSuccess) {
      return CommandError(SnpCmd::kPageReclaim, st);
    }
  }
  if (rmp_table.Get(spa).assigned()) {
    const auto r = rmp::RmpUpdate(rmp_table, spa, {0, false, false, false, 0});
    if (r != rmp::RmpResult::kSuccess) return RmpError("release", r);
  }
  // Scrub: the next owner must not see this one's ciphertext or plaintext.
  static const Bytes kZero(kPage, 0);
  if (fw->memory().HvWrite(spa, kZero) != rmp::RmpViolation::kNone) {
    return Error(ErrorCode::kRefused, "scrubbing a released page failed");
  }
  pages.Free(spa);
  return {};
}

void Host::Impl::Teardown(HostGuest& g, bool decommission) {
  if (decommission) {
    if (g.legacy()) {
      // KVM's sev_unbind_asid then sev_decommission; DEACTIVATE fails harmlessly for a guest
      // whose ACTIVATE never ran.
      emulator::SevHandleBuf handle{g.info.handle};
      (void)RunSev(emulator::SevCmd::kDeactivate, handle);
      (void)RunSev(emulator::SevCmd::kDecommission, handle);
    } else {
      emulator::SnpAddrBuf buf{g.info.gctx_paddr};
      (void)Run(SnpCmd::kDecommission, buf);
    }
    // The ASID is reusable after WBINVD + DF_FLUSH (the kernel does this when it recycles;
    // with SNP enabled KVM's sev_flush_asids uses SNP_DF_FLUSH for every kind of guest).
    fw->Wbinvd();
    (void)Run(SnpCmd::kDfFlush, MutableByteSpan{});
  }
  // Pages the guest never got (allocation or a launch step failed) are plain host pages;
  // ReleasePage handles every state. Failures here leave the page leaked, never reused.
  for (const auto& [gpa, spa] : g.gpa_to_spa) (void)ReleasePage(spa);
  for (std::uint64_t spa : g.vmsa_spas) (void)ReleasePage(spa);
  for (std::uint64_t spa : g.md_pages) (void)ReleasePage(spa);  // METADATA -> RECLAIM -> host
  for (std::uint64_t spa : {g.info.gctx_paddr, g.request_spa, g.response_spa}) {
    if (spa != 0) (void)ReleasePage(spa);
  }
  if (g.info.asid != 0) asids_in_use.erase(g.info.asid);
}

Result<std::uint32_t> Host::Impl::FreeAsid(std::uint32_t first, std::uint32_t end,
                                           const char* kind) {
  for (std::uint32_t asid = first; asid < end; ++asid) {
    if (asids_in_use.count(asid) == 0) return asid;
  }
  return Error(ErrorCode::kRefused, std::string("no free ") + kind + " ASID");
}

Status Host::Impl::RunSev(emulator::SevCmd cmd, MutableByteSpan buf,
                          std::span<const SevDevice::CmdBuffer> buffers) {
  std::uint32_t error = 0;
  const int rc = sev->IssueGuestCmd(cmd, buf, buffers, &error);
  if (rc == 0) return {};
  if (rc == -EIO) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", error);
    return Error(ErrorCode::kRefused, std::string(emulator::SevCmdName(cmd)) + ": " +
                                          emulator::FwStatusName(static_cast<FwStatus>(error)) +
                                          " (" + code + ")");
  }
  return Error(ErrorCode::kRefused, std::string(emulator::SevCmdName(cmd)) +
                                        ": the host could not hand its buffers to the firmware");
}

Result<std::uint64_t> Host::Impl::CopyBlob(ByteSpan blob) {
  const std::size_t n = std::max<std::size_t>((blob.size() + kPage - 1) / kPage, 1);
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t spa, pages.AllocateContiguous(n));
  Bytes padded(n * kPage, 0);
  std::copy(blob.begin(), blob.end(), padded.begin());
  if (fw->memory().HvWrite(spa, padded) != rmp::RmpViolation::kNone) {
    ReleaseBlob(spa, blob.size());
    return Error(ErrorCode::kRefused, "host write to a page it does not own");
  }
  return spa;
}

void Host::Impl::ReleaseBlob(std::uint64_t spa, std::size_t len) {
  const std::size_t n = std::max<std::size_t>((len + kPage - 1) / kPage, 1);
  for (std::size_t i = 0; i < n; ++i) (void)ReleasePage(spa + i * kPage);
}

Result<std::unique_ptr<Host>> Host::Boot(emulator::Platform platform,
                                         const emulator::FirmwareConfig& config) {
  auto fw = emulator::Firmware::Boot(platform, config);
  if (!fw.ok()) return fw.error();
  auto impl = std::make_unique<Impl>(std::move(platform), config.memory_size);
  impl->fw = std::move(fw).value();
  const std::uint32_t max_asid = emulator::Info(impl->platform.state.chip.product).max_asid;
  impl->asid_limit =
      config.min_sev_asid != 0 ? config.min_sev_asid : emulator::MinSevAsid(impl->platform.state);
  impl->max_asid = max_asid;
  impl->sev = std::make_unique<SevDevice>(*impl->fw, kSevScratchSpa, kSevEsTmrSpa);
  impl->sev->set_faults(&impl->faults);
  // What the ccp driver does when SNP is enabled: SNP_INIT, then WBINVD on every CPU and
  // SNP_DF_FLUSH so every ASID starts clean.
  if (FwStatus st = impl->Run(SnpCmd::kInit, MutableByteSpan{}); st != FwStatus::kSuccess) {
    return CommandError(SnpCmd::kInit, st);
  }
  impl->fw->Wbinvd();
  if (FwStatus st = impl->Run(SnpCmd::kDfFlush, MutableByteSpan{}); st != FwStatus::kSuccess) {
    return CommandError(SnpCmd::kDfFlush, st);
  }
  // Then the legacy platform (psp_init_on_probe, Linux's default): INIT with the SEV-ES TMR,
  // WBINVD, DF_FLUSH. Its failure is not the host's: the kernel logs it and tries again when
  // a command needs the platform, so /dev/sev stays usable.
  std::uint32_t legacy_error = 0;
  (void)impl->sev->PlatformInit(&legacy_error);
  impl->saved_platform_json = emulator::PlatformJson(impl->fw->platform_state());
  // Against the store as loaded: an identity the boot INIT generated is a change to persist.
  impl->saved_sev_nv = emulator::SevNvFingerprint(impl->platform.sev_nv);
  return std::unique_ptr<Host>(new Host(std::move(impl)));
}

Host::Host(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Host::~Host() = default;

emulator::Firmware& Host::firmware() {
  return *impl_->fw;
}
const emulator::Platform& Host::platform() const {
  return impl_->platform;
}
SevDevice& Host::sev_device() {
  return *impl_->sev;
}
FaultSet& Host::faults() {
  return impl_->faults;
}

std::vector<GuestInfo> Host::Guests() const {
  std::vector<GuestInfo> out;
  for (const auto& [name, g] : impl_->guests) out.push_back(g.info);
  return out;
}

Result<GuestInfo> Host::Guest(const std::string& name) const {
  auto it = impl_->guests.find(name);
  if (it == impl_->guests.end())
    return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  return it->second.info;
}

Status Host::DestroyGuest(const std::string& name) {
  const FaultSet::ActingFor acting(impl_->faults, name);
  auto it = impl_->guests.find(name);
  if (it == impl_->guests.end())
    return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  impl_->Teardown(it->second, true);
  impl_->guests.erase(it);
  return {};
}

namespace {

// Walks [gpa, gpa+len) page by page through the guest's map; `fn(spa, gpa, offset, n)`.
template <typename Fn>
Status ForEachGuestPage(const HostGuest& g, std::uint64_t gpa, std::size_t len, Fn fn) {
  if (len > (64u << 20)) return Error(ErrorCode::kInvalidArgument, "access larger than 64 MiB");
  if (gpa + len < gpa) return Error(ErrorCode::kInvalidArgument, "guest address range wraps");
  std::size_t done = 0;
  while (done < len) {
    const std::uint64_t at = gpa + done;
    const std::uint64_t page = at & ~(kPage - 1);
    auto it = g.gpa_to_spa.find(page);
    if (it == g.gpa_to_spa.end()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(page));
      return Error(ErrorCode::kNotFound,
                   std::string("guest page ") + buf +
                       (g.swapped.count(page) ? " is swapped out" : " is not mapped"));
    }
    const std::size_t n = std::min<std::size_t>(len - done, kPage - (at - page));
    if (Status st = fn(it->second + (at - page), at, done, n); !st.ok()) return st;
    done += n;
  }
  return {};
}

}  // namespace

Result<Bytes> Host::ReadGuestMemory(const std::string& name, std::uint64_t gpa, std::size_t len) {
  auto it = impl_->guests.find(name);
  if (it == impl_->guests.end())
    return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  const HostGuest& g = it->second;
  Bytes out(len);
  Status st = ForEachGuestPage(
      g, gpa, len, [&](std::uint64_t spa, std::uint64_t at, std::size_t off, std::size_t n) {
        const MutableByteSpan dst = MutableByteSpan(out).subspan(off, n);
        // A legacy guest has no RMP to pass: what it reads is its memory under its key.
        const rmp::GuestAccess a{g.info.asid, 0, at, true, false, rmp::kPermRead};
        const auto v = g.legacy() ? impl_->fw->memory().FirmwareReadGuest(g.info.asid, spa, dst)
                                  : impl_->fw->memory().GuestRead(a, spa, dst);
        if (v != rmp::RmpViolation::kNone) {
          return Status(
              Error(ErrorCode::kRefused, std::string("guest read: ") + rmp::RmpViolationName(v)));
        }
        return Status();
      });
  if (!st.ok()) return st.error();
  return out;
}

Status Host::WriteGuestMemory(const std::string& name, std::uint64_t gpa, ByteSpan data) {
  auto it = impl_->guests.find(name);
  if (it == impl_->guests.end())
    return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  const HostGuest& g = it->second;
  if (g.legacy()) {
    // Every page is mapped (checked first, so a failed write writes nothing); no RMP owner.
    Status st = ForEachGuestPage(
        g, gpa, data.size(),
        [](std::uint64_t, std::uint64_t, std::size_t, std::size_t) { return Status(); });
    if (!st.ok()) return st;
    return ForEachGuestPage(
        g, gpa, data.size(), [&](std::uint64_t spa, std::uint64_t, std::size_t off, std::size_t n) {
          const auto v =
              impl_->fw->memory().FirmwareWriteGuest(g.info.asid, spa, data.subspan(off, n));
          if (v != rmp::RmpViolation::kNone) {
            return Status(Error(ErrorCode::kRefused,
                                std::string("guest write: ") + rmp::RmpViolationName(v)));
          }
          return Status();
        });
  }
  // Check every page first, so a write that cannot complete writes nothing.
  Status st = ForEachGuestPage(
      g, gpa, data.size(), [&](std::uint64_t spa, std::uint64_t at, std::size_t, std::size_t) {
        rmp::GuestAccess a{g.info.asid, 0, at, true, false, rmp::kPermWrite};
        const auto v = impl_->fw->memory().Check(a, spa);
        if (v != rmp::RmpViolation::kNone) {
          return Status(
              Error(ErrorCode::kRefused, std::string("guest write: ") + rmp::RmpViolationName(v)));
        }
        return Status();
      });
  if (!st.ok()) return st;
  return ForEachGuestPage(
      g, gpa, data.size(),
      [&](std::uint64_t spa, std::uint64_t at, std::size_t off, std::size_t n) {
        rmp::GuestAccess a{g.info.asid, 0, at, true, false, rmp::kPermWrite};
        const auto v = impl_->fw->memory().GuestWrite(a, spa, data.subspan(off, n));
        if (v != rmp::RmpViolation::kNone) {
          return Status(
              Error(ErrorCode::kRefused, std::string("guest write: ") + rmp::RmpViolationName(v)));
        }
        return Status();
      });
}

Result<GuestRequestReply> Host::GuestRequest(const std::string& name, ByteSpan request,
                                             std::optional<std::uint32_t> cert_buffer_len) {
  auto it = impl_->guests.find(name);
  if (it == impl_->guests.end())
    return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  if (request.size() > kPage) {
    return Error(ErrorCode::kInvalidArgument, "a guest request is at most one 4 KiB page");
  }
  const HostGuest& g = it->second;
  if (g.legacy()) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest '" + name + "' is a legacy SEV guest: it has no SNP guest requests");
  }
  const FaultSet::ActingFor acting(impl_->faults, name);
  GuestRequestReply reply;
  // Injected VMM answers (faults.h): the firmware is not called, as KVM does not call it when
  // it throttles (BUSY) or finds the certificate buffer too small (INVALID_LEN).
  if (impl_->faults.Fire(FaultKind::kGuestBusy, name, "BUSY") != nullptr) {
    reply.vmm_error = uapi::kSnpGuestVmmErrBusy;
    return reply;
  }
  if (const Fault* f = impl_->faults.Fire(FaultKind::kGuestInvalidLen, name, "INVALID_LEN")) {
    reply.vmm_error = uapi::kSnpGuestVmmErrInvalidLen;
    reply.certs_needed = f->spec.size;
    return reply;
  }
  Bytes table;
  if (cert_buffer_len) {
    // KVM's extended guest request: the certificates must fit the guest's buffer, else the
    // guest is told how many pages it needs and the firmware is not called.
    auto t = CertTable();
    if (!t.ok()) return t.error();
    table = std::move(t).value();
    auto faulted = impl_->FaultedCertTable(name, std::move(table));
    if (!faulted.ok()) return faulted.error();
    table = std::move(faulted).value();
    const std::size_t needed = table.empty() ? 0 : guestmsg::CertBufferNeeded(table.size());
    if (needed > *cert_buffer_len) {
      reply.vmm_error = uapi::kSnpGuestVmmErrInvalidLen;
      reply.certs_needed = static_cast<std::uint32_t>(needed);
      return reply;
    }
  }
  Bytes page(kPage, 0);
  std::copy(request.begin(), request.end(), page.begin());
  if (impl_->fw->memory().HvWrite(g.request_spa, page) != rmp::RmpViolation::kNone) {
    return Error(ErrorCode::kRefused, "the guest's request page is not shared");
  }
  emulator::SnpGuestRequestBuf buf{g.info.gctx_paddr, g.request_spa, g.response_spa};
  reply.fw_status = impl_->Run(SnpCmd::kGuestRequest, buf);
  if (reply.fw_status != FwStatus::kSuccess) return reply;
  reply.response.resize(kPage);
  if (!impl_->fw->memory().FirmwareRead(g.response_spa, reply.response).ok()) {
    return Error(ErrorCode::kIo, "reading the response page failed");
  }
  reply.certs = std::move(table);
  return reply;
}

Result<Bytes> Host::Impl::FaultedCertTable(const std::string& guest, Bytes table) {
  if (faults.Fire(FaultKind::kCertsMissing, guest, "no certificates") != nullptr) return Bytes{};
  if (!table.empty() &&
      faults.Fire(FaultKind::kCertsWrongVcek, guest, "VCEK of another TCB") != nullptr) {
    // The chip's own VCEK, but for a TCB one SNP SVN above the reported one (what a host that
    // fetched before a firmware update rolled back hands out): it chains to the ASK and ARK,
    // and its TCB extensions and key disagree with the reports.
    const auto& st = fw->platform_state();
    emulator::TcbParts parts = st.reported_tcb.parts();
    parts.snp = static_cast<std::uint8_t>(parts.snp < 127 ? parts.snp + 1 : parts.snp - 1);
    auto tcb = emulator::TcbVersion::FromParts(st.chip.product, parts);
    if (!tcb.ok()) return tcb.error();
    const emulator::Kds kds(platform.root);
    auto vcek = kds.Vcek(st.chip, platform.fuses, *tcb, st.manufactured_at);
    if (!vcek.ok()) return vcek.error().Context("wrong VCEK");
    auto der = vcek->ToDer();
    if (!der.ok()) return der.error();
    auto entries = guestmsg::ParseCertTable(table);
    if (!entries.ok()) return entries.error();
    std::vector<guestmsg::CertEntry> out = std::move(entries).value();
    for (auto& e : out) {
      if (e.guid == guestmsg::kGuidVcek) e.der = *der;
    }
    auto rebuilt = guestmsg::BuildCertTable(out);
    if (!rebuilt.ok()) return rebuilt.error();
    table = std::move(rebuilt).value();
  }
  if (!table.empty()) {
    if (const Fault* f = faults.Fire(FaultKind::kCertsTruncated, guest, "truncated to")) {
      const std::size_t keep = f->spec.size != 0 ? f->spec.size : table.size() / 2;
      if (keep < table.size()) table.resize(keep);
    }
  }
  return table;
}

Status Host::SetCertTable(Bytes table) {
  if (!table.empty()) {
    auto parsed = guestmsg::ParseCertTable(table);
    if (!parsed.ok()) return parsed.error().Context("certificate table");
    if (table.size() > uapi::kSevFwBlobMaxSize) {
      return Error(ErrorCode::kInvalidArgument, "certificate table is larger than 16 KiB");
    }
  }
  impl_->cert_table_set = std::move(table);
  return {};
}

void Host::UseAutomaticCertTable() {
  impl_->cert_table_set.reset();
}

Result<Bytes> Host::CertTable() {
  if (impl_->cert_table_set) return *impl_->cert_table_set;
  const auto& st = impl_->fw->platform_state();
  const std::uint64_t tcb = st.reported_tcb.raw();
  if (impl_->auto_cert_tcb != tcb) {
    // What a host administrator does by hand: fetch the VCEK for the reported TCB from the
    // KDS and hand it out with the ASK and ARK.
    const emulator::Kds kds(impl_->platform.root);
    auto vcek = kds.Vcek(st.chip, impl_->platform.fuses, st.reported_tcb, st.manufactured_at);
    if (!vcek.ok()) return vcek.error().Context("VCEK for the certificate table");
    auto vcek_der = vcek->ToDer();
    auto ask_der = impl_->platform.root.ask.ToDer();
    auto ark_der = impl_->platform.root.ark.ToDer();
    if (!vcek_der.ok() || !ask_der.ok() || !ark_der.ok()) {
      return Error(ErrorCode::kCrypto, "encoding certificates for the table failed");
    }
    auto table = guestmsg::BuildCertTable({{guestmsg::kGuidVcek, *vcek_der},
                                           {guestmsg::kGuidAsk, *ask_der},
                                           {guestmsg::kGuidArk, *ark_der}});
    if (!table.ok()) return table.error();
    impl_->auto_cert_table = std::move(table).value();
    impl_->auto_cert_tcb = tcb;
  }
  return impl_->auto_cert_table;
}

FwStatus Host::DownloadFirmware(ByteSpan image, bool commit) {
  const std::size_t pages = (image.size() + kPage - 1) / kPage;
  auto at = impl_->pages.AllocateContiguous(std::max<std::size_t>(pages, 1));
  if (!at.ok()) return FwStatus::kResourceLimit;
  Bytes padded(pages * kPage, 0);
  std::copy(image.begin(), image.end(), padded.begin());
  FwStatus st = FwStatus::kInvalidAddress;
  if (impl_->fw->memory().HvWrite(*at, padded) == rmp::RmpViolation::kNone) {
    emulator::SnpDownloadFirmwareExBuf buf{sizeof(emulator::SnpDownloadFirmwareExBuf), 0, *at,
                                           static_cast<std::uint32_t>(image.size()),
                                           commit ? 1u : 0u};
    st = impl_->Run(SnpCmd::kDownloadFirmwareEx, buf);
  }
  for (std::size_t i = 0; i < std::max<std::size_t>(pages, 1); ++i) {
    (void)impl_->ReleasePage(*at + i * kPage);
  }
  return st;
}

PersistentChange Host::TakePersistentChange() {
  PersistentChange change;
  std::string now = emulator::PlatformJson(impl_->fw->platform_state());
  if (now != impl_->saved_platform_json) {
    impl_->saved_platform_json = std::move(now);
    change.platform_json = true;
  }
  Bytes sev_nv = emulator::SevNvFingerprint(impl_->fw->sev_nv_store());
  if (sev_nv != impl_->saved_sev_nv) {
    impl_->saved_sev_nv = std::move(sev_nv);
    change.sev_nv = true;
  }
  return change;
}

}  // namespace sevemu::hypervisor
