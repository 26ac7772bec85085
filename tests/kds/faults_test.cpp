// The simulated KDS's faults without sockets: the control endpoint's refusals, each fault
// firing exactly as counted and normal answers resuming, and the faulty certificates and CRL
// being what they claim (parsed, not trusted).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "kds/kds_capabilities.h"
#include "kds_test_util.h"
#include "sevemu/emulator/manufacturing/provision.h"

namespace sevemu::kds {
namespace {

using emulator::Product;
using test::BodyBytes;
using test::kKdsNow;

constexpr char kToken[] = "s3cret-token-for-tests";

std::shared_ptr<KdsService> MakeKdsWithCtl(const emulator::Platform& p) {
  std::vector<KdsService::Source> sources;
  sources.push_back({"platform", p});
  KdsService::Options opts;
  opts.clock = [] { return kKdsNow; };
  opts.ctl_token = kToken;
  auto service = KdsService::Create(std::move(sources), opts);
  REQUIRE(service.ok());
  return std::shared_ptr<KdsService>(std::move(*service));
}

Response Get(const KdsService& kds, const std::string& target) {
  return kds.Handle({"GET", target, ""});
}

Response Ctl(const KdsService& kds, const std::string& method, const std::string& path,
             const std::string& body = "",
             const std::string& auth = std::string("Bearer ") + kToken, bool loopback = true) {
  Request r{method, path, ""};
  r.authorization = auth;
  r.from_loopback = loopback;
  r.body = body;
  return kds.Handle(r);
}

std::uint64_t Inject(const KdsService& kds, const nlohmann::json& spec) {
  const Response r = Ctl(kds, "POST", kFaultsPath, spec.dump());
  REQUIRE_MESSAGE(r.status == 201, r.body);
  return nlohmann::json::parse(r.body)["id"].get<std::uint64_t>();
}

nlohmann::json Listed(const KdsService& kds) {
  const Response r = Ctl(kds, "GET", kFaultsPath);
  REQUIRE(r.status == 200);
  return nlohmann::json::parse(r.body)["faults"];
}

}  // namespace

TEST_CASE("KDS control: refused without the token or off loopback, changing nothing") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = MakeKdsWithCtl(p);
  const std::string spec = R"({"kind":"kds.server_error"})";
  // No header, another scheme, a wrong token, a prefix of the token, the token plus a byte.
  for (const std::string& auth :
       {std::string(), std::string("Basic ") + kToken, std::string("Bearer wrong"),
        std::string("Bearer s3cret"), std::string("Bearer ") + kToken + "x", std::string(kToken)}) {
    CAPTURE(auth);
    for (const char* method : {"POST", "GET", "DELETE"}) {
      const Response r = Ctl(*kds, method, kFaultsPath, spec, auth);
      CHECK(r.status == 401);
      CHECK(r.body.find(kToken) == std::string::npos);
    }
  }
  // The right token from another host.
  for (const char* method : {"POST", "GET", "DELETE"}) {
    CHECK(Ctl(*kds, method, kFaultsPath, spec, std::string("Bearer ") + kToken, false).status ==
          403);
  }
  CHECK(kds->faults().List().empty());
  CHECK(Get(*kds, test::VcekPath(p, p.state.reported_tcb)).status == 200);

  // Without a token configured there is no control endpoint at all.
  const auto plain = test::MakeKds({p});
  CHECK(Ctl(*plain, "POST", kFaultsPath, spec).status == 404);
  CHECK(plain->faults().List().empty());
}

TEST_CASE("KDS control: bad specs are 400 and add nothing; clear by id and all") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = MakeKdsWithCtl(p);
  for (const char* body :
       {"", "not json", "[]", R"({})", R"({"kind":"kds.bogus"})", R"({"kind":7})",
        R"({"kind":"kds.slow"})", R"({"kind":"kds.slow","delay_ms":999999999})",
        R"({"kind":"kds.not_found","count":-1})", R"({"kind":"kds.not_found","count":"2"})",
        R"({"kind":"kds.not_found","colour":1})",
        R"({"kind":"kds.rate_limited","retry_after":100000})"}) {
    CAPTURE(body);
    CHECK(Ctl(*kds, "POST", kFaultsPath, body).status == 400);
  }
  CHECK(kds->faults().List().empty());
  CHECK(Ctl(*kds, "PUT", kFaultsPath).status == 405);

  const std::uint64_t a = Inject(*kds, {{"kind", "kds.not_found"}});
  Inject(*kds, {{"kind", "kds.server_error"}});
  CHECK(Listed(*kds).size() == 2);
  CHECK(Ctl(*kds, "DELETE", std::string(kFaultsPath) + "/999").status == 404);
  CHECK(Ctl(*kds, "DELETE", std::string(kFaultsPath) + "/x").status == 404);
  CHECK(Ctl(*kds, "DELETE", std::string(kFaultsPath) + "/" + std::to_string(a)).status == 200);
  REQUIRE(Listed(*kds).size() == 1);
  CHECK(Listed(*kds)[0]["kind"] == "kds.server_error");
  const Response all = Ctl(*kds, "DELETE", kFaultsPath);
  CHECK(all.status == 200);
  CHECK(nlohmann::json::parse(all.body)["cleared"] == 1);
  CHECK(Listed(*kds).empty());
  CHECK(Get(*kds, test::VcekPath(p, p.state.reported_tcb)).status == 200);
}

TEST_CASE("KDS faults: 404, 429 with Retry-After and 500 fire exactly N times, then normal") {
  const auto p = test::SeededPlatform(Product::kGenoa, 2);
  const auto kds = MakeKdsWithCtl(p);
  const std::string vcek = test::VcekPath(p, p.state.reported_tcb);
  const std::string chain = "/vcek/v1/Genoa/cert_chain";
  struct Case {
    const char* kind;
    int status;
  };
  for (const Case c :
       {Case{"kds.not_found", 404}, Case{"kds.rate_limited", 429}, Case{"kds.server_error", 500}}) {
    CAPTURE(c.kind);
    Inject(*kds, {{"kind", c.kind}, {"count", 3}, {"retry_after", 7}});
    // Every KDS endpoint is hit, VCEK and chain alike.
    for (int i = 0; i < 3; ++i) {
      const Response r = Get(*kds, i % 2 ? chain : vcek);
      CHECK(r.status == c.status);
      CHECK(r.fault.rfind(c.kind, 0) == 0);
      bool retry_after = false;
      for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && v == "7";
      CHECK(retry_after == (c.status == 429));
    }
    CHECK(Get(*kds, vcek).status == 200);
    CHECK(Get(*kds, chain).status == 200);
    const auto list = Listed(*kds);
    REQUIRE(list.size() == 1);
    CHECK(list[0]["fired"] == 3);
    CHECK(list[0]["exhausted"] == true);
    CHECK(Ctl(*kds, "DELETE", kFaultsPath).status == 200);
  }
}

TEST_CASE("KDS faults: one in K, and until cleared") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = MakeKdsWithCtl(p);
  const std::string chain = "/vcek/v1/Milan/cert_chain";
  Inject(*kds, {{"kind", "kds.server_error"}, {"every", 3}, {"count", 2}});
  std::vector<int> statuses;
  for (int i = 0; i < 9; ++i) statuses.push_back(Get(*kds, chain).status);
  CHECK(statuses == std::vector<int>{200, 200, 500, 200, 200, 500, 200, 200, 200});
  CHECK(Ctl(*kds, "DELETE", kFaultsPath).status == 200);

  Inject(*kds, {{"kind", "kds.not_found"}});
  for (int i = 0; i < 5; ++i) CHECK(Get(*kds, chain).status == 404);
  CHECK(Listed(*kds)[0]["exhausted"] == false);
  CHECK(Ctl(*kds, "DELETE", kFaultsPath).status == 200);
  CHECK(Get(*kds, chain).status == 200);
}

TEST_CASE("KDS faults: kds.slow asks the server for a delay, then stops") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = MakeKdsWithCtl(p);
  Inject(*kds, {{"kind", "kds.slow"}, {"delay_ms", 250}, {"count", 1}});
  const Response slow = Get(*kds, "/vcek/v1/Milan/cert_chain");
  CHECK(slow.status == 200);
  CHECK(slow.delay_ms == 250);
  const Response next = Get(*kds, "/vcek/v1/Milan/cert_chain");
  CHECK(next.delay_ms == 0);
  CHECK(next.body == slow.body);
}

TEST_CASE("KDS faults: the wrong-TCB VCEK carries another TCB than the query, once") {
  const auto p = test::SeededPlatform(Product::kMilan, 1);
  const auto kds = MakeKdsWithCtl(p);
  const std::string url = test::VcekPath(p, p.state.reported_tcb);
  const auto asked = p.state.reported_tcb.parts();
  Inject(*kds, {{"kind", "kds.wrong_tcb"}, {"count", 1}});
  const Response wrong = Get(*kds, url);
  REQUIRE(wrong.status == 200);
  auto cert = crypto::Certificate::FromDer(BodyBytes(wrong.body));
  REQUIRE(cert.ok());
  const auto snp = cert->FindExtension(emulator::kOidSnpSpl);
  REQUIRE(snp.has_value());
  CHECK(snp->value != crypto::DerInteger(asked.snp));
  CHECK(cert->FindExtension(emulator::kOidBlSpl)->value == crypto::DerInteger(asked.boot_loader));
  // A VCEK at another TCB has another key: a report signed at the asked TCB will not verify.
  CHECK(!(*cert->SubjectPublicKey() == emulator::FirmwareVcek(p)->Public()));

  const Response right = Get(*kds, url);
  REQUIRE(right.status == 200);
  auto good = crypto::Certificate::FromDer(BodyBytes(right.body));
  REQUIRE(good.ok());
  CHECK(good->FindExtension(emulator::kOidSnpSpl)->value == crypto::DerInteger(asked.snp));
  CHECK(*good->SubjectPublicKey() == emulator::FirmwareVcek(p)->Public());
  // The faulty one was not cached.
  CHECK(Get(*kds, url).body == right.body);
}

TEST_CASE("KDS faults: the expired VCEK's notAfter has passed; the next is valid") {
  const auto p = test::SeededPlatform(Product::kTurin, 3);
  const auto kds = MakeKdsWithCtl(p);
  const std::string url = test::VcekPath(p, p.state.reported_tcb);
  Inject(*kds, {{"kind", "kds.expired"}, {"count", 2}});
  for (int i = 0; i < 2; ++i) {
    const Response r = Get(*kds, url);
    REQUIRE(r.status == 200);
    auto cert = crypto::Certificate::FromDer(BodyBytes(r.body));
    REQUIRE(cert.ok());
    CHECK(cert->NotAfter() < kKdsNow);
    // Otherwise the chip's real VCEK: same key, so only the dates are wrong.
    CHECK(*cert->SubjectPublicKey() == emulator::FirmwareVcek(p)->Public());
    CHECK(!crypto::VerifyChain({*cert, p.root.ask, p.root.ark}, kKdsNow).ok());
  }
  // Faults aimed at VCEKs do not fire (or count) on other endpoints.
  CHECK(Get(*kds, "/vcek/v1/Turin/cert_chain").status == 200);
  auto good = crypto::Certificate::FromDer(BodyBytes(Get(*kds, url).body));
  REQUIRE(good.ok());
  CHECK(good->NotAfter() > kKdsNow);
  CHECK(crypto::VerifyChain({*good, p.root.ask, p.root.ark}, kKdsNow).ok());
  CHECK(Listed(*kds)[0]["matched"] == 2);
}

TEST_CASE("KDS faults: kds.revoked lists the VCEK's serial in the VCEK CRL, once") {
  const auto p = test::SeededPlatform(Product::kGenoa, 2);
  const auto kds = MakeKdsWithCtl(p);
  auto vcek = crypto::Certificate::FromDer(
      BodyBytes(Get(*kds, test::VcekPath(p, p.state.reported_tcb)).body));
  REQUIRE(vcek.ok());
  Inject(*kds, {{"kind", "kds.revoked"}, {"count", 1}});
  // The VLEK CRL is not the VCEK's: the fault does not fire there.
  auto vlek_crl = crypto::Crl::FromDer(BodyBytes(Get(*kds, "/vlek/v1/Genoa/crl").body));
  REQUIRE(vlek_crl.ok());
  CHECK(vlek_crl->RevokedSerials().empty());

  const Response r = Get(*kds, "/vcek/v1/Genoa/crl");
  REQUIRE(r.status == 200);
  auto crl = crypto::Crl::FromDer(BodyBytes(r.body));
  REQUIRE(crl.ok());
  CHECK(crl->VerifySignedBy(*p.root.ark.SubjectPublicKey()).ok());
  const auto serials = crl->RevokedSerials();
  REQUIRE(serials.size() == 1);
  // Compared as numbers: strip leading zero bytes of the big-endian encodings.
  auto trim = [](Bytes b) {
    while (!b.empty() && b.front() == 0) b.erase(b.begin());
    return b;
  };
  CHECK(trim(serials[0]) == trim(vcek->SerialBigEndian()));

  auto after = crypto::Crl::FromDer(BodyBytes(Get(*kds, "/vcek/v1/Genoa/crl").body));
  REQUIRE(after.ok());
  CHECK(after->RevokedSerials().empty());
}

}  // namespace sevemu::kds

namespace sevemu::kds {
namespace {

// `sevemu kds serve --print-capabilities` (kds_capabilities.h): every fault kind it lists is
// accepted by the control endpoint and fires on exactly the endpoints it names.
TEST_CASE("KDS capabilities: every listed fault kind is accepted and fires where it says") {
  const auto caps = nlohmann::json::parse(KdsCapabilitiesJson("9.9.9"));
  CHECK(caps["name"] == "sevemu kds");
  CHECK(caps["version"] == "9.9.9");
  CHECK(caps["ctl"]["path"] == kFaultsPath);
  REQUIRE(caps["routes"].size() == KdsRoutes().size());
  for (std::size_t i = 0; i < KdsRoutes().size(); ++i) {
    CHECK(caps["routes"][i]["path"] == KdsRoutes()[i].path);
  }
  REQUIRE(caps["products"].size() == 3);
  CHECK(caps["products"][2]["name"] == "Turin");
  CHECK(caps["products"][2]["tcb_parameters"][0] == "fmcSPL");
  CHECK(caps["products"][0]["tcb_parameters"].size() == 4);

  const auto p = test::SeededPlatform(Product::kGenoa, 2);
  const auto kds = MakeKdsWithCtl(p);
  const std::string vlek = "/vlek/v1/Genoa/cert?" + test::TcbQuery(p.state.reported_tcb);
  const std::map<std::string, Request> requests = {
      {"cert_chain", {"GET", "/vcek/v1/Genoa/cert_chain", ""}},
      {"vcek", {"GET", test::VcekPath(p, p.state.reported_tcb), ""}},
      {"vcek_crl", {"GET", "/vcek/v1/Genoa/crl", ""}},
      {"vlek", {"GET", vlek, "csp-1"}},
      {"vlek_crl", {"GET", "/vlek/v1/Genoa/crl", ""}},
  };
  REQUIRE(caps["fault_kinds"].size() == KdsFaultKinds().size());
  for (const auto& k : caps["fault_kinds"]) {
    const std::string kind = k["kind"];
    CAPTURE(kind);
    CHECK(ParseKdsFaultKind(kind).has_value());
    for (const auto& [endpoint, request] : requests) {
      CAPTURE(endpoint);
      nlohmann::json spec = {{"kind", kind}, {"count", 1}};
      if (kind == "kds.slow") spec["delay_ms"] = 1;
      Inject(*kds, spec);
      const Response r = kds->Handle(request);
      bool listed = false;
      for (const auto& e : k["fires_on"]) listed |= e == endpoint;
      CHECK(r.fault.rfind(kind, 0) == (listed ? 0 : std::string::npos));
      REQUIRE(Ctl(*kds, "DELETE", kFaultsPath).status == 200);
    }
  }
}

}  // namespace
}  // namespace sevemu::kds
