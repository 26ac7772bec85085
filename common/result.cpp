#include "sevemu/common/result.h"

namespace sevemu {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kInvalidKey:
      return "invalid key";
    case ErrorCode::kAuthFailed:
      return "authentication failed";
    case ErrorCode::kRefused:
      return "refused";
    case ErrorCode::kCrypto:
      return "crypto failure";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kBusy:
      return "busy";
  }
  return "unknown error";
}

}  // namespace sevemu
