#include "sevemu/emulator/snp/launch_digest.h"

#include <cstring>

#include "sevemu/crypto/hash.h"

namespace sevemu::emulator {

std::array<std::uint8_t, kPageInfoSize> PageInfo(const LaunchDigest& current,
                                                 const std::array<std::uint8_t, 48>& contents,
                                                 const PageInfoInput& in) {
  std::array<std::uint8_t, kPageInfoSize> pi{};
  std::memcpy(pi.data(), current.data(), 48);
  std::memcpy(pi.data() + 0x30, contents.data(), 48);
  pi[0x60] = static_cast<std::uint8_t>(kPageInfoSize);  // LENGTH, u16 LE
  pi[0x61] = 0;
  pi[0x62] = static_cast<std::uint8_t>(in.type);
  pi[0x63] = in.imi_page ? 1 : 0;
  pi[0x64] = 0;
  pi[0x65] = in.vmpl1_perms;
  pi[0x66] = in.vmpl2_perms;
  pi[0x67] = in.vmpl3_perms;
  StoreLe64(pi.data() + 0x68, in.gpa);
  return pi;
}

Result<std::array<std::uint8_t, 48>> PageContents(PageType type, ByteSpan page) {
  std::array<std::uint8_t, 48> out{};
  if (type != PageType::kNormal && type != PageType::kVmsa) return out;
  if (page.size() != 4096) return Error(ErrorCode::kInvalidArgument, "page must be 4 KiB");
  Bytes copy(page.begin(), page.end());
  if (type == PageType::kVmsa) {
    std::memset(copy.data() + 0x2F0, 0, 16);  // GUEST_TSC_SCALE, GUEST_TSC_OFFSET
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes digest, crypto::Sha384(copy));
  std::memcpy(out.data(), digest.data(), 48);
  return out;
}

Result<LaunchDigest> ExtendLaunchDigest(const LaunchDigest& digest, ByteSpan page,
                                        const PageInfoInput& in) {
  SEVEMU_ASSIGN_OR_RETURN(auto contents, PageContents(in.type, page));
  const auto pi = PageInfo(digest, contents, in);
  SEVEMU_ASSIGN_OR_RETURN(Bytes next, crypto::Sha384(pi));
  LaunchDigest out{};
  std::memcpy(out.data(), next.data(), 48);
  return out;
}

}  // namespace sevemu::emulator
