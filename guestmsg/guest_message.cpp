#include "sevemu/guestmsg/guest_message.h"

#include <algorithm>
#include <cstring>

#include "sevemu/crypto/aes.h"

namespace sevemu::guestmsg {
namespace {

constexpr std::size_t kAadOffset = 0x30;

Error Refuse(GuestMsgError e, GuestMsgError* why) {
  if (why != nullptr) *why = e;
  return Error(ErrorCode::kInvalidArgument, std::string("guest message: ") + GuestMsgErrorName(e));
}

bool ZeroRange(ByteSpan b, std::size_t from, std::size_t to) {
  return std::all_of(b.begin() + static_cast<long>(from), b.begin() + static_cast<long>(to),
                     [](std::uint8_t x) { return x == 0; });
}

std::array<std::uint8_t, crypto::kGcmIvSize> Iv(std::uint64_t seqno) {
  std::array<std::uint8_t, crypto::kGcmIvSize> iv{};
  StoreLe64(iv.data(), seqno);
  return iv;
}

}  // namespace

const char* GuestMsgErrorName(GuestMsgError e) {
  switch (e) {
    case GuestMsgError::kTruncated:
      return "shorter than its header";
    case GuestMsgError::kAlgorithm:
      return "unknown algorithm";
    case GuestMsgError::kHeaderVersion:
      return "unknown header version";
    case GuestMsgError::kHeaderSize:
      return "header size is not 0x60";
    case GuestMsgError::kMessageSize:
      return "payload size zero, unaligned or past the page";
    case GuestMsgError::kVmpck:
      return "VMPCK index above 3";
    case GuestMsgError::kReserved:
      return "reserved header bytes set";
  }
  return "?";
}

Result<GuestMsgHeader> ParseGuestMsgHeader(ByteSpan page, GuestMsgError* why) {
  if (page.size() < kGuestMsgHeaderSize) return Refuse(GuestMsgError::kTruncated, why);
  GuestMsgHeader h;
  std::memcpy(h.authtag.data(), page.data(), 16);
  h.seqno = LoadLe64(page.data() + 0x20);
  h.algo = page[0x30];
  h.hdr_version = page[0x31];
  h.hdr_size = static_cast<std::uint16_t>(page[0x32] | page[0x33] << 8);
  h.type = static_cast<GuestMsgType>(page[0x34]);
  h.msg_version = page[0x35];
  h.msg_size = static_cast<std::uint16_t>(page[0x36] | page[0x37] << 8);
  h.vmpck = page[0x3C];
  // The firmware's order (AMD-ASPFW snp_mcmd_guest_request): version, size, algorithm, length.
  if (h.hdr_version != kGuestMsgHeaderVersion) return Refuse(GuestMsgError::kHeaderVersion, why);
  if (h.hdr_size != kGuestMsgHeaderSize) return Refuse(GuestMsgError::kHeaderSize, why);
  if (h.algo != kGuestMsgAlgoAes256Gcm) return Refuse(GuestMsgError::kAlgorithm, why);
  if (h.msg_size == 0 || h.msg_size % 16 != 0 || h.msg_size > kGuestMsgMaxPayload ||
      kGuestMsgHeaderSize + std::size_t{h.msg_size} > page.size()) {
    return Refuse(GuestMsgError::kMessageSize, why);
  }
  if (h.vmpck > 3) return Refuse(GuestMsgError::kVmpck, why);
  if (!ZeroRange(page, 0x10, 0x20) || !ZeroRange(page, 0x28, 0x30) ||
      !ZeroRange(page, 0x38, 0x3C) || !ZeroRange(page, 0x3D, 0x60)) {
    return Refuse(GuestMsgError::kReserved, why);
  }
  return h;
}

std::array<std::uint8_t, kGuestMsgHeaderSize> SerializeGuestMsgHeader(const GuestMsgHeader& h) {
  std::array<std::uint8_t, kGuestMsgHeaderSize> out{};
  std::memcpy(out.data(), h.authtag.data(), 16);
  StoreLe64(out.data() + 0x20, h.seqno);
  out[0x30] = h.algo;
  out[0x31] = h.hdr_version;
  out[0x32] = static_cast<std::uint8_t>(h.hdr_size);
  out[0x33] = static_cast<std::uint8_t>(h.hdr_size >> 8);
  out[0x34] = static_cast<std::uint8_t>(h.type);
  out[0x35] = h.msg_version;
  out[0x36] = static_cast<std::uint8_t>(h.msg_size);
  out[0x37] = static_cast<std::uint8_t>(h.msg_size >> 8);
  out[0x3C] = h.vmpck;
  return out;
}

Result<SecretBytes> OpenGuestMsg(const GuestMsgHeader& h, ByteSpan payload, ByteSpan vmpck) {
  const auto header = SerializeGuestMsgHeader(h);
  return crypto::Aes256GcmOpen(vmpck, Iv(h.seqno), ByteSpan(header).subspan(kAadOffset), payload,
                               h.authtag);
}

Result<Bytes> SealGuestMsg(GuestMsgHeader& h, ByteSpan plaintext, ByteSpan vmpck) {
  if (plaintext.size() != h.msg_size) {
    return Error(ErrorCode::kInvalidArgument, "payload size differs from the header's");
  }
  const auto header = SerializeGuestMsgHeader(h);
  SEVEMU_ASSIGN_OR_RETURN(
      crypto::GcmSealed sealed,
      crypto::Aes256GcmSeal(vmpck, Iv(h.seqno), ByteSpan(header).subspan(kAadOffset), plaintext));
  h.authtag = sealed.tag;
  return std::move(sealed.ciphertext);
}

}  // namespace sevemu::guestmsg
