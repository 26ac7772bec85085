// The trace's field tables (emulator/command_fields.cpp, docs/trace.md) against the firmware's
// dispatch tables: every command the firmware dispatches has a table of the buffer size its
// dispatcher requires, so a command cannot be added without one. The tables of single commands
// are checked with real buffers where those commands are tested (swap_test.cpp,
// sev_migrate_test.cpp).
#include "sevemu/emulator/command_fields.h"

#include <doctest/doctest.h>

#include "sevemu/emulator/firmware.h"

namespace sevemu::test {
namespace {

using emulator::SevCmd;
using emulator::SnpCmd;

TEST_CASE("every SNP command the firmware dispatches has a field table of its buffer's size") {
  const auto cmds = emulator::ImplementedSnpCommands();
  REQUIRE(cmds.size() >= 29);
  for (SnpCmd c : cmds) {
    const auto want = emulator::SnpCommandBufferSize(c);
    REQUIRE(want.has_value());
    CHECK_MESSAGE(emulator::SnpFieldTableSize(c) == want, emulator::SnpCmdName(c));
    // A buffer of that size decodes to its fields; a command with a buffer has at least one.
    const Bytes zeros(*want, 0);
    CHECK_MESSAGE(emulator::DecodeSnpCommand(c, zeros).empty() == (*want == 0),
                  emulator::SnpCmdName(c));
  }
  // An id the firmware does not dispatch has neither.
  CHECK_FALSE(emulator::SnpCommandBufferSize(static_cast<SnpCmd>(0xC4)).has_value());
  CHECK_FALSE(emulator::SnpFieldTableSize(static_cast<SnpCmd>(0xC4)).has_value());
}

TEST_CASE(
    "every legacy SEV command the firmware dispatches has a field table of its buffer's size") {
  const auto cmds = emulator::ImplementedSevCommands();
  REQUIRE(cmds.size() >= 35);
  for (SevCmd c : cmds) {
    const auto want = emulator::SevCommandBufferSize(c);
    REQUIRE(want.has_value());
    CHECK_MESSAGE(emulator::SevFieldTableSize(c) == want, emulator::SevCmdName(c));
    const Bytes zeros(*want, 0);
    CHECK_MESSAGE(emulator::DecodeSevCommand(c, zeros).empty() == (*want == 0),
                  emulator::SevCmdName(c));
  }
  CHECK_FALSE(emulator::SevCommandBufferSize(static_cast<SevCmd>(0x45)).has_value());
  CHECK_FALSE(emulator::SevFieldTableSize(static_cast<SevCmd>(0x45)).has_value());
}

TEST_CASE("a buffer of the wrong size decodes to no field") {
  CHECK(emulator::DecodeSnpCommand(SnpCmd::kPageMove, Bytes(0x1F, 0)).empty());
  CHECK(emulator::DecodeSevCommand(SevCmd::kSendStart, Bytes(0x45, 0)).empty());
}

}  // namespace
}  // namespace sevemu::test
