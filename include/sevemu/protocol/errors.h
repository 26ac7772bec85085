// The codes of ERROR replies (docs/protocol.md, "Errors"): the one list of them. The daemon
// sends only these; tests/protocol checks that the docs' table names exactly these.
// They are wire values: never reuse one for another meaning.
#pragma once

#include <span>
#include <string_view>

#include "sevemu/common/result.h"

namespace sevemu::protocol::errc {

// Of the protocol itself.
inline constexpr char kBadFrame[] = "bad_frame";
inline constexpr char kNoHello[] = "no_hello";
inline constexpr char kBadHello[] = "bad_hello";
inline constexpr char kHelloTwice[] = "hello_twice";
inline constexpr char kBadPayload[] = "bad_payload";
inline constexpr char kNotPermitted[] = "not_permitted";
inline constexpr char kInternal[] = "internal";
// An operation failed: one per sevemu ErrorCode (ForErrorCode).
inline constexpr char kInvalidArgument[] = "invalid_argument";
inline constexpr char kInvalidKey[] = "invalid_key";
inline constexpr char kAuthFailed[] = "auth_failed";
inline constexpr char kRefused[] = "refused";
inline constexpr char kCrypto[] = "crypto";
inline constexpr char kIo[] = "io";
inline constexpr char kNotFound[] = "not_found";
inline constexpr char kCorrupt[] = "corrupt";
inline constexpr char kAlreadyExists[] = "already_exists";
inline constexpr char kBusy[] = "busy";

// The code an operation's failure with `c` is sent as.
const char* ForErrorCode(ErrorCode c);

// Every code above.
std::span<const std::string_view> All();

}  // namespace sevemu::protocol::errc
