// The certificate table of extended attestation reports (GHCB spec "SNP Extended Guest
// Request"; SEV-ABI-FACTS.md 6.4): 24-byte entries {GUID (RFC 4122 byte order), u32 offset,
// u32 length}, an all-zero terminating entry, then the certificates (DER), offsets counted from
// the start of the table. The host configures it; the guest gets it beside its report, and a
// buffer that is too small is answered with the number of bytes (in 4 KiB pages) it needs.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::guestmsg {

using Guid = std::array<std::uint8_t, 16>;

// The GUIDs AMD defines (and virtee/go-sev-guest/AMDESE agree on).
extern const Guid kGuidVcek;  // 63da758d-e664-4564-adc5-f4b93be8accd
extern const Guid kGuidVlek;  // a8074bc2-a25a-483e-aae6-39c045a0b8a1
extern const Guid kGuidAsk;   // 4ab7b379-bbac-4fe4-a02f-05aef327c782 (also the ASVK)
extern const Guid kGuidArk;   // c0b406a4-a803-4952-9743-3fb6014cd0ae
extern const Guid kGuidCrl;   // 92f81bc3-5811-4d3d-97ff-d19f88dc67ea

struct CertEntry {
  Guid guid{};
  Bytes der;
};

// Builds the table. kInvalidArgument for a zero GUID, an empty certificate, or more than 16 KiB
// in all (the kernel's limit for the certificate buffer).
Result<Bytes> BuildCertTable(const std::vector<CertEntry>& entries);

// Parses a table as a guest tool does: entries up to the terminator, each offset at or past the
// end of the table and each [offset, offset + length) inside `bytes`. kInvalidArgument otherwise.
Result<std::vector<CertEntry>> ParseCertTable(ByteSpan bytes);

// Bytes a guest's buffer must have for `table_size` bytes of table: whole 4 KiB pages.
constexpr std::size_t CertBufferNeeded(std::size_t table_size) {
  return (table_size + 4095) / 4096 * 4096;
}

}  // namespace sevemu::guestmsg
