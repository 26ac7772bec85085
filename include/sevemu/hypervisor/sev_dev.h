// /dev/sev as the Linux ccp driver serves it (drivers/crypto/ccp/sev-dev.c; SEV-ABI-FACTS.md
// 1): SEV_ISSUE_CMD's user commands become firmware commands, with the kernel's own checks
// (write access, SNP initialised, lengths, length probing) and its errno conventions: 0 on
// success; -EIO with `error` = firmware status when the firmware refuses; other errnos, with
// `error` untouched, when the kernel refuses before calling the firmware.
//
// The legacy SEV commands (FACTORY_RESET .. GET_ID2) go through the one private CallLegacy to
// the firmware model's legacy SEV API (Firmware::ExecuteSev).
//
// Thread safety: not thread-safe (the kernel holds sev_cmd_mutex; so does the caller).
#pragma once

#include <cstdint>
#include <span>

#include "sevemu/common/bytes.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::hypervisor {

class FaultSet;

struct SevIoctlResult {
  int ret = 0;             // 0 or -errno, what ioctl(2) returns (as -1 with errno set)
  bool copy_back = false;  // whether the kernel copies struct sev_issue_cmd back to the caller
};

class SevDevice {
 public:
  // Host pages at `scratch_spa` the driver keeps for the buffers it hands the firmware: two
  // areas of SEV_FW_BLOB_MAX_SIZE (16 KiB) each, as PDH_CERT_EXPORT and PEK_CERT_IMPORT carry
  // two blobs of up to that size. The SNP status page and the VLEK blob use the first area.
  static constexpr std::uint64_t kScratchPages = 8;

  // `scratch_spa`: kScratchPages 4 KiB pages of host memory (4 KiB aligned) reserved for this
  // device. Between ioctls they are always in the hypervisor state and zeroed.
  // `tmr_spa`: 2 MiB of host memory (2 MiB aligned) the driver hands INIT as the SEV-ES trusted
  // memory region, or 0 for a host without SEV-ES (INIT then goes without the ES flag).
  SevDevice(emulator::Firmware& firmware, std::uint64_t scratch_spa, std::uint64_t tmr_spa = 0);
  virtual ~SevDevice() = default;
  SevDevice(const SevDevice&) = delete;
  SevDevice& operator=(const SevDevice&) = delete;

  // ioctl(fd, request, arg) on /dev/sev, where `arg` is the caller's struct sev_issue_cmd
  // (already copied in) and `user` reaches the buffers its data pointer names.
  // `writable`: the descriptor was opened with write access.
  // On return, `arg.error` holds the status of the last firmware command the kernel ran for
  // this ioctl (0 for success), or is unchanged if it ran none; copy_back says whether the
  // kernel writes `arg` back (every recognised command, whatever the outcome).
  SevIoctlResult Ioctl(unsigned long request, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                       bool writable);

  // ---- what KVM uses of the driver (exported by sev-dev.c) ----

  // sev_platform_init: the legacy INIT (with the SEV-ES TMR), WBINVD and DF_FLUSH, unless the
  // kernel already holds the platform initialised. 0 or -errno; `error` gets the status of the
  // last firmware command run.
  int PlatformInit(std::uint32_t* error);

  // A host range the firmware reads or writes for a guest command.
  struct CmdBuffer {
    std::uint64_t spa;  // 4 KiB aligned
    std::uint64_t len;  // at most 16 KiB
  };
  // sev_issue_cmd for a legacy guest command (LAUNCH_*, ACTIVATE, ATTESTATION, ...). Once SNP
  // is initialised every buffer is moved to the FIRMWARE state for the command and back after,
  // whatever its outcome (snp_map_cmd_buf_desc_list / snp_unmap_cmd_buf_desc_list). 0, -EIO
  // (the firmware refused; `error` has its status) or -EFAULT (a page could not change state).
  int IssueGuestCmd(emulator::SevCmd cmd, MutableByteSpan buf, std::span<const CmdBuffer> buffers,
                    std::uint32_t* error);

  // snp_verify_mitigation (sev-dev.c, behind /sys/firmware/sev/vulnerabilities): one
  // SNP_VERIFY_MITIGATION with `subcommand` (emulator::kMitSubcmdStatus / kMitSubcmdVerify) and
  // `vector`, its result in a firmware page (a scratch page, reclaimed after), copied to `out`
  // on success. 0, -EIO (the firmware refused: `error` has its status; INVALID_COMMAND before
  // ABI 1.58) or -EFAULT (the page could not change state). The kernel offers the sysfs files
  // only where SNP_FEATURE_INFO advertises the command; this entry point does not check.
  int VerifyMitigation(std::uint16_t subcommand, std::uint64_t vector,
                       emulator::SnpVerifyMitigationDst* out, std::uint32_t* error);

  // Injected faults (faults.h) consulted before every command this driver hands the firmware;
  // null = none. REQUIRES: `faults` outlives the device.
  void set_faults(FaultSet* faults) { faults_ = faults; }

 private:
  // The legacy SEV firmware: runs legacy command `legacy_cmd` (SEV_CMD_INIT 0x001 ..
  // SEV_CMD_INIT_EX 0x00D, include/linux/psp-sev.h) with its command buffer, which it may
  // update in place (lengths): Firmware::ExecuteSev. Virtual only so tests can stand in a
  // legacy firmware with behaviour the real one does not have (failures on demand).
  virtual emulator::FwStatus CallLegacy(std::uint32_t legacy_cmd, MutableByteSpan buffer);
  // Where the driver hands the firmware a command: an injected fault answers instead.
  emulator::FwStatus Legacy(std::uint32_t legacy_cmd, MutableByteSpan buffer);
  emulator::FwStatus Snp(emulator::SnpCmd cmd, MutableByteSpan buffer);
  template <typename Buf>
  emulator::FwStatus Snp(emulator::SnpCmd cmd, Buf& buf) {
    return Snp(cmd, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&buf), sizeof(Buf)));
  }

  struct Ops;  // the per-command handlers (sev_dev.cpp)
  friend struct Ops;

  // The kernel's cached legacy platform state (struct sev_device.state): UNINIT, INIT,
  // WORKING. Read at probe, set by the driver's own INIT and SHUTDOWN.
  std::uint8_t sev_state_ = 0;
  emulator::Firmware& fw_;
  FaultSet* faults_ = nullptr;
  std::uint64_t scratch_;
  std::uint64_t tmr_;
  bool tmr_firmware_ = false;  // the TMR's pages are FIRMWARE (done once, after SNP_INIT)
};

}  // namespace sevemu::hypervisor
