#include "sevemu/protocol/client.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace sevemu::protocol {

Status WriteAll(int fd, ByteSpan data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error(ErrorCode::kIo, std::string("daemon connection: ") + strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status ReadExact(int fd, MutableByteSpan out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::recv(fd, out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return Error(ErrorCode::kIo, "daemon closed the connection");
    if (n < 0) return Error(ErrorCode::kIo, std::string("daemon connection: ") + strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Client& Client::operator=(Client&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    next_id_ = o.next_id_;
    hello_ = std::move(o.hello_);
    o.fd_ = -1;
  }
  return *this;
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Client> Client::Connect(const std::string& path, const std::string& hello_json,
                               bool cloexec) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Error(ErrorCode::kInvalidArgument, "socket path empty or too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | (cloexec ? SOCK_CLOEXEC : 0), 0);
  if (fd < 0) return Error(ErrorCode::kIo, std::string("socket: ") + strerror(errno));
  Client c(fd);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    const int e = errno;
    if (e == ENOENT || e == ECONNREFUSED) {
      return Error(ErrorCode::kNotFound, "no sevemu daemon at " + path);
    }
    return Error(ErrorCode::kIo, "connecting to " + path + ": " + strerror(e));
  }
  auto reply = c.Call(MsgType::kHello, AsBytes(hello_json));
  if (!reply.ok()) return reply.error();
  if (!reply->ok()) return Error(ErrorCode::kRefused, DecodeError(reply->payload));
  c.hello_.assign(reply->payload.begin(), reply->payload.end());
  return c;
}

Result<Reply> Client::Call(MsgType type, ByteSpan payload) {
  if (fd_ < 0) return Error(ErrorCode::kIo, "not connected");
  const std::uint32_t id = next_id_++;
  if (Status st = WriteAll(fd_, EncodeFrame(type, id, payload)); !st.ok()) return st.error();
  std::array<std::uint8_t, kHeaderSize> hdr{};
  if (Status st = ReadExact(fd_, hdr); !st.ok()) return st.error();
  auto h = DecodeHeader(hdr);
  if (!h.ok()) return Error(ErrorCode::kIo, "daemon sent a bad frame: " + h.error().message());
  if (h->request_id != id) return Error(ErrorCode::kIo, "daemon answered another request");
  Reply r;
  r.type = h->type;
  r.payload.resize(h->payload_length);
  if (Status st = ReadExact(fd_, r.payload); !st.ok()) return st.error();
  const auto want = static_cast<MsgType>(static_cast<std::uint16_t>(type) | kReplyBit);
  if (r.type != want && r.type != MsgType::kError) {
    return Error(ErrorCode::kIo, "daemon answered with the wrong message type");
  }
  return r;
}

}  // namespace sevemu::protocol
