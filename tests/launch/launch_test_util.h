// Firmware images for the launch tests: a synthetic OVMF built byte by byte from the published
// table/metadata format, and the reference Debian OVMF.fd named by fixtures/launch/digests.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/crypto/hash.h"
#include "test_util.h"

namespace sevemu::test {

// GUIDs in the byte order they have inside an image (EFI: first three fields little-endian).
inline const char* const kFooterGuidHex = "de82b596b21ff745baeaa366c55a082d";
inline const char* const kSevMetadataGuidHex = "666588dc4a989847a75e5585a7bf67cc";
inline const char* const kSevEsResetGuidHex = "de71f7007e1acb4f890e68c77e2fb44e";
// SEV_HASH_TABLE_RV_GUID 7255371f-3a3b-4b04-927b-1da6efa8d454 (QEMU target/i386/sev.c).
inline const char* const kSevHashTableGuidHex = "1f3755723b3a044b927b1da6efa8d454";

// The error message of a failed Result, "" otherwise. doctest evaluates *_MESSAGE arguments
// even for passing assertions under --success, so they must not call error() on a success.
template <typename T>
std::string ErrorText(const Result<T>& r) {
  return r.ok() ? std::string() : r.error().message();
}

struct MetadataSectionSpec {
  std::uint32_t base, size, type;
};

// Describes a synthetic image; Build() lays it out. Fields are public so that tests can spoil
// one thing at a time.
struct SyntheticOvmf {
  std::size_t size = 64 * 1024;
  bool footer = true;
  std::optional<std::uint16_t> table_len;        // overrides the computed total length
  std::vector<std::pair<Bytes, Bytes>> entries;  // (GUID, data), first entry lowest in memory
  std::uint32_t metadata_offset = 0x1000;        // from the end of the image
  Bytes metadata;

  static Bytes Le32(std::uint32_t v) {
    Bytes b(4);
    StoreLe32(b.data(), v);
    return b;
  }

  // The standard shape: metadata entry + SEV-ES reset block, four sections.
  static SyntheticOvmf Valid() {
    SyntheticOvmf s;
    s.metadata = Metadata(1, {{0x800000, 0x9000, 1},
                              {0x80D000, 0x1000, 2},
                              {0x80E000, 0x1000, 3},
                              {0x80F000, 0x1000, 0x10}});
    s.entries.push_back({Hex(kSevEsResetGuidHex), Le32(0x80B004)});
    s.entries.push_back({Hex(kSevMetadataGuidHex), Le32(s.metadata_offset)});
    return s;
  }

  static Bytes Metadata(std::uint32_t version, const std::vector<MetadataSectionSpec>& sections) {
    Bytes md = {'A', 'S', 'E', 'V'};
    auto append = [&md](std::uint32_t v) {
      const Bytes b = Le32(v);
      md.insert(md.end(), b.begin(), b.end());
    };
    append(static_cast<std::uint32_t>(16 + 12 * sections.size()));
    append(version);
    append(static_cast<std::uint32_t>(sections.size()));
    for (const auto& s : sections) {
      append(s.base);
      append(s.size);
      append(s.type);
    }
    return md;
  }

  Bytes Build() const {
    Bytes img(size, 0);
    if (size < 0x2000) return img;  // too small to hold anything; for the size-check rows
    const std::size_t md_at = size - metadata_offset;
    for (std::size_t i = 0; i < metadata.size() && md_at + i < size; ++i)
      img[md_at + i] = metadata[i];
    std::size_t end = size - 32 - 18;  // entries end where the footer's length field starts
    std::size_t total = 18;
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      const auto& [guid, data] = *it;
      const std::size_t len = data.size() + 18;
      std::copy(guid.begin(), guid.end(), img.begin() + static_cast<std::ptrdiff_t>(end - 16));
      img[end - 18] = static_cast<std::uint8_t>(len);
      img[end - 17] = static_cast<std::uint8_t>(len >> 8);
      std::copy(data.begin(), data.end(), img.begin() + static_cast<std::ptrdiff_t>(end - len));
      end -= len;
      total += len;
    }
    const std::uint16_t tl = table_len.value_or(static_cast<std::uint16_t>(total));
    img[size - 50] = static_cast<std::uint8_t>(tl);
    img[size - 49] = static_cast<std::uint8_t>(tl >> 8);
    if (footer) {
      const Bytes g = Hex(kFooterGuidHex);
      std::copy(g.begin(), g.end(), img.begin() + static_cast<std::ptrdiff_t>(size - 48));
    }
    return img;
  }
};

// The reference image of fixtures/launch/digests.json, or nullopt (after a MESSAGE saying why)
// when this machine's copy is missing or differs: the known answers hold for that image only.
inline std::optional<Bytes> LoadReferenceOvmf(const nlohmann::json& fixture) {
  const std::string path = fixture["ovmf"]["path"];
  const std::string want = fixture["ovmf"]["sha256"];
  if (!std::filesystem::exists(path)) {
    MESSAGE("SKIPPED: " << path << " is missing (Debian package ovmf 2022.11-6+deb12u2)");
    return std::nullopt;
  }
  const std::string text = ReadText(path);
  const Bytes image(text.begin(), text.end());
  auto digest = crypto::Sha256(image);
  REQUIRE(digest.ok());
  if (HexEncode(*digest) != want) {
    MESSAGE("SKIPPED: " << path << " has sha256 " << HexEncode(*digest) << ", the fixtures need "
                        << want);
    return std::nullopt;
  }
  return image;
}

}  // namespace sevemu::test
