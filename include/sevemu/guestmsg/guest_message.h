// SNP guest messages (SEV-SNP ABI "Guest Messages"; SEV-ABI-FACTS.md 3.1): a 0x60-byte header
// and an AES-256-GCM payload under the VMPCK the header names, carried in the request and
// response pages of SNP_GUEST_REQUEST.
//
// The parser is a pure function from bytes to a typed header or an error, so it can be fuzzed
// on its own; the crypto is separate (Seal/Open) so that the header rules are checked before
// any key is touched.
#pragma once

#include <array>
#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::guestmsg {

constexpr std::size_t kGuestMsgHeaderSize = 0x60;
constexpr std::size_t kGuestMsgMaxPayload = 4096 - kGuestMsgHeaderSize;  // 4000
constexpr std::uint8_t kGuestMsgAlgoAes256Gcm = 1;
constexpr std::uint8_t kGuestMsgHeaderVersion = 1;

// Message types (SEV-ABI-FACTS.md 3.3).
enum class GuestMsgType : std::uint8_t {
  kInvalid = 0,
  kCpuidReq = 1,
  kCpuidRsp = 2,
  kKeyReq = 3,
  kKeyRsp = 4,
  kReportReq = 5,
  kReportRsp = 6,
  kExportReq = 7,
  kExportRsp = 8,
  kImportReq = 9,
  kImportRsp = 10,
  kAbsorbReq = 11,
  kAbsorbRsp = 12,
  kVmrkReq = 13,
  kVmrkRsp = 14,
  kAbsorbNomaReq = 15,
  kAbsorbNomaRsp = 16,
  kTscInfoReq = 17,
  kTscInfoRsp = 18,
};

struct GuestMsgHeader {
  std::array<std::uint8_t, 16> authtag{};  // bytes 16..31 of the field are zero
  std::uint64_t seqno = 0;
  std::uint8_t algo = kGuestMsgAlgoAes256Gcm;
  std::uint8_t hdr_version = kGuestMsgHeaderVersion;
  std::uint16_t hdr_size = kGuestMsgHeaderSize;
  GuestMsgType type = GuestMsgType::kInvalid;
  std::uint8_t msg_version = 1;
  std::uint16_t msg_size = 0;
  std::uint8_t vmpck = 0;
};

// Why a header is refused (all INVALID_PARAM at the firmware boundary).
enum class GuestMsgError {
  kTruncated,      // fewer than 0x60 bytes
  kAlgorithm,      // algo != 1
  kHeaderVersion,  // hdr_version != 1
  kHeaderSize,     // hdr_sz != 0x60
  kMessageSize,    // msg_sz 0, not a multiple of 16, or past the 4 KiB page
  kVmpck,          // msg_vmpck > 3
  kReserved,       // a reserved header byte set
};
const char* GuestMsgErrorName(GuestMsgError e);

// Parses and checks the header at the start of `page` (the whole request page, so the payload
// bound can be checked). Pure: no I/O, no crypto.
Result<GuestMsgHeader> ParseGuestMsgHeader(ByteSpan page, GuestMsgError* why = nullptr);

// The 0x60 header bytes for `h` (authtag included).
std::array<std::uint8_t, kGuestMsgHeaderSize> SerializeGuestMsgHeader(const GuestMsgHeader& h);

// AES-256-GCM under `vmpck` with IV = seqno (8 bytes LE) || 4 zero bytes and AAD = header bytes
// 0x30..0x5F. Open: kAuthFailed on a bad tag (nothing returned); REQUIRES payload.size() ==
// h.msg_size.
Result<SecretBytes> OpenGuestMsg(const GuestMsgHeader& h, ByteSpan payload, ByteSpan vmpck);
// Seal fills h.authtag; returns the ciphertext. h.msg_size must equal plaintext.size().
Result<Bytes> SealGuestMsg(GuestMsgHeader& h, ByteSpan plaintext, ByteSpan vmpck);

}  // namespace sevemu::guestmsg
