#include "sevemu/launch/builtin_image.h"

#include <cstring>
#include <initializer_list>
#include <vector>

namespace sevemu::launch {

namespace {

constexpr std::size_t kImageSize = 64 * 1024;

// GUIDs in image (EFI) byte order: OVMF's table footer, the SEV metadata entry, the SEV-ES
// reset block (OVMF ResetVector/Ia16/ResetVectorVtf0.asm), the SEV launch secret area and the
// SEV hash table area (QEMU target/i386/sev.c SEV_SECRET_GUID, SEV_HASH_TABLE_RV_GUID).
constexpr std::uint8_t kFooterGuid[16] = {0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                          0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d};
constexpr std::uint8_t kSevMetadataGuid[16] = {0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                               0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc};
constexpr std::uint8_t kSevEsResetGuid[16] = {0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
                                              0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e};
constexpr std::uint8_t kSevSecretGuid[16] = {0x61, 0xb3, 0x2e, 0x4c, 0x9b, 0x7d, 0xc3, 0x4c,
                                             0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94};
constexpr std::uint8_t kSevHashTableGuid[16] = {0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b,
                                                0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54};

struct Section {
  std::uint32_t base, size, type;
};
// Sections as Debian's OVMF.fd (2022.11) places them: pre-validated memory, secrets, CPUID.
constexpr Section kSections[] = {
    {0x800000, 0x9000, 1}, {0x80D000, 0x1000, 2}, {0x80E000, 0x1000, 3}};
// The direct-boot variant's SNP_KERNEL_HASHES section (type 0x10) and the hash table area in it.
constexpr Section kKernelHashesSection = {0x80C000, 0x1000, 0x10};
constexpr std::uint32_t kHashTableBase = 0x80C400, kHashTableSize = 0xC00;
constexpr std::uint32_t kApResetEip = 0x80B004;
// Where a legacy guest owner's launch secret goes by default: one page in the gap OVMF's
// AmdSev build leaves between the pre-validated memory and the SNP pages.
constexpr std::uint32_t kSecretAreaBase = 0x80A000, kSecretAreaSize = 0x1000;
constexpr std::uint32_t kMetadataOffset = 0x1000;  // from the end of the image
constexpr std::uint32_t kExtraMemoryBase = 0x1000000;

}  // namespace

Bytes BuiltinGuestImage(BuiltinImage variant, std::uint64_t memory) {
  const bool direct_boot = variant == BuiltinImage::kDirectBoot;
  Bytes img(kImageSize, 0);
  // The plain image's marker is unchanged since v1: its bytes are what its digests cover.
  const char* marker = direct_boot ? "sevemu default guest firmware image v1, direct boot"
                                   : "sevemu default guest firmware image v1";
  std::memcpy(img.data(), marker, std::strlen(marker) + 1);

  std::vector<Section> sections(std::begin(kSections), std::end(kSections));
  if (direct_boot) sections.push_back(kKernelHashesSection);
  if (memory != 0) sections.push_back({kExtraMemoryBase, static_cast<std::uint32_t>(memory), 1});
  // "ASEV" metadata header and its sections.
  std::uint8_t* md = img.data() + kImageSize - kMetadataOffset;
  std::memcpy(md, "ASEV", 4);
  StoreLe32(md + 4, static_cast<std::uint32_t>(16 + 12 * sections.size()));
  StoreLe32(md + 8, 1);
  StoreLe32(md + 12, static_cast<std::uint32_t>(sections.size()));
  for (std::size_t i = 0; i < sections.size(); ++i) {
    StoreLe32(md + 16 + 12 * i, sections[i].base);
    StoreLe32(md + 20 + 12 * i, sections[i].size);
    StoreLe32(md + 24 + 12 * i, sections[i].type);
  }

  // The GUIDed table, growing down from the footer: [data][u16 len][GUID] per entry.
  std::size_t end = kImageSize - 32 - 18;  // entries end where the table length field starts
  std::size_t total = 18;
  auto entry = [&](const std::uint8_t(&guid)[16], std::initializer_list<std::uint32_t> values) {
    const std::size_t len = 4 * values.size() + 18;
    std::memcpy(img.data() + end - 16, guid, 16);
    img[end - 18] = static_cast<std::uint8_t>(len);
    img[end - 17] = 0;
    std::size_t at = end - len;
    for (std::uint32_t v : values) {
      StoreLe32(img.data() + at, v);
      at += 4;
    }
    end -= len;
    total += len;
  };
  entry(kSevMetadataGuid, {kMetadataOffset});  // nearest the footer
  entry(kSevEsResetGuid, {kApResetEip});
  entry(kSevSecretGuid, {kSecretAreaBase, kSecretAreaSize});
  if (direct_boot) entry(kSevHashTableGuid, {kHashTableBase, kHashTableSize});
  img[kImageSize - 50] = static_cast<std::uint8_t>(total);
  img[kImageSize - 49] = static_cast<std::uint8_t>(total >> 8);
  std::memcpy(img.data() + kImageSize - 48, kFooterGuid, 16);
  // The reset vector at 0xFFFFFFF0: a near jump to itself (hlt-like), so the bytes are code.
  img[kImageSize - 16] = 0xEB;
  img[kImageSize - 15] = 0xFE;
  return img;
}

}  // namespace sevemu::launch
