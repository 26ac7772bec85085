#include "sevemu/rmp/physical_memory.h"

#include <algorithm>
#include <cstring>

namespace sevemu::rmp {

PhysicalMemory::PhysicalMemory(const PhysicalMemory& other) : size_(other.size_) {
  pages_.reserve(other.pages_.size());
  for (const auto& [k, page] : other.pages_) pages_.emplace(k, std::make_unique<Page>(*page));
}

PhysicalMemory& PhysicalMemory::operator=(const PhysicalMemory& other) {
  if (this != &other) *this = PhysicalMemory(other);
  return *this;
}

Status PhysicalMemory::Read(std::uint64_t spa, MutableByteSpan out) const {
  if (!Contains(spa, out.size())) {
    return Error(ErrorCode::kInvalidArgument, "read outside simulated memory");
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t a = spa + done;
    const std::size_t off = static_cast<std::size_t>(a & (kPageSize - 1));
    const std::size_t n = std::min<std::size_t>(out.size() - done, kPageSize - off);
    auto it = pages_.find(a >> 12);
    if (it == pages_.end()) {
      std::memset(out.data() + done, 0, n);
    } else {
      std::memcpy(out.data() + done, it->second->data() + off, n);
    }
    done += n;
  }
  return Status::Ok();
}

Status PhysicalMemory::Write(std::uint64_t spa, ByteSpan data) {
  if (!Contains(spa, data.size())) {
    return Error(ErrorCode::kInvalidArgument, "write outside simulated memory");
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const std::uint64_t a = spa + done;
    const std::size_t off = static_cast<std::size_t>(a & (kPageSize - 1));
    const std::size_t n = std::min<std::size_t>(data.size() - done, kPageSize - off);
    auto& page = pages_[a >> 12];
    if (!page) page = std::make_unique<Page>();  // value-initialised: zeroes
    std::memcpy(page->data() + off, data.data() + done, n);
    done += n;
  }
  return Status::Ok();
}

}  // namespace sevemu::rmp
