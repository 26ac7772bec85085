// X.509 v3 certificates: building them with exactly chosen names and extensions (AMD's ARK,
// ASK, ASVK, VCEK and VLEK shapes live in emulator/, not here), signing them with RSASSA-PSS
// SHA-384, and reading them back field by field.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::crypto {

// An ordered distinguished name: (attribute short name, value) pairs, one RDN each, in DER order.
// countryName is encoded as PrintableString, every other attribute as UTF8String.
using DistinguishedName = std::vector<std::pair<std::string, std::string>>;

// One extension as it appears on the wire: `value` is the content of extnValue's OCTET STRING.
struct Extension {
  std::string oid;  // dotted decimal
  bool critical = false;
  Bytes value;
  bool operator==(const Extension&) const = default;
};

struct CertificateTemplate {
  std::uint64_t serial = 0;
  DistinguishedName subject;
  DistinguishedName issuer;
  std::int64_t not_before = 0;  // seconds since the epoch, UTC
  std::int64_t not_after = 0;
  // Extensions, emitted in this order. An entry is either a literal extension or a standard
  // one that OpenSSL encodes from its configuration syntax (x509v3_config(5)), e.g.
  // {"basicConstraints", "critical,CA:TRUE"} or {"subjectKeyIdentifier", "hash"}.
  struct Entry {
    std::string conf_name;  // empty for a literal
    std::string conf_value;
    Extension literal;
  };
  std::vector<Entry> extensions;
  // Spell out RSASSA-PSS-params trailerField 1 (the DER default, which OpenSSL omits), as AMD's
  // ARK/ASK/ASVK and pre-2024 VCEKs do. The signature is the same either way.
  bool explicit_pss_trailer = false;

  void AddStandard(std::string name, std::string value) {
    extensions.push_back({std::move(name), std::move(value), {}});
  }
  void AddLiteral(Extension e) { extensions.push_back({"", "", std::move(e)}); }
};

class Certificate {
 public:
  // Builds a v3 certificate for `subject_key` from `tmpl` and signs it with `issuer_key`
  // (RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48). `issuer_cert` supplies the authority key
  // identifier; nullptr means self-signed. kInvalidArgument for a bad extension or name.
  static Result<Certificate> Sign(const CertificateTemplate& tmpl, const PublicKey& subject_key,
                                  const PrivateKey& issuer_key, const Certificate* issuer_cert);

  static Result<Certificate> FromDer(ByteSpan der);
  static Result<Certificate> FromPem(std::string_view pem);
  // Every certificate in a PEM bundle, in order. kInvalidArgument if there are none.
  static Result<std::vector<Certificate>> AllFromPem(std::string_view pem);

  Result<Bytes> ToDer() const;
  Result<std::string> ToPem() const;

  int version() const;  // 3 for v3
  Bytes SerialBigEndian() const;
  std::string SubjectCommonName() const;
  std::string IssuerCommonName() const;
  // Subject/issuer as "/OU=.../C=.../CN=..." in DER order.
  std::string SubjectText() const;
  std::string IssuerText() const;
  std::int64_t NotBefore() const;
  std::int64_t NotAfter() const;
  Result<PublicKey> SubjectPublicKey() const;
  std::vector<Extension> Extensions() const;
  std::optional<Extension> FindExtension(std::string_view oid) const;
  // True if the signature algorithm is RSASSA-PSS with SHA-384, MGF1-SHA-384 and salt 48.
  bool HasAmdPssSignature() const;
  // kAuthFailed if the signature does not verify with `issuer`.
  Status VerifySignedBy(const PublicKey& issuer) const;

  struct Impl;  // holds the X509; defined in crypto/x509.cpp
  explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// A certificate revocation list (RFC 5280 section 5): X.509 v2 CRL issued by a CA certificate,
// signed like AMD's certificates (RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48), carrying the two
// extensions RFC 5280 5.2 requires of conforming issuers: authorityKeyIdentifier (from the
// issuer's subjectKeyIdentifier) and cRLNumber. AMD's KDS serves such CRLs, signed by the ARK,
// at /vcek/v1/{product}/crl and /vlek/v1/{product}/crl (SEV-ABI-FACTS.md 6.3).
// Thread-safe: immutable once built; copies share the underlying object.
struct CrlTemplate {
  std::int64_t this_update = 0;  // seconds since the epoch, UTC
  std::int64_t next_update = 0;  // must be after this_update
  std::uint64_t crl_number = 1;
  struct Revoked {
    std::uint64_t serial = 0;
    std::int64_t revoked_at = 0;
  };
  std::vector<Revoked> revoked;  // emitted sorted by serial
};

class Crl {
 public:
  // Builds and signs the CRL. The issuer name and key identifier come from `issuer_cert`, which
  // must match `issuer_key` (kInvalidKey otherwise, and for a non-RSA key); kInvalidArgument
  // if next_update is not after this_update.
  static Result<Crl> Sign(const CrlTemplate& tmpl, const Certificate& issuer_cert,
                          const PrivateKey& issuer_key);
  // kInvalidArgument for anything but exactly one DER CRL.
  static Result<Crl> FromDer(ByteSpan der);

  Result<Bytes> ToDer() const;
  Result<std::string> ToPem() const;

  int version() const;  // 2 for v2
  std::string IssuerText() const;
  std::int64_t ThisUpdate() const;
  std::int64_t NextUpdate() const;            // 0 if absent
  std::vector<Bytes> RevokedSerials() const;  // big-endian, in CRL order
  std::vector<Extension> Extensions() const;
  // True if the signature algorithm is RSASSA-PSS with SHA-384, MGF1-SHA-384 and salt 48.
  bool HasAmdPssSignature() const;
  // kAuthFailed if the signature does not verify with `issuer`.
  Status VerifySignedBy(const PublicKey& issuer) const;

  struct Impl;  // holds the X509_CRL; defined in crypto/x509.cpp
  explicit Crl(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const Impl> impl_;
};

// Encodes a non-negative integer as DER INTEGER (minimal, with a 0x00 pad if the top bit is set).
Bytes DerInteger(std::uint64_t value);
// Encodes a string as DER IA5String. kInvalidArgument for non-ASCII or > 127 bytes.
Result<Bytes> DerIa5String(std::string_view value);

// Verifies `chain[0]` against `chain[1]`... up to a self-signed root with OpenSSL's X509 store
// (names, signatures, CA constraints, key usage), at time `at` (seconds since the epoch).
Status VerifyChain(const std::vector<Certificate>& leaf_to_root, std::int64_t at);

}  // namespace sevemu::crypto
