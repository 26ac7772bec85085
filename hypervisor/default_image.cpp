// The built-in guest firmware image: the smallest image with OVMF's layout that a VMM can
// launch as SNP (launch/ovmf_image.h describes the format). Its body is a marker, not code:
// sevemu guests do not execute; they exist to be measured and to talk to the firmware.
#include <cstring>
#include <initializer_list>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu::hypervisor {

namespace {

constexpr std::size_t kImageSize = 64 * 1024;

// GUIDs in image (EFI) byte order: OVMF's table footer, the SEV metadata entry, the SEV-ES
// reset block (OVMF ResetVector/Ia16/ResetVectorVtf0.asm), the SEV launch secret area (QEMU
// target/i386/sev.c SEV_SECRET_GUID).
constexpr std::uint8_t kFooterGuid[16] = {0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                          0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d};
constexpr std::uint8_t kSevMetadataGuid[16] = {0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
                                               0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc};
constexpr std::uint8_t kSevEsResetGuid[16] = {0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
                                              0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e};
constexpr std::uint8_t kSevSecretGuid[16] = {0x61, 0xb3, 0x2e, 0x4c, 0x9b, 0x7d, 0xc3, 0x4c,
                                             0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94};

// Sections as Debian's OVMF.fd (2022.11) places them: pre-validated memory, secrets, CPUID.
struct Section {
  std::uint32_t base, size, type;
};
constexpr Section kSections[] = {
    {0x800000, 0x9000, 1}, {0x80D000, 0x1000, 2}, {0x80E000, 0x1000, 3}};
constexpr std::uint32_t kApResetEip = 0x80B004;
// Where a legacy guest owner's launch secret goes by default: one page in the gap OVMF's
// AmdSev build leaves between the pre-validated memory and the SNP pages.
constexpr std::uint32_t kSecretAreaBase = 0x80A000, kSecretAreaSize = 0x1000;
constexpr std::uint32_t kMetadataOffset = 0x1000;  // from the end of the image
constexpr std::uint32_t kExtraMemoryBase = 0x1000000;

}  // namespace

Bytes DefaultGuestImage() {
  return DefaultGuestImage(0);
}

Bytes DefaultGuestImage(std::uint64_t memory) {
  Bytes img(kImageSize, 0);
  const char marker[] = "sevemu default guest firmware image v1";
  std::memcpy(img.data(), marker, sizeof marker);

  // "ASEV" metadata header and its sections; `memory` adds pre-validated memory above 16 MiB
  // (another SNP_SEC_MEM section, as an OVMF built with more of it has).
  std::vector<Section> sections(std::begin(kSections), std::end(kSections));
  if (memory != 0) sections.push_back({kExtraMemoryBase, static_cast<std::uint32_t>(memory), 1});
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
  img[kImageSize - 50] = static_cast<std::uint8_t>(total);
  img[kImageSize - 49] = static_cast<std::uint8_t>(total >> 8);
  std::memcpy(img.data() + kImageSize - 48, kFooterGuid, 16);
  // The reset vector at 0xFFFFFFF0: a near jump to itself (hlt-like), so the bytes are code.
  img[kImageSize - 16] = 0xEB;
  img[kImageSize - 15] = 0xFE;
  return img;
}

}  // namespace sevemu::hypervisor
