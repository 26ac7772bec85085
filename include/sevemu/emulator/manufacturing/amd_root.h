// The simulated AMD root of trust for one product: ARK (self-signed), ASK and ASVK (signed by
// the ARK), with AMD's names, serials, validity and extensions (docs/certificates.md), plus
// the KDS's secret from which CSPs' VLEKs are derived.
//
// On disk (a directory): ark.pem ask.pem asvk.pem (certificates), ark.key ask.key asvk.key
// (PKCS#8, mode 0600) and kds.json ({"format":"sevemu-amd-root","version":1,"product":...,
// "vlek_secret":hex}). fixtures/test_root/<product>/ holds one such directory for tests.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/crypto/x509.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::emulator {

// AMD's certificate names (all AMD certificates share every attribute but CN).
crypto::DistinguishedName AmdName(const std::string& common_name);
inline constexpr char kKdsBaseUrl[] = "https://kdsintf.amd.com";

struct AmdRoot {
  Product product;
  crypto::PrivateKey ark_key, ask_key, asvk_key;
  crypto::Certificate ark, ask, asvk;
  SecretBytes vlek_secret;  // 48 bytes

  // Fresh RSA-4096 keys and certificates valid from `not_before` for 25 years. With a seed the
  // keys and the VLEK secret are functions of it (certificate signatures still carry random PSS
  // salts, so their bytes differ between runs while their keys and contents do not).
  static Result<AmdRoot> Mint(Product p, std::int64_t not_before,
                              const std::optional<Bytes>& seed = std::nullopt);
  // Reads and validates a root directory. Errors name the file at fault.
  static Result<AmdRoot> Load(const std::string& dir);
  // The same from the files' contents, keyed by file name ("ark.pem", "kds.json", ...);
  // `where` prefixes error messages (a directory, or "built-in test root").
  using FileTexts = std::map<std::string, std::string>;
  static Result<AmdRoot> FromFiles(const FileTexts& files, const std::string& where);
  static const char* const kFileNames[7];
  // Writes the directory atomically file by file (keys 0600, certificates 0644).
  Status Save(const std::string& dir) const;
  // Keys match certificates, the ARK is self-signed, ASK and ASVK are signed by it, names and
  // CNs are AMD's for this product.
  Status Validate() const;
};

}  // namespace sevemu::emulator
