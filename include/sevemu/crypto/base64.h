// Base64 (RFC 4648, standard alphabet, padded), through OpenSSL's EVP encoder: the encoding
// QEMU's sev-guest object (dh-cert-file, session-file), its QMP SEV commands and sevctl use for
// the legacy launch blobs.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto {

std::string Base64Encode(ByteSpan data);
// Decodes `text`; line breaks and surrounding whitespace are allowed, anything else outside the
// alphabet and padding is kInvalidArgument.
Result<Bytes> Base64Decode(std::string_view text);

}  // namespace sevemu::crypto
