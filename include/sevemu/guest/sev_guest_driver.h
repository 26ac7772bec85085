// The simulated guest kernel's sev-guest driver: /dev/sev-guest's ioctls and the configfs-tsm
// report provider, as Linux implements them in drivers/virt/coco/sev-guest/sev-guest.c (with
// snp_issue_guest_request from arch/x86/coco/sev/core.c), written against GuestPlatform so the
// same code runs in the preload shim and in tests. SEV-ABI-FACTS.md 2 and 3.
//
// Every ioctl returns exactly what Linux's snp_guest_ioctl returns: 0 or a negative errno, and
// the same user-visible side effects in the same order (which struct is copied back, when
// exitinfo2 is written, when certs_len is written back).
//
// State. The driver keeps nothing that other processes acting in the same guest need: the VMPCK
// and the per-VMPCK message counter live in the guest's secrets page (Linux keeps the counter in
// the page's OS area, struct secrets_os_area), read and written through GuestPlatform under its
// Lock, the kernel's snp_cmd_mutex. So any number of SevGuestDriver objects, in any number of
// processes, over one guest behave as one kernel driver. The key is read on every request and
// held only in a SecretBytes for its duration.
//
// When a request fails after its encrypted message reached the host (a firmware or VMM error,
// or a response that does not check or decrypt), the driver wipes the VMPCK in the secrets page
// (snp_disable_vmpck: AES-GCM must never reuse an IV, and the firmware accepts only the next
// sequence number), so every later request from any process fails with ENOTTY.
//
// Thread safety: an object may be used from several threads; requests serialise on the
// platform's Lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "sevemu/common/bytes.h"
#include "sevemu/guest/guest_platform.h"
#include "sevemu/guest/tsm_provider.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::guest {

// Secrets page layout (SEV-ABI-FACTS.md 3.7; Linux struct snp_secrets_page / secrets_os_area).
constexpr std::uint64_t kSecretsVmpckOffset = 0x20;  // VMPCK0..3, 32 bytes each
constexpr std::size_t kVmpckSize = 32;               // VMPCK_KEY_LEN
constexpr std::uint64_t kSecretsSeqnoOffset = 0xA0;  // u32 msg_seqno_0..3 (OS area)
constexpr unsigned kVmpckCount = 4;

// exitinfo2 values the driver itself produces.
constexpr std::uint64_t kExitinfo2Unset = 0xff;             // set on entry by snp_guest_ioctl
constexpr std::uint64_t kSevRetNoFwCall = ~0ull;            // SEV_RET_NO_FW_CALL (-1) as a u64
constexpr std::uint64_t kExitinfo2InvalidLen = 1ull << 32;  // SNP_GUEST_VMM_ERR(INVALID_LEN)
constexpr std::uint64_t kExitinfo2Busy = 2ull << 32;        // SNP_GUEST_VMM_ERR(BUSY)

// The largest certificate buffer the driver accepts (SEV_FW_BLOB_MAX_SIZE), and the highest
// user address access_ok() accepts on x86-64 with 4-level paging (TASK_SIZE_MAX).
constexpr std::uint32_t kMaxCertsLen = 0x4000;
constexpr std::uint64_t kTaskSizeMax = (1ull << 47) - 4096;

struct SevGuestDriverOptions {
  // Linux retries a request the VMM calls busy every SNP_REQ_RETRY_DELAY (2 s) until
  // SNP_REQ_MAX_RETRY_DURATION (60 s) has passed, then fails it with ETIMEDOUT.
  std::chrono::milliseconds busy_retry_delay{2000};
  std::chrono::milliseconds busy_retry_limit{60000};
  // Injectable for tests; empty means std::this_thread::sleep_for / steady_clock::now.
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<std::chrono::steady_clock::time_point()> now;
};

class SevGuestDriver final : public TsmProvider {
 public:
  // `vmpck_id` is the module parameter of the same name (Linux defaults it to the guest's VMPL,
  // 0 here). An id above 3 behaves like an empty key: every request fails with ENOTTY (Linux
  // would refuse to load the driver at all).
  // REQUIRES: `platform` outlives the driver.
  explicit SevGuestDriver(GuestPlatform& platform, unsigned vmpck_id = 0,
                          SevGuestDriverOptions options = {});

  // snp_guest_ioctl. `request` is the ioctl number (only its low 32 bits count, as for the
  // kernel's unsigned int cmd); `arg_ptr` the user pointer to a struct snp_guest_request_ioctl;
  // `user` the caller's address space. Returns 0 or a negative errno:
  //   -EFAULT  the 32-byte struct cannot be read (nothing else happens), or a copy-out failed
  //   -EINVAL  msg_version 0 (nothing is written back), req_data or resp_data 0, or (extended
  //            report) a certs_len above 16 KiB or not a multiple of 4096
  //   -ENOTTY  an unknown ioctl, or the VMPCK is empty (never provisioned, or wiped)
  //   -EIO     firmware or VMM error (exitinfo2 says which: fw_error bits 31:0, vmm_error
  //            bits 63:32), a certificate buffer too small (exitinfo2 0x1_0000_0000 and
  //            certs_len written back), or the 32-bit message counter is exhausted
  //   -ETIMEDOUT  the VMM stayed busy for busy_retry_limit
  //   -EBADMSG a response with the wrong sequence number, type, version or size, or one that
  //            does not decrypt
  // After the call the struct is copied back to `arg_ptr` iff its exitinfo2 is non-zero (so a
  // success leaves the caller's exitinfo2 as it was, and a failure before any request leaves
  // 0xff there), as Linux does.
  int Ioctl(unsigned long request, std::uint64_t arg_ptr, uapi::UserMemory& user);

  unsigned vmpck_id() const { return vmpck_id_; }

  // ---- TsmProvider: sev_report_new ----
  const char* Name() const override { return kSevGuestProviderName; }
  std::uint32_t PrivlevelFloor() const override { return vmpck_id_; }
  // An extended report with msg_version 1, KEY_SEL 0, vmpl = privlevel and a 16 KiB
  // certificate buffer, through the same path as SNP_GET_EXT_REPORT. -EINVAL unless the inblob
  // is exactly 64 bytes; the request's own errno; then the report status: 0x16
  // (INVALID_PARAM) or 0x27 (INVALID_KEY) -> -EINVAL, any other non-zero -> -ENXIO. `outblob`
  // is the bare 0x4A0-byte report, `auxblob` the certificate table up to the end of its last
  // certificate (empty if the host supplied none).
  int ReportNew(const TsmReportDesc& desc, TsmReportBlobs* out) override;

 private:
  struct GuestReq;
  int GetReport(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& user);
  int GetDerivedKey(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& user);
  // `kernel`: the configfs path, whose buffers are kernel memory (no access_ok check).
  int GetExtReport(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& mem, bool kernel);
  int SendGuestRequest(GuestReq& req, std::uint64_t& exitinfo2);
  int HandleGuestRequest(GuestReq& req, ByteSpan request_page, std::uint64_t& exitinfo2,
                         Bytes& response_page);
  int IssueGuestRequest(GuestReq& req, bool extended, ByteSpan request_page,
                        std::uint64_t& exitinfo2, Bytes& response_page);
  void DisableVmpck();

  GuestPlatform& platform_;
  unsigned vmpck_id_;
  SevGuestDriverOptions options_;
  bool disabled_ = false;  // this object wiped the key (snp_disable_vmpck's mdesc->vmpck = NULL)
};

}  // namespace sevemu::guest
