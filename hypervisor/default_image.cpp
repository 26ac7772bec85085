// The built-in guest firmware images the host launches when a launch names none
// (launch/builtin_image.h builds them).
#include "sevemu/hypervisor/host.h"
#include "sevemu/launch/builtin_image.h"

namespace sevemu::hypervisor {

Bytes DefaultGuestImage() {
  return launch::BuiltinGuestImage(launch::BuiltinImage::kPlain);
}

Bytes DefaultGuestImage(std::uint64_t memory) {
  return launch::BuiltinGuestImage(launch::BuiltinImage::kPlain, memory);
}

Bytes DefaultDirectBootImage() {
  return launch::BuiltinGuestImage(launch::BuiltinImage::kDirectBoot);
}

}  // namespace sevemu::hypervisor
