// The KDS over real loopback sockets: a server started in-process on an ephemeral port, talked
// to with a small Beast client.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "kds/kds_http_server.h"
#include "kds_test_util.h"
#include "sevemu/emulator/manufacturing/provision.h"

namespace sevemu::kds {
namespace {

using emulator::Product;
using test::HttpClient;

struct Fixture {
  emulator::Platform milan = test::SeededPlatform(Product::kMilan, 1);
  emulator::Platform turin = test::SeededPlatform(Product::kTurin, 3);
  std::shared_ptr<KdsService> service = test::MakeKds({milan, turin});
  std::atomic<int> logged{0};
  std::atomic<int> strange_remote{0};
  std::unique_ptr<KdsHttpServer> server;

  explicit Fixture(KdsHttpServer::Options opts = {}) {
    opts.listen = {"127.0.0.1", 0};
    opts.on_request = [this](const AccessLogEntry& e) {
      if (e.remote.rfind("127.0.0.1:", 0) != 0) ++strange_remote;
      ++logged;
    };
    auto s = KdsHttpServer::Start(service, opts);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message()));
    server = std::move(s).value();
  }
};

}  // namespace

TEST_CASE("over HTTP: the VCEK parses, is the firmware's key, and chains to the served ARK") {
  Fixture f;
  REQUIRE(f.server->port() != 0);
  CHECK(f.server->url() == "http://127.0.0.1:" + std::to_string(f.server->port()));
  HttpClient c(f.server->port());
  for (const emulator::Platform* p : {&f.milan, &f.turin}) {
    const std::string name = emulator::Info(p->state.chip.product).name;
    CAPTURE(name);
    // One keep-alive connection for all of these.
    const auto chain = c.Get("/vcek/v1/" + name + "/cert_chain");
    REQUIRE(chain.status == 200);
    CHECK(chain.header("Content-Type") == kPemContentType);
    CHECK(chain.keep_alive);
    auto certs = crypto::Certificate::AllFromPem(chain.body);
    REQUIRE(certs.ok());
    REQUIRE(certs->size() == 2);

    const auto vcek_reply = c.Get(test::VcekPath(*p, p->state.reported_tcb));
    REQUIRE_MESSAGE(vcek_reply.status == 200, vcek_reply.body);
    CHECK(vcek_reply.header("Content-Type") == kDerContentType);
    CHECK(vcek_reply.header("Content-Length") == std::to_string(vcek_reply.body.size()));
    auto vcek = crypto::Certificate::FromDer(test::BodyBytes(vcek_reply.body));
    REQUIRE(vcek.ok());
    auto fw = emulator::FirmwareVcek(*p);
    REQUIRE(fw.ok());
    CHECK(*vcek->SubjectPublicKey() == fw->Public());
    CHECK(crypto::VerifyChain({*vcek, (*certs)[0], (*certs)[1]}, test::kKdsNow).ok());

    const auto crl_reply = c.Get("/vcek/v1/" + name + "/crl");
    REQUIRE(crl_reply.status == 200);
    CHECK(crl_reply.header("Content-Type") == kCrlContentType);
    auto crl = crypto::Crl::FromDer(test::BodyBytes(crl_reply.body));
    REQUIRE(crl.ok());
    CHECK(crl->VerifySignedBy(*(*certs)[1].SubjectPublicKey()).ok());
  }
  const auto missing =
      c.Get("/vcek/v1/Milan/" + std::string(128, '0') + "?blSPL=1&teeSPL=0&snpSPL=1&ucodeSPL=1");
  CHECK(missing.status == 404);
  CHECK(missing.header("Content-Type") == kTextContentType);
  CHECK(c.Get("/vcek/v1/Milan/abc?blSPL=1").status == 400);
  const auto vlek = c.Get("/vlek/v1/Turin/cert?fmcSPL=1&blSPL=1&teeSPL=0&snpSPL=1&ucodeSPL=1",
                          {{kCspIdHeader, "cloud-a"}});
  CHECK(vlek.status == 200);
  CHECK(c.Get("/vlek/v1/Turin/cert?fmcSPL=1&blSPL=1&teeSPL=0&snpSPL=1&ucodeSPL=1").status == 403);
  CHECK(f.logged.load() == 10);
  CHECK(f.strange_remote.load() == 0);
}

TEST_CASE("over HTTP: HEAD has GET's headers and no body; other methods are 405") {
  Fixture f;
  HttpClient c(f.server->port());
  const auto get = c.Get("/vcek/v1/Milan/cert_chain");
  bool ok = false;
  const auto head = c.Request("HEAD", "/vcek/v1/Milan/cert_chain", ok);
  REQUIRE(ok);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(head.header("Content-Length") == std::to_string(get.body.size()));
  CHECK(head.header("Content-Type") == get.header("Content-Type"));
  // The connection is still usable after HEAD (no stray body bytes).
  CHECK(c.Get("/vcek/v1/Milan/cert_chain").body == get.body);
  const auto post = c.Request("POST", "/vcek/v1/Milan/cert_chain", ok, {}, "x=1");
  REQUIRE(ok);
  CHECK(post.status == 405);
  CHECK(post.header("Allow") == "GET, HEAD");
  CHECK(c.Get("/vcek/v1/Milan/cert_chain").status == 200);
}

TEST_CASE("over HTTP: malformed and oversized requests are answered or dropped, never fatal") {
  Fixture f;
  SUBCASE("garbage request line") {
    HttpClient c(f.server->port());
    const std::string reply = c.Raw("GARBAGE\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 400", 0) == 0);
  }
  SUBCASE("bad version") {
    HttpClient c(f.server->port());
    CHECK(c.Raw("GET / HTTPS/1.1\r\n\r\n").rfind("HTTP/1.1 400", 0) == 0);
  }
  SUBCASE("header over 8 KiB") {
    HttpClient c(f.server->port());
    const std::string reply = c.Raw("GET /vcek/v1/Milan/cert_chain HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                    std::string(20000, 'a') + "\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 431", 0) == 0);
  }
  SUBCASE("body over 4 KiB") {
    HttpClient c(f.server->port());
    const std::string reply = c.Raw(
        "POST /vcek/v1/Milan/cert_chain HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
  }
  SUBCASE("binary noise") {
    HttpClient c(f.server->port());
    std::string noise;
    for (int i = 0; i < 3000; ++i) noise += static_cast<char>((i * 131 + 7) & 0xFF);
    c.Raw(noise);  // whatever it answers, it must answer the next client
  }
  SUBCASE("a client that vanishes mid-request") {
    { HttpClient c(f.server->port()); }
    HttpClient c(f.server->port());
    (void)c;
  }
  // The server is still there.
  HttpClient after(f.server->port());
  CHECK(after.Get("/vcek/v1/Milan/cert_chain").status == 200);
}

TEST_CASE("over HTTP: many clients at once") {
  KdsHttpServer::Options opts;
  opts.threads = 4;
  Fixture f(opts);
  constexpr int kClients = 16, kRequests = 8;
  std::atomic<int> good{0};
  const std::string vcek = test::VcekPath(f.milan, f.milan.state.reported_tcb);
  const std::string expected = f.service->Handle({"GET", vcek, ""}).body;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      HttpClient c(f.server->port());
      for (int j = 0; j < kRequests; ++j) {
        bool ok = false;
        const auto r = c.Request("GET", (i + j) % 2 ? vcek : "/vcek/v1/Turin/crl", ok);
        if (ok && r.status == 200 && ((i + j) % 2 == 0 || r.body == expected)) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good.load() == kClients * kRequests);
  CHECK(f.service->issued_count() == 1);  // one VCEK, issued once, served from the cache
}

TEST_CASE("over HTTP: connection limit and idle timeout") {
  SUBCASE("connections beyond the limit are closed") {
    KdsHttpServer::Options opts;
    opts.max_connections = 1;
    Fixture f(opts);
    HttpClient first(f.server->port());
    CHECK(first.Get("/vcek/v1/Milan/cert_chain").status == 200);  // accepted and counted
    HttpClient second(f.server->port());
    CHECK(second.ClosedByServer());
    CHECK(first.Get("/vcek/v1/Milan/cert_chain").status == 200);
  }
  SUBCASE("an idle connection is closed") {
    KdsHttpServer::Options opts;
    opts.idle_timeout = std::chrono::milliseconds(200);
    Fixture f(opts);
    HttpClient c(f.server->port());
    CHECK(c.Get("/vcek/v1/Milan/cert_chain").status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    CHECK(c.ClosedByServer());
  }
}

TEST_CASE("Stop is idempotent and closes the port") {
  Fixture f;
  const std::uint16_t port = f.server->port();
  f.server->Stop();
  f.server->Stop();
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  CHECK(ec);
}

TEST_CASE("the server listens only on loopback unless told otherwise") {
  auto service = test::MakeKds({test::SeededPlatform(Product::kMilan, 1)});
  KdsHttpServer::Options opts;
  for (const char* host : {"0.0.0.0", "::", "192.0.2.1"}) {
    CAPTURE(host);
    opts.listen = {host, 0};
    auto s = KdsHttpServer::Start(service, opts);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code() == ErrorCode::kRefused);
  }
  opts.listen = {"not-an-ip", 0};
  CHECK(KdsHttpServer::Start(service, opts).error().code() == ErrorCode::kInvalidArgument);
  opts.listen = {"127.0.0.1", 0};
  opts.threads = 0;
  CHECK(KdsHttpServer::Start(service, opts).error().code() == ErrorCode::kInvalidArgument);
  // A port in use is an I/O error naming the address.
  opts.threads = 1;
  auto first = KdsHttpServer::Start(service, opts);
  REQUIRE(first.ok());
  opts.listen.port = (*first)->port();
  auto second = KdsHttpServer::Start(service, opts);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code() == ErrorCode::kIo);
  CHECK(second.error().message().find(std::to_string(opts.listen.port)) != std::string::npos);
}

namespace {

// A server whose service has a control token, on an ephemeral port, `threads` threads.
struct CtlFixture {
  emulator::Platform milan = test::SeededPlatform(Product::kMilan, 1);
  std::shared_ptr<KdsService> service;
  std::unique_ptr<KdsHttpServer> server;
  std::vector<std::string> faults_logged;
  std::mutex mu;

  explicit CtlFixture(int threads) {
    std::vector<KdsService::Source> sources;
    sources.push_back({"milan", milan});
    KdsService::Options sopts;
    sopts.clock = [] { return test::kKdsNow; };
    sopts.ctl_token = "http-test-token";
    auto s = KdsService::Create(std::move(sources), sopts);
    REQUIRE(s.ok());
    service = std::shared_ptr<KdsService>(std::move(*s));
    KdsHttpServer::Options opts;
    opts.listen = {"127.0.0.1", 0};
    opts.threads = threads;
    opts.on_request = [this](const AccessLogEntry& e) {
      std::lock_guard lock(mu);
      if (!e.fault.empty()) faults_logged.push_back(e.fault);
    };
    auto srv = KdsHttpServer::Start(service, opts);
    REQUIRE(srv.ok());
    server = std::move(srv).value();
  }
};

}  // namespace

TEST_CASE("over HTTP: control needs the bearer token; a 429 carries Retry-After") {
  CtlFixture f(2);
  HttpClient c(f.server->port());
  bool ok = false;
  const std::string spec = R"({"kind":"kds.rate_limited","count":2,"retry_after":30})";
  auto r = c.Request("POST", kFaultsPath, ok, {}, spec);
  REQUIRE(ok);
  CHECK(r.status == 401);
  CHECK(r.header("WWW-Authenticate") == "Bearer");
  r = c.Request("POST", kFaultsPath, ok, {{"Authorization", "Bearer nope"}}, spec);
  REQUIRE(ok);
  CHECK(r.status == 401);
  CHECK(f.service->faults().List().empty());

  r = c.Request("POST", kFaultsPath, ok, {{"Authorization", "Bearer http-test-token"}}, spec);
  REQUIRE(ok);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const std::string chain = "/vcek/v1/Milan/cert_chain";
  for (int i = 0; i < 2; ++i) {
    const auto limited = c.Get(chain);
    CHECK(limited.status == 429);
    CHECK(limited.header("Retry-After") == "30");
  }
  CHECK(c.Get(chain).status == 200);
  std::lock_guard lock(f.mu);
  CHECK(f.faults_logged == std::vector<std::string>{"kds.rate_limited#1", "kds.rate_limited#1"});
}

TEST_CASE("over HTTP: a slow answer does not hold up other clients, even on one thread") {
  CtlFixture f(1);
  // Far longer than the test: the slow client can only end by the server going away, so
  // nothing here depends on how fast the machine is.
  REQUIRE(f.service->faults().Add({KdsFaultKind::kSlow, 1, 0, 1, kMaxFaultDelayMs}).ok());
  const std::string chain = "/vcek/v1/Milan/cert_chain";
  std::atomic<bool> slow_answered{false};
  std::atomic<bool> slow_ended{false};
  const std::uint16_t port = f.server->port();
  std::thread slow([&] {
    HttpClient c(port, 300000);
    bool ok = false;
    c.Request("GET", chain, ok);
    slow_answered = ok;
    slow_ended = true;
  });
  // Wait until the slow request has been matched, so it is the one delayed.
  while (f.service->faults().List()[0].fired == 0) std::this_thread::yield();
  HttpClient fast(port);
  CHECK(fast.Get(chain).status == 200);
  CHECK(fast.Get(chain).status == 200);
  CHECK(!slow_ended.load());
  // Stopping drops the waiting connection instead of waiting out the delay.
  f.server.reset();
  slow.join();
  CHECK(!slow_answered.load());
}

TEST_CASE("ParseListenAddress") {
  struct Row {
    const char* text;
    bool ok;
    const char* host;
    int port;
  };
  const Row rows[] = {
      {"127.0.0.1:8888", true, "127.0.0.1", 8888},
      {"localhost:0", true, "127.0.0.1", 0},
      {"[::1]:65535", true, "::1", 65535},
      {"0.0.0.0:80", true, "0.0.0.0", 80},
      {"127.0.0.1", false, "", 0},
      {"127.0.0.1:", false, "", 0},
      {"127.0.0.1:65536", false, "", 0},
      {"127.0.0.1:-1", false, "", 0},
      {"127.0.0.1:80x", false, "", 0},
      {"::1:80", false, "", 0},
      {"[::1:80", false, "", 0},
      {"[::1]80", false, "", 0},
      {"example.com:80", false, "", 0},
      {":80", false, "", 0},
      {"", false, "", 0},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    auto a = ParseListenAddress(r.text);
    CHECK(a.ok() == r.ok);
    if (a.ok() && r.ok) {
      CHECK(a->host == r.host);
      CHECK(a->port == r.port);
    }
  }
}

}  // namespace sevemu::kds
