// The body of firmware_command_fuzz, without libFuzzer, so that the benchmark can time one
// input the way the fuzzer runs it (bench/firmware_bench.cpp, docs/performance.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sevemu::fuzz {

// Runs one input: u16 command id, u8 setup selector, then the command buffer. Aborts when a
// refused command changed the firmware's state.
void RunFirmwareCommandInput(const std::uint8_t* data, std::size_t size);

}  // namespace sevemu::fuzz
