// Measured direct boot (QEMU's `-kernel/-initrd/-append` with sev-guest / sev-snp-guest
// `kernel-hashes=on`): the VMM hashes the kernel, the initrd and the command line, and puts the
// hashes in a table at the place the firmware image publishes (the SEV hash table entry of its
// GUIDed table, launch/ovmf_image.h), where the launch measures them; OVMF then refuses blobs
// whose hashes differ (OvmfPkg BlobVerifierLibSevHashes).
//
// The table (QEMU target/i386/sev.c SevHashTable / PaddedSevHashTable, OVMF
// SevHashFinderLib.h), all packed, GUIDs in EFI byte order:
//   {GUID 9438d606-4f22-4cc9-b479-a793d411fd21, u16 len = 168,
//    {GUID 97d02dd8-bd20-4c94-aa78-e7714d36ab2a (cmdline), u16 len = 50, u8 sha256[32]},
//    {GUID 44baf731-3a2f-4bd7-9af1-41e29169781d (initrd),  u16 len = 50, u8 sha256[32]},
//    {GUID 4de79437-abd2-427f-b835-d5b172d2045b (kernel),  u16 len = 50, u8 sha256[32]}}
// followed by zero padding to a multiple of 16 bytes (176 in all), because legacy SEV's
// LAUNCH_UPDATE_DATA encrypts 16-byte blocks.
//
// Where it is measured:
//   * legacy SEV / SEV-ES: LAUNCH_UPDATE_DATA of the 176 bytes at the area's base, after the
//     image (QEMU sev_add_kernel_loader_hashes -> sev_encrypt_flash; sev-snp-measure's
//     sev_calc_launch_digest / seves_calc_launch_digest hash the image, the table, the VMSAs);
//   * SNP: the pages of the image's SNP_KERNEL_HASHES metadata section are launched NORMAL,
//     zero but for the table at offset (base mod 4096) from the section's start (QEMU
//     snp_launch_update_kernel_hashes); without a kernel they are launched ZERO.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/launch/ovmf_image.h"

namespace sevemu::launch {

// The three SHA-256 hashes a direct boot publishes.
struct DirectBoot {
  std::array<std::uint8_t, 32> kernel{};
  std::array<std::uint8_t, 32> initrd{};
  std::array<std::uint8_t, 32> cmdline{};
  friend bool operator==(const DirectBoot&, const DirectBoot&) = default;
};

// The hashes as QEMU takes them: the kernel file's bytes, the initrd's (no initrd hashes the
// empty string), and the command line with its terminating NUL (no -append hashes "\0" alone).
// kInvalidArgument if `append` holds a NUL byte (a C string cannot).
Result<DirectBoot> HashDirectBoot(ByteSpan kernel, ByteSpan initrd, std::string_view append);
// The command line's hash alone, by the same rule (for callers that stream the files).
Result<std::array<std::uint8_t, 32>> CmdlineHash(std::string_view append);

constexpr std::size_t kSevHashTableSize = 168;        // sizeof(SevHashTable)
constexpr std::size_t kPaddedSevHashTableSize = 176;  // sizeof(PaddedSevHashTable)

// The padded table, 176 bytes.
Bytes BuildSevHashTable(const DirectBoot& hashes);

// The area a direct boot of `image` fills, with QEMU's checks and messages
// (sev_add_kernel_loader_hashes): kNotFound "SEV: kernel specified but guest firmware has no
// hashes table GUID" without the entry; kInvalidArgument "SEV: guest firmware hashes table area
// is invalid (base=0x.. size=0x..)" if its base is 0 or its size below 176 bytes (Debian's
// OVMF.fd: base=0x0 size=0x0).
Result<SevHashTableArea> DirectBootArea(const OvmfImage& image);

}  // namespace sevemu::launch
