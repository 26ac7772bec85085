#include "sevemu/rmp/rmp_table.h"

#include <algorithm>

namespace sevemu::rmp {

RmpTable::RmpTable(const RmpTable& other)
    : memory_size_(other.memory_size_), observer_(other.observer_) {
  regions_.reserve(other.regions_.size());
  for (const auto& [k, region] : other.regions_) {
    regions_.emplace(k, std::make_unique<Region>(*region));
  }
}

RmpTable& RmpTable::operator=(const RmpTable& other) {
  if (this != &other) *this = RmpTable(other);
  return *this;
}

RmpEntry RmpTable::Get(std::uint64_t spa) const {
  auto it = regions_.find(spa >> 21);
  if (it == regions_.end()) return RmpEntry{};
  return (*it->second)[(spa >> 12) & (kPagesPer2M - 1)];
}

void RmpTable::Set(std::uint64_t spa, const RmpEntry& entry) {
  auto it = regions_.find(spa >> 21);
  if (it == regions_.end()) {
    if (entry == RmpEntry{}) return;  // keep the invariant cheap: defaults stay unallocated
    it = regions_.emplace(spa >> 21, std::make_unique<Region>()).first;
  }
  RmpEntry& slot = (*it->second)[(spa >> 12) & (kPagesPer2M - 1)];
  if (observer_ != nullptr && !(slot == entry)) {
    const RmpEntry before = slot;
    slot = entry;
    observer_->OnPageState(spa & ~(kPageSize - 1), before, entry);
    return;
  }
  slot = entry;
}

std::uint64_t RmpTable::AssignedPages(std::uint32_t asid) const {
  std::uint64_t n = 0;
  for (const auto& [key, region] : regions_) {
    for (const RmpEntry& e : *region) n += e.assigned() && e.asid() == asid ? 1 : 0;
  }
  return n;
}

std::vector<std::uint64_t> RmpTable::RegionBases() const {
  std::vector<std::uint64_t> bases;
  bases.reserve(regions_.size());
  for (const auto& [key, region] : regions_) bases.push_back(key << 21);
  std::sort(bases.begin(), bases.end());
  return bases;
}

}  // namespace sevemu::rmp
