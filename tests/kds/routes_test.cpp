// The KDS URL scheme without sockets: every endpoint, every refusal, the cache, and that what
// it issues is what the firmware signs with.
#include <doctest/doctest.h>

#include <random>

#include "kds_test_util.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::kds {
namespace {

using emulator::Product;
using test::BodyBytes;
using test::kKdsNow;

constexpr char kAki[] = "2.5.29.35";
constexpr char kCrlNumber[] = "2.5.29.20";

Response Get(const KdsService& kds, const std::string& target, const std::string& csp = "") {
  return kds.Handle({"GET", target, csp});
}

std::vector<emulator::Platform> ThreeChips() {
  std::vector<emulator::Platform> out;
  out.push_back(test::SeededPlatform(Product::kMilan, 1));
  out.push_back(test::SeededPlatform(Product::kGenoa, 2));
  out.push_back(test::SeededPlatform(Product::kTurin, 3));
  return out;
}

Bytes Der(const crypto::Certificate& c) {
  return *c.ToDer();
}

}  // namespace

TEST_CASE("cert_chain: ASK (or ASVK) then ARK, as PEM, for every product served") {
  const auto platforms = ThreeChips();
  const auto kds = test::MakeKds(ThreeChips());
  for (const auto& p : platforms) {
    const std::string name = emulator::Info(p.state.chip.product).name;
    CAPTURE(name);
    for (bool vlek : {false, true}) {
      const Response r =
          Get(*kds, std::string(vlek ? "/vlek" : "/vcek") + "/v1/" + name + "/cert_chain");
      REQUIRE(r.status == 200);
      CHECK(r.content_type == kPemContentType);
      auto certs = crypto::Certificate::AllFromPem(r.body);
      REQUIRE(certs.ok());
      REQUIRE(certs->size() == 2);
      CHECK(Der((*certs)[0]) == Der(vlek ? p.root.asvk : p.root.ask));
      CHECK(Der((*certs)[1]) == Der(p.root.ark));
    }
  }
}

TEST_CASE("VCEK: DER whose key is the firmware's VCEK and whose chain verifies") {
  const auto platforms = ThreeChips();
  const auto kds = test::MakeKds(ThreeChips());
  for (const auto& p : platforms) {
    const std::string name = emulator::Info(p.state.chip.product).name;
    CAPTURE(name);
    const Response r = Get(*kds, test::VcekPath(p, p.state.reported_tcb));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.content_type == kDerContentType);
    auto vcek = crypto::Certificate::FromDer(BodyBytes(r.body));
    REQUIRE(vcek.ok());
    CHECK(vcek->SubjectCommonName() == "SEV-VCEK");
    // The key the firmware signs reports with (boot ROM sticks derived to the reported TCB).
    auto fw = emulator::FirmwareVcek(p);
    REQUIRE(fw.ok());
    CHECK(*vcek->SubjectPublicKey() == fw->Public());
    CHECK(vcek->FindExtension(emulator::kOidHwId)->value ==
          Bytes(p.state.chip.hw_id().begin(), p.state.chip.hw_id().end()));
    CHECK(vcek->NotBefore() == p.state.manufactured_at);
    // VCEK -> ASK -> ARK, with the chain the same KDS serves.
    auto chain =
        crypto::Certificate::AllFromPem(Get(*kds, "/vcek/v1/" + name + "/cert_chain").body);
    REQUIRE(chain.ok());
    CHECK(crypto::VerifyChain({*vcek, (*chain)[0], (*chain)[1]}, kKdsNow).ok());
    // Not the VLEK chain.
    auto vlek_chain =
        crypto::Certificate::AllFromPem(Get(*kds, "/vlek/v1/" + name + "/cert_chain").body);
    CHECK_FALSE(crypto::VerifyChain({*vcek, (*vlek_chain)[0], (*vlek_chain)[1]}, kKdsNow).ok());
  }
}

TEST_CASE("VCEK at a lower TCB carries that TCB and the key derived down to it") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = test::MakeKds({p});
  auto lower = emulator::ParseTcb(Product::kMilan, "bl=1,tee=0,snp=1,ucode=1");
  REQUIRE(lower.ok());
  const Response r = Get(*kds, test::VcekPath(p, *lower));
  REQUIRE(r.status == 200);
  auto vcek = crypto::Certificate::FromDer(BodyBytes(r.body));
  REQUIRE(vcek.ok());
  auto sticks = emulator::BootRomSticks(p);
  REQUIRE(sticks.ok());
  auto down = sticks->DeriveDown(*lower);
  REQUIRE(down.ok());
  CHECK(*vcek->SubjectPublicKey() == emulator::DeriveVcek(*down)->Public());
  CHECK(vcek->FindExtension(emulator::kOidBlSpl)->value == crypto::DerInteger(1));
  CHECK(vcek->FindExtension(emulator::kOidUcodeSpl)->value == crypto::DerInteger(1));
}

TEST_CASE("VCEKs are cached: the same URL gives the same bytes without issuing again") {
  const auto p = test::SeededPlatform(Product::kGenoa, 2);
  const auto kds = test::MakeKds({p});
  const std::string url = test::VcekPath(p, p.state.reported_tcb);
  const Response a = Get(*kds, url);
  REQUIRE(a.status == 200);
  CHECK(kds->issued_count() == 1);
  // RSA-PSS salts are random, so equal bytes can only come from the cache.
  CHECK(Get(*kds, url).body == a.body);
  // snpguest zero-pads to two digits and an uppercase hwid names the same chip.
  const auto parts = p.state.reported_tcb.parts();
  auto pad = [](int v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  std::string upper = HexEncode(p.state.chip.hw_id());
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string padded = "/vcek/v1/Genoa/" + upper + "?blSPL=" + pad(parts.boot_loader) +
                             "&teeSPL=" + pad(parts.tee) + "&snpSPL=" + pad(parts.snp) +
                             "&ucodeSPL=" + pad(parts.microcode);
  CHECK(Get(*kds, padded).body == a.body);
  // Parameter order does not matter either.
  const std::string reordered =
      "/vcek/v1/Genoa/" + HexEncode(p.state.chip.hw_id()) +
      "?ucodeSPL=" + std::to_string(parts.microcode) + "&snpSPL=" + std::to_string(parts.snp) +
      "&teeSPL=" + std::to_string(parts.tee) + "&blSPL=" + std::to_string(parts.boot_loader);
  CHECK(Get(*kds, reordered).body == a.body);
  CHECK(kds->issued_count() == 1);
  CHECK(kds->cached_count() == 1);
}

TEST_CASE("the certificate cache is bounded") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = test::MakeKds({p}, {}, /*max_cached=*/2);
  for (int snp = 1; snp <= 5; ++snp) {
    auto tcb =
        emulator::ParseTcb(Product::kMilan, "bl=0,tee=0,snp=" + std::to_string(snp) + ",ucode=0");
    REQUIRE(tcb.ok());
    CHECK(Get(*kds, test::VcekPath(p, *tcb)).status == 200);
    CHECK(kds->cached_count() <= 2);
  }
  CHECK(kds->issued_count() == 5);
}

TEST_CASE("HEAD is answered like GET; other methods on an endpoint are 405") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = test::MakeKds({p});
  const Response get = Get(*kds, "/vcek/v1/Milan/cert_chain");
  const Response head = kds->Handle({"HEAD", "/vcek/v1/Milan/cert_chain", ""});
  CHECK(head.status == 200);
  CHECK(head.content_type == get.content_type);
  CHECK(head.body == get.body);  // the server drops it, keeping its length
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"}) {
    CAPTURE(method);
    const std::vector<std::string> targets = {
        "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl", test::VcekPath(p, p.state.reported_tcb),
        "/vlek/v1/Milan/cert?blSPL=1&teeSPL=0&snpSPL=1&ucodeSPL=1"};
    for (const std::string& target : targets) {
      const Response r = kds->Handle({method, target, "csp"});
      CHECK(r.status == 405);
      CHECK(r.content_type == kTextContentType);
      REQUIRE(r.headers.size() == 1);
      CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", "GET, HEAD"});
    }
    // A path that is no endpoint is 404 whatever the method.
    CHECK(kds->Handle({method, "/nothing", ""}).status == 404);
  }
  CHECK(kds->issued_count() == 0);  // refused methods issued nothing
}

TEST_CASE("absolute-form targets are served like origin-form ones") {
  const auto kds = test::MakeKds({test::SeededPlatform(Product::kMilan, 1)});
  const Response a = Get(*kds, "/vcek/v1/Milan/cert_chain");
  CHECK(Get(*kds, "http://kdsintf.amd.com/vcek/v1/Milan/cert_chain").body == a.body);
  CHECK(Get(*kds, "https://127.0.0.1:8888/vcek/v1/Milan/cert_chain").body == a.body);
  CHECK(Get(*kds, "http://kdsintf.amd.com").status == 404);
}

TEST_CASE("VCEK requests the KDS refuses, with the status of each refusal") {
  const auto milan = test::SeededPlatform(Product::kMilan, 1);
  const auto turin = test::SeededPlatform(Product::kTurin, 3);
  const auto kds = test::MakeKds({milan, turin});
  const std::string m_hwid = HexEncode(milan.state.chip.hw_id());
  const std::string t_hwid = HexEncode(turin.state.chip.hw_id());
  const std::string m_ok = "blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
  const std::string t_ok = "fmcSPL=1&blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
  const std::string m = "/vcek/v1/Milan/" + m_hwid + "?";
  const std::string t = "/vcek/v1/Turin/" + t_hwid + "?";
  struct Row {
    const char* rule;
    std::string target;
    int want;
  };
  const Row rows[] = {
      {"well-formed Milan", m + m_ok, 200},
      {"well-formed Turin", t + t_ok, 200},
      {"ucodSPL spelling (go-sev-guest)", m + "blSPL=3&teeSPL=0&snpSPL=8&ucodSPL=115", 200},
      {"microcode may be 255", m + "blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=255", 200},
      {"product in lower case", "/vcek/v1/milan/" + m_hwid + "?" + m_ok, 404},
      {"product AMD does not serve", "/vcek/v1/Bergamo/" + m_hwid + "?" + m_ok, 404},
      {"product this KDS has no chip of", "/vcek/v1/Genoa/" + m_hwid + "?" + m_ok, 404},
      {"unknown chip", "/vcek/v1/Milan/" + std::string(128, 'a') + "?" + m_ok, 404},
      {"Turin hwid asked as Milan", "/vcek/v1/Milan/" + t_hwid + "?" + m_ok, 400},
      {"Milan hwid asked as Turin", "/vcek/v1/Turin/" + m_hwid + "?" + t_ok, 400},
      {"hwid not hex", "/vcek/v1/Milan/" + std::string(128, 'g') + "?" + m_ok, 400},
      {"hwid odd length", "/vcek/v1/Milan/" + m_hwid + "0?" + m_ok, 400},
      {"no query", "/vcek/v1/Milan/" + m_hwid, 400},
      {"empty query", m, 400},
      {"missing ucodeSPL", m + "blSPL=3&teeSPL=0&snpSPL=8", 400},
      {"Turin missing fmcSPL", t + m_ok, 400},
      {"fmcSPL on Milan", m + "fmcSPL=0&" + m_ok, 400},
      {"duplicate parameter", m + m_ok + "&snpSPL=8", 400},
      {"ucodSPL and ucodeSPL both", m + m_ok + "&ucodSPL=115", 400},
      {"unknown parameter", m + m_ok + "&foo=1", 400},
      {"parameter without value", m + "blSPL&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"empty value", m + "blSPL=&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"not a number", m + "blSPL=x&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"negative", m + "blSPL=-1&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"plus sign", m + "blSPL=+1&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"hex value", m + "blSPL=0x1&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"above 255", m + "blSPL=256&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"four digits", m + "blSPL=0001&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"SVN above 127 (KDS rule)", m + "blSPL=128&teeSPL=0&snpSPL=8&ucodeSPL=115", 400},
      {"Turin SNP SVN above 127", t + "fmcSPL=1&blSPL=3&teeSPL=0&snpSPL=200&ucodeSPL=1", 400},
      {"trailing ampersand", m + m_ok + "&", 400},
      {"trailing slash", "/vcek/v1/Milan/" + m_hwid + "/?" + m_ok, 404},
      {"cert endpoint on vcek", "/vcek/v1/Milan/cert?" + m_ok, 400},
      {"percent-encoded leaf (read as a hwid)", "/vcek/v1/Milan/cert_chain%2f", 400},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      const Response res = Get(*kds, r.target);
      CHECK_MESSAGE(res.status == r.want, res.body);
      if (r.want != 200) {
        CHECK(res.content_type == kTextContentType);
        CHECK(res.body.find('\n') == res.body.size() - 1);  // one line
      } else {
        CHECK(crypto::Certificate::FromDer(BodyBytes(res.body)).ok());
      }
    }
  }
}

TEST_CASE("paths that are no KDS endpoint are 404") {
  const auto kds = test::MakeKds({test::SeededPlatform(Product::kMilan, 1)});
  for (const char* target :
       {"/", "", "*", "/vcek", "/vcek/v1", "/vcek/v1/Milan", "/vcek/v1/Milan/",
        "/vcek/v2/Milan/cert_chain", "/vcek/v1/Milan/cert_chain/", "//vcek/v1/Milan/cert_chain",
        "/vcek/v1//cert_chain", "/VCEK/v1/Milan/cert_chain", "/vlek/v1/Milan/aabb?blSPL=0",
        "/vlek/v1/Milan/cert_chain/x", "/cek/id/00", "vcek/v1/Milan/cert_chain"}) {
    const std::string shown = target;
    CAPTURE(shown);
    const Response r = Get(*kds, target);
    CHECK(r.status == 404);
    CHECK(r.content_type == kTextContentType);
  }
}

TEST_CASE("VLEK certificates need the CSP header and chain to the ASVK") {
  const auto p = test::SeededPlatform(Product::kGenoa, 2);
  const auto kds = test::MakeKds({p});
  const std::string url = "/vlek/v1/Genoa/cert?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115";
  const Response refused = Get(*kds, url);
  CHECK(refused.status == 403);
  CHECK(refused.body.find(kCspIdHeader) != std::string::npos);

  const Response r = Get(*kds, url, "cloud-a");
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.content_type == kDerContentType);
  auto vlek = crypto::Certificate::FromDer(BodyBytes(r.body));
  REQUIRE(vlek.ok());
  CHECK(vlek->SubjectCommonName() == "SEV-VLEK");
  CHECK(vlek->FindExtension(emulator::kOidCspId)->value == *crypto::DerIa5String("cloud-a"));
  CHECK_FALSE(vlek->FindExtension(emulator::kOidHwId).has_value());
  CHECK(vlek->NotBefore() == kKdsNow);
  // The key a chip loaded with this CSP's VLEK would sign with.
  auto tcb = emulator::ParseTcb(Product::kGenoa, "bl=3,tee=0,snp=8,ucode=115");
  REQUIRE(tcb.ok());
  auto sticks = emulator::Kds(p.root).VlekSticks("cloud-a", *tcb);
  REQUIRE(sticks.ok());
  CHECK(*vlek->SubjectPublicKey() == emulator::DeriveVlek(*sticks)->Public());
  auto chain = crypto::Certificate::AllFromPem(Get(*kds, "/vlek/v1/Genoa/cert_chain").body);
  REQUIRE(chain.ok());
  CHECK(crypto::VerifyChain({*vlek, (*chain)[0], (*chain)[1]}, kKdsNow).ok());
  // Cached per CSP: the same bytes again; another CSP gets another key.
  CHECK(Get(*kds, url, "cloud-a").body == r.body);
  const Response other = Get(*kds, url, "cloud-b");
  REQUIRE(other.status == 200);
  CHECK(*crypto::Certificate::FromDer(BodyBytes(other.body))->SubjectPublicKey() !=
        *vlek->SubjectPublicKey());

  CHECK(Get(*kds, "/vlek/v1/Genoa/cert?blSPL=3", "cloud-a").status == 400);
  CHECK(Get(*kds, "/vlek/v1/Genoa/cert", "cloud-a").status == 400);
  CHECK(Get(*kds, url, "caf\xc3\xa9").status == 400);
  CHECK(Get(*kds, url, std::string(128, 'c')).status == 400);
  CHECK(Get(*kds, "/vlek/v1/Milan/cert?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115", "cloud-a").status ==
        404);
}

TEST_CASE("CRLs: DER, issued and signed by the ARK, empty, reissued daily") {
  const auto p = test::SeededPlatform(Product::kTurin, 3);
  std::int64_t now = kKdsNow;
  const auto kds = test::MakeKds({p}, [&now] { return now; });
  for (bool vlek : {false, true}) {
    CAPTURE(vlek);
    const std::string url = std::string(vlek ? "/vlek" : "/vcek") + "/v1/Turin/crl";
    now = kKdsNow;
    const Response r = Get(*kds, url);
    REQUIRE(r.status == 200);
    CHECK(r.content_type == kCrlContentType);
    auto crl = crypto::Crl::FromDer(BodyBytes(r.body));
    REQUIRE(crl.ok());
    CHECK(crl->version() == 2);
    CHECK(crl->IssuerText() == p.root.ark.SubjectText());
    CHECK(crl->VerifySignedBy(*p.root.ark.SubjectPublicKey()).ok());
    CHECK_FALSE(crl->VerifySignedBy(*p.root.ask.SubjectPublicKey()).ok());
    CHECK(crl->HasAmdPssSignature());
    CHECK(crl->ThisUpdate() == kKdsNow);
    CHECK(crl->NextUpdate() > kKdsNow);
    CHECK(crl->RevokedSerials().empty());
    std::vector<std::string> oids;
    for (const auto& e : crl->Extensions()) oids.push_back(e.oid);
    CHECK(oids == std::vector<std::string>{kAki, kCrlNumber});
    // The same CRL within the day, a newer one (higher cRLNumber) after it.
    now = kKdsNow + 3600;
    CHECK(Get(*kds, url).body == r.body);
    now = kKdsNow + 2 * 86400;
    const Response later = Get(*kds, url);
    REQUIRE(later.status == 200);
    CHECK(later.body != r.body);
    auto newer = crypto::Crl::FromDer(BodyBytes(later.body));
    REQUIRE(newer.ok());
    CHECK(newer->ThisUpdate() == now);
    CHECK(newer->Extensions()[1].value > crl->Extensions()[1].value);
  }
}

TEST_CASE("ParseTcbQuery follows each product's layout") {
  auto milan = ParseTcbQuery(Product::kMilan, "blSPL=3&teeSPL=1&snpSPL=8&ucodeSPL=209");
  REQUIRE(milan.ok());
  CHECK(milan->raw() == 0xD108000000000103ull);
  auto turin = ParseTcbQuery(Product::kTurin, "fmcSPL=2&blSPL=3&teeSPL=1&snpSPL=8&ucodeSPL=9");
  REQUIRE(turin.ok());
  CHECK(turin->raw() == 0x0900000008010302ull);
  auto error = ParseTcbQuery(Product::kGenoa, "blSPL=3&teeSPL=1&snpSPL=8");
  REQUIRE_FALSE(error.ok());
  CHECK(error.error().code() == ErrorCode::kInvalidArgument);
  CHECK(error.error().message().find("ucodeSPL") != std::string::npos);
}

TEST_CASE("Create refuses what one KDS cannot serve, naming the sources") {
  SUBCASE("nothing") {
    CHECK_FALSE(KdsService::Create({}, {}).ok());
  }
  SUBCASE("the same chip twice") {
    std::vector<KdsService::Source> s;
    s.push_back({"dir-a", test::SeededPlatform(Product::kMilan, 1)});
    s.push_back({"dir-b", test::SeededPlatform(Product::kMilan, 1)});
    auto r = KdsService::Create(std::move(s), {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code() == ErrorCode::kAlreadyExists);
    CHECK(r.error().message().find("dir-b") != std::string::npos);
    CHECK(r.error().message().find("dir-a") != std::string::npos);
  }
  SUBCASE("two roots for one product") {
    auto other = test::SeededPlatform(Product::kMilan, 2);
    other.root.ask = other.root.asvk;  // another ASK
    std::vector<KdsService::Source> s;
    s.push_back({"dir-a", test::SeededPlatform(Product::kMilan, 1)});
    s.push_back({"dir-b", std::move(other)});
    auto r = KdsService::Create(std::move(s), {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message().find("different AMD roots") != std::string::npos);
  }
  SUBCASE("two roots differing only in the VLEK secret") {
    auto other = test::SeededPlatform(Product::kMilan, 2);
    other.root.vlek_secret[0] ^= 1;
    std::vector<KdsService::Source> s;
    s.push_back({"dir-a", test::SeededPlatform(Product::kMilan, 1)});
    s.push_back({"dir-b", std::move(other)});
    CHECK_FALSE(KdsService::Create(std::move(s), {}).ok());
  }
  SUBCASE("two chips of one root") {
    std::vector<KdsService::Source> s;
    s.push_back({"dir-a", test::SeededPlatform(Product::kMilan, 1)});
    s.push_back({"dir-b", test::SeededPlatform(Product::kMilan, 2)});
    auto r = KdsService::Create(std::move(s), {});
    REQUIRE(r.ok());
    CHECK((*r)->chip_count() == 2);
  }
}

TEST_CASE("random targets never crash the routes and get a known status") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = test::MakeKds({p});
  const std::vector<std::string> tokens = {"/",
                                           "vcek",
                                           "vlek",
                                           "v1",
                                           "Milan",
                                           "Turin",
                                           "cert_chain",
                                           "crl",
                                           "cert",
                                           "?",
                                           "&",
                                           "=",
                                           "blSPL",
                                           "teeSPL",
                                           "snpSPL",
                                           "ucodeSPL",
                                           "fmcSPL",
                                           "1",
                                           "255",
                                           "-",
                                           "%00",
                                           "\xff",
                                           std::string("\0", 1),
                                           HexEncode(p.state.chip.hw_id()),
                                           "http://",
                                           "//",
                                           ".."};
  std::mt19937 rng(12345);
  for (int i = 0; i < 3000; ++i) {
    std::string target;
    const int n = static_cast<int>(rng() % 12);
    for (int j = 0; j < n; ++j) target += tokens[rng() % tokens.size()];
    const char* method = (rng() % 4 == 0) ? "HEAD" : "GET";
    const Response r = kds->Handle({method, target, (rng() % 2) ? "csp" : ""});
    CAPTURE(target);
    const int s = r.status;
    CHECK((s == 200 || s == 400 || s == 403 || s == 404));
    CHECK_FALSE(r.content_type.empty());
  }
}

}  // namespace sevemu::kds
