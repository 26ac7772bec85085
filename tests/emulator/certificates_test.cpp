// The simulated AMD certificates against the shapes of AMD's real ones (docs/certificates.md):
// names, serials, validity, signature algorithm, and every extension byte for byte.
#include <doctest/doctest.h>

#include <algorithm>

#include "emulator_fixture.h"
#include "sevemu/crypto/x509.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "test_util.h"

namespace sevemu::emulator {
using crypto::Extension;
using test::Hex;

namespace {

constexpr std::int64_t kDay = 86400;

Bytes Crl(const std::string& url) {
  // CRLDistributionPoints { DistributionPoint { fullName [0] { uniformResourceIdentifier [6] }}}
  Bytes uri{0x86, static_cast<std::uint8_t>(url.size())};
  uri.insert(uri.end(), url.begin(), url.end());
  Bytes full{0xA0, static_cast<std::uint8_t>(uri.size())};
  full.insert(full.end(), uri.begin(), uri.end());
  Bytes dpn{0xA0, static_cast<std::uint8_t>(full.size())};
  dpn.insert(dpn.end(), full.begin(), full.end());
  Bytes dp{0x30, static_cast<std::uint8_t>(dpn.size())};
  dp.insert(dp.end(), dpn.begin(), dpn.end());
  Bytes out{0x30, static_cast<std::uint8_t>(dp.size())};
  out.insert(out.end(), dp.begin(), dp.end());
  return out;
}

std::vector<std::string> Oids(const crypto::Certificate& c) {
  std::vector<std::string> out;
  for (const auto& e : c.Extensions()) out.push_back(e.oid);
  return out;
}

const std::string kAmdDn = "/OU=Engineering/C=US/L=Santa Clara/ST=CA/O=Advanced Micro Devices/CN=";

}  // namespace

TEST_CASE("ARK, ASK and ASVK have AMD's names, serials, validity and extensions") {
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    const std::string name = Info(p).name;
    CAPTURE(name);
    const AmdRoot root = test::TestRoot(p);
    CHECK(root.Validate().ok());

    CHECK(root.ark.SubjectText() == kAmdDn + "ARK-" + name);
    CHECK(root.ark.IssuerText() == root.ark.SubjectText());
    CHECK(root.ask.SubjectText() == kAmdDn + "SEV-" + name);
    CHECK(root.asvk.SubjectText() == kAmdDn + "SEV-VLEK-" + name);
    CHECK(root.ask.IssuerText() == root.ark.SubjectText());
    CHECK(root.asvk.IssuerText() == root.ark.SubjectText());
    // AMD's CA AlgorithmIdentifier, trailerField 1 included, in TBS and outer signature.
    const Bytes amd_pss = Hex(
        "304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d"
        "010108300d06096086480165030402020500a203020130a303020101");
    for (const auto* c : {&root.ark, &root.ask, &root.asvk}) {
      const Bytes der = *c->ToDer();
      const auto first = std::search(der.begin(), der.end(), amd_pss.begin(), amd_pss.end());
      REQUIRE(first != der.end());
      CHECK(std::search(first + 1, der.end(), amd_pss.begin(), amd_pss.end()) != der.end());
      CHECK(c->version() == 3);
      CHECK(c->HasAmdPssSignature());
      CHECK(c->SubjectPublicKey()->bits() == 4096);
      CHECK(c->NotAfter() - c->NotBefore() == (25 * 365 + 6) * kDay);
    }
    const std::uint32_t base = Info(p).root_serial_base;
    CHECK(root.ark.SerialBigEndian() == Bytes{static_cast<std::uint8_t>(base >> 16), 0x00, 0x00});
    CHECK(root.ask.SerialBigEndian() == Bytes{static_cast<std::uint8_t>(base >> 16), 0x00,
                                              static_cast<std::uint8_t>(Info(p).ask_serial)});
    CHECK(root.asvk.SerialBigEndian() == Bytes{static_cast<std::uint8_t>(base >> 16), 0x01, 0x01});

    const std::string vcek_crl = "https://kdsintf.amd.com/vcek/v1/" + name + "/crl";
    const std::string vlek_crl = "https://kdsintf.amd.com/vlek/v1/" + name + "/crl";
    auto ark_ext = root.ark.Extensions();
    REQUIRE(ark_ext.size() == 4);
    CHECK(ark_ext[0] == Extension{"2.5.29.15", true, Hex("03020106")});  // keyCertSign, cRLSign
    CHECK(ark_ext[1].oid == "2.5.29.14");
    CHECK(ark_ext[2] == Extension{"2.5.29.19", true, Hex("30030101ff")});  // CA, no pathlen
    CHECK(ark_ext[3] == Extension{"2.5.29.31", false, Crl(vcek_crl)});

    const Bytes ark_ski(ark_ext[1].value.begin() + 2, ark_ext[1].value.end());
    Bytes aki = Hex("30168014");
    aki.insert(aki.end(), ark_ski.begin(), ark_ski.end());
    for (const auto* c : {&root.ask, &root.asvk}) {
      auto ext = c->Extensions();
      REQUIRE(ext.size() == 5);
      CHECK(ext[0].oid == "2.5.29.14");
      CHECK(ext[1] == Extension{"2.5.29.35", false, aki});  // keyIdentifier = ARK's SKI only
      CHECK(ext[2] == Extension{"2.5.29.19", true, Hex("30060101ff020100")});  // pathlen 0
      CHECK(ext[3] == Extension{"2.5.29.15", true, Hex("03020104")});          // keyCertSign
      CHECK(ext[4] == Extension{"2.5.29.31", false, Crl(c == &root.ask ? vcek_crl : vlek_crl)});
    }
  }
}

TEST_CASE("VCEK certificates carry exactly the KDS extensions, in the KDS order") {
  SUBCASE("Milan and Genoa") {
    for (Product p : {Product::kMilan, Product::kGenoa}) {
      CAPTURE(Info(p).name);
      const Platform platform = test::SeededPlatform(p);
      auto tcb = TcbVersion::FromParts(p, {0, 3, 1, 8, 0xD9});  // 0xD9 needs a 0x00 pad byte
      auto cert =
          Kds(platform.root)
              .Vcek(platform.state.chip, platform.fuses, *tcb, platform.state.manufactured_at);
      REQUIRE(cert.ok());
      CHECK(cert->SubjectText() == kAmdDn + "SEV-VCEK");
      CHECK(cert->IssuerText() == kAmdDn + "SEV-" + Info(p).name);
      CHECK(cert->SerialBigEndian() == Bytes{0x00});
      CHECK(cert->NotBefore() == platform.state.manufactured_at);
      CHECK(cert->NotAfter() - cert->NotBefore() == (7 * 365 + 2) * kDay);
      CHECK(cert->HasAmdPssSignature());
      CHECK(cert->SubjectPublicKey()->kind() == crypto::KeyKind::kEcP384);
      const std::string product_name = p == Product::kMilan ? "Milan-B0" : "Genoa";
      Bytes pn{0x16, static_cast<std::uint8_t>(product_name.size())};
      pn.insert(pn.end(), product_name.begin(), product_name.end());
      const std::vector<Extension> want = {
          {kOidStructVersion, false, Hex("020100")},
          {kOidProductName, false, pn},
          {kOidBlSpl, false, Hex("020103")},
          {kOidTeeSpl, false, Hex("020101")},
          {kOidSpl4, false, Hex("020100")},
          {kOidSpl5, false, Hex("020100")},
          {kOidSpl6, false, Hex("020100")},
          {kOidSpl7, false, Hex("020100")},
          {kOidSnpSpl, false, Hex("020108")},
          {kOidUcodeSpl, false, Hex("020200d9")},
          {kOidHwId, false, platform.state.chip.chip_id},  // raw 64 bytes, no OCTET STRING
      };
      CHECK(cert->Extensions() == want);
      CHECK(crypto::VerifyChain({*cert, platform.root.ask, platform.root.ark},
                                platform.state.manufactured_at + kDay)
                .ok());
      // Not the ASVK: a VCEK must chain to the ASK.
      CHECK_FALSE(cert->VerifySignedBy(*platform.root.asvk.SubjectPublicKey()).ok());
    }
  }
  SUBCASE("Turin: fmcSPL first, no spl4, an 8-byte hwID, struct version 1") {
    const Platform platform = test::SeededPlatform(Product::kTurin);
    auto cert = Kds(platform.root)
                    .Vcek(platform.state.chip, platform.fuses, platform.state.reported_tcb,
                          platform.state.manufactured_at);
    REQUIRE(cert.ok());
    CHECK(Oids(*cert) == std::vector<std::string>{kOidStructVersion, kOidProductName, kOidFmcSpl,
                                                  kOidBlSpl, kOidTeeSpl, kOidSnpSpl, kOidSpl5,
                                                  kOidSpl6, kOidSpl7, kOidUcodeSpl, kOidHwId});
    CHECK(cert->FindExtension(kOidStructVersion)->value == Hex("020101"));
    CHECK(cert->FindExtension(kOidProductName)->value == Hex("1605547572696e"));  // "Turin"
    const auto hwid = cert->FindExtension(kOidHwId)->value;
    CHECK(hwid ==
          Bytes(platform.state.chip.chip_id.begin(), platform.state.chip.chip_id.begin() + 8));
    const TcbParts parts = platform.state.reported_tcb.parts();
    CHECK(cert->FindExtension(kOidFmcSpl)->value == crypto::DerInteger(parts.fmc));
    CHECK(cert->FindExtension(kOidSnpSpl)->value == crypto::DerInteger(parts.snp));
  }
}

TEST_CASE("VLEK certificates: ASVK issuer, cspID instead of hwID, one year") {
  const Platform platform = test::SeededPlatform(Product::kMilan);
  auto issue = Kds(platform.root)
                   .Vlek(platform.state.chip, platform.fuses, "CN=cc-us-east-2.example.com",
                         platform.state.reported_tcb, platform.state.manufactured_at);
  REQUIRE(issue.ok());
  const auto& cert = issue->certificate;
  CHECK(cert.SubjectText() == kAmdDn + "SEV-VLEK");
  CHECK(cert.IssuerText() == kAmdDn + "SEV-VLEK-Milan");
  CHECK(cert.NotAfter() - cert.NotBefore() == 365 * kDay);
  CHECK(cert.FindExtension(kOidProductName)->value == Hex("16054d696c616e"));  // "Milan"
  CHECK_FALSE(cert.FindExtension(kOidHwId).has_value());
  auto csp = cert.FindExtension(kOidCspId);
  REQUIRE(csp.has_value());
  CHECK(csp->value == *crypto::DerIa5String("CN=cc-us-east-2.example.com"));
  CHECK(Oids(cert).back() == kOidCspId);
  CHECK(crypto::VerifyChain({cert, platform.root.asvk, platform.root.ark},
                            platform.state.manufactured_at + kDay)
            .ok());
  // Two CSPs get different VLEKs on the same chip and TCB.
  auto other = Kds(platform.root)
                   .Vlek(platform.state.chip, platform.fuses, "CN=other",
                         platform.state.reported_tcb, platform.state.manufactured_at);
  CHECK_FALSE(*other->certificate.SubjectPublicKey() == *cert.SubjectPublicKey());
  CHECK(Kds(platform.root)
            .Vlek(platform.state.chip, platform.fuses, "", platform.state.reported_tcb,
                  platform.state.manufactured_at)
            .error()
            .code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("the KDS and the firmware agree on the VCEK at every TCB the firmware can reach") {
  const Platform platform = test::SeededPlatform(Product::kGenoa);
  const Kds kds(platform.root);
  auto sticks = BootRomSticks(platform);
  REQUIRE(sticks.ok());
  for (TcbParts parts :
       {TcbParts{0, 10, 0, 23, 84}, TcbParts{0, 9, 0, 23, 84}, TcbParts{0, 0, 0, 0, 0}}) {
    auto tcb = TcbVersion::FromParts(Product::kGenoa, parts);
    auto cert = kds.Vcek(platform.state.chip, platform.fuses, *tcb, platform.state.manufactured_at);
    auto fw = DeriveVcek(*sticks->DeriveDown(*tcb));
    REQUIRE(cert.ok());
    REQUIRE(fw.ok());
    CHECK(*cert->SubjectPublicKey() == fw->Public());
  }
  CHECK(CheckPlatform(platform).ok());
}

}  // namespace sevemu::emulator
