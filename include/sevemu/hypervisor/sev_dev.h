// /dev/sev as the Linux ccp driver serves it (drivers/crypto/ccp/sev-dev.c; SEV-ABI-FACTS.md
// 1): SEV_ISSUE_CMD's user commands become firmware commands, with the kernel's own checks
// (write access, SNP initialised, lengths, length probing) and its errno conventions: 0 on
// success; -EIO with `error` = firmware status when the firmware refuses; other errnos, with
// `error` untouched, when the kernel refuses before calling the firmware.
//
// Thread safety: not thread-safe (the kernel holds sev_cmd_mutex; so does the caller).
#pragma once

#include <cstdint>

#include "sevemu/emulator/firmware.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::hypervisor {

struct SevIoctlResult {
  int ret = 0;             // 0 or -errno, what ioctl(2) returns (as -1 with errno set)
  bool copy_back = false;  // whether the kernel copies struct sev_issue_cmd back to the caller
};

class SevDevice {
 public:
  // `scratch_spa`: four 4 KiB pages of host memory reserved for the buffers the kernel hands
  // the firmware (status pages, blobs); they are returned to the hypervisor after each command.
  SevDevice(emulator::Firmware& firmware, std::uint64_t scratch_spa);

  // ioctl(fd, request, arg) on /dev/sev, where `arg` is the caller's struct sev_issue_cmd
  // (already copied in) and `user` reaches the buffers its data pointer names.
  // `writable`: the descriptor was opened with write access.
  SevIoctlResult Ioctl(unsigned long request, uapi::SevIssueCmdArg& arg, uapi::UserMemory& user,
                       bool writable);

 private:
  emulator::Firmware& fw_;
  std::uint64_t scratch_;
};

}  // namespace sevemu::hypervisor
