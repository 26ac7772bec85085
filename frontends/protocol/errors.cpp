#include "sevemu/protocol/errors.h"

namespace sevemu::protocol::errc {

const char* ForErrorCode(ErrorCode c) {
  switch (c) {
    case ErrorCode::kInvalidArgument:
      return kInvalidArgument;
    case ErrorCode::kInvalidKey:
      return kInvalidKey;
    case ErrorCode::kAuthFailed:
      return kAuthFailed;
    case ErrorCode::kRefused:
      return kRefused;
    case ErrorCode::kCrypto:
      return kCrypto;
    case ErrorCode::kIo:
      return kIo;
    case ErrorCode::kNotFound:
      return kNotFound;
    case ErrorCode::kCorrupt:
      return kCorrupt;
    case ErrorCode::kAlreadyExists:
      return kAlreadyExists;
    case ErrorCode::kBusy:
      return kBusy;
  }
  return kInternal;  // not an ErrorCode at all
}

std::span<const std::string_view> All() {
  static constexpr std::string_view kAll[] = {
      kBadFrame, kNoHello,         kBadHello,   kHelloTwice,    kBadPayload, kNotPermitted,
      kInternal, kInvalidArgument, kInvalidKey, kAuthFailed,    kRefused,    kCrypto,
      kIo,       kNotFound,        kCorrupt,    kAlreadyExists, kBusy};
  return kAll;
}

}  // namespace sevemu::protocol::errc
