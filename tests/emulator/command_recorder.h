// A firmware observer that keeps every command event, and a lookup of one decoded field: what
// the trace gets from the firmware (docs/trace.md), checked against the buffer a test sent.
#pragma once

#include <doctest/doctest.h>

#include <string_view>
#include <vector>

#include "sevemu/emulator/firmware_observer.h"

namespace sevemu::test {

struct CommandRecorder : emulator::FirmwareObserver {
  std::vector<emulator::CommandEvent> events;
  void OnCommand(const emulator::CommandEvent& e) override { events.push_back(e); }
  void OnRmpInstruction(const rmp::RmpInstructionEvent&) override {}
  void OnPageState(std::uint64_t, const rmp::RmpEntry&, const rmp::RmpEntry&) override {}

  // The last event of command `name` ("SNP_PAGE_MOVE"); fails the test if there is none.
  const emulator::CommandEvent& Last(std::string_view name) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (name == it->name) return *it;
    }
    FAIL("no ", name, " event");
    static const emulator::CommandEvent none;
    return none;
  }
};

// The names of `fields`, in order, and the number (or address) of field `name` in them.
inline std::vector<std::string_view> FieldNames(const std::vector<emulator::CommandField>& fields) {
  std::vector<std::string_view> out;
  for (const auto& f : fields) out.push_back(f.name);
  return out;
}
inline const emulator::CommandField* Field(const std::vector<emulator::CommandField>& fields,
                                           std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}
inline std::uint64_t Number(const std::vector<emulator::CommandField>& fields,
                            std::string_view name) {
  const emulator::CommandField* f = Field(fields, name);
  REQUIRE_MESSAGE(f != nullptr, "no field ", name);
  return f->number;
}

}  // namespace sevemu::test
