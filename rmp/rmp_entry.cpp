#include "sevemu/rmp/rmp_entry.h"

namespace sevemu::rmp {

const char* PageStateName(PageState s) {
  switch (s) {
    case PageState::kDefault:
      return "DEFAULT";
    case PageState::kHypervisor:
      return "HYPERVISOR";
    case PageState::kHvFixed:
      return "HV_FIXED";
    case PageState::kFirmware:
      return "FIRMWARE";
    case PageState::kFirmwareIommu:
      return "FIRMWARE_IOMMU";
    case PageState::kReclaim:
      return "RECLAIM";
    case PageState::kContext:
      return "CONTEXT";
    case PageState::kMetadata:
      return "METADATA";
    case PageState::kPreGuest:
      return "PRE_GUEST";
    case PageState::kPreSwap:
      return "PRE_SWAP";
    case PageState::kGuestInvalid:
      return "GUEST_INVALID";
    case PageState::kGuestValid:
      return "GUEST_VALID";
  }
  return "?";
}

PageState RmpEntry::State() const {
  // Columns: assigned, validated, ASID, immutable, then GPA/VMSA to tell firmware pages apart.
  if (!assigned()) return immutable() ? PageState::kHvFixed : PageState::kHypervisor;
  if (asid() != 0) {
    if (validated()) return immutable() ? PageState::kPreSwap : PageState::kGuestValid;
    return immutable() ? PageState::kPreGuest : PageState::kGuestInvalid;
  }
  if (!immutable()) return PageState::kReclaim;
  if (vmsa()) return PageState::kContext;
  if (gpa() != 0) return PageState::kMetadata;
  return PageState::kFirmware;
}

std::array<std::uint8_t, 16> RmpEntry::Encode() const {
  std::array<std::uint8_t, 16> out{};
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<std::uint8_t>(lo_ >> (8 * i));
    out[8 + i] = static_cast<std::uint8_t>(hi_ >> (8 * i));
  }
  return out;
}

RmpEntry RmpEntry::Decode(const std::array<std::uint8_t, 16>& raw) {
  RmpEntry e;
  for (int i = 7; i >= 0; --i) {
    e.lo_ = e.lo_ << 8 | raw[i];
    e.hi_ = e.hi_ << 8 | raw[8 + i];
  }
  return e;
}

}  // namespace sevemu::rmp
