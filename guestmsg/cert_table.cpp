#include "sevemu/guestmsg/cert_table.h"

#include <algorithm>
#include <cstring>

namespace sevemu::guestmsg {
namespace {

constexpr std::size_t kEntrySize = 24;
constexpr std::size_t kMaxTable = 16 * 1024;  // SEV_FW_BLOB_MAX_SIZE

bool IsZero(const Guid& g) {
  return std::all_of(g.begin(), g.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace

const Guid kGuidVcek = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                        0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
const Guid kGuidVlek = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                        0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};
const Guid kGuidAsk = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                       0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
const Guid kGuidArk = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                       0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};
const Guid kGuidCrl = {0x92, 0xf8, 0x1b, 0xc3, 0x58, 0x11, 0x4d, 0x3d,
                       0x97, 0xff, 0xd1, 0x9f, 0x88, 0xdc, 0x67, 0xea};

Result<Bytes> BuildCertTable(const std::vector<CertEntry>& entries) {
  const std::size_t table = (entries.size() + 1) * kEntrySize;
  std::size_t total = table;
  for (const auto& e : entries) {
    if (IsZero(e.guid)) return Error(ErrorCode::kInvalidArgument, "certificate GUID is zero");
    if (e.der.empty()) return Error(ErrorCode::kInvalidArgument, "empty certificate");
    total += e.der.size();
  }
  if (total > kMaxTable) {
    return Error(ErrorCode::kInvalidArgument, "certificate table larger than 16 KiB");
  }
  Bytes out(table, 0);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::uint8_t* row = out.data() + i * kEntrySize;
    std::memcpy(row, entries[i].guid.data(), 16);
    StoreLe32(row + 16, static_cast<std::uint32_t>(out.size()));
    StoreLe32(row + 20, static_cast<std::uint32_t>(entries[i].der.size()));
    out.insert(out.end(), entries[i].der.begin(), entries[i].der.end());
  }
  return out;
}

Result<std::vector<CertEntry>> ParseCertTable(ByteSpan bytes) {
  std::vector<CertEntry> out;
  struct Row {
    Guid guid;
    std::uint32_t offset, length;
  };
  std::vector<Row> rows;
  for (std::size_t at = 0;; at += kEntrySize) {
    if (at + kEntrySize > bytes.size()) {
      return Error(ErrorCode::kInvalidArgument, "certificate table has no terminating entry");
    }
    Row r;
    std::memcpy(r.guid.data(), bytes.data() + at, 16);
    r.offset = LoadLe32(bytes.data() + at + 16);
    r.length = LoadLe32(bytes.data() + at + 20);
    if (IsZero(r.guid) && r.offset == 0 && r.length == 0) break;
    rows.push_back(r);
  }
  const std::size_t table_end = (rows.size() + 1) * kEntrySize;
  for (const Row& r : rows) {
    if (r.offset < table_end || r.offset > bytes.size() || r.length > bytes.size() - r.offset) {
      return Error(ErrorCode::kInvalidArgument, "certificate entry outside the table's data");
    }
    out.push_back({r.guid, Bytes(bytes.begin() + r.offset, bytes.begin() + r.offset + r.length)});
  }
  return out;
}

}  // namespace sevemu::guestmsg
