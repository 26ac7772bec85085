#include "sevemu/emulator/manufacturing/firmware_image.h"

#include <algorithm>
#include <cstring>

namespace sevemu::emulator {
namespace {
constexpr char kMagic[8] = {'S', 'E', 'V', 'E', 'M', 'U', 'F', 'W'};
}  // namespace

Result<Bytes> BuildFirmwareImage(const FirmwareImage& image, const crypto::PrivateKey& signer) {
  if (image.body.size() > kFirmwareImageMax - kFirmwareHeaderSize - kFirmwareSignatureSize) {
    return Error(ErrorCode::kInvalidArgument, "firmware body too large");
  }
  if (image.tcb.product() != image.product) {
    return Error(ErrorCode::kInvalidArgument, "TCB is for another product");
  }
  Bytes out(kFirmwareHeaderSize, 0);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  StoreLe32(out.data() + 0x08, 1);
  StoreLe32(out.data() + 0x0C, static_cast<std::uint32_t>(image.body.size()));
  out[0x10] = static_cast<std::uint8_t>(image.product);
  out[0x11] = image.version.major;
  out[0x12] = image.version.minor;
  out[0x13] = image.version.build;
  StoreLe64(out.data() + 0x18, image.tcb.raw());
  out.insert(out.end(), image.body.begin(), image.body.end());
  SEVEMU_ASSIGN_OR_RETURN(Bytes sig, signer.SignRsaPssSha384(out));
  if (sig.size() != kFirmwareSignatureSize) {
    return Error(ErrorCode::kInvalidKey, "firmware signer must be an RSA-4096 key");
  }
  out.insert(out.end(), sig.begin(), sig.end());
  return out;
}

Result<FirmwareImage> ParseFirmwareImage(ByteSpan bytes, const crypto::PublicKey& signer) {
  if (bytes.size() < kFirmwareHeaderSize + kFirmwareSignatureSize ||
      bytes.size() > kFirmwareImageMax) {
    return Error(ErrorCode::kInvalidArgument, "firmware image size out of range");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0 || LoadLe32(bytes.data() + 8) != 1) {
    return Error(ErrorCode::kInvalidArgument, "not a sevemu firmware image");
  }
  const std::uint32_t body = LoadLe32(bytes.data() + 0x0C);
  if (bytes.size() != kFirmwareHeaderSize + std::size_t{body} + kFirmwareSignatureSize) {
    return Error(ErrorCode::kInvalidArgument, "firmware image length disagrees with its header");
  }
  if (LoadLe32(bytes.data() + 0x14) != 0 ||
      !std::all_of(bytes.begin() + 0x20, bytes.begin() + 0x40, [](auto b) { return b == 0; })) {
    return Error(ErrorCode::kInvalidArgument, "firmware header reserved fields set");
  }
  if (bytes[0x10] > 2) return Error(ErrorCode::kInvalidArgument, "unknown product in image");
  const std::size_t signed_len = kFirmwareHeaderSize + body;
  SEVEMU_RETURN_IF_ERROR(signer.VerifyRsaPssSha384(
      bytes.first(signed_len), bytes.subspan(signed_len, kFirmwareSignatureSize)));
  FirmwareImage image;
  image.product = static_cast<Product>(bytes[0x10]);
  image.version = {bytes[0x11], bytes[0x12], bytes[0x13]};
  auto tcb = TcbVersion::FromRaw(image.product, LoadLe64(bytes.data() + 0x18));
  if (!tcb.ok()) return Error(ErrorCode::kInvalidArgument, "image TCB: " + tcb.error().message());
  image.tcb = *tcb;
  image.body.assign(bytes.begin() + kFirmwareHeaderSize, bytes.begin() + signed_len);
  return image;
}

}  // namespace sevemu::emulator
