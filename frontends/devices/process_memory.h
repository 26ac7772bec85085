// A process's address space as the kernel's copy_from_user/copy_to_user see it: a bad pointer
// is EFAULT (Read/Write return false), never a crash. The shim passes its own pid; `sevemu run`
// the traced program's (process_vm_readv/writev need ptrace access, which the supervisor has as
// the program's ancestor with the same credentials).
#pragma once

#include <sys/types.h>

#include "sevemu/uapi/linux_sev.h"

namespace sevemu::devices {

class ProcessMemory final : public uapi::UserMemory {
 public:
  explicit ProcessMemory(pid_t pid) : pid_(pid) {}
  bool Read(std::uint64_t addr, MutableByteSpan out) override;
  bool Write(std::uint64_t addr, ByteSpan data) override;

 private:
  pid_t pid_;
};

}  // namespace sevemu::devices
