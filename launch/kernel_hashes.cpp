#include "sevemu/launch/kernel_hashes.h"

#include <cstdio>
#include <cstring>

#include "sevemu/crypto/hash.h"

namespace sevemu::launch {
namespace {

// GUIDs in image (EFI) byte order: QEMU target/i386/sev.c sev_hash_table_header_guid,
// sev_cmdline_entry_guid, sev_initrd_entry_guid, sev_kernel_entry_guid (OVMF
// SevHashFinderLib.h lists the same four).
constexpr std::uint8_t kTableGuid[16] = {0x06, 0xd6, 0x38, 0x94, 0x22, 0x4f, 0xc9, 0x4c,
                                         0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21};
constexpr std::uint8_t kCmdlineGuid[16] = {0xd8, 0x2d, 0xd0, 0x97, 0x20, 0xbd, 0x94, 0x4c,
                                           0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a};
constexpr std::uint8_t kInitrdGuid[16] = {0x31, 0xf7, 0xba, 0x44, 0x2f, 0x3a, 0xd7, 0x4b,
                                          0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d};
constexpr std::uint8_t kKernelGuid[16] = {0x37, 0x94, 0xe7, 0x4d, 0xd2, 0xab, 0x7f, 0x42,
                                          0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b};
constexpr std::size_t kEntrySize = 16 + 2 + 32;  // sizeof(SevHashTableEntry)

Result<std::array<std::uint8_t, 32>> Sha256Of(ByteSpan data) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes d, crypto::Sha256(data));
  std::array<std::uint8_t, 32> out{};
  std::memcpy(out.data(), d.data(), out.size());
  return out;
}

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

Result<std::array<std::uint8_t, 32>> CmdlineHash(std::string_view append) {
  if (append.find('\0') != std::string_view::npos) {
    return Error(ErrorCode::kInvalidArgument, "the kernel command line holds a NUL byte");
  }
  Bytes cmdline(append.begin(), append.end());
  cmdline.push_back(0);
  return Sha256Of(cmdline);
}

Result<DirectBoot> HashDirectBoot(ByteSpan kernel, ByteSpan initrd, std::string_view append) {
  DirectBoot out;
  SEVEMU_ASSIGN_OR_RETURN(out.cmdline, CmdlineHash(append));
  SEVEMU_ASSIGN_OR_RETURN(out.kernel, Sha256Of(kernel));
  SEVEMU_ASSIGN_OR_RETURN(out.initrd, Sha256Of(initrd));
  return out;
}

Bytes BuildSevHashTable(const DirectBoot& hashes) {
  Bytes t(kPaddedSevHashTableSize, 0);
  std::uint8_t* p = t.data();
  auto header = [&p](const std::uint8_t(&guid)[16], std::size_t len) {
    std::memcpy(p, guid, 16);
    p[16] = static_cast<std::uint8_t>(len);
    p[17] = static_cast<std::uint8_t>(len >> 8);
    p += 18;
  };
  header(kTableGuid, kSevHashTableSize);
  // Entry order is the struct's: cmdline, initrd, kernel.
  for (const auto& [guid, hash] :
       {std::pair{&kCmdlineGuid, &hashes.cmdline}, std::pair{&kInitrdGuid, &hashes.initrd},
        std::pair{&kKernelGuid, &hashes.kernel}}) {
    header(*guid, kEntrySize);
    std::memcpy(p, hash->data(), hash->size());
    p += hash->size();
  }
  return t;  // the padding stays zero, as QEMU zeroes it "so the measurement can be reliably
             // calculated"
}

Result<SevHashTableArea> DirectBootArea(const OvmfImage& image) {
  if (!image.sev_hash_table_area) {
    return Error(ErrorCode::kNotFound,
                 "SEV: kernel specified but guest firmware has no hashes table GUID");
  }
  const SevHashTableArea a = *image.sev_hash_table_area;
  if (a.base == 0 || a.size < kPaddedSevHashTableSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "SEV: guest firmware hashes table area is invalid (base=" + Hex32(a.base) +
                     " size=" + Hex32(a.size) + ")");
  }
  return a;
}

}  // namespace sevemu::launch
