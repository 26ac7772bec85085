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

#include "sevemu/common/bytes.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::hypervisor {

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
  SevDevice(emulator::Firmware& firmware, std::uint64_t scratch_spa);
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

 private:
  // The legacy SEV firmware: runs legacy command `legacy_cmd` (SEV_CMD_INIT 0x001 ..
  // SEV_CMD_INIT_EX 0x00D, include/linux/psp-sev.h) with its command buffer, which it may
  // update in place (lengths): Firmware::ExecuteSev. Virtual only so tests can stand in a
  // legacy firmware with behaviour the real one does not have (failures on demand).
  virtual emulator::FwStatus CallLegacy(std::uint32_t legacy_cmd, MutableByteSpan buffer);

  struct Ops;  // the per-command handlers (sev_dev.cpp)
  friend struct Ops;

  // The kernel's cached legacy platform state (struct sev_device.state): UNINIT, INIT,
  // WORKING. Read at probe, set by the driver's own INIT and SHUTDOWN.
  std::uint8_t sev_state_ = 0;
  emulator::Firmware& fw_;
  std::uint64_t scratch_;
};

}  // namespace sevemu::hypervisor
