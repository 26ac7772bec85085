// Simulated DRAM: a sparse array of 4 KiB pages addressed by system physical address (SPA).
// Pages that were never written read as zero and cost nothing, so a 1 TiB host costs only
// what is touched. This is the raw memory: no RMP checks and no encryption happen here
// (rmp/memory_controller.h adds both).
//
// Thread safety: not thread-safe; the firmware model serialises access.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::rmp {

constexpr std::uint64_t kPageSize = 4096;
constexpr std::uint64_t kPageSize2M = 2 * 1024 * 1024;
constexpr std::uint64_t kPagesPer2M = kPageSize2M / kPageSize;
using Page = std::array<std::uint8_t, kPageSize>;

constexpr bool IsPageAligned(std::uint64_t a) {
  return (a & (kPageSize - 1)) == 0;
}
constexpr std::uint64_t PageBase(std::uint64_t a) {
  return a & ~(kPageSize - 1);
}

class PhysicalMemory {
 public:
  // REQUIRES: size_bytes is a non-zero multiple of 2 MiB.
  explicit PhysicalMemory(std::uint64_t size_bytes) : size_(size_bytes) {}
  // A copy holds its own pages (Firmware::Clone).
  PhysicalMemory(const PhysicalMemory& other);
  PhysicalMemory& operator=(const PhysicalMemory& other);
  PhysicalMemory(PhysicalMemory&&) noexcept = default;
  PhysicalMemory& operator=(PhysicalMemory&&) noexcept = default;

  std::uint64_t size() const { return size_; }
  // True iff [spa, spa + len) lies inside memory (and does not wrap).
  bool Contains(std::uint64_t spa, std::uint64_t len) const {
    return spa < size_ && len <= size_ - spa;
  }
  // kInvalidArgument if the range is outside memory; nothing is read or written then.
  Status Read(std::uint64_t spa, MutableByteSpan out) const;
  Status Write(std::uint64_t spa, ByteSpan data);
  std::size_t touched_pages() const { return pages_.size(); }

 private:
  std::uint64_t size_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Page>> pages_;  // key: SPA >> 12
};

}  // namespace sevemu::rmp
