#include "sevemu/emulator/firmware_keys.h"

#include <algorithm>

namespace sevemu::emulator {

Result<crypto::PublicKey> ParseFwPublicKey(ByteSpan key) {
  if (key.size() != kFwPublicKeySize) {
    return Error(ErrorCode::kInvalidKey, "firmware public key must be 0x404 bytes");
  }
  if (LoadLe32(key.data()) != kCurveP384)
    return Error(ErrorCode::kInvalidKey, "curve is not P-384");
  constexpr std::size_t kField = crypto::kFirmwareIntSize, kScalar = crypto::kP384ScalarSize;
  auto padded = [&](std::size_t off) {
    return std::all_of(key.begin() + static_cast<long>(off + kScalar),
                       key.begin() + static_cast<long>(off + kField),
                       [](std::uint8_t b) { return b == 0; });
  };
  if (!padded(4) || !padded(4 + kField) ||
      !std::all_of(key.begin() + 4 + 2 * kField, key.end(),
                   [](std::uint8_t b) { return b == 0; })) {
    return Error(ErrorCode::kInvalidKey, "firmware public key has non-zero padding");
  }
  Bytes x(kScalar), y(kScalar);
  std::reverse_copy(key.begin() + 4, key.begin() + 4 + kScalar, x.begin());
  std::reverse_copy(key.begin() + 4 + kField, key.begin() + 4 + kField + kScalar, y.begin());
  return crypto::PublicKey::FromEcP384Point(x, y);
}

Result<Bytes> EncodeFwPublicKey(const crypto::PublicKey& key) {
  SEVEMU_ASSIGN_OR_RETURN(auto point, key.EcP384Point());
  Bytes out(kFwPublicKeySize, 0);
  StoreLe32(out.data(), kCurveP384);
  std::reverse_copy(point.x.begin(), point.x.end(), out.begin() + 4);
  std::reverse_copy(point.y.begin(), point.y.end(), out.begin() + 4 + crypto::kFirmwareIntSize);
  return out;
}

Bytes EncodeFwSignature(const crypto::EcdsaP384Signature& sig) {
  Bytes out(kFwSignatureSize, 0);
  const auto fw = sig.ToFirmwareLayout();
  std::copy(fw.begin(), fw.end(), out.begin());
  return out;
}

}  // namespace sevemu::emulator
