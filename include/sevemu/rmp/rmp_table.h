// The Reverse Map Table: one 16-byte RmpEntry per 4 KiB page of simulated memory.
//
// Storage is sparse in 2 MiB regions: a region's 512 entries (8 KiB) are allocated when one of
// them first becomes non-default, so tracked pages cost 16 bytes each (the hardware's entry
// size) plus one map slot per 2 MiB, and untouched memory costs nothing.
//
// Invariant: an absent region means all its entries are default (HYPERVISOR state).
// Thread safety: not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "sevemu/rmp/physical_memory.h"
#include "sevemu/rmp/rmp_entry.h"
#include "sevemu/rmp/rmp_observer.h"

namespace sevemu::rmp {

class RmpTable {
 public:
  // REQUIRES: memory_size is a multiple of 2 MiB.
  explicit RmpTable(std::uint64_t memory_size) : memory_size_(memory_size) {}
  // A copy holds its own entries and the same observer (Firmware::Clone detaches it).
  RmpTable(const RmpTable& other);
  RmpTable& operator=(const RmpTable& other);
  RmpTable(RmpTable&&) noexcept = default;
  RmpTable& operator=(RmpTable&&) noexcept = default;

  bool Covers(std::uint64_t spa) const { return spa < memory_size_; }
  // The entry of the 4 KiB page holding `spa`. REQUIRES: Covers(spa).
  RmpEntry Get(std::uint64_t spa) const;
  // REQUIRES: Covers(spa).
  // Tells the observer (if any) when the entry changes.
  void Set(std::uint64_t spa, const RmpEntry& entry);
  // Applies fn(RmpEntry&) to the `pages` consecutive 4 KiB entries from `spa` (a 2 MiB page is
  // kept as 512 mirrored entries, so its changes go through here too).
  // REQUIRES: Covers(spa + pages * 4 KiB - 1).
  template <typename Fn>
  void Update(std::uint64_t spa, std::uint64_t pages, Fn fn) {
    for (std::uint64_t i = 0; i < pages; ++i) {
      RmpEntry e = Get(spa + i * kPageSize);
      fn(e);
      Set(spa + i * kPageSize, e);
    }
  }

  // Pages whose entry is assigned to `asid` (the hardware keeps this count per ASID; here it
  // is counted over the allocated regions).
  std::uint64_t AssignedPages(std::uint32_t asid) const;
  // Every entry back to default (HYPERVISOR): what SNP_INIT's RMP rebuild does.
  void Clear() { regions_.clear(); }
  std::size_t regions() const { return regions_.size(); }
  // SPAs of the allocated 2 MiB regions, ascending.
  std::vector<std::uint64_t> RegionBases() const;
  // Bytes spent on entries: 16 per page of every allocated 2 MiB region.
  std::size_t entry_bytes() const { return regions_.size() * sizeof(Region); }

  // Who is told of instructions and entry changes (rmp_observer.h); nullptr: nobody. Not owned.
  void set_observer(RmpObserver* observer) { observer_ = observer; }
  RmpObserver* observer() const { return observer_; }

 private:
  using Region = std::array<RmpEntry, kPagesPer2M>;
  std::uint64_t memory_size_;
  RmpObserver* observer_ = nullptr;
  std::unordered_map<std::uint64_t, std::unique_ptr<Region>> regions_;  // key: SPA >> 21
};

}  // namespace sevemu::rmp
