// /dev/sev: the Linux ccp driver's SEV_ISSUE_CMD over the firmware model. Facts and the order
// of checks are those of torvalds/linux drivers/crypto/ccp/sev-dev.c (sev_ioctl and the
// sev_ioctl_do_* functions, commit 0410c612) and include/linux/psp-sev.h, summarised in
// SEV-ABI-FACTS.md 1 and 8; the code is sevemu's own.
//
// The legacy user commands (FACTORY_RESET, PLATFORM_STATUS, PEK_GEN, PEK_CSR, PDH_GEN,
// PDH_CERT_EXPORT, PEK_CERT_IMPORT, GET_ID, GET_ID2) are the kernel side here: write access,
// the implicit INIT before PEK/PDH commands, length probing, the 16 KiB blob rules, the bounce
// pages in FIRMWARE state once SNP is initialised. Every legacy firmware command goes through
// SevDevice::CallLegacy to the firmware model's legacy SEV API (Firmware::ExecuteSev). KVM's
// side of the driver (sev_platform_init, sev_issue_cmd) is PlatformInit and IssueGuestCmd.
#include "sevemu/hypervisor/sev_dev.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <vector>

#include "sevemu/hypervisor/faults.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::hypervisor {
namespace {

using emulator::FwStatus;
using emulator::SnpCmd;
using statemachine::SnpPlatformState;

constexpr std::uint64_t kPage = 4096;
// One scratch area holds one blob of up to SEV_FW_BLOB_MAX_SIZE; area A is first, B second.
constexpr std::uint64_t kAreaBytes = uapi::kSevFwBlobMaxSize;
static_assert(SevDevice::kScratchPages * kPage == 2 * kAreaBytes);
// KMALLOC_MAX_SIZE on x86-64 (1 << (PAGE_SHIFT + MAX_PAGE_ORDER)): GET_ID2's kzalloc of the
// user's length fails above it, with ENOMEM (sev_ioctl_do_get_id2).
constexpr std::uint64_t kKmallocMax = 4ull << 20;

// Legacy firmware command ids (include/linux/psp-sev.h enum sev_cmd).
enum LegacyCmd : std::uint32_t {
  kLegacyInit = 0x001,
  kLegacyShutdown = 0x002,
  kLegacyFactoryReset = 0x003,
  kLegacyPlatformStatus = 0x004,
  kLegacyPekGen = 0x005,
  kLegacyPekCsr = 0x006,
  kLegacyPekCertImport = 0x007,
  kLegacyPdhCertExport = 0x008,
  kLegacyPdhGen = 0x009,
  kLegacyDfFlush = 0x00A,
  kLegacyGetId = 0x00C,
};

// The kernel's view of the legacy platform (enum sev_state).
enum SevState : std::uint8_t { kSevUninit = 0, kSevInit = 1, kSevWorking = 2 };

// SEV_RET_NO_FW_CALL: what __sev_platform_init_locked reports when no firmware command ran.
constexpr std::uint32_t kNoFwCall = 0xFFFFFFFF;

// Legacy command buffers (include/linux/psp-sev.h, all __packed).
#pragma pack(push, 1)
struct SevDataInit {
  std::uint32_t flags;  // bit0 SEV_INIT_FLAGS_SEV_ES
  std::uint32_t reserved;
  std::uint64_t tmr_address;
  std::uint32_t tmr_len;
};
static_assert(sizeof(SevDataInit) == 20);

struct SevDataPekCsr {
  std::uint64_t address;
  std::uint32_t len;  // in/out
};
static_assert(sizeof(SevDataPekCsr) == 12);

struct SevDataPekCertImport {
  std::uint64_t pek_cert_address;
  std::uint32_t pek_cert_len;
  std::uint32_t reserved;
  std::uint64_t oca_cert_address;
  std::uint32_t oca_cert_len;
};
static_assert(sizeof(SevDataPekCertImport) == 28);

struct SevDataPdhCertExport {
  std::uint64_t pdh_cert_address;
  std::uint32_t pdh_cert_len;  // in/out
  std::uint32_t reserved;
  std::uint64_t cert_chain_address;
  std::uint32_t cert_chain_len;  // in/out
};
static_assert(sizeof(SevDataPdhCertExport) == 28);

struct SevDataGetId {
  std::uint64_t address;
  std::uint32_t len;  // in/out
};
static_assert(sizeof(SevDataGetId) == 12);
#pragma pack(pop)

// The kernel's buffers are the firmware's (emulator/sev/sev_abi.h).
static_assert(sizeof(SevDataInit) == sizeof(emulator::SevInitBuf));
static_assert(sizeof(SevDataPekCsr) == sizeof(emulator::SevAddrLenBuf));
static_assert(sizeof(SevDataPekCertImport) == sizeof(emulator::SevPekCertImportBuf));
static_assert(sizeof(SevDataPdhCertExport) == sizeof(emulator::SevPdhCertExportBuf));
static_assert(sizeof(SevDataGetId) == sizeof(emulator::SevAddrLenBuf));
static_assert(sizeof(uapi::SevUserDataStatus) == sizeof(emulator::SevPlatformStatusBuf));
static_assert(kLegacyGetId == static_cast<std::uint32_t>(emulator::SevCmd::kGetId));
static_assert(kLegacyPdhGen == static_cast<std::uint32_t>(emulator::SevCmd::kPdhGen));

template <typename T>
MutableByteSpan AsBytes(T& v) {
  return MutableByteSpan(reinterpret_cast<std::uint8_t*>(&v), sizeof(T));
}

// copy_from_user / copy_to_user of one struct: false is the kernel's EFAULT.
template <typename T>
bool FromUser(uapi::UserMemory& user, std::uint64_t addr, T& v) {
  return user.Read(addr, AsBytes(v));
}
template <typename T>
bool ToUser(uapi::UserMemory& user, std::uint64_t addr, T& v) {
  return user.Write(addr, AsBytes(v));
}

// Pages of a firmware-writable buffer of `len` bytes, as PAGE_ALIGN(len) >> PAGE_SHIFT, but
// never past the area it lives in: only GET_ID2 may ask for more (up to 4 MiB), and the
// firmware writes 64 bytes of it.
std::uint64_t PagesOf(std::uint64_t len) {
  return std::min((len + kPage - 1) / kPage, kAreaBytes / kPage);
}

// A buffer the firmware writes, for the kernel's bounce-buffer handling
// (snp_populate_cmd_buf_desc_list: cmd_buf_desc).
using FwWritable = SevDevice::CmdBuffer;

// SEV_TMR_SIZE and SNP_TMR_SIZE (sev-dev.c): the TMR is 2 MiB once the RMP exists.
constexpr std::uint32_t kTmrSize = 1u << 20;
constexpr std::uint32_t kSnpTmrSize = 2u << 20;
constexpr std::uint32_t kInitFlagsSevEs = 1;  // SEV_INIT_FLAGS_SEV_ES

}  // namespace

struct SevDevice::Ops {
  using Handler = int (*)(SevDevice&, uapi::SevIssueCmdArg&, uapi::UserMemory&, bool);

  static std::uint64_t AreaA(const SevDevice& d) { return d.scratch_; }
  static std::uint64_t AreaB(const SevDevice& d) { return d.scratch_ + kAreaBytes; }

  // sev->snp_initialized: the kernel sets it after its own SNP_INIT and SNP_DF_FLUSH; here the
  // firmware's state is the truth, as whoever initialised SNP (the host at boot) did the same.
  static bool SnpInitialized(const SevDevice& d) {
    return d.fw_.snp_state() == SnpPlatformState::kInit;
  }

  // sev_version_greater_or_equal. The kernel caches the API version the legacy PLATFORM_STATUS
  // reported at probe; it is the firmware's one version, which SNP_PLATFORM_STATUS reports too,
  // so it is read from the firmware (and follows a firmware download).
  static bool ApiAtLeast(const SevDevice& d, std::uint8_t major, std::uint8_t minor) {
    const auto& v = d.fw_.platform_state().current_fw;
    return v.major > major || (v.major == major && v.minor >= minor);
  }

  // ---- host page handling (arch/x86/virt/svm/sev.c, sev-dev.c) ----

  // snp_reclaim_pages: per page SNP_PAGE_RECLAIM (FIRMWARE -> RECLAIM; SUCCESS with nothing to
  // do for a page that is not immutable), then rmp_make_shared (RMPUPDATE to HYPERVISOR).
  // The kernel leaks pages it fails to reclaim; the scratch pages are never given up here,
  // so a failure leaves them as they are and reports false (the ioctl's EFAULT).
  static bool Reclaim(SevDevice& d, std::uint64_t spa, std::uint64_t pages) {
    auto& rmp = d.fw_.memory().rmp();
    for (std::uint64_t i = 0; i < pages; ++i) {
      const std::uint64_t page = spa + i * kPage;
      emulator::SnpAddrBuf buf{page};
      if (d.Snp(SnpCmd::kPageReclaim, buf) != FwStatus::kSuccess) return false;
      if (rmp::RmpUpdate(rmp, page, {}) != rmp::RmpResult::kSuccess) return false;
    }
    return true;
  }

  // rmp_mark_pages_firmware: RMPUPDATE each page to FIRMWARE (assigned, ASID 0, immutable);
  // on a failure the pages already changed are reclaimed.
  static bool MarkFirmware(SevDevice& d, std::uint64_t spa, std::uint64_t pages) {
    auto& rmp = d.fw_.memory().rmp();
    for (std::uint64_t i = 0; i < pages; ++i) {
      if (rmp::RmpUpdate(rmp, spa + i * kPage, {0, true, false, true, 0}) !=
          rmp::RmpResult::kSuccess) {
        (void)Reclaim(d, spa, i);
        return false;
      }
    }
    return true;
  }

  // The scratch pages are zeroed after every command: the next kzalloc'd blob starts zeroed
  // and no status page or wrapped key lingers in host memory.
  static void Scrub(SevDevice& d) {
    static const Bytes kZero(SevDevice::kScratchPages * kPage, 0);
    for (std::uint64_t i = 0; i < SevDevice::kScratchPages; ++i) {
      (void)d.fw_.memory().HvWrite(d.scratch_ + i * kPage, ByteSpan(kZero).first(kPage));
    }
  }

  // psp_copy_user_blob: 0 / -EINVAL (no address, no length, or above 16 KiB) / -EFAULT; the
  // blob lands at `spa` (a scratch area in hypervisor state).
  static int CopyUserBlob(SevDevice& d, uapi::UserMemory& user, std::uint64_t uaddr,
                          std::uint32_t len, std::uint64_t spa) {
    if (uaddr == 0 || len == 0) return -EINVAL;
    if (len > uapi::kSevFwBlobMaxSize) return -EINVAL;
    Bytes blob(len);
    if (!user.Read(uaddr, blob)) return -EFAULT;
    if (d.fw_.memory().HvWrite(spa, blob) != rmp::RmpViolation::kNone) return -EFAULT;
    return 0;
  }

  // copy_to_user of `len` bytes of a blob the firmware filled. The kernel copies the length
  // the firmware reported even when that exceeds its allocation (an INVALID_LENGTH answer to a
  // short buffer); the bytes past the allocation are the area's, which are zero.
  static bool CopyBlobToUser(SevDevice& d, uapi::UserMemory& user, std::uint64_t uaddr,
                             std::uint64_t spa, std::uint64_t len) {
    Bytes blob(static_cast<std::size_t>(std::min(len, kAreaBytes)));
    if (d.fw_.memory().HvRead(spa, blob) != rmp::RmpViolation::kNone) return false;
    if (len > blob.size()) blob.resize(static_cast<std::size_t>(len), 0);
    return user.Write(uaddr, blob);
  }

  // ---- __sev_do_cmd_locked for legacy commands ----

  // Runs legacy command `cmd`. Once SNP is initialised the buffers the firmware writes go to
  // it in FIRMWARE state and come back after the command whatever its outcome
  // (snp_prep_cmd_buf / snp_map_cmd_buf_desc_list, snp_unmap_cmd_buf_desc_list); the scratch
  // areas are the kernel's bounce buffers. The command buffer itself needs no page, as the
  // firmware model takes its bytes. `error` receives the firmware status when it ran.
  // Returns 0, -EIO (the firmware refused) or -EFAULT (a page could not change state).
  static int DoLegacy(SevDevice& d, std::uint32_t cmd, MutableByteSpan buf,
                      std::initializer_list<FwWritable> fw_writable, std::uint32_t* error) {
    return DoLegacy(d, cmd, buf, std::span(fw_writable.begin(), fw_writable.size()), error);
  }
  static int DoLegacy(SevDevice& d, std::uint32_t cmd, MutableByteSpan buf,
                      std::span<const FwWritable> fw_writable, std::uint32_t* error) {
    std::vector<FwWritable> mapped;
    if (SnpInitialized(d)) {
      for (const FwWritable& b : fw_writable) {
        if (b.len == 0) continue;  // a probe: no buffer
        if (!MarkFirmware(d, b.spa, PagesOf(b.len))) {
          for (const FwWritable& m : mapped) (void)Reclaim(d, m.spa, PagesOf(m.len));
          return -EFAULT;
        }
        mapped.push_back(b);
      }
    }
    const FwStatus st = d.Legacy(cmd, buf);
    if (error != nullptr) *error = static_cast<std::uint32_t>(st);
    int ret = st == FwStatus::kSuccess ? 0 : -EIO;
    for (const FwWritable& m : mapped) {
      if (!Reclaim(d, m.spa, PagesOf(m.len))) ret = -EFAULT;
    }
    return ret;
  }

  // __sev_platform_init_locked: legacy INIT (retried once on SECURE_DATA_INVALID), then
  // WBINVD and DF_FLUSH. `error` gets INIT's status (SEV_RET_NO_FW_CALL if it never ran), then
  // DF_FLUSH's. With a TMR, INIT carries SEV_INIT_FLAGS_SEV_ES and the region
  // (__sev_platform_init_handle_tmr), whose pages the kernel allocated as firmware pages once
  // SNP was up (sev_fw_alloc).
  static int PlatformInit(SevDevice& d, std::uint32_t* error) {
    if (d.sev_state_ == kSevInit) return 0;
    SevDataInit init{};
    if (d.tmr_ != 0) {
      if (SnpInitialized(d) && !d.tmr_firmware_) {
        if (!MarkFirmware(d, d.tmr_, kSnpTmrSize / kPage)) return -ENOMEM;
        d.tmr_firmware_ = true;
      }
      init.flags = kInitFlagsSevEs;
      init.tmr_address = d.tmr_;
      init.tmr_len = SnpInitialized(d) ? kSnpTmrSize : kTmrSize;
    }
    const SevDataInit first = init;
    std::uint32_t psp_ret = kNoFwCall;
    int rc = DoLegacy(d, kLegacyInit, AsBytes(init), {}, &psp_ret);
    if (rc != 0 && psp_ret == static_cast<std::uint32_t>(FwStatus::kSecureDataInvalid)) {
      init = first;
      rc = DoLegacy(d, kLegacyInit, AsBytes(init), {}, &psp_ret);
    }
    if (error != nullptr) *error = psp_ret;
    if (rc != 0) return rc;
    d.sev_state_ = kSevInit;
    d.fw_.Wbinvd();  // "Prepare for first SEV guest launch after INIT"
    return DoLegacy(d, kLegacyDfFlush, {}, {}, error);
  }

  // __sev_platform_shutdown_locked: nothing to do if the kernel believes the platform UNINIT.
  static int PlatformShutdown(SevDevice& d, std::uint32_t* error) {
    if (d.sev_state_ == kSevUninit) return 0;
    const int rc = DoLegacy(d, kLegacyShutdown, {}, {}, error);
    if (rc != 0) return rc;
    d.sev_state_ = kSevUninit;
    return 0;
  }

  // ---- the user commands, each in sev-dev.c's order of checks ----

  // SEV_FACTORY_RESET (sev_ioctl_do_reset): the firmware's own state decides; WORKING (guests
  // exist) is refused, INIT is shut down first.
  static int FactoryReset(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory&,
                          bool writable) {
    if (!writable) return -EPERM;
    uapi::SevUserDataStatus status{};
    if (int rc = DoLegacy(d, kLegacyPlatformStatus, AsBytes(status), {}, &arg.error); rc != 0) {
      return rc;
    }
    if (status.state == kSevWorking) return -EBUSY;
    if (status.state == kSevInit) {
      if (int rc = PlatformShutdown(d, &arg.error); rc != 0) return rc;
    }
    return DoLegacy(d, kLegacyFactoryReset, {}, {}, &arg.error);
  }

  // SEV_PLATFORM_STATUS: the firmware first, then the copy (so data == 0 is EFAULT, after it).
  static int PlatformStatus(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user, bool) {
    uapi::SevUserDataStatus status{};
    if (int rc = DoLegacy(d, kLegacyPlatformStatus, AsBytes(status), {}, &arg.error); rc != 0) {
      return rc;
    }
    return ToUser(user, arg.data, status) ? 0 : -EFAULT;
  }

  // SEV_PEK_GEN / SEV_PDH_GEN (sev_ioctl_do_pek_pdh_gen): INIT first if the kernel believes
  // the platform UNINIT.
  static int PekPdhGen(SevDevice& d, std::uint32_t cmd, uapi::SevIssueCmdArg& arg, bool writable) {
    if (!writable) return -EPERM;
    if (d.sev_state_ == kSevUninit) {
      if (int rc = PlatformInit(d, &arg.error); rc != 0) return rc;
    }
    return DoLegacy(d, cmd, {}, {}, &arg.error);
  }
  static int PekGen(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory&, bool w) {
    return PekPdhGen(d, kLegacyPekGen, arg, w);
  }
  static int PdhGen(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory&, bool w) {
    return PekPdhGen(d, kLegacyPdhGen, arg, w);
  }

  // SEV_PEK_CSR (sev_ioctl_do_pek_csr). No address or no length is a length query: the
  // firmware gets a zero-length buffer and its answer (INVALID_LENGTH, len 0x824) goes back.
  // The struct and blob are copied back whatever the firmware said, but not when the
  // implicit INIT failed.
  static int PekCsr(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                    bool writable) {
    if (!writable) return -EPERM;
    uapi::SevUserDataPekCsr input{};
    if (!FromUser(user, arg.data, input)) return -EFAULT;
    SevDataPekCsr data{};
    const bool blob = input.address != 0 && input.length != 0;
    const std::uint64_t input_address = input.address;
    if (blob) {
      if (input.length > uapi::kSevFwBlobMaxSize) return -EFAULT;
      data.address = AreaA(d);
      data.len = input.length;
    }
    if (d.sev_state_ == kSevUninit) {
      if (int rc = PlatformInit(d, &arg.error); rc != 0) return rc;
    }
    int ret = DoLegacy(d, kLegacyPekCsr, AsBytes(data), {{AreaA(d), data.len}}, &arg.error);
    input.length = data.len;
    if (!ToUser(user, arg.data, input)) return -EFAULT;
    if (blob && !CopyBlobToUser(d, user, input_address, AreaA(d), input.length)) ret = -EFAULT;
    return ret;
  }

  // SEV_PDH_CERT_EXPORT (sev_ioctl_do_pdh_export): INIT comes first, and only it needs write
  // access. No PDH address, no PDH length or no chain address is a length query; both
  // lengths go back whatever the firmware said.
  static int PdhCertExport(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                           bool writable) {
    if (d.sev_state_ != kSevInit) {
      if (!writable) return -EPERM;
      if (int rc = PlatformInit(d, &arg.error); rc != 0) return rc;
    }
    uapi::SevUserDataPdhCertExport input{};
    if (!FromUser(user, arg.data, input)) return -EFAULT;
    SevDataPdhCertExport data{};
    const bool blobs =
        input.pdh_cert_address != 0 && input.pdh_cert_len != 0 && input.cert_chain_address != 0;
    if (blobs) {
      if (input.pdh_cert_len > uapi::kSevFwBlobMaxSize) return -EFAULT;
      if (input.cert_chain_len > uapi::kSevFwBlobMaxSize) return -EFAULT;
      data.pdh_cert_address = AreaA(d);
      data.pdh_cert_len = input.pdh_cert_len;
      data.cert_chain_address = AreaB(d);
      data.cert_chain_len = input.cert_chain_len;
    }
    int ret =
        DoLegacy(d, kLegacyPdhCertExport, AsBytes(data),
                 {{AreaA(d), data.pdh_cert_len}, {AreaB(d), data.cert_chain_len}}, &arg.error);
    input.cert_chain_len = data.cert_chain_len;
    input.pdh_cert_len = data.pdh_cert_len;
    if (!ToUser(user, arg.data, input)) return -EFAULT;
    if (blobs) {
      if (!CopyBlobToUser(d, user, input.pdh_cert_address, AreaA(d), input.pdh_cert_len)) {
        return -EFAULT;
      }
      if (!CopyBlobToUser(d, user, input.cert_chain_address, AreaB(d), input.cert_chain_len)) {
        ret = -EFAULT;
      }
    }
    return ret;
  }

  // SEV_PEK_CERT_IMPORT (sev_ioctl_do_pek_import): both blobs (1..16 KiB, else EINVAL) are
  // copied before INIT; they are input-only, so they stay hypervisor pages even under SNP.
  static int PekCertImport(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                           bool writable) {
    if (!writable) return -EPERM;
    uapi::SevUserDataPekCertImport input{};
    if (!FromUser(user, arg.data, input)) return -EFAULT;
    if (int rc = CopyUserBlob(d, user, input.pek_cert_address, input.pek_cert_len, AreaA(d));
        rc != 0) {
      return rc;
    }
    if (int rc = CopyUserBlob(d, user, input.oca_cert_address, input.oca_cert_len, AreaB(d));
        rc != 0) {
      return rc;
    }
    SevDataPekCertImport data{AreaA(d), input.pek_cert_len, 0, AreaB(d), input.oca_cert_len};
    if (d.sev_state_ != kSevInit) {
      if (int rc = PlatformInit(d, &arg.error); rc != 0) return rc;
    }
    return DoLegacy(d, kLegacyPekCertImport, AsBytes(data), {}, &arg.error);
  }

  // SEV_GET_ID, deprecated (sev_ioctl_do_get_id): a fixed 128-byte buffer; on success the
  // firmware's length (64 on one socket) is copied to `data`, nothing on failure.
  static int GetId(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user, bool) {
    if (!ApiAtLeast(d, 0, 16)) return -uapi::kEnotsupp;
    SevDataGetId data{AreaA(d), sizeof(uapi::SevUserDataGetId)};
    const int ret = DoLegacy(d, kLegacyGetId, AsBytes(data), {{AreaA(d), data.len}}, &arg.error);
    if (ret != 0) return ret;
    return CopyBlobToUser(d, user, arg.data, AreaA(d), data.len) ? 0 : -EFAULT;
  }

  // SEV_GET_ID2 (sev_ioctl_do_get_id2): no address or no length is a length query. The
  // firmware's length and, with a buffer, that many bytes go back whatever its status.
  static int GetId2(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user, bool) {
    if (!ApiAtLeast(d, 0, 16)) return -uapi::kEnotsupp;
    uapi::SevUserDataGetId2 input{};
    if (!FromUser(user, arg.data, input)) return -EFAULT;
    const std::uint64_t input_address = input.address;
    const bool blob = input.address != 0 && input.length != 0;
    SevDataGetId data{};
    if (blob) {
      if (input.length > kKmallocMax) return -ENOMEM;
      data.address = AreaA(d);
      data.len = input.length;
    }
    int ret = DoLegacy(d, kLegacyGetId, AsBytes(data), {{AreaA(d), data.len}}, &arg.error);
    input.length = data.len;
    if (!ToUser(user, arg.data, input)) return -EFAULT;
    if (blob && !CopyBlobToUser(d, user, input_address, AreaA(d), data.len)) ret = -EFAULT;
    return ret;
  }

  // SNP_PLATFORM_STATUS (sev_ioctl_do_snp_platform_status): the status page must be a
  // FIRMWARE page (else the firmware says INVALID_PAGE_STATE); it is reclaimed whatever the
  // outcome before its 32 bytes are read as the hypervisor's.
  static int SnpPlatformStatus(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                               bool) {
    if (!SnpInitialized(d) || arg.data == 0) return -EINVAL;
    const std::uint64_t page = AreaA(d);
    if (!MarkFirmware(d, page, 1)) return -EFAULT;
    emulator::SnpAddrBuf buf{page};
    const FwStatus st = d.Snp(SnpCmd::kPlatformStatus, buf);
    arg.error = static_cast<std::uint32_t>(st);
    if (!Reclaim(d, page, 1)) return -EFAULT;
    if (st != FwStatus::kSuccess) return -EIO;
    uapi::SevUserDataSnpStatus status{};
    if (d.fw_.memory().HvRead(page, AsBytes(status)) != rmp::RmpViolation::kNone) return -EFAULT;
    return ToUser(user, arg.data, status) ? 0 : -EFAULT;
  }

  // SNP_COMMIT (sev_ioctl_do_snp_commit): no write-access check and no user data; the kernel
  // builds {length = 4}.
  static int SnpCommit(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory&, bool) {
    if (!SnpInitialized(d)) return -EINVAL;
    emulator::SnpCommitBuf buf{sizeof(emulator::SnpCommitBuf)};
    const FwStatus st = d.Snp(SnpCmd::kCommit, buf);
    arg.error = static_cast<std::uint32_t>(st);
    return st == FwStatus::kSuccess ? 0 : -EIO;
  }

  // SNP_SET_CONFIG (sev_ioctl_do_snp_set_config): the user's 64 bytes go to SNP_CONFIG
  // verbatim; the firmware checks them. EINVAL comes before EPERM.
  static int SnpSetConfig(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                          bool writable) {
    if (!SnpInitialized(d) || arg.data == 0) return -EINVAL;
    if (!writable) return -EPERM;
    uapi::SevUserDataSnpConfig config{};
    if (!FromUser(user, arg.data, config)) return -EFAULT;
    static_assert(sizeof(config) == sizeof(emulator::SnpConfigBuf));
    emulator::SnpConfigBuf buf{};
    std::memcpy(&buf, &config, sizeof buf);
    const FwStatus st = d.Snp(SnpCmd::kConfig, buf);
    arg.error = static_cast<std::uint32_t>(st);
    return st == FwStatus::kSuccess ? 0 : -EIO;
  }

  // SNP_VLEK_LOAD (sev_ioctl_do_snp_vlek_load): the kernel checks length and version itself,
  // copies the 432-byte wrapped hashstick into its own memory (a hypervisor page: the firmware
  // only reads it) and passes the user's struct on with that address; reserved bytes go to
  // the firmware as the user set them.
  static int SnpVlekLoad(SevDevice& d, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                         bool writable) {
    if (!SnpInitialized(d) || arg.data == 0) return -EINVAL;
    if (!writable) return -EPERM;
    uapi::SevUserDataSnpVlekLoad input{};
    if (!FromUser(user, arg.data, input)) return -EFAULT;
    if (input.len != sizeof(input) || input.vlek_wrapped_version != 0) return -EINVAL;
    if (int rc =
            CopyUserBlob(d, user, input.vlek_wrapped_address, uapi::kVlekWrappedSize, AreaA(d));
        rc != 0) {
      return rc;
    }
    input.vlek_wrapped_address = AreaA(d);
    static_assert(sizeof(input) == sizeof(emulator::SnpVlekLoadBuf));
    emulator::SnpVlekLoadBuf buf{};
    std::memcpy(&buf, &input, sizeof buf);
    const FwStatus st = d.Snp(SnpCmd::kVlekLoad, buf);
    arg.error = static_cast<std::uint32_t>(st);
    return st == FwStatus::kSuccess ? 0 : -EIO;
  }
};

SevDevice::SevDevice(emulator::Firmware& firmware, std::uint64_t scratch_spa, std::uint64_t tmr_spa)
    : fw_(firmware), scratch_(scratch_spa), tmr_(tmr_spa) {
  // Probe (sev_get_api_version): the kernel caches the legacy platform state from
  // PLATFORM_STATUS. Until the legacy firmware exists that command fails and the state stays
  // UNINIT; the real driver would give up /dev/sev there, sevemu keeps SNP usable.
  uapi::SevUserDataStatus status{};
  if (CallLegacy(kLegacyPlatformStatus, AsBytes(status)) == FwStatus::kSuccess &&
      status.state <= kSevWorking) {
    sev_state_ = status.state;
  }
}

emulator::FwStatus SevDevice::Legacy(std::uint32_t legacy_cmd, MutableByteSpan buffer) {
  if (faults_ != nullptr) {
    if (auto st = faults_->Command(true, legacy_cmd)) return *st;
  }
  return CallLegacy(legacy_cmd, buffer);
}

emulator::FwStatus SevDevice::Snp(emulator::SnpCmd cmd, MutableByteSpan buffer) {
  if (faults_ != nullptr) {
    if (auto st = faults_->Command(false, static_cast<std::uint32_t>(cmd))) return *st;
  }
  return fw_.Execute(cmd, buffer);
}

// The legacy SEV firmware API: emulator::Firmware::ExecuteSev, with the same ids (psp-sev.h
// enum sev_cmd) and buffers (checked equal in size below).
emulator::FwStatus SevDevice::CallLegacy(std::uint32_t legacy_cmd, MutableByteSpan buffer) {
  return fw_.ExecuteSev(static_cast<emulator::SevCmd>(legacy_cmd), buffer);
}

int SevDevice::PlatformInit(std::uint32_t* error) {
  return Ops::PlatformInit(*this, error);
}

int SevDevice::VerifyMitigation(std::uint16_t subcommand, std::uint64_t vector,
                                emulator::SnpVerifyMitigationDst* out, std::uint32_t* error) {
  const std::uint64_t page = Ops::AreaA(*this);
  if (!Ops::MarkFirmware(*this, page, 1)) return -EFAULT;
  emulator::SnpVerifyMitigationBuf buf{};
  buf.length = sizeof buf;
  buf.subcommand = subcommand;
  buf.vector = vector;
  buf.flags = emulator::kMitDstPaddrEn;
  buf.dst_paddr = page;
  const FwStatus st = Snp(SnpCmd::kVerifyMitigation, buf);
  if (error != nullptr) *error = static_cast<std::uint32_t>(st);
  if (!Ops::Reclaim(*this, page, 1)) return -EFAULT;
  emulator::SnpVerifyMitigationDst dst{};
  const bool read = fw_.memory().HvRead(page, {reinterpret_cast<std::uint8_t*>(&dst),
                                               sizeof dst}) == rmp::RmpViolation::kNone;
  Ops::Scrub(*this);
  if (st != FwStatus::kSuccess) return -EIO;
  if (!read) return -EFAULT;
  *out = dst;
  return 0;
}

int SevDevice::IssueGuestCmd(emulator::SevCmd cmd, MutableByteSpan buf,
                             std::span<const CmdBuffer> buffers, std::uint32_t* error) {
  return Ops::DoLegacy(*this, static_cast<std::uint32_t>(cmd), buf, buffers, error);
}

SevIoctlResult SevDevice::Ioctl(unsigned long request, uapi::SevIssueCmdArg& arg,
                                uapi::UserMemory& user, bool writable) {
  if (request != uapi::kSevIssueCmd) return {-EINVAL, false};
  // `cmd > SEV_MAX` is refused before the command lock and SEV_MAX itself by the switch's
  // default; neither copies the struct back.
  if (arg.cmd >= static_cast<std::uint32_t>(uapi::SevUserCmd::kMax)) return {-EINVAL, false};
  // Indexed by the user command id (uapi::SevUserCmd).
  static constexpr Ops::Handler kHandlers[] = {
      &Ops::FactoryReset,       // SEV_FACTORY_RESET
      &Ops::PlatformStatus,     // SEV_PLATFORM_STATUS
      &Ops::PekGen,             // SEV_PEK_GEN
      &Ops::PekCsr,             // SEV_PEK_CSR
      &Ops::PdhGen,             // SEV_PDH_GEN
      &Ops::PdhCertExport,      // SEV_PDH_CERT_EXPORT
      &Ops::PekCertImport,      // SEV_PEK_CERT_IMPORT
      &Ops::GetId,              // SEV_GET_ID
      &Ops::GetId2,             // SEV_GET_ID2
      &Ops::SnpPlatformStatus,  // SNP_PLATFORM_STATUS
      &Ops::SnpCommit,          // SNP_COMMIT
      &Ops::SnpSetConfig,       // SNP_SET_CONFIG
      &Ops::SnpVlekLoad,        // SNP_VLEK_LOAD
  };
  static_assert(std::size(kHandlers) == static_cast<std::size_t>(uapi::SevUserCmd::kMax));
  // The handlers take &error: work on a copy whose alignment makes that pointer valid (the
  // packed ABI struct may sit at any address in the caller's buffer).
  alignas(8) uapi::SevIssueCmdArg aligned = arg;
  const int ret = kHandlers[aligned.cmd](*this, aligned, user, writable);
  arg = aligned;
  Ops::Scrub(*this);
  return {ret, true};
}

}  // namespace sevemu::hypervisor
