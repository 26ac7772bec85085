// The simulated KDS over HTTP/1.1 (Boost.Beast on Asio): accepts connections on a loopback
// address, parses each request with Beast, answers it with KdsService::Handle and writes the
// response. The HTTP layer owns only transport concerns: keep-alive, HEAD, size limits,
// timeouts, the connection limit. Boost stays out of this header (pimpl).
//
// Limits: request line and headers 8 KiB (431 beyond), request body 4 KiB (413 beyond; the
// KDS takes no body), an idle connection is closed after `idle_timeout`, at most
// `max_connections` at once (more are accepted and closed at once). A request Beast cannot
// parse gets a 400 and the connection is closed; nothing a client sends ends the process.
//
// A kds.slow fault's delay is an asynchronous timer on its connection: other connections are
// served meanwhile (the server is concurrent on `threads` threads, and a waiting connection
// occupies none of them).
//
// Thread safety: Start, port, url and Stop may be called from any thread; the request callback
// runs on the server's threads, possibly concurrently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kds/kds_routes.h"
#include "sevemu/common/result.h"

namespace sevemu::kds {

struct ListenAddress {
  std::string host;  // an IP literal ("127.0.0.1", "::1"); "localhost" is read as 127.0.0.1
  std::uint16_t port = 0;
};

// Parses "HOST:PORT" or "[IPV6]:PORT" (PORT 0-65535; 0 picks a free port). kInvalidArgument
// otherwise. The host is checked to be an IP address, not resolved.
Result<ListenAddress> ParseListenAddress(std::string_view text);

// One line of the access log. `target` is made printable (other bytes become '?') and cut to
// 256 characters; request headers, which carry the CSP credential, are never included.
struct AccessLogEntry {
  std::string remote;  // "127.0.0.1:53124"
  std::string method;
  std::string target;
  int status = 0;
  std::size_t body_bytes = 0;
  std::int64_t micros = 0;  // time to answer (a kds.slow delay not included)
  std::string fault;        // the injected fault that shaped the answer ("kds.slow#2"), or ""
};

class KdsHttpServer {
 public:
  struct Options {
    ListenAddress listen{"127.0.0.1", 8888};
    // Bind to a non-loopback address. The simulated KDS signs with test keys for anyone who
    // asks; exposing it beyond the machine must be a decision.
    bool allow_non_loopback = false;
    int threads = 2;
    std::size_t max_connections = 256;
    std::chrono::milliseconds idle_timeout{30000};
    std::function<void(const AccessLogEntry&)> on_request;  // optional
  };

  // Binds, listens and starts the threads. kRefused for a non-loopback address without
  // allow_non_loopback; kInvalidArgument for a bad address or option; kIo if the address
  // cannot be bound (in use, not local), naming it.
  static Result<std::unique_ptr<KdsHttpServer>> Start(std::shared_ptr<const KdsService> service,
                                                      Options options);

  std::uint16_t port() const;  // the bound port (the chosen one when asked for 0)
  std::string url() const;     // "http://127.0.0.1:8888", "http://[::1]:8888"
  // Stops accepting, drops open connections and joins the threads. Idempotent.
  void Stop();
  ~KdsHttpServer();

  KdsHttpServer(const KdsHttpServer&) = delete;
  KdsHttpServer& operator=(const KdsHttpServer&) = delete;

  struct Impl;  // defined in kds_http_server.cpp
 private:
  explicit KdsHttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::kds
