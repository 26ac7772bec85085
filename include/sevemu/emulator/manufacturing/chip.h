// The simulated part's identity and its fuses: what manufacturing burns into a chip.
#pragma once

#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::emulator {

constexpr std::size_t kChipIdSize = 64;  // GET_ID / report CHIP_ID (SEV-ABI-FACTS.md 4.1)

struct ChipIdentity {
  Product product = Product::kMilan;
  std::uint8_t stepping = 0;
  // 64 bytes. On Turin only the first 8 are non-zero (the KDS hwID is 8 bytes there).
  Bytes chip_id;

  std::uint32_t cpuid_fms() const {
    return CpuidFms(Info(product).family, Info(product).model, stepping);
  }
  // The bytes the KDS calls hwID: all 64, or the first 8 on Turin.
  ByteSpan hw_id() const { return ByteSpan(chip_id).first(Info(product).hwid_size); }
  // kInvalidArgument unless chip_id is 64 bytes, not all zero, and (Turin) zero past byte 8.
  Status Validate() const;
};

// Secrets standing in for the fuses. Never logged; zeroed when freed.
struct ChipFuses {
  SecretBytes hash_stick_root;  // 48 bytes: the root of the versioned key ladder
  SecretBytes chip_unique_key;  // 32 bytes: the legacy SEV CEK source
  Status Validate() const;
};

}  // namespace sevemu::emulator
