// The calling process's own address space as the kernel's copy_from_user/copy_to_user see it:
// a bad pointer is EFAULT, never a crash (process_vm_readv/writev on ourselves).
#pragma once

#include "sevemu/uapi/linux_sev.h"

namespace sevemu::shim {

class SelfMemory final : public uapi::UserMemory {
 public:
  bool Read(std::uint64_t addr, MutableByteSpan out) override;
  bool Write(std::uint64_t addr, ByteSpan data) override;
};

}  // namespace sevemu::shim
