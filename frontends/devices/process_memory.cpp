#include "devices/process_memory.h"

#include <sys/uio.h>

namespace sevemu::devices {

bool ProcessMemory::Read(std::uint64_t addr, MutableByteSpan out) {
  if (out.empty()) return true;
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr), out.size()};
  return process_vm_readv(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(out.size());
}

bool ProcessMemory::Write(std::uint64_t addr, ByteSpan data) {
  if (data.empty()) return true;
  iovec local{const_cast<std::uint8_t*>(data.data()), data.size()};
  iovec remote{reinterpret_cast<void*>(addr), data.size()};
  return process_vm_writev(pid_, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(data.size());
}

}  // namespace sevemu::devices
