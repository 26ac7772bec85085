// Fuzzes the simulated KDS from the bytes a client sends: the HTTP request as Beast parses it
// (with the server's limits, kds_http_server.cpp), the URL routing and TCB query parsing of
// KdsService::Handle, and the --listen address parser. Anything must give a response with an
// HTTP status, never a crash; a 200 must carry a body.
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "kds/kds_http_server.h"
#include "kds/kds_routes.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"

namespace {

namespace http = boost::beast::http;

// The server's limits (kds_http_server.cpp kHeaderLimit, kBodyLimit).
constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 4 * 1024;

const sevemu::kds::KdsService& Service() {
  static const std::unique_ptr<sevemu::kds::KdsService> service = [] {
    std::vector<sevemu::kds::KdsService::Source> sources;
    for (auto [product, name] : {std::pair{sevemu::emulator::Product::kMilan, "milan"},
                                 std::pair{sevemu::emulator::Product::kTurin, "turin"}}) {
      sevemu::emulator::ProvisionOptions opts;
      opts.product = product;
      opts.seed = sevemu::Bytes{1};
      auto root = sevemu::emulator::AmdRoot::FromFiles(sevemu::fixtures::TestRootFiles(name), "");
      if (!root.ok()) std::abort();
      auto p = sevemu::emulator::Provision(opts, std::move(root).value());
      if (!p.ok()) std::abort();
      sources.push_back({sevemu::emulator::Info(product).name, std::move(p).value()});
    }
    sevemu::kds::KdsService::Options o;
    o.clock = [] { return std::int64_t{1700000000}; };
    o.max_cached_certificates = 64;
    auto s = sevemu::kds::KdsService::Create(std::move(sources), o);
    if (!s.ok()) std::abort();
    return std::move(s).value();
  }();
  return *service;
}

void Check(const sevemu::kds::Response& r) {
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.status == 200 && r.body.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)sevemu::kds::ParseListenAddress(text);
  const auto q = text.find('?');
  if (q != std::string_view::npos) {
    for (auto p : {sevemu::emulator::Product::kMilan, sevemu::emulator::Product::kGenoa,
                   sevemu::emulator::Product::kTurin}) {
      (void)sevemu::kds::ParseTcbQuery(p,
                                       text.substr(q + 1, text.find_first_of(" \r\n", q) - q - 1));
    }
  }
  // The bytes as an HTTP request on the wire.
  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (ec == http::error::need_more && n == 0) break;
    if (ec && ec != http::error::need_more) break;
    used += n;
    if (n == 0) break;
  }
  if (!parser.is_done()) parser.put_eof(ec);
  if (parser.is_header_done()) {
    const auto& req = parser.get();
    sevemu::kds::Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    if (auto it = req.find(sevemu::kds::kCspIdHeader); it != req.end()) {
      request.csp_id = std::string(it->value());
    }
    Check(Service().Handle(request));
  }
  // And the whole input as a request target, the routing's own input.
  sevemu::kds::Request direct;
  direct.method = size > 0 && (data[0] & 1) ? "HEAD" : "GET";
  direct.target = std::string(text);
  direct.csp_id = size > 1 && (data[1] & 1) ? "csp-1" : "";
  Check(Service().Handle(direct));
  return 0;
}
