#include "sevemu/launch/ovmf_image.h"

#include <doctest/doctest.h>

#include "launch_test_util.h"

namespace sevemu {
namespace {

using launch::ParseOvmfImage;
using launch::SevMetadataSection;
using launch::SevSectionType;
using test::SyntheticOvmf;

void SetMetadataWord(SyntheticOvmf& s, std::size_t off, std::uint32_t v) {
  StoreLe32(s.metadata.data() + off, v);
}

}  // namespace

TEST_CASE("a synthetic OVMF image parses into its sections and AP reset address") {
  const Bytes img = SyntheticOvmf::Valid().Build();
  auto r = ParseOvmfImage(img);
  REQUIRE_MESSAGE(r.ok(), test::ErrorText(r));
  CHECK(r->image == img);
  CHECK(r->Gpa() == 0x100000000ull - img.size());
  REQUIRE(r->sev_es_reset_eip.has_value());
  CHECK(*r->sev_es_reset_eip == 0x80B004);
  const std::vector<SevMetadataSection> want = {
      {0x800000, 0x9000, SevSectionType::kSnpSecMem},
      {0x80D000, 0x1000, SevSectionType::kSnpSecrets},
      {0x80E000, 0x1000, SevSectionType::kCpuid},
      {0x80F000, 0x1000, SevSectionType::kSnpKernelHashes},
  };
  CHECK(r->sections == want);
  CHECK(std::string(launch::SevSectionTypeName(SevSectionType::kCpuid)) == "CPUID");
}

TEST_CASE("the SEV-ES reset block is optional; unknown table entries are skipped") {
  SyntheticOvmf s = SyntheticOvmf::Valid();
  s.entries.erase(s.entries.begin());  // drop the reset block
  s.entries.insert(s.entries.begin(), {test::Hex("00112233445566778899aabbccddeeff"), Bytes(7, 1)});
  auto r = ParseOvmfImage(s.Build());
  REQUIRE_MESSAGE(r.ok(), test::ErrorText(r));
  CHECK_FALSE(r->sev_es_reset_eip.has_value());
  CHECK(r->sections.size() == 4);
}

TEST_CASE("malformed OVMF images give typed errors") {
  struct Row {
    const char* rule;
    void (*spoil)(SyntheticOvmf&);
    ErrorCode want;
  };
  const Row rows[] = {
      {"empty image", [](SyntheticOvmf& s) { s.size = 0; }, ErrorCode::kInvalidArgument},
      {"not whole pages", [](SyntheticOvmf& s) { s.size += 1; }, ErrorCode::kInvalidArgument},
      {"above 16 MiB", [](SyntheticOvmf& s) { s.size = (16u << 20) + 4096; },
       ErrorCode::kInvalidArgument},
      {"one page, no footer", [](SyntheticOvmf& s) { s.size = 4096; }, ErrorCode::kNotFound},
      {"no footer GUID", [](SyntheticOvmf& s) { s.footer = false; }, ErrorCode::kNotFound},
      {"table shorter than its footer", [](SyntheticOvmf& s) { s.table_len = 17; },
       ErrorCode::kCorrupt},
      {"table bigger than the image", [](SyntheticOvmf& s) { s.table_len = 0xFFFF; },
       ErrorCode::kCorrupt},
      // The valid table is 62 bytes: footer trailer 18, metadata entry 22, reset block entry 22.
      {"table length leaves a stub", [](SyntheticOvmf& s) { s.table_len = 62 + 3; },
       ErrorCode::kCorrupt},
      {"entry length below 18", [](SyntheticOvmf& s) { s.table_len = 62 + 18; },
       ErrorCode::kCorrupt},
      {"entry length beyond the table", [](SyntheticOvmf& s) { s.table_len = 18 + 22 + 18; },
       ErrorCode::kCorrupt},
      {"no SEV metadata entry", [](SyntheticOvmf& s) { s.entries.pop_back(); },
       ErrorCode::kNotFound},
      {"metadata entry too short", [](SyntheticOvmf& s) { s.entries.back().second = Bytes(2, 0); },
       ErrorCode::kCorrupt},
      {"reset block too short", [](SyntheticOvmf& s) { s.entries.front().second = Bytes(3, 0); },
       ErrorCode::kCorrupt},
      {"hash table area entry too short",
       [](SyntheticOvmf& s) {
         s.entries.insert(s.entries.begin(), {test::Hex(test::kSevHashTableGuidHex), Bytes(7, 0)});
       },
       ErrorCode::kCorrupt},
      {"metadata offset beyond the image",
       [](SyntheticOvmf& s) { s.entries.back().second = SyntheticOvmf::Le32(0x10001); },
       ErrorCode::kCorrupt},
      {"metadata offset inside the header",
       [](SyntheticOvmf& s) { s.entries.back().second = SyntheticOvmf::Le32(15); },
       ErrorCode::kCorrupt},
      {"metadata signature", [](SyntheticOvmf& s) { s.metadata[0] = 'X'; }, ErrorCode::kCorrupt},
      {"metadata version 2", [](SyntheticOvmf& s) { SetMetadataWord(s, 8, 2); },
       ErrorCode::kCorrupt},
      {"section count overflows", [](SyntheticOvmf& s) { SetMetadataWord(s, 12, 0xFFFFFFFF); },
       ErrorCode::kCorrupt},
      {"metadata length too small", [](SyntheticOvmf& s) { SetMetadataWord(s, 4, 16); },
       ErrorCode::kCorrupt},
      {"metadata length past the image", [](SyntheticOvmf& s) { SetMetadataWord(s, 4, 0x1001); },
       ErrorCode::kCorrupt},
      {"unknown section type", [](SyntheticOvmf& s) { SetMetadataWord(s, 16 + 8, 5); },
       ErrorCode::kCorrupt},
      {"unaligned section base", [](SyntheticOvmf& s) { SetMetadataWord(s, 16, 0x800010); },
       ErrorCode::kCorrupt},
      {"unaligned section size", [](SyntheticOvmf& s) { SetMetadataWord(s, 20, 0x9001); },
       ErrorCode::kCorrupt},
      {"empty section", [](SyntheticOvmf& s) { SetMetadataWord(s, 20, 0); }, ErrorCode::kCorrupt},
      {"section past 4 GiB",
       [](SyntheticOvmf& s) {
         SetMetadataWord(s, 16, 0xFFFFF000);
         SetMetadataWord(s, 20, 0x2000);
       },
       ErrorCode::kCorrupt},
  };
  for (const Row& row : rows) {
    SUBCASE(row.rule) {
      SyntheticOvmf s = SyntheticOvmf::Valid();
      row.spoil(s);
      auto r = ParseOvmfImage(s.Build());
      REQUIRE_FALSE(r.ok());
      CHECK_MESSAGE(r.error().code() == row.want, r.error().message());
    }
  }
}

TEST_CASE("every byte of the table and metadata may be garbage without a crash") {
  const Bytes good = SyntheticOvmf::Valid().Build();
  // The region a parser reads: metadata (0x1000 from the end) through the last byte.
  for (std::size_t i = good.size() - 0x1000; i < good.size(); ++i) {
    for (std::uint8_t v : {std::uint8_t{0x00}, std::uint8_t{0xFF}, std::uint8_t{0x7F}}) {
      Bytes img = good;
      img[i] = v;
      auto r = ParseOvmfImage(img);
      if (r.ok()) CHECK(r->image == img);  // whatever parses, parses to a consistent value
    }
  }
}

TEST_CASE("truncated copies of the reference OVMF image are rejected") {
  const auto fixture = test::LoadJsonFixture("launch/digests.json");
  const auto image = test::LoadReferenceOvmf(fixture);
  if (!image) return;
  REQUIRE(ParseOvmfImage(*image).ok());
  for (std::size_t len = 0; len < image->size(); len += 4096) {
    auto r = ParseOvmfImage(ByteSpan(*image).first(len));
    CHECK_FALSE(r.ok());
  }
  // Cutting from the front keeps the footer but moves the metadata out of reach or leaves it.
  for (std::size_t cut = 4096; cut < image->size(); cut += 64 * 1024) {
    auto r = ParseOvmfImage(ByteSpan(*image).subspan(cut));
    if (r.ok()) CHECK(r->sections == ParseOvmfImage(*image)->sections);
  }
}

}  // namespace sevemu
