// Fuzzes the platform.json parser: arbitrary bytes must give a state or a typed error, and any
// accepted state must serialize and re-parse to itself.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sevemu/emulator/platform_state.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto state = sevemu::emulator::ParsePlatformJson(text, "fuzz");
  if (!state.ok()) return 0;
  const std::string again = sevemu::emulator::PlatformJson(*state);
  auto reparsed = sevemu::emulator::ParsePlatformJson(again, "fuzz");
  if (!reparsed.ok() || sevemu::emulator::PlatformJson(*reparsed) != again) std::abort();
  return 0;
}
