// Host's private state, shared by host.cpp (pages, memory, guest requests, certificates) and
// guest_launch.cpp (the launch sequence). Not part of the public interface.
#pragma once

#include <cerrno>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sevemu/hypervisor/faults.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/hypervisor/sev_dev.h"

namespace sevemu::hypervisor {

// Host memory the kernel hands out: 4 KiB pages from kFirstPage up, recycled on free. Freed
// pages are back in hypervisor state and zeroed before reuse.
class PageAllocator {
 public:
  static constexpr std::uint64_t kFirstPage = 16ull << 20;  // below: the host kernel's own
  explicit PageAllocator(std::uint64_t memory_size) : limit_(memory_size) {}
  Result<std::uint64_t> Allocate();
  // `count` physically contiguous pages (for firmware images); never recycled pages.
  Result<std::uint64_t> AllocateContiguous(std::size_t count);
  void Free(std::uint64_t spa) { free_.push_back(spa); }

 private:
  std::uint64_t next_ = kFirstPage;
  std::uint64_t limit_;
  std::vector<std::uint64_t> free_;
};

// A page the host swapped out (hypervisor/guest_swap.cpp): its ciphertext is held in host
// memory the host controls, its 64-byte entry in one of the guest's METADATA pages.
struct SwappedPage {
  Bytes ciphertext;
  std::uint64_t mdata_paddr = 0;
};

struct HostGuest {
  GuestInfo info;
  bool legacy() const { return info.type != GuestType::kSnp; }
  std::map<std::uint64_t, std::uint64_t> gpa_to_spa;  // 4 KiB guest pages
  std::vector<std::uint64_t> vmsa_spas;               // one per vCPU (not guest-addressable)
  std::uint64_t request_spa = 0;                      // shared page the guest writes requests to
  std::uint64_t response_spa = 0;                     // FIRMWARE page SNP_GUEST_REQUEST answers in
  // Page swapping: the guest's METADATA pages (SNP_PAGE_MD_INIT), their free 64-byte entries,
  // and the pages swapped out, by GPA: untrusted storage the host may read, replace, replay.
  std::vector<std::uint64_t> md_pages;
  std::vector<std::uint64_t> free_md_entries;
  std::map<std::uint64_t, SwappedPage> swapped;
  // SNP migration: the pages swapped out for it, held until the export (BeginSnpMigration).
  std::optional<SnpMigrationImage> outgoing;
  // Legacy: SEND_START done, SEND_FINISH or SEND_CANCEL not yet (the firmware's SUPDATE).
  bool sending = false;
};

struct Host::Impl {
  emulator::Platform platform;
  std::unique_ptr<emulator::Firmware> fw;
  std::unique_ptr<SevDevice> sev;
  PageAllocator pages;
  std::map<std::string, HostGuest> guests;
  std::set<std::uint32_t> asids_in_use;
  // SNP and SEV-ES ASIDs are 1 .. asid_limit - 1, SEV ASIDs asid_limit .. max_asid (KVM's
  // split at min_sev_asid).
  std::uint32_t asid_limit = 0;
  std::uint32_t max_asid = 0;
  std::uint64_t launches = 0;  // GuestInfo::launch_id of the last launch

  std::optional<Bytes> cert_table_set;  // set by the host administrator
  Bytes auto_cert_table;
  std::optional<std::uint64_t> auto_cert_tcb;  // reported TCB the automatic table was made for
  FaultSet faults;  // injected by the daemon's ctl ops; consulted by Run and SevDevice
  std::string saved_platform_json;  // as last taken by TakePersistentChange
  Bytes saved_sev_nv;               // SevNvFingerprint, likewise

  Impl(emulator::Platform p, std::uint64_t memory_size)
      : platform(std::move(p)), pages(memory_size) {}

  // RMPUPDATE helpers, as the kernel's rmp_make_private / rmp_make_shared.
  Status MakeFirmwarePage(std::uint64_t spa);
  Status MakePreGuestPage(std::uint64_t spa, std::uint64_t gpa, std::uint32_t asid,
                          ByteSpan contents);
  // Returns a page to the hypervisor (SNP_PAGE_RECLAIM first if the firmware holds it
  // immutable), scrubs it, and frees it.
  Status ReleasePage(std::uint64_t spa);
  // Tears down what a guest holds: DECOMMISSION (if launched; legacy guests are DEACTIVATEd
  // first), then every page back.
  void Teardown(HostGuest& g, bool decommission);
  // Page swapping (guest_swap.cpp): a free metadata entry (MD_INIT of a new page when none),
  // RMPUPDATE freezing a guest page (GUEST_VALID -> PRE_SWAP) and SNP_PAGE_RECLAIM thawing it,
  // one page out or in.
  Result<std::uint64_t> TakeEntry(HostGuest& g);
  Status Freeze(const HostGuest& g, std::uint64_t spa, std::uint64_t gpa);
  void Thaw(std::uint64_t spa);
  Status SwapOutOne(HostGuest& g, std::uint64_t gpa);
  Status SwapInOne(HostGuest& g, std::uint64_t gpa);
  // SNP migration (snp_guest_migrate.cpp): the whole guest out under the root entry, and back
  // in from what the host kept (on the source after a cancel, on the destination after the
  // import).
  Result<SnpMigrationImage> SwapOutAll(HostGuest& g);
  Status SwapInAll(HostGuest& g, const SnpMigrationImage& image);
  // The lowest free ASID in [first, end), or kRefused.
  Result<std::uint32_t> FreeAsid(std::uint32_t first, std::uint32_t end, const char* kind);
  // A legacy guest command through the driver (SevDevice::IssueGuestCmd); the error names the
  // command and the firmware status (or the errno when the kernel refused first).
  Status RunSev(emulator::SevCmd cmd, MutableByteSpan buf,
                std::span<const SevDevice::CmdBuffer> buffers);
  template <typename Buf>
  Status RunSev(emulator::SevCmd cmd, Buf& buf,
                std::initializer_list<SevDevice::CmdBuffer> buffers = {}) {
    return RunSev(cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof(Buf)),
                  std::span(buffers.begin(), buffers.size()));
  }
  // Copies `blob` (at most 16 KiB) into freshly allocated contiguous host pages, as
  // psp_copy_user_blob does into kernel memory; ReleaseBlob gives them back.
  Result<std::uint64_t> CopyBlob(ByteSpan blob);
  // The certificate table `guest` gets, after the certificate faults (faults.h).
  Result<Bytes> FaultedCertTable(const std::string& guest, Bytes table);
  void ReleaseBlob(std::uint64_t spa, std::size_t len);
  // Legacy migration (sev_guest_migrate.cpp): this platform's PDH and PEK ‖ OCA ‖ CEK as
  // SEV_PDH_CERT_EXPORT gives them; one packet out (SEND_UPDATE_DATA/_VMSA of the page at
  // `spa`) and one in (RECEIVE_UPDATE_DATA/_VMSA into the page at `spa`).
  Status PdhCertExport(Bytes& pdh, Bytes& chain);
  Result<SevMigrationStream::Packet> SendPacket(emulator::SevCmd cmd, std::uint32_t handle,
                                                std::uint64_t spa, std::uint32_t hdr_len);
  Status ReceivePacket(emulator::SevCmd cmd, std::uint32_t handle, std::uint64_t spa,
                       const SevMigrationStream::Packet& p);
  // Every SNP command the host issues itself: an injected fault answers instead of the
  // firmware (faults.h).
  emulator::FwStatus Run(emulator::SnpCmd cmd, MutableByteSpan buf) {
    if (auto st = faults.Command(false, static_cast<std::uint32_t>(cmd))) return *st;
    return fw->Execute(cmd, buf);
  }
  template <typename Buf>
  emulator::FwStatus Run(emulator::SnpCmd cmd, Buf& buf) {
    return Run(cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof(Buf)));
  }
};

// "SNP_LAUNCH_UPDATE: INVALID_PARAM (0x16)": the message an error carries for a failed command.
Error CommandError(emulator::SnpCmd cmd, emulator::FwStatus st);

// QEMU asks for a blob's length before the blob (sev_launch_get_measure,
// sev_get_attestation_report, sev_send_get_session_length): KVM passes a zero-length buffer,
// the firmware answers INVALID_LENGTH with the length it needs. `len_of` reads that length
// from the buffer; any other answer is an error naming the command's status.
template <typename Buf, typename LenOf>
Result<std::uint32_t> ProbeLength(SevDevice& dev, emulator::SevCmd cmd, Buf buf, LenOf len_of) {
  constexpr std::uint32_t kInvalidLength =
      static_cast<std::uint32_t>(emulator::FwStatus::kInvalidLength);
  std::uint32_t error = 0;
  const int rc = dev.IssueGuestCmd(
      cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof buf), {}, &error);
  if (rc == -EIO && error != kInvalidLength) {
    return Error(ErrorCode::kRefused,
                 std::string(emulator::SevCmdName(cmd)) + ": " +
                     emulator::FwStatusName(static_cast<emulator::FwStatus>(error)));
  }
  if (rc != -EIO || len_of(buf) == 0 || len_of(buf) > 4096) {
    return Error(ErrorCode::kRefused,
                 std::string(emulator::SevCmdName(cmd)) + ": the length probe failed");
  }
  return len_of(buf);
}

// The legacy guest `name`: kNotFound, or kInvalidArgument for an SNP guest.
inline Result<HostGuest*> LegacyGuest(std::map<std::string, HostGuest>& guests,
                                      const std::string& name) {
  auto it = guests.find(name);
  if (it == guests.end()) return Error(ErrorCode::kNotFound, "no guest named '" + name + "'");
  if (!it->second.legacy()) {
    return Error(ErrorCode::kInvalidArgument,
                 "guest '" + name + "' is an SNP guest, not a legacy SEV guest");
  }
  return &it->second;
}

}  // namespace sevemu::hypervisor
