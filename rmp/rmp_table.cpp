#include "sevemu/rmp/rmp_table.h"

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
  (*it->second)[(spa >> 12) & (kPagesPer2M - 1)] = entry;
}

}  // namespace sevemu::rmp
