// Legacy SEV / SEV-ES migration on the host: what KVM does for each KVM_SEV_SEND_* and
// KVM_SEV_RECEIVE_* ioctl (Linux arch/x86/kvm/svm/sev.c: sev_send_start with
// __sev_send_start_query_session_length, sev_send_update_data with
// __sev_send_update_data_query_lengths and its page-crossing check, sev_send_finish,
// sev_send_cancel, sev_receive_start + sev_bind_asid, sev_receive_update_data,
// sev_receive_finish; Documentation/virt/kvm/x86/amd-memory-encryption.rst), in the order the
// VMM series that drives them runs them (QEMU's unmerged sev_save_setup /
// sev_save_outgoing_page / sev_load_incoming_page; upstream QEMU never migrates SEV guests).
// Every firmware command goes through SevDevice::IssueGuestCmd, as KVM's go through
// sev_issue_cmd, with the buffers sev-dev.c's snp_populate_cmd_buf_desc_list names for it.
//
// Linux has no KVM_SEV_SEND_UPDATE_VMSA / RECEIVE_UPDATE_VMSA ioctl: an SEV-ES guest's vCPU
// state is sent here with the firmware's SEND_UPDATE_VMSA / RECEIVE_UPDATE_VMSA (SEV API
// 0.24 §6.x, AMD-ASPFW sev_mcmd_send_update / receive_update with the VMSA flag), with the same
// host-side checks as the data pages.
#include <cstring>

#include "host_impl.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "sevemu/uapi/linux_sev.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::hypervisor {

using emulator::SevCmd;

namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::size_t kCertSize = emulator::kSevCertSize;

// psp_copy_user_blob's rule for a blob KVM copies in: 1 byte to SEV_FW_BLOB_MAX_SIZE.
bool BlobSizeOk(std::size_t len) {
  return len != 0 && len <= uapi::kSevFwBlobMaxSize;
}

}  // namespace

// One page's packet out of the source: SEND_UPDATE_DATA (or _VMSA) of guest_len bytes at
// `spa`, into a header and a transport buffer the kernel allocates (kmalloc) and copies out.
Result<SevMigrationStream::Packet> Host::Impl::SendPacket(SevCmd cmd, std::uint32_t handle,
                                                          std::uint64_t spa,
                                                          std::uint32_t hdr_len) {
  Impl& h = *this;
  // sev_send_update_data: the range may not cross its page (offset + guest_len <= PAGE_SIZE).
  const std::uint32_t guest_len = static_cast<std::uint32_t>(kPage);
  if ((spa & (kPage - 1)) + guest_len > kPage) {
    return Error(ErrorCode::kInvalidArgument, "a packet may not cross a guest page");
  }
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t hdr_spa, h.pages.Allocate());
  auto trans_spa = h.pages.Allocate();
  if (!trans_spa.ok()) {
    (void)h.ReleasePage(hdr_spa);
    return trans_spa.error();
  }
  // The transport buffer is as long as the data: QEMU sizes it by the page it sends.
  emulator::SevTransportBuf buf{handle, 0,         hdr_spa, hdr_len,    0,
                                spa,    guest_len, 0,       *trans_spa, guest_len};
  Status st = h.RunSev(cmd, buf, {{hdr_spa, hdr_len}, {*trans_spa, guest_len}});
  SevMigrationStream::Packet p;
  if (st.ok()) {
    p.hdr.resize(hdr_len);
    p.trans.resize(guest_len);
    if (!h.fw->memory().FirmwareRead(hdr_spa, p.hdr).ok() ||
        !h.fw->memory().FirmwareRead(*trans_spa, p.trans).ok()) {
      st = Error(ErrorCode::kIo, std::string(emulator::SevCmdName(cmd)) + ": reading the packet");
    }
  }
  (void)h.ReleasePage(hdr_spa);
  (void)h.ReleasePage(*trans_spa);
  if (!st.ok()) return st.error();
  return p;
}

// One packet into the destination: sev_receive_update_data's checks (every field set, the
// range inside its page), the header and transport copied in (psp_copy_user_blob), then
// RECEIVE_UPDATE_DATA (or _VMSA) into the guest page at `spa`, the one buffer sev-dev.c maps
// for it (guest-owned).
Status Host::Impl::ReceivePacket(SevCmd cmd, std::uint32_t handle, std::uint64_t spa,
                                 const SevMigrationStream::Packet& p) {
  Impl& h = *this;
  const std::uint32_t guest_len = static_cast<std::uint32_t>(kPage);
  if (!BlobSizeOk(p.hdr.size()) || !BlobSizeOk(p.trans.size())) {
    return Error(ErrorCode::kInvalidArgument,
                 "a packet's header and data must each be 1 byte to 16 KiB");
  }
  if ((spa & (kPage - 1)) + guest_len > kPage) {
    return Error(ErrorCode::kInvalidArgument, "a packet may not cross a guest page");
  }
  SEVEMU_ASSIGN_OR_RETURN(std::uint64_t hdr_spa, h.CopyBlob(p.hdr));
  auto trans_spa = h.CopyBlob(p.trans);
  if (!trans_spa.ok()) {
    h.ReleaseBlob(hdr_spa, p.hdr.size());
    return trans_spa.error();
  }
  emulator::SevTransportBuf buf{
      handle,    0, hdr_spa,    static_cast<std::uint32_t>(p.hdr.size()),  0, spa,
      guest_len, 0, *trans_spa, static_cast<std::uint32_t>(p.trans.size())};
  const Status st = h.RunSev(cmd, buf, {{spa, guest_len}});
  h.ReleaseBlob(hdr_spa, p.hdr.size());
  h.ReleaseBlob(*trans_spa, p.trans.size());
  return st;
}

Status Host::Impl::PdhCertExport(Bytes& pdh, Bytes& chain) {
  // SEV_PDH_CERT_EXPORT as the destination's administrator issues it (sevctl export): user
  // buffers at made-up addresses, the kernel INITs the platform if it must.
  constexpr std::uint64_t kData = 0x10000, kPdh = 0x20000, kChain = 0x30000;
  uapi::SevUserDataPdhCertExport data{kPdh, static_cast<std::uint32_t>(kCertSize), kChain,
                                      emulator::kSevCertChainSize};
  Bytes data_bytes(sizeof data);
  std::memcpy(data_bytes.data(), &data, sizeof data);
  uapi::StagedUserMemory user({{kData, data_bytes},
                               {kPdh, Bytes(kCertSize, 0)},
                               {kChain, Bytes(emulator::kSevCertChainSize, 0)}});
  uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(uapi::SevUserCmd::kPdhCertExport), kData, 0};
  const SevIoctlResult r = sev->Ioctl(uapi::kSevIssueCmd, arg, user, true);
  if (r.ret != 0) {
    return Error(
        ErrorCode::kRefused,
        std::string("PDH_CERT_EXPORT: ") +
            (r.ret == -EIO ? emulator::FwStatusName(static_cast<emulator::FwStatus>(arg.error))
                           : "the kernel refused"));
  }
  pdh.resize(kCertSize);
  chain.resize(emulator::kSevCertChainSize);
  if (!user.Read(kPdh, pdh) || !user.Read(kChain, chain)) {
    return Error(ErrorCode::kIo, "PDH_CERT_EXPORT: reading the certificates");
  }
  return {};
}

Result<SevMigrationTarget> Host::SevMigrationTargetCerts() {
  Impl& h = *impl_;
  SevMigrationTarget t;
  if (Status st = h.PdhCertExport(t.pdh, t.plat_certs); !st.ok()) return st.error();
  // The firmware exports its CEK unsigned; a sender checking the chain (policy SEV) needs it as
  // AMD's KDS serves it (kdsintf.amd.com/cek/id/{GET_ID}), signed by the ASK. The simulated
  // KDS knows every chip's CEK, as AMD does (provision.cpp ExportCertificates does the same).
  const auto& fw = h.fw->platform_state().current_fw;
  SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey cek,
                          emulator::DeriveCek(h.platform.fuses.chip_unique_key));
  SEVEMU_ASSIGN_OR_RETURN(emulator::SevCert cek_cert,
                          emulator::MakeSignedCekCert(cek, h.platform.root, fw.major, fw.minor));
  const auto cek_bytes = cek_cert.Encode();
  std::memcpy(t.plat_certs.data() + 2 * kCertSize, cek_bytes.data(), cek_bytes.size());
  SEVEMU_ASSIGN_OR_RETURN(emulator::AmdCaCert ask, emulator::MakeAmdAsk(h.platform.root));
  SEVEMU_ASSIGN_OR_RETURN(emulator::AmdCaCert ark, emulator::MakeAmdArk(h.platform.root));
  t.amd_certs = ask.Encode();
  const Bytes ark_bytes = ark.Encode();
  t.amd_certs.insert(t.amd_certs.end(), ark_bytes.begin(), ark_bytes.end());
  return t;
}

Result<SevMigrationStream> Host::SendSevGuest(const std::string& name,
                                              const SevMigrationTarget& target) {
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  if (g.sending) return Error(ErrorCode::kRefused, "guest '" + name + "' is already being sent");
  const std::uint32_t handle = g.info.handle;

  // __sev_send_start_query_session_length: SEND_START with only the handle; the firmware
  // answers INVALID_LENGTH with the session length.
  emulator::SevSendStartBuf probe{};
  probe.handle = handle;
  auto session_len = ProbeLength(*h.sev, SevCmd::kSendStart, probe,
                                 [](const emulator::SevSendStartBuf& b) { return b.session_len; });
  if (!session_len.ok()) return session_len.error();
  // sev_send_start's sanity checks, then psp_copy_user_blob of each certificate blob.
  if (target.pdh.empty() || *session_len > uapi::kSevFwBlobMaxSize) {
    return Error(ErrorCode::kInvalidArgument, "SEND_START needs the destination's PDH");
  }
  for (const Bytes* b : {&target.pdh, &target.plat_certs, &target.amd_certs}) {
    if (!BlobSizeOk(b->size())) {
      return Error(ErrorCode::kInvalidArgument,
                   "the destination's certificates must each be 1 byte to 16 KiB");
    }
  }
  std::uint64_t blobs[3] = {};
  const Bytes* parts[3] = {&target.pdh, &target.plat_certs, &target.amd_certs};
  auto release = [&] {
    for (int i = 0; i < 3; ++i) {
      if (blobs[i] != 0) h.ReleaseBlob(blobs[i], parts[i]->size());
    }
  };
  for (int i = 0; i < 3; ++i) {
    auto spa = h.CopyBlob(*parts[i]);
    if (!spa.ok()) {
      release();
      return spa.error();
    }
    blobs[i] = *spa;
  }
  auto session_spa = h.pages.Allocate();  // kzalloc(session_len)
  if (!session_spa.ok()) {
    release();
    return session_spa.error();
  }
  emulator::SevSendStartBuf start{};
  start.handle = handle;
  start.pdh_cert_paddr = blobs[0];
  start.pdh_cert_len = static_cast<std::uint32_t>(target.pdh.size());
  start.plat_certs_paddr = blobs[1];
  start.plat_certs_len = static_cast<std::uint32_t>(target.plat_certs.size());
  start.amd_certs_paddr = blobs[2];
  start.amd_certs_len = static_cast<std::uint32_t>(target.amd_certs.size());
  start.session_paddr = *session_spa;
  start.session_len = *session_len;
  // sev-dev.c maps only the session for SEND_START; the certificates are read in place.
  Status started = h.RunSev(SevCmd::kSendStart, start, {{*session_spa, *session_len}});
  SevMigrationStream s;
  if (started.ok()) {
    s.session.resize(*session_len);
    if (!h.fw->memory().FirmwareRead(*session_spa, s.session).ok()) {
      started = Error(ErrorCode::kIo, "SEND_START: reading the session");
    }
  }
  release();
  (void)h.ReleasePage(*session_spa);
  if (!started.ok()) {
    // A refused SEND_START changed nothing; one whose session could not be read is cancelled.
    if (started.error().code() == ErrorCode::kIo) {
      emulator::SevHandleBuf cancel{handle};
      (void)h.RunSev(SevCmd::kSendCancel, cancel);
    }
    return started.error();
  }
  g.sending = true;
  s.name = name;
  s.type = g.info.type;
  s.policy = start.policy;
  s.vcpus = g.info.vcpus;
  s.vcpu_signature = g.info.vcpu_signature;
  s.secret_gpa = g.info.secret_gpa;
  s.secret_size = g.info.secret_size;
  auto cancel = [&](Error e) -> Result<SevMigrationStream> {
    (void)CancelSevSend(name);
    return e;
  };

  // The sender's PDH, which RECEIVE_START needs: the source's own PDH_CERT_EXPORT.
  Bytes own_chain;
  if (Status st = h.PdhCertExport(s.sender_pdh, own_chain); !st.ok()) return cancel(st.error());

  // __sev_send_update_data_query_lengths: the header's length (the firmware writes back
  // hdr_len only; the transport is as long as the data).
  emulator::SevTransportBuf hdr_probe{};
  hdr_probe.handle = handle;
  auto hdr_len = ProbeLength(*h.sev, SevCmd::kSendUpdateData, hdr_probe,
                             [](const emulator::SevTransportBuf& b) { return b.hdr_len; });
  if (!hdr_len.ok()) return cancel(hdr_len.error());
  for (const auto& [gpa, spa] : g.gpa_to_spa) {
    auto p = h.SendPacket(SevCmd::kSendUpdateData, handle, spa, *hdr_len);
    if (!p.ok()) return cancel(p.error().Context("page at GPA " + std::to_string(gpa)));
    p->gpa = gpa;
    s.pages.push_back(std::move(*p));
  }
  for (std::size_t i = 0; i < g.vmsa_spas.size(); ++i) {
    auto p = h.SendPacket(SevCmd::kSendUpdateVmsa, handle, g.vmsa_spas[i], *hdr_len);
    if (!p.ok()) return cancel(p.error().Context("VMSA of vCPU " + std::to_string(i)));
    p->gpa = i;
    s.vmsas.push_back(std::move(*p));
  }
  return s;
}

Status Host::FinishSevSend(const std::string& name) {
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  if (!g.sending) return Error(ErrorCode::kRefused, "guest '" + name + "' is not being sent");
  emulator::SevHandleBuf buf{g.info.handle};
  if (Status st = h.RunSev(SevCmd::kSendFinish, buf); !st.ok()) return st;
  // SENT: the guest cannot run here again. The VMM exits; KVM's sev_vm_destroy unbinds the
  // ASID (DEACTIVATE) and DECOMMISSIONs the handle, and the pages go back to the host.
  return DestroyGuest(name);
}

Status Host::CancelSevSend(const std::string& name) {
  Impl& h = *impl_;
  auto found = LegacyGuest(h.guests, name);
  if (!found.ok()) return found.error();
  HostGuest& g = **found;
  if (!g.sending) return Error(ErrorCode::kRefused, "guest '" + name + "' is not being sent");
  emulator::SevHandleBuf buf{g.info.handle};
  if (Status st = h.RunSev(SevCmd::kSendCancel, buf); !st.ok()) return st;
  g.sending = false;
  return {};
}

Result<GuestInfo> Host::ReceiveSevGuest(const SevMigrationStream& stream) {
  Impl& h = *impl_;
  if (stream.type == GuestType::kSnp) {
    return Error(ErrorCode::kInvalidArgument, "only sev and sev-es guests are received");
  }
  if (h.guests.count(stream.name) != 0) {
    return Error(ErrorCode::kAlreadyExists, "a guest named '" + stream.name + "' exists");
  }
  const bool es = stream.type == GuestType::kSevEs;
  if (es != (stream.vmsas.size() == stream.vcpus) || (!es && !stream.vmsas.empty())) {
    return Error(ErrorCode::kInvalidArgument, "the stream's VMSAs do not match its vCPUs");
  }
  // sev_receive_start's sanity checks and psp_copy_user_blob.
  if (!BlobSizeOk(stream.sender_pdh.size()) || !BlobSizeOk(stream.session.size())) {
    return Error(ErrorCode::kInvalidArgument,
                 "RECEIVE_START needs the sender's PDH and the session (each at most 16 KiB)");
  }
  // KVM_SEV_INIT / KVM_SEV_ES_INIT on the destination VM: sev_asid_new, sev_platform_init.
  auto asid =
      es ? h.FreeAsid(1, h.asid_limit, "SEV-ES") : h.FreeAsid(h.asid_limit, h.max_asid + 1, "SEV");
  if (!asid.ok()) return asid.error();
  std::uint32_t init_error = 0;
  if (h.sev->PlatformInit(&init_error) != 0) {
    return Error(ErrorCode::kRefused,
                 std::string("SEV INIT: ") +
                     emulator::FwStatusName(static_cast<emulator::FwStatus>(init_error)));
  }

  HostGuest g;
  g.info.name = stream.name;
  g.info.type = stream.type;
  g.info.asid = *asid;
  g.info.policy = stream.policy;
  g.info.vcpus = stream.vcpus;
  g.info.vcpu_signature = stream.vcpu_signature;
  g.info.secret_gpa = stream.secret_gpa;
  g.info.secret_size = stream.secret_size;
  g.info.received = true;
  const auto& fw = h.fw->platform_state().current_fw;
  g.info.api_major = fw.major;
  g.info.api_minor = fw.minor;
  g.info.build = fw.build;
  h.asids_in_use.insert(*asid);
  bool started = false;
  auto fail = [&](Error e) -> Result<GuestInfo> {
    h.Teardown(g, started);
    return e;
  };

  auto pdh_spa = h.CopyBlob(stream.sender_pdh);
  if (!pdh_spa.ok()) return fail(pdh_spa.error());
  auto session_spa = h.CopyBlob(stream.session);
  if (!session_spa.ok()) {
    h.ReleaseBlob(*pdh_spa, stream.sender_pdh.size());
    return fail(session_spa.error());
  }
  emulator::SevReceiveStartBuf start{};
  start.policy = stream.policy;
  start.dh_cert_paddr = *pdh_spa;
  start.dh_cert_len = static_cast<std::uint32_t>(stream.sender_pdh.size());
  start.session_paddr = *session_spa;
  start.session_len = static_cast<std::uint32_t>(stream.session.size());
  const Status received = h.RunSev(SevCmd::kReceiveStart, start);
  h.ReleaseBlob(*pdh_spa, stream.sender_pdh.size());
  h.ReleaseBlob(*session_spa, stream.session.size());
  if (!received.ok()) return fail(received.error());
  started = true;
  g.info.handle = start.handle;
  // sev_bind_asid; on failure KVM decommissions the new handle (fail's teardown does).
  emulator::SevActivateBuf activate{start.handle, *asid};
  if (Status st = h.RunSev(SevCmd::kActivate, activate); !st.ok()) return fail(st.error());

  for (const auto& p : stream.pages) {
    if ((p.gpa & (kPage - 1)) != 0 || g.gpa_to_spa.count(p.gpa) != 0) {
      return fail(Error(ErrorCode::kInvalidArgument,
                        "the stream's pages are not distinct page-aligned guest addresses"));
    }
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    g.gpa_to_spa.emplace(p.gpa, *spa);
    if (Status st = h.ReceivePacket(SevCmd::kReceiveUpdateData, start.handle, *spa, p); !st.ok()) {
      return fail(st.error().Context("page at GPA " + std::to_string(p.gpa)));
    }
  }
  for (std::size_t i = 0; i < stream.vmsas.size(); ++i) {
    auto spa = h.pages.Allocate();
    if (!spa.ok()) return fail(spa.error());
    g.vmsa_spas.push_back(*spa);
    if (Status st =
            h.ReceivePacket(SevCmd::kReceiveUpdateVmsa, start.handle, *spa, stream.vmsas[i]);
        !st.ok()) {
      return fail(st.error().Context("VMSA of vCPU " + std::to_string(i)));
    }
  }
  emulator::SevHandleBuf finish{start.handle};
  if (Status st = h.RunSev(SevCmd::kReceiveFinish, finish); !st.ok()) return fail(st.error());
  g.info.launch_finished = true;
  g.info.pages = g.gpa_to_spa.size() + g.vmsa_spas.size();
  g.info.launch_id = ++h.launches;
  GuestInfo info = g.info;
  h.guests.emplace(stream.name, std::move(g));
  return info;
}

Result<GuestInfo> MigrateSevGuest(Host& from, Host& to, const std::string& name) {
  if (&from == &to) {
    return Error(ErrorCode::kInvalidArgument, "a guest migrates to another platform");
  }
  auto g = from.Guest(name);
  if (!g.ok()) return g.error();
  if (g->type == GuestType::kSnp) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest '" + name + "' is an SNP guest: only sev and sev-es guests migrate");
  }
  if (to.Guest(name).ok()) {
    return Error(ErrorCode::kAlreadyExists,
                 "the destination already has a guest named '" + name + "'");
  }
  auto target = to.SevMigrationTargetCerts();
  if (!target.ok()) return target.error().Context("destination");
  auto stream = from.SendSevGuest(name, *target);
  if (!stream.ok()) return stream.error();
  auto received = to.ReceiveSevGuest(*stream);
  if (!received.ok()) {
    (void)from.CancelSevSend(name);
    return received.error().Context("destination");
  }
  if (Status st = from.FinishSevSend(name); !st.ok()) {
    // The destination runs the guest; the source's copy could not be finished: say so.
    return st.error().Context("the guest runs on the destination, but the source");
  }
  return received;
}

}  // namespace sevemu::hypervisor
