#include "sevemu/rmp/rmp_table.h"

#include <algorithm>

namespace sevemu::rmp {

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
