// OVMF firmware images as a VMM sees them before an SEV-SNP launch: the GUIDed table at the end
// of the image and the SEV metadata it points to.
//
// The table (OVMF `ResetVector/Ia16/ResetVectorVtf0.asm`, QEMU `hw/i386/pc_sysfw_ovmf.c`): the
// last 32 bytes of the image are the reset vector; the 16 bytes before them are the footer GUID
// 96b582de-1fb2-45f7-baea-a366c55a082d, preceded by a u16 total table length. Entries run
// backwards from there, each laid out as [data][u16 length][GUID], length counting all three.
// GUIDs are stored in EFI byte order (first three fields little-endian).
//
// The SEV metadata entry (dc886566-984a-4798-a75e-5585a7bf67cc) holds a u32 offset from the end
// of the image to the "ASEV" header {char sig[4], u32 len, u32 version, u32 num_desc}, followed by
// num_desc sections {u32 base, u32 size, u32 type}. The SEV-ES reset block entry
// (00f771de-1a7e-4fcb-890e-68c77e2fb44e) holds the u32 address where APs start. The SEV secret
// entry (4c2eb361-7d9b-4cc3-8081-127c90d3d294; QEMU target/i386/sev.c SEV_SECRET_GUID) holds
// {u32 base, u32 size} of the area a legacy launch secret goes to by default (OvmfPkg/AmdSev
// builds; other builds carry it as zeros). The SEV hash table entry
// (7255371f-3a3b-4b04-927b-1da6efa8d454; QEMU target/i386/sev.c SEV_HASH_TABLE_RV_GUID) holds
// {u32 base, u32 size} of the area where a VMM doing measured direct boot puts the kernel,
// initrd and command-line hashes (launch/kernel_hashes.h); Debian's OVMF.fd carries it as zeros.
//
// Thread safety: plain value types and a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::launch {

// Section types of the SEV metadata (OVMF `ResetVector/X64/OvmfSevMetadata.asm`, QEMU
// `target/i386/sev.c` SEV_DESC_TYPE_*).
// Values are read from firmware images: never change them.
enum class SevSectionType : std::uint32_t {
  kSnpSecMem = 1,           // memory the guest accepts pre-validated (launched as ZERO)
  kSnpSecrets = 2,          // the SNP secrets page
  kCpuid = 3,               // the SNP CPUID page
  kSvsmCaa = 4,             // the SVSM calling area
  kSnpKernelHashes = 0x10,  // the kernel/initrd/cmdline hashes table
};
const char* SevSectionTypeName(SevSectionType t);

struct SevMetadataSection {
  std::uint32_t base = 0;  // guest physical address, 4 KiB aligned
  std::uint32_t size = 0;  // bytes, a non-zero multiple of 4 KiB; base + size <= 4 GiB
  SevSectionType type = SevSectionType::kSnpSecMem;
  friend bool operator==(const SevMetadataSection&, const SevMetadataSection&) = default;
};

struct SevSecretArea {
  std::uint32_t base = 0;  // guest physical address
  std::uint32_t size = 0;
  friend bool operator==(const SevSecretArea&, const SevSecretArea&) = default;
};

struct SevHashTableArea {
  std::uint32_t base = 0;  // guest physical address; 0 in builds without the area
  std::uint32_t size = 0;
  friend bool operator==(const SevHashTableArea&, const SevHashTableArea&) = default;
};

struct OvmfImage {
  Bytes image;                               // the whole image, mapped so that it ends at 4 GiB
  std::vector<SevMetadataSection> sections;  // in metadata order (the order a VMM launches them)
  // Where APs start (from the SEV-ES reset block); absent in images that only boot one vCPU.
  std::optional<std::uint32_t> sev_es_reset_eip;
  // Where QEMU's sev-inject-launch-secret puts a secret when not told a GPA.
  std::optional<SevSecretArea> sev_secret_area;
  // The SEV hash table entry as published (zeros included); absent without the entry.
  std::optional<SevHashTableArea> sev_hash_table_area;

  // Guest physical address of the image's first byte.
  std::uint64_t Gpa() const { return (std::uint64_t{1} << 32) - image.size(); }
};

// The largest image accepted; real OVMF builds are 2-4 MiB. Bounds the work one input can cause.
constexpr std::size_t kMaxOvmfImageSize = 16u << 20;

// Parses `bytes` as an OVMF image with SEV metadata. A pure function of its input (fuzzable):
// on success the OvmfImage holds a copy of the bytes. Errors:
//   kInvalidArgument  size is 0, not a multiple of 4 KiB, or above kMaxOvmfImageSize;
//   kNotFound         no GUIDed table footer, or no SEV metadata entry in the table;
//   kCorrupt          the table, an entry, the metadata header or a section is malformed
//                     (lengths out of bounds, bad "ASEV" signature, version other than 1,
//                     unknown section type, unaligned, empty or overflowing section, a
//                     secret area entry shorter than 8 bytes, empty or crossing 4 GiB, a
//                     hash table entry shorter than 8 bytes).
Result<OvmfImage> ParseOvmfImage(ByteSpan bytes);
// The same for a legacy SEV / SEV-ES launch, which needs no SEV metadata (older and non-SNP
// OVMF builds have none): `sections` is then empty. Metadata that is present is still checked.
Result<OvmfImage> ParseLegacyOvmfImage(ByteSpan bytes);

}  // namespace sevemu::launch
