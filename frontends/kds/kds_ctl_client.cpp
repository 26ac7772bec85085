#include "kds/kds_ctl_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>

#include "kds/kds_http_server.h"

namespace sevemu::kds {

Result<CtlReply> KdsCtlCall(const std::string& url, const std::string& method,
                            const std::string& path, const std::string& token,
                            const std::string& body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (rest.substr(0, kScheme.size()) != kScheme) {
    return Error(ErrorCode::kInvalidArgument, "the KDS URL must start with http://");
  }
  rest.remove_prefix(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  SEVEMU_ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress(rest));

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(30));
  beast::error_code ec;
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address(address.host), address.port), ec);
  if (ec) return Error(ErrorCode::kIo, "cannot connect to " + url + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, address.host);
  req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return Error(ErrorCode::kIo, "sending to " + url + ": " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 20);
  http::read(stream, buffer, parser, ec);
  if (ec) return Error(ErrorCode::kIo, "reading from " + url + ": " + ec.message());
  return CtlReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace sevemu::kds
