#include "sevemu/crypto/x509.h"

#include <doctest/doctest.h>

#include <algorithm>

#include "test_util.h"

namespace sevemu::crypto {

namespace {
DistinguishedName Name(const std::string& cn) {
  return {{"OU", "Engineering"}, {"C", "US"}, {"CN", cn}};
}
constexpr std::int64_t kJan2024 = 1704067200;
constexpr std::int64_t kYear = 365 * 86400;
}  // namespace

TEST_CASE("a CA and a leaf with literal extensions: build, parse, verify") {
  auto ca_key = PrivateKey::GenerateRsa(2048);
  REQUIRE(ca_key.ok());
  CertificateTemplate ca;
  ca.serial = 0x010000;
  ca.subject = ca.issuer = Name("Test-CA");
  ca.not_before = kJan2024;
  ca.not_after = kJan2024 + 25 * kYear;
  ca.AddStandard("keyUsage", "critical,keyCertSign,cRLSign");
  ca.AddStandard("subjectKeyIdentifier", "hash");
  ca.AddStandard("basicConstraints", "critical,CA:TRUE");
  auto ca_cert = Certificate::Sign(ca, ca_key->Public(), *ca_key, nullptr);
  REQUIRE(ca_cert.ok());
  CHECK(ca_cert->version() == 3);
  CHECK(ca_cert->SubjectCommonName() == "Test-CA");
  CHECK(ca_cert->SubjectText() == "/OU=Engineering/C=US/CN=Test-CA");
  CHECK(ca_cert->SerialBigEndian() == Bytes{0x01, 0x00, 0x00});
  CHECK(ca_cert->NotBefore() == kJan2024);
  CHECK(ca_cert->HasAmdPssSignature());
  CHECK(ca_cert->VerifySignedBy(ca_key->Public()).ok());

  auto leaf_key = PrivateKey::GenerateEcP384();
  CertificateTemplate leaf;
  leaf.serial = 0;
  leaf.subject = Name("Leaf");
  leaf.issuer = ca.subject;
  leaf.not_before = kJan2024;
  leaf.not_after = kJan2024 + 7 * kYear;
  leaf.AddLiteral({"1.3.6.1.4.1.3704.1.1", false, DerInteger(0)});
  leaf.AddLiteral({"1.3.6.1.4.1.3704.1.4", false, Bytes(64, 0xAB)});
  leaf.AddStandard("authorityKeyIdentifier", "keyid:always");
  auto leaf_cert = Certificate::Sign(leaf, leaf_key->Public(), *ca_key, &*ca_cert);
  REQUIRE(leaf_cert.ok());
  auto exts = leaf_cert->Extensions();
  REQUIRE(exts.size() == 3);
  CHECK(exts[0] == Extension{"1.3.6.1.4.1.3704.1.1", false, {0x02, 0x01, 0x00}});
  CHECK(exts[1].value == Bytes(64, 0xAB));  // raw bytes, no inner OCTET STRING
  CHECK(exts[2].oid == "2.5.29.35");
  // AKI keyIdentifier equals the CA's SKI.
  auto ski = ca_cert->FindExtension("2.5.29.14");
  REQUIRE(ski.has_value());
  Bytes expected_aki{0x30, static_cast<std::uint8_t>(ski->value.size()), 0x80,
                     static_cast<std::uint8_t>(ski->value.size() - 2)};
  expected_aki.insert(expected_aki.end(), ski->value.begin() + 2, ski->value.end());
  CHECK(exts[2].value == expected_aki);

  CHECK(*leaf_cert->SubjectPublicKey() == leaf_key->Public());
  CHECK(leaf_cert->VerifySignedBy(ca_key->Public()).ok());
  CHECK(leaf_cert->VerifySignedBy(leaf_key->Public()).error().code() == ErrorCode::kAuthFailed);
  CHECK(VerifyChain({*leaf_cert, *ca_cert}, kJan2024 + 86400).ok());
  CHECK(VerifyChain({*leaf_cert, *ca_cert}, kJan2024 + 8 * kYear).error().code() ==
        ErrorCode::kAuthFailed);  // expired

  // DER and PEM round trips are byte-exact.
  auto der = leaf_cert->ToDer();
  REQUIRE(der.ok());
  CHECK(*Certificate::FromDer(*der)->ToDer() == *der);
  auto pem = leaf_cert->ToPem();
  CHECK(*Certificate::FromPem(*pem)->ToDer() == *der);
  auto both = Certificate::AllFromPem(*pem + *ca_cert->ToPem());
  REQUIRE(both.ok());
  CHECK(both->size() == 2);
}

TEST_CASE("explicit PSS trailerField: AMD's CA encoding, still a valid signature") {
  auto key = PrivateKey::GenerateRsa(2048);
  CertificateTemplate t;
  t.serial = 1;
  t.subject = t.issuer = Name("Trailer");
  t.not_before = kJan2024;
  t.not_after = kJan2024 + kYear;
  const Bytes trailer{0xa2, 0x03, 0x02, 0x01, 0x30, 0xa3, 0x03, 0x02, 0x01, 0x01};
  auto count = [&](const Bytes& der) {
    int n = 0;
    for (auto it = der.begin();
         (it = std::search(it, der.end(), trailer.begin(), trailer.end())) != der.end(); ++it) {
      ++n;
    }
    return n;
  };
  auto plain = Certificate::Sign(t, key->Public(), *key, nullptr);
  REQUIRE(plain.ok());
  CHECK(count(*plain->ToDer()) == 0);
  t.explicit_pss_trailer = true;
  auto explicit_cert = Certificate::Sign(t, key->Public(), *key, nullptr);
  REQUIRE(explicit_cert.ok());
  CHECK(count(*explicit_cert->ToDer()) == 2);  // TBS and outer AlgorithmIdentifier
  CHECK(explicit_cert->HasAmdPssSignature());
  CHECK(explicit_cert->VerifySignedBy(key->Public()).ok());
  // Survives a DER round trip (the signature covers the re-encoded TBS).
  CHECK(Certificate::FromDer(*explicit_cert->ToDer())->VerifySignedBy(key->Public()).ok());
}

TEST_CASE("malformed certificates are typed errors") {
  CHECK(Certificate::FromDer(Bytes{0x30, 0x82, 0x01}).error().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(Certificate::FromPem("not a pem").error().code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(
      Certificate::FromPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").ok());
  CertificateTemplate t;
  t.subject = t.issuer = Name("x");
  t.not_before = 10;
  t.not_after = 5;
  auto key = PrivateKey::GenerateRsa(2048);
  CHECK(Certificate::Sign(t, key->Public(), *key, nullptr).error().code() ==
        ErrorCode::kInvalidArgument);
  t.not_after = 20;
  t.AddStandard("basicConstraints", "nonsense");
  CHECK(Certificate::Sign(t, key->Public(), *key, nullptr).error().code() ==
        ErrorCode::kInvalidArgument);
  auto ec = PrivateKey::GenerateEcP384();
  t.extensions.clear();
  CHECK(Certificate::Sign(t, ec->Public(), *ec, nullptr).error().code() == ErrorCode::kInvalidKey);
}

TEST_CASE("DER helpers") {
  CHECK(DerInteger(0) == Bytes{0x02, 0x01, 0x00});
  CHECK(DerInteger(0x73) == Bytes{0x02, 0x01, 0x73});
  CHECK(DerInteger(0xD9) == Bytes{0x02, 0x02, 0x00, 0xD9});
  CHECK(*DerIa5String("Milan-B0") == Bytes{0x16, 0x08, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0'});
  CHECK_FALSE(DerIa5String("\xC3\xA9").ok());
}

}  // namespace sevemu::crypto
