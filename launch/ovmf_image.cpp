#include "sevemu/launch/ovmf_image.h"

#include <array>
#include <cstring>
#include <string>

namespace sevemu::launch {
namespace {

using Guid = std::array<std::uint8_t, 16>;

// A GUID in EFI byte order from its canonical text fields a-b-c-d.
constexpr Guid MakeGuid(std::uint32_t a, std::uint16_t b, std::uint16_t c,
                        std::array<std::uint8_t, 8> d) {
  Guid g{};
  for (int i = 0; i < 4; ++i) g[i] = static_cast<std::uint8_t>(a >> (8 * i));
  for (int i = 0; i < 2; ++i) g[4 + i] = static_cast<std::uint8_t>(b >> (8 * i));
  for (int i = 0; i < 2; ++i) g[6 + i] = static_cast<std::uint8_t>(c >> (8 * i));
  for (int i = 0; i < 8; ++i) g[8 + i] = d[i];
  return g;
}

constexpr Guid kTableFooterGuid =
    MakeGuid(0x96b582de, 0x1fb2, 0x45f7, {0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d});
constexpr Guid kSevMetadataGuid =
    MakeGuid(0xdc886566, 0x984a, 0x4798, {0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc});
constexpr Guid kSevEsResetBlockGuid =
    MakeGuid(0x00f771de, 0x1a7e, 0x4fcb, {0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e});
// QEMU target/i386/sev.c SEV_SECRET_GUID with struct sev_secret_area {u32 base; u32 size;}.
constexpr Guid kSevSecretGuid =
    MakeGuid(0x4c2eb361, 0x7d9b, 0x4cc3, {0x80, 0x81, 0x12, 0x7c, 0x90, 0xd3, 0xd2, 0x94});
// QEMU target/i386/sev.c SEV_HASH_TABLE_RV_GUID with SevHashTableDescriptor {u32 base; u32 size;}.
constexpr Guid kSevHashTableGuid =
    MakeGuid(0x7255371f, 0x3a3b, 0x4b04, {0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54});

constexpr std::size_t kPage = 4096;
constexpr std::size_t kResetVectorBytes = 32;  // the image's last 32 bytes, after the table
constexpr std::size_t kEntryTrailer = 2 + 16;  // u16 length + GUID, after each entry's data
constexpr std::size_t kMetadataHeader = 16;    // "ASEV", len, version, num_desc
constexpr std::size_t kMetadataSection = 12;   // base, size, type

bool GuidAt(ByteSpan bytes, std::size_t off, const Guid& g) {
  return std::memcmp(bytes.data() + off, g.data(), g.size()) == 0;
}

std::uint16_t LoadLe16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "OVMF image: " + what);
}

struct TableEntries {
  std::optional<ByteSpan> sev_metadata;
  std::optional<ByteSpan> sev_es_reset;
  std::optional<ByteSpan> sev_secret;
  std::optional<ByteSpan> sev_hash_table;
};

// Walks the GUIDed table backwards from its footer. Entries with GUIDs we do not use are
// skipped: OVMF also lists its SEV-ES workarea, SVSM information and more there.
Result<TableEntries> ReadTable(ByteSpan img) {
  const std::size_t footer = img.size() - kResetVectorBytes - 16;
  if (!GuidAt(img, footer, kTableFooterGuid)) {
    return Error(ErrorCode::kNotFound, "OVMF image: no GUIDed table footer");
  }
  const std::size_t table_len = LoadLe16(img.data() + footer - 2);
  const std::size_t table_end = footer + 16;
  if (table_len < kEntryTrailer || table_len > table_end) {
    return Corrupt("GUIDed table length " + std::to_string(table_len) + " out of bounds");
  }
  const std::size_t table_begin = table_end - table_len;
  std::size_t end = footer - 2;  // the footer's own trailer is not an entry
  TableEntries out;
  while (end - table_begin >= kEntryTrailer) {
    const std::size_t len = LoadLe16(img.data() + end - kEntryTrailer);
    if (len < kEntryTrailer || len > end - table_begin) {
      return Corrupt("GUIDed table entry length " + std::to_string(len) + " out of bounds");
    }
    const ByteSpan data = img.subspan(end - len, len - kEntryTrailer);
    const std::size_t guid = end - 16;
    if (GuidAt(img, guid, kSevMetadataGuid)) out.sev_metadata = data;
    if (GuidAt(img, guid, kSevEsResetBlockGuid)) out.sev_es_reset = data;
    if (GuidAt(img, guid, kSevSecretGuid)) out.sev_secret = data;
    if (GuidAt(img, guid, kSevHashTableGuid)) out.sev_hash_table = data;
    end -= len;
  }
  if (end != table_begin) return Corrupt("GUIDed table has trailing bytes before its entries");
  return out;
}

Result<SevSectionType> SectionType(std::uint32_t raw) {
  switch (raw) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 0x10:
      return static_cast<SevSectionType>(raw);
    default:
      return Corrupt("unknown SEV metadata section type " + std::to_string(raw));
  }
}

Result<std::vector<SevMetadataSection>> ReadMetadata(ByteSpan img, ByteSpan entry) {
  if (entry.size() < 4) return Corrupt("SEV metadata entry shorter than 4 bytes");
  const std::uint32_t offset = LoadLe32(entry.data());
  if (offset > img.size() || offset < kMetadataHeader) {
    return Corrupt("SEV metadata offset " + std::to_string(offset) + " out of bounds");
  }
  const ByteSpan md = img.subspan(img.size() - offset);
  if (std::memcmp(md.data(), "ASEV", 4) != 0) return Corrupt("SEV metadata lacks \"ASEV\"");
  const std::uint32_t len = LoadLe32(md.data() + 4);
  const std::uint32_t version = LoadLe32(md.data() + 8);
  const std::uint32_t count = LoadLe32(md.data() + 12);
  if (version != 1) return Corrupt("SEV metadata version " + std::to_string(version));
  // 64-bit arithmetic: count * 12 cannot wrap, so a huge count fails here, not later.
  const std::uint64_t need = kMetadataHeader + std::uint64_t{count} * kMetadataSection;
  if (len < need || len > md.size()) {
    return Corrupt("SEV metadata length " + std::to_string(len) + " does not fit its " +
                   std::to_string(count) + " sections");
  }
  std::vector<SevMetadataSection> out;
  out.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* d = md.data() + kMetadataHeader + i * kMetadataSection;
    SevMetadataSection s;
    s.base = LoadLe32(d);
    s.size = LoadLe32(d + 4);
    SEVEMU_ASSIGN_OR_RETURN(s.type, SectionType(LoadLe32(d + 8)));
    // Sections are launched page by page, so anything but whole pages below 4 GiB is unusable.
    if (s.base % kPage != 0 || s.size % kPage != 0 || s.size == 0 ||
        std::uint64_t{s.base} + s.size > (std::uint64_t{1} << 32)) {
      return Corrupt("SEV metadata section " + std::to_string(i) +
                     " is not whole pages below 4 GiB");
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace

const char* SevSectionTypeName(SevSectionType t) {
  switch (t) {
    case SevSectionType::kSnpSecMem:
      return "SNP_SEC_MEM";
    case SevSectionType::kSnpSecrets:
      return "SNP_SECRETS";
    case SevSectionType::kCpuid:
      return "CPUID";
    case SevSectionType::kSvsmCaa:
      return "SVSM_CAA";
    case SevSectionType::kSnpKernelHashes:
      return "SNP_KERNEL_HASHES";
  }
  return "UNKNOWN";
}

namespace {

Result<OvmfImage> ParseImage(ByteSpan bytes, bool need_metadata) {
  if (bytes.empty() || bytes.size() % kPage != 0 || bytes.size() > kMaxOvmfImageSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "OVMF image: size " + std::to_string(bytes.size()) +
                     " is not a non-zero multiple of 4 KiB up to 16 MiB");
  }
  SEVEMU_ASSIGN_OR_RETURN(TableEntries entries, ReadTable(bytes));
  if (!entries.sev_metadata && need_metadata) {
    return Error(ErrorCode::kNotFound, "OVMF image: no SEV metadata entry (not an SEV build)");
  }
  OvmfImage out;
  if (entries.sev_metadata) {
    SEVEMU_ASSIGN_OR_RETURN(out.sections, ReadMetadata(bytes, *entries.sev_metadata));
  }
  if (entries.sev_es_reset) {
    if (entries.sev_es_reset->size() < 4) return Corrupt("SEV-ES reset block shorter than 4 bytes");
    out.sev_es_reset_eip = LoadLe32(entries.sev_es_reset->data());
  }
  if (entries.sev_secret) {
    if (entries.sev_secret->size() < 8)
      return Corrupt("SEV secret area entry shorter than 8 bytes");
    const SevSecretArea area{LoadLe32(entries.sev_secret->data()),
                             LoadLe32(entries.sev_secret->data() + 4)};
    // OVMF builds without a launch secret (not OvmfPkg/AmdSev) carry the entry as zeros.
    if (area.base != 0 || area.size != 0) {
      if (area.size == 0 || std::uint64_t{area.base} + area.size > (std::uint64_t{1} << 32)) {
        return Corrupt("SEV secret area is empty or crosses 4 GiB");
      }
      out.sev_secret_area = area;
    }
  }
  if (entries.sev_hash_table) {
    if (entries.sev_hash_table->size() < 8)
      return Corrupt("SEV hash table entry shorter than 8 bytes");
    // Kept as published, zeros included: whether the area is usable is the launch's question
    // (QEMU asks it only when a kernel is given; launch/kernel_hashes.h).
    out.sev_hash_table_area = SevHashTableArea{LoadLe32(entries.sev_hash_table->data()),
                                               LoadLe32(entries.sev_hash_table->data() + 4)};
  }
  out.image.assign(bytes.begin(), bytes.end());
  return out;
}

}  // namespace

Result<OvmfImage> ParseOvmfImage(ByteSpan bytes) {
  return ParseImage(bytes, true);
}

Result<OvmfImage> ParseLegacyOvmfImage(ByteSpan bytes) {
  return ParseImage(bytes, false);
}

}  // namespace sevemu::launch
