// crypto::Crl, the CRL builder the KDS's /crl endpoints use: shape, signature, refusals, and
// acceptance by the openssl command line.
#include <doctest/doctest.h>

#include <cstdlib>

#include "emulator_fixture.h"
#include "sevemu/crypto/x509.h"
#include "test_util.h"

namespace sevemu::crypto {
namespace {

constexpr std::int64_t kNow = 1748736000;  // 2025-06-01

}  // namespace

TEST_CASE("a signed CRL reads back field by field and verifies with the issuer's key only") {
  const auto root = test::TestRoot(emulator::Product::kMilan);
  CrlTemplate t;
  t.this_update = kNow;
  t.next_update = kNow + 7 * 86400;
  t.crl_number = 42;
  t.revoked = {{0x020002, kNow - 100}, {0x010001, kNow - 200}};
  auto crl = Crl::Sign(t, root.ark, root.ark_key);
  REQUIRE_MESSAGE(crl.ok(), (crl.ok() ? "" : crl.error().message()));
  CHECK(crl->version() == 2);
  CHECK(crl->IssuerText() == root.ark.SubjectText());
  CHECK(crl->ThisUpdate() == kNow);
  CHECK(crl->NextUpdate() == kNow + 7 * 86400);
  CHECK(crl->HasAmdPssSignature());
  // Sorted by serial.
  CHECK(crl->RevokedSerials() == std::vector<Bytes>{{0x01, 0x00, 0x01}, {0x02, 0x00, 0x02}});
  const auto ext = crl->Extensions();
  REQUIRE(ext.size() == 2);
  CHECK(ext[0].oid == "2.5.29.35");
  CHECK_FALSE(ext[0].critical);
  CHECK(ext[1].oid == "2.5.29.20");
  CHECK(ext[1].value == DerInteger(42));
  // The AKI names the ARK's subject key identifier.
  const auto ski = root.ark.FindExtension("2.5.29.14");
  REQUIRE(ski.has_value());
  const Bytes& aki = ext[0].value;  // SEQUENCE { [0] keyIdentifier }
  const Bytes ski_value(ski->value.begin() + 2, ski->value.end());  // inside the OCTET STRING
  CHECK(Bytes(aki.end() - static_cast<std::ptrdiff_t>(ski_value.size()), aki.end()) == ski_value);

  CHECK(crl->VerifySignedBy(*root.ark.SubjectPublicKey()).ok());
  auto wrong = crl->VerifySignedBy(*root.ask.SubjectPublicKey());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code() == ErrorCode::kAuthFailed);

  auto der = crl->ToDer();
  REQUIRE(der.ok());
  auto again = Crl::FromDer(*der);
  REQUIRE(again.ok());
  CHECK(*again->ToDer() == *der);
  CHECK(crl->ToPem()->find("-----BEGIN X509 CRL-----") == 0);
}

TEST_CASE("Crl::Sign and Crl::FromDer refuse bad input") {
  const auto root = test::TestRoot(emulator::Product::kGenoa);
  CrlTemplate t;
  t.this_update = kNow;
  t.next_update = kNow;
  auto empty_window = Crl::Sign(t, root.ark, root.ark_key);
  REQUIRE_FALSE(empty_window.ok());
  CHECK(empty_window.error().code() == ErrorCode::kInvalidArgument);

  t.next_update = kNow + 1;
  auto wrong_key = Crl::Sign(t, root.ark, root.ask_key);
  REQUIRE_FALSE(wrong_key.ok());
  CHECK(wrong_key.error().code() == ErrorCode::kInvalidKey);

  auto ec_key = PrivateKey::GenerateEcP384();
  REQUIRE(ec_key.ok());
  auto not_rsa = Crl::Sign(t, root.ark, *ec_key);
  REQUIRE_FALSE(not_rsa.ok());
  CHECK(not_rsa.error().code() == ErrorCode::kInvalidKey);

  CHECK(Crl::FromDer(Bytes{}).error().code() == ErrorCode::kInvalidArgument);
  CHECK(Crl::FromDer(Bytes{0x30, 0x03, 0x02, 0x01, 0x00}).error().code() ==
        ErrorCode::kInvalidArgument);
  auto good = Crl::Sign(t, root.ark, root.ark_key);
  REQUIRE(good.ok());
  Bytes der = *good->ToDer();
  der.push_back(0);  // trailing byte
  CHECK_FALSE(Crl::FromDer(der).ok());
  der.pop_back();
  der[der.size() - 10] ^= 1;  // inside the signature: parses, does not verify
  auto tampered = Crl::FromDer(der);
  REQUIRE(tampered.ok());
  CHECK_FALSE(tampered->VerifySignedBy(*root.ark.SubjectPublicKey()).ok());
}

TEST_CASE("openssl crl accepts the CRL against the ARK") {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) return;  // no CLI: nothing to ask
  const auto root = test::TestRoot(emulator::Product::kTurin);
  CrlTemplate t;
  t.this_update = kNow;
  t.next_update = kNow + 86400;
  auto crl = Crl::Sign(t, root.ark, root.ark_key);
  REQUIRE(crl.ok());
  test::TempDir d;
  const Bytes der = *crl->ToDer();
  test::WriteText(d / "crl.der", std::string(der.begin(), der.end()));
  test::WriteText(d / "ark.pem", *root.ark.ToPem());
  const std::string cmd = "openssl crl -inform DER -in " + std::string(d / "crl.der") +
                          " -CAfile " + std::string(d / "ark.pem") + " -noout > " +
                          std::string(d / "out") + " 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  CHECK(test::ReadText(d / "out").find("verify OK") != std::string::npos);
}

}  // namespace sevemu::crypto
