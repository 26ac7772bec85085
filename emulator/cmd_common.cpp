#include <algorithm>

#include "firmware_state.h"

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

bool AllZero(ByteSpan bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace sevemu::emulator
