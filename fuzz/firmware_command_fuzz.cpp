// libFuzzer entry of the firmware's command interface (SNP and legacy); the input format and what
// counts as a failure: firmware_command_harness.cpp.
#include <cstddef>
#include <cstdint>

#include "firmware_command_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sevemu::fuzz::RunFirmwareCommandInput(data, size);
  return 0;
}
