// Simulated SEV firmware images for SNP_DOWNLOAD_FIRMWARE_EX. Real images are AMD-signed PSP
// binaries; sevemu's stand-in carries what the update changes (API version, build, and the TCB
// the new firmware runs at) under an RSA-PSS/SHA-384 signature of the simulated AMD root (ARK).
//
// Layout (little-endian):
//   0x00  magic "SEVEMUFW"          0x08 u32 format version (1)   0x0C u32 body size
//   0x10  u8 product (0 Milan, 1 Genoa, 2 Turin)  0x11 api_major  0x12 api_minor  0x13 build
//   0x14  u32 reserved (0)          0x18 u64 TCB_VERSION         0x20..0x3F reserved (0)
//   0x40  body (body size bytes, opaque)
//   then  512-byte signature over everything before it
#pragma once

#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::emulator {

constexpr std::size_t kFirmwareHeaderSize = 0x40;
constexpr std::size_t kFirmwareSignatureSize = 512;
constexpr std::size_t kFirmwareImageMax = 1u << 20;

struct FirmwareImage {
  Product product = Product::kMilan;
  FirmwareVersion version;
  TcbVersion tcb;
  Bytes body;
};

// Builds and signs an image with `signer` (the ARK's key).
Result<Bytes> BuildFirmwareImage(const FirmwareImage& image, const crypto::PrivateKey& signer);

// Parses and verifies an image: kInvalidArgument for a malformed one, kAuthFailed if the
// signature does not verify with `signer` (the ARK's public key).
Result<FirmwareImage> ParseFirmwareImage(ByteSpan bytes, const crypto::PublicKey& signer);

}  // namespace sevemu::emulator
