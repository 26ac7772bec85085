#include "kds/kds_http_server.h"

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace sevemu::kds {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 4 * 1024;
constexpr std::size_t kTargetLogLimit = 256;
constexpr char kServerName[] = "sevemu-kds";

std::string Printable(std::string_view s, std::size_t limit) {
  std::string out;
  for (char c : s.substr(0, limit)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  if (s.size() > limit) out += "...";
  return out;
}

// What every connection shares with the server; kept alive by the sessions themselves, so a
// session finishing during shutdown never touches a destroyed server.
struct Shared {
  std::shared_ptr<const KdsService> service;
  KdsHttpServer::Options options;
  std::atomic<std::size_t> connections{0};
};

// One connection: read a request, answer it, repeat while the client keeps the connection
// alive. All of a session's handlers run on its own strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<Shared> shared)
      : stream_(std::move(socket)),
        delay_(stream_.get_executor()),
        shared_(std::move(shared)),
        buffer_(kHeaderLimit + kBodyLimit) {
    ++shared_->connections;
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    loopback_ = !ec && ep.address().is_loopback();
  }
  ~Session() { --shared_->connections; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) {
      // Malformed or oversized requests get an answer; a timeout or reset just ends it.
      if (ec.category() != http::make_error_code(http::error::bad_target).category()) return;
      const bool too_large = ec == http::error::header_limit || ec == http::error::buffer_overflow;
      const int status = too_large ? 431 : ec == http::error::body_limit ? 413 : 400;
      Response res{status, kTextContentType, "malformed HTTP request\n", {}};
      if (status != 400) res.body = "request too large\n";
      Log("-", "-", res);
      return Answer(std::move(res), 11, /*head=*/false, /*keep_alive=*/false);
    }
    const auto& req = parser_->get();
    Request request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    if (auto it = req.find(kCspIdHeader); it != req.end())
      request.csp_id = std::string(it->value());
    if (auto it = req.find(http::field::authorization); it != req.end())
      request.authorization = std::string(it->value());
    request.from_loopback = loopback_;
    request.body = req.body();
    const auto start = std::chrono::steady_clock::now();
    Response res = shared_->service->Handle(request);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    Log(request.method, request.target, res, micros);
    const unsigned version = req.version();
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    if (res.delay_ms == 0) return Answer(std::move(res), version, head, keep_alive);
    // kds.slow: an asynchronous wait on this session's strand, so the server's threads keep
    // serving other connections meanwhile (Stop cancels it with the rest).
    delay_.expires_after(std::chrono::milliseconds(res.delay_ms));
    delay_.async_wait([self = shared_from_this(), res = std::move(res), version, head,
                       keep_alive](beast::error_code wait_ec) mutable {
      if (wait_ec) return;
      self->Answer(std::move(res), version, head, keep_alive);
    });
  }

  void Log(std::string_view method, std::string_view target, const Response& res,
           std::int64_t micros = 0) const {
    if (!shared_->options.on_request) return;
    try {
      shared_->options.on_request({remote_, Printable(method, 16),
                                   Printable(target, kTargetLogLimit), res.status, res.body.size(),
                                   micros, res.fault});
    } catch (...) {
      // A failing logger must not take the connection down.
    }
  }

  template <class Body>
  void Fill(http::response<Body>& out, const Response& res, bool keep_alive) {
    out.result(static_cast<unsigned>(res.status));
    out.set(http::field::server, kServerName);
    out.set(http::field::content_type, res.content_type);
    for (const auto& [name, value] : res.headers) out.set(name, value);
    out.keep_alive(keep_alive);
  }

  void Answer(Response res, unsigned version, bool head, bool keep_alive) {
    if (head) {
      // HEAD: the headers GET would send, Content-Length included, and no body (RFC 9110 9.3.2).
      http::response<http::empty_body> out;
      out.version(version);
      Fill(out, res, keep_alive);
      out.content_length(res.body.size());
      return Send(std::move(out));
    }
    http::response<http::string_body> out;
    out.version(version);
    Fill(out, res, keep_alive);
    out.body() = std::move(res.body);
    out.prepare_payload();
    Send(std::move(out));
  }

  template <class Body>
  void Send(http::response<Body>&& msg) {
    auto sp = std::make_shared<http::response<Body>>(std::move(msg));
    const bool close = sp->need_eof();
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_write(stream_, *sp,
                      [self = shared_from_this(), sp, close](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (close) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  asio::steady_timer delay_;  // kds.slow
  std::shared_ptr<Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_;
  bool loopback_ = false;
};

}  // namespace

struct KdsHttpServer::Impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry{ioc};
  std::shared_ptr<Shared> shared;
  std::vector<std::thread> threads;
  std::uint16_t port = 0;
  std::string url;
  std::mutex stop_mu;
  bool stopped = false;  // GUARDED_BY(stop_mu)

  // One accept outstanding at a time, so the acceptor is touched by one handler at a time.
  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors and the like: wait a moment instead of spinning.
        retry.expires_after(std::chrono::milliseconds(50));
        retry.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      if (shared->connections.load() >= shared->options.max_connections) {
        beast::error_code ignored;
        s.close(ignored);
      } else {
        std::make_shared<Session>(std::move(s), shared)->Run();
      }
      Accept();
    });
  }
};

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument,
                 "listen address '" + Printable(text, 64) + "': " + why + " (expected HOST:PORT)");
  };
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("unterminated [IPv6] address or missing port");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("write IPv6 addresses as [ADDR]");
  }
  unsigned port = 0;
  const char* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (port_text.empty() || ec != std::errc() || ptr != end || port > 65535) {
    return bad("port must be a number 0-65535");
  }
  std::string h = host == "localhost" ? "127.0.0.1" : std::string(host);
  beast::error_code aec;
  asio::ip::make_address(h, aec);
  if (aec) return bad("host must be an IP address");
  return ListenAddress{h, static_cast<std::uint16_t>(port)};
}

Result<std::unique_ptr<KdsHttpServer>> KdsHttpServer::Start(
    std::shared_ptr<const KdsService> service, Options options) {
  if (!service) return Error(ErrorCode::kInvalidArgument, "no KDS service");
  if (options.threads < 1 || options.threads > 64) {
    return Error(ErrorCode::kInvalidArgument, "threads must be 1-64");
  }
  if (options.max_connections < 1) {
    return Error(ErrorCode::kInvalidArgument, "max_connections must be at least 1");
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(options.listen.host, ec);
  if (ec) {
    return Error(ErrorCode::kInvalidArgument,
                 "listen host '" + Printable(options.listen.host, 64) + "' is not an IP address");
  }
  if (!address.is_loopback() && !options.allow_non_loopback) {
    return Error(ErrorCode::kRefused, "refusing to listen on non-loopback address " +
                                          address.to_string() +
                                          " (the simulated KDS signs for anyone who asks)");
  }
  auto impl = std::make_unique<Impl>();
  const tcp::endpoint endpoint(address, options.listen.port);
  const std::string where =
      (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
      std::to_string(options.listen.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint(ec).port();
  if (ec) return Error(ErrorCode::kIo, "cannot read the bound port: " + ec.message());
  impl->url = "http://" +
              (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" +
              std::to_string(impl->port);
  const int threads = options.threads;
  impl->shared = std::make_shared<Shared>();
  impl->shared->service = std::move(service);
  impl->shared->options = std::move(options);
  impl->Accept();
  for (int i = 0; i < threads; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc] {
      while (true) {
        try {
          ioc->run();
          return;
        } catch (...) {
          // A handler ran out of memory or similar: that connection is gone, serving goes on.
        }
      }
    });
  }
  return std::unique_ptr<KdsHttpServer>(new KdsHttpServer(std::move(impl)));
}

KdsHttpServer::KdsHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::uint16_t KdsHttpServer::port() const {
  return impl_->port;
}
std::string KdsHttpServer::url() const {
  return impl_->url;
}

void KdsHttpServer::Stop() {
  std::lock_guard lock(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

KdsHttpServer::~KdsHttpServer() {
  Stop();
}

}  // namespace sevemu::kds
