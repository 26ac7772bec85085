// Shared by the KDS suites: seeded platforms behind a KdsService with a fixed clock, and a
// minimal blocking HTTP/1.1 client on Boost.Beast for talking to the server over loopback.
#pragma once

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "emulator_fixture.h"
#include "kds/kds_routes.h"
#include "sevemu/crypto/x509.h"

namespace sevemu::test {

// 2025-06-01T00:00:00Z: inside the test root's and the seeded VCEKs' validity.
inline constexpr std::int64_t kKdsNow = 1748736000;

inline std::shared_ptr<kds::KdsService> MakeKds(std::vector<emulator::Platform> platforms,
                                                std::function<std::int64_t()> clock = {},
                                                std::size_t max_cached = 4096) {
  std::vector<kds::KdsService::Source> sources;
  int i = 0;
  for (auto& p : platforms) sources.push_back({"platform" + std::to_string(i++), std::move(p)});
  kds::KdsService::Options opts;
  opts.clock = clock ? std::move(clock) : [] { return kKdsNow; };
  opts.max_cached_certificates = max_cached;
  auto service = kds::KdsService::Create(std::move(sources), opts);
  REQUIRE_MESSAGE(service.ok(), (service.ok() ? "" : service.error().message()));
  return std::shared_ptr<kds::KdsService>(std::move(*service));
}

// The KDS query for a TCB, as go-sev-guest writes it (decimal, Turin with fmcSPL first).
inline std::string TcbQuery(const emulator::TcbVersion& tcb) {
  const auto p = tcb.parts();
  std::string q;
  if (tcb.product() == emulator::Product::kTurin) q = "fmcSPL=" + std::to_string(p.fmc) + "&";
  return q + "blSPL=" + std::to_string(p.boot_loader) + "&teeSPL=" + std::to_string(p.tee) +
         "&snpSPL=" + std::to_string(p.snp) + "&ucodeSPL=" + std::to_string(p.microcode);
}

inline std::string VcekPath(const emulator::Platform& p, const emulator::TcbVersion& tcb) {
  return std::string("/vcek/v1/") + emulator::Info(p.state.chip.product).name + "/" +
         HexEncode(p.state.chip.hw_id()) + "?" + TcbQuery(tcb);
}

inline Bytes BodyBytes(const std::string& body) {
  return Bytes(body.begin(), body.end());
}

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  bool keep_alive = false;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One blocking connection to 127.0.0.1:port. Every socket read gives up after 10 s so a
// broken server fails the test instead of hanging it.
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, int timeout_ms = 10000) : socket_(ioc_) {
    namespace asio = boost::asio;
    boost::system::error_code ec;
    socket_.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    REQUIRE_MESSAGE(!ec, "connect: " << ec.message());
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }

  // Sends one request; `ok` is false if the server closed or reset the connection instead.
  HttpReply Request(const std::string& method, const std::string& target, bool& ok,
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    const std::string& body = "") {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    if (req.method() == http::verb::unknown) req.method_string(method);
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) req.body() = body;
    req.prepare_payload();
    boost::system::error_code ec;
    http::write(socket_, req, ec);
    HttpReply out;
    ok = false;
    if (ec) return out;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    if (req.method() == http::verb::head) parser.skip(true);
    http::read(socket_, buffer_, parser, ec);
    if (ec) return out;
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res) out.headers[std::string(f.name_string())] = std::string(f.value());
    out.keep_alive = res.keep_alive();
    ok = true;
    return out;
  }

  HttpReply Get(const std::string& target,
                const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    bool ok = false;
    HttpReply r = Request("GET", target, ok, headers);
    REQUIRE_MESSAGE(ok, "GET " << target << " got no response");
    return r;
  }

  // Writes raw bytes and returns everything the server sends until it closes the connection
  // (or the read times out).
  std::string Raw(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    std::string out;
    char chunk[4096];
    while (true) {
      const std::size_t n = socket_.read_some(boost::asio::buffer(chunk), ec);
      out.append(chunk, n);
      if (ec) break;
    }
    return out;
  }

  // True if the server has closed the connection (a read ends with EOF or a reset).
  bool ClosedByServer() {
    boost::system::error_code ec;
    char c;
    socket_.read_some(boost::asio::buffer(&c, 1), ec);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

}  // namespace sevemu::test
