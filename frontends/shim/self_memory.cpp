#include "self_memory.h"

#include <sys/uio.h>
#include <unistd.h>

namespace sevemu::shim {

bool SelfMemory::Read(std::uint64_t addr, MutableByteSpan out) {
  if (out.empty()) return true;
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr), out.size()};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(out.size());
}

bool SelfMemory::Write(std::uint64_t addr, ByteSpan data) {
  if (data.empty()) return true;
  iovec local{const_cast<std::uint8_t*>(data.data()), data.size()};
  iovec remote{reinterpret_cast<void*>(addr), data.size()};
  return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(data.size());
}

}  // namespace sevemu::shim
