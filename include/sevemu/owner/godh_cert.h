// The guest owner's Diffie-Hellman (GODH) certificate that LAUNCH_START takes as `dh_cert`:
// a 0x824-byte SEV certificate (SEV-ABI-FACTS.md 9.1) with usage PDH (0x1003), algorithm
// ECDH-SHA256 (0x003), a P-384 public key and both signature slots empty (usage 0x1000, algo 0),
// which is what virtee/sev (Certificate::generate(Usage::PDH)) and sev-tool send. The firmware
// only sanity-checks usage and algorithm (AMD-ASPFW sev_cert.c sev_cert_sanity_check, called
// with PDH / ECDH-SHA256 from sev_channel_open_server).
//
// The bytes come from emulator/manufacturing/sev_cert.h's SevCert (the one SEV certificate
// serializer); these two functions only fix the GODH shape.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"

namespace sevemu::owner {

using emulator::kSevCertSize;
using emulator::SevCertBytes;

// kInvalidKey unless `godh` is a P-384 key. api_major/minor fill the certificate's API version
// (virtee writes 0.0; the firmware does not read it).
Result<SevCertBytes> EncodeGodhCertificate(const crypto::PublicKey& godh,
                                           std::uint8_t api_major = 0, std::uint8_t api_minor = 0);

// The public key of a GODH certificate, checked as the firmware does before ECDH: a well-formed
// SEV certificate (SevCert::Parse: size, version, key fields; kInvalidArgument naming the field,
// kInvalidKey for a point off P-384), usage PDH and algorithm ECDH-SHA256 (kInvalidArgument),
// curve P-384 (kInvalidArgument).
Result<crypto::PublicKey> DecodeGodhCertificate(ByteSpan cert);

}  // namespace sevemu::owner
