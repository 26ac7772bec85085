// Fuzzes the state directory's parsers: platform.json and sev-nv.json (the legacy SEV
// persistent store). Arbitrary bytes must give a state or a typed error, and any accepted state
// must serialize and re-parse to itself. Every input goes to both parsers.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"

namespace {

void PlatformJson(std::string_view text) {
  auto state = sevemu::emulator::ParsePlatformJson(text, "fuzz");
  if (!state.ok()) return;
  const std::string again = sevemu::emulator::PlatformJson(*state);
  auto reparsed = sevemu::emulator::ParsePlatformJson(again, "fuzz");
  if (!reparsed.ok() || sevemu::emulator::PlatformJson(*reparsed) != again) std::abort();
}

void SevNvJson(std::string_view text) {
  auto store = sevemu::emulator::ParseSevNvJson(text, "fuzz");
  if (!store.ok()) return;
  auto again = sevemu::emulator::SevNvJson(*store);
  if (!again.ok()) std::abort();
  const std::string_view again_text(reinterpret_cast<const char*>(again->data()), again->size());
  auto reparsed = sevemu::emulator::ParseSevNvJson(again_text, "fuzz");
  if (!reparsed.ok()) std::abort();
  auto third = sevemu::emulator::SevNvJson(*reparsed);
  if (!third.ok() || !(*third == *again)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  PlatformJson(text);
  SevNvJson(text);
  return 0;
}
