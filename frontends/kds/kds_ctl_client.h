// The client side of the simulated KDS's control endpoint (/_sevemu/faults, kds_routes.h):
// one blocking HTTP/1.1 request to a `sevemu kds serve` on loopback, for `sevemu ctl kds`.
// Boost stays out of this header.
#pragma once

#include <string>

#include "sevemu/common/result.h"

namespace sevemu::kds {

struct CtlReply {
  int status = 0;
  std::string body;
};

// Sends `method` `path` (e.g. "/_sevemu/faults") with "Authorization: Bearer <token>" and, if
// not empty, the JSON `body`, to `url` ("http://127.0.0.1:8888"). kInvalidArgument for a URL
// that is not http://IP:PORT; kIo if the server cannot be reached or answers no HTTP in 30 s.
// The reply is returned whatever its status; the token never appears in an error.
Result<CtlReply> KdsCtlCall(const std::string& url, const std::string& method,
                            const std::string& path, const std::string& token,
                            const std::string& body);

}  // namespace sevemu::kds
