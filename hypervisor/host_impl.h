// Host's private state, shared by host.cpp (pages, memory, guest requests, certificates) and
// guest_launch.cpp (the launch sequence). Not part of the public interface.
#pragma once

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

struct HostGuest {
  GuestInfo info;
  bool legacy() const { return info.type != GuestType::kSnp; }
  std::map<std::uint64_t, std::uint64_t> gpa_to_spa;  // 4 KiB guest pages
  std::vector<std::uint64_t> vmsa_spas;               // one per vCPU (not guest-addressable)
  std::uint64_t request_spa = 0;                      // shared page the guest writes requests to
  std::uint64_t response_spa = 0;                     // FIRMWARE page SNP_GUEST_REQUEST answers in
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

}  // namespace sevemu::hypervisor
