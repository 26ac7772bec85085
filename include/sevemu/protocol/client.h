// A blocking protocol client on a plain file descriptor: what the preload shim and the CLI use.
// No exceptions, no threads, no allocation beyond the frames, and only raw system calls on its
// own socket, so it is safe inside an interposed libc call.
//
// Thread safety: one call at a time per Client (callers lock); distinct Clients are independent.
#pragma once

#include <cstdint>
#include <string>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::protocol {

struct Reply {
  MsgType type = MsgType::kError;  // the request's type | kReplyBit, or kError
  Bytes payload;
  bool ok() const { return type != MsgType::kError; }
};

class Client {
 public:
  // Connects and says hello. `hello_json` is the kHello body. kNotFound when nothing listens at
  // `path` (no daemon), kRefused when the daemon refuses the hello (its message).
  static Result<Client> Connect(const std::string& path, const std::string& hello_json,
                                bool cloexec = true);
  // Adopts an already connected descriptor (e.g. one inherited across exec).
  explicit Client(int fd) : fd_(fd) {}
  Client(Client&& o) noexcept : fd_(o.fd_), next_id_(o.next_id_), hello_(std::move(o.hello_)) {
    o.fd_ = -1;
  }
  Client& operator=(Client&& o) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // One request, one reply. kIo when the daemon went away (EOF, reset) or sent garbage.
  Result<Reply> Call(MsgType type, ByteSpan payload);
  // The hello reply's JSON body.
  const std::string& hello() const { return hello_; }
  int fd() const { return fd_; }
  // Gives up ownership of the descriptor (the shim hands it to the program as its device fd).
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
  std::uint32_t next_id_ = 1;
  std::string hello_;
};

// Helpers for one whole frame on a blocking descriptor (EINTR retried, MSG_NOSIGNAL on send).
Status WriteAll(int fd, ByteSpan data);
Status ReadExact(int fd, MutableByteSpan out);

}  // namespace sevemu::protocol
