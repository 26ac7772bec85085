#include "sevemu/emulator/manufacturing/chip.h"

#include <algorithm>

namespace sevemu::emulator {

Status ChipIdentity::Validate() const {
  if (chip_id.size() != kChipIdSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "chip ID must be 64 bytes, not " + std::to_string(chip_id.size()));
  }
  const std::size_t used = Info(product).hwid_size;
  if (std::all_of(chip_id.begin(), chip_id.begin() + static_cast<long>(used),
                  [](std::uint8_t b) { return b == 0; })) {
    return Error(ErrorCode::kInvalidArgument, "chip ID is all zero");
  }
  if (!std::all_of(chip_id.begin() + static_cast<long>(used), chip_id.end(),
                   [](std::uint8_t b) { return b == 0; })) {
    return Error(ErrorCode::kInvalidArgument, std::string(Info(product).name) +
                                                  " chip IDs use only their first " +
                                                  std::to_string(used) + " bytes");
  }
  if (stepping > 0xF) return Error(ErrorCode::kInvalidArgument, "stepping must be 0..15");
  return Status::Ok();
}

Status ChipFuses::Validate() const {
  if (hash_stick_root.size() != 48) {
    return Error(ErrorCode::kInvalidArgument, "hash stick root must be 48 bytes");
  }
  if (chip_unique_key.size() != 32) {
    return Error(ErrorCode::kInvalidArgument, "chip-unique key must be 32 bytes");
  }
  return Status::Ok();
}

}  // namespace sevemu::emulator
