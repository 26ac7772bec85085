// The simulated KDS's control token (docs/kds.md "Faults"): read from a file by both
// `sevemu kds serve --ctl-token` and `sevemu ctl kds --token-file`, so the token never appears
// on a command line (visible in ps) or in a log.
#pragma once

#include <string>

#include "sevemu/common/file_io.h"
#include "sevemu/common/result.h"

namespace sevemu::cli {

// The file's contents without trailing whitespace. kInvalidArgument if empty, longer than 512
// bytes, or not printable ASCII (it travels in an HTTP header).
inline Result<std::string> ReadCtlToken(const std::string& path) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes raw, ReadWholeFile(path, 4096));
  std::string token(raw.begin(), raw.end());
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' ||
                            token.back() == '\t')) {
    token.pop_back();
  }
  if (token.empty() || token.size() > 512) {
    return Error(ErrorCode::kInvalidArgument,
                 "token file " + path + ": must hold 1-512 characters");
  }
  for (char c : token) {
    if (c <= 0x20 || c >= 0x7F) {
      return Error(ErrorCode::kInvalidArgument,
                   "token file " + path + ": the token must be printable ASCII without spaces");
    }
  }
  return token;
}

}  // namespace sevemu::cli
