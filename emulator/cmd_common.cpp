#include <algorithm>

#include "firmware_state.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/random.h"

namespace sevemu::emulator {

rmp::PageState PageStateAt(const FirmwareState& s, std::uint64_t spa) {
  if (!s.memory.rmp().Covers(spa)) return rmp::PageState::kDefault;
  return s.memory.rmp().Get(spa).State();
}

SnpGuest* GuestAt(FirmwareState& s, std::uint64_t gctx) {
  if (PageStateAt(s, gctx) != rmp::PageState::kContext) return nullptr;
  auto it = s.guests.find(gctx);
  return it == s.guests.end() ? nullptr : it->second.get();
}

Result<SecretBytes> FirmwareRandom(FirmwareState& s, std::size_t n) {
  if (!s.platform.state.deterministic) return crypto::RandomSecret(n);
  std::uint8_t draw[8];
  StoreLe64(draw, s.rng_draws++);
  return crypto::SevKdf(s.platform.fuses.hash_stick_root.span(), "sevemu-firmware-rng", draw, n);
}

bool AllZero(ByteSpan bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

FwStatus ReadRangeList(const FirmwareState& s, std::uint64_t list_paddr,
                       std::vector<PageRange>& out) {
  constexpr std::uint32_t kRangeListMax = 255;  // (4096 / 16) - 1 entries after the header
  rmp::Page list{};
  if (!s.memory.FirmwareRead(list_paddr, list).ok()) return FwStatus::kInvalidAddress;
  const std::uint32_t count = LoadLe32(list.data());
  if (LoadLe32(list.data() + 4) != 0 || count > kRangeListMax) return FwStatus::kInvalidParam;
  std::vector<PageRange> ranges;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* e = list.data() + 8 + 16 * i;
    const PageRange r{LoadLe64(e), LoadLe32(e + 8)};
    if (LoadLe32(e + 12) != 0 || (r.base & (rmp::kPageSize2M - 1)) != 0) {
      return FwStatus::kInvalidParam;
    }
    if (r.pages == 0) continue;
    if (!s.memory.rmp().Covers(r.base) ||
        !s.memory.rmp().Covers(r.base + r.pages * rmp::kPageSize - 1)) {
      return FwStatus::kInvalidAddress;
    }
    ranges.push_back(r);
  }
  out = std::move(ranges);
  return FwStatus::kSuccess;
}

void SetHvFixed(FirmwareState& s, const std::vector<PageRange>& ranges) {
  rmp::RmpEntry hv_fixed;
  hv_fixed.set_immutable(true);
  for (const PageRange& r : ranges) {
    for (std::uint64_t p = 0; p < r.pages; ++p)
      s.memory.rmp().Set(r.base + p * rmp::kPageSize, hv_fixed);
  }
}

FwStatus CheckStatusPage(const FirmwareState& s, std::uint64_t paddr, bool check_state) {
  if (check_state) {
    const auto page = PageStateAt(s, paddr);
    if (page != rmp::PageState::kFirmware && page != rmp::PageState::kDefault) {
      return FwStatus::kInvalidPageState;
    }
  }
  if (!s.memory.rmp().Covers(paddr)) return FwStatus::kInvalidAddress;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
