#include "device_fds.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon_link.h"
#include "devices/daemon_call.h"
#include "devices/device_paths.h"
#include "devices/guest_forward.h"
#include "devices/probes.h"
#include "devices/sev_forward.h"
#include "real_libc.h"
#include "self_memory.h"
#include "sevemu/protocol/wire.h"
#include "sevemu/uapi/staged_memory.h"
#include "tsm_fs.h"

namespace sevemu::shim {

namespace {

enum class Device { kSev, kSevGuest };

struct Connection {
  Device device = Device::kSev;
  bool writable = false;
  std::string hello;  // to reconnect in a forked child
  std::uint64_t secrets_gpa = 0;
  std::mutex mu;  // one request at a time on the socket
};

std::mutex g_mu;
std::map<int, std::shared_ptr<Connection>> g_fds;

std::shared_ptr<Connection> Find(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_fds.find(fd);
  return it == g_fds.end() ? nullptr : it->second;
}

// Requests that can only mean one of our devices (type 'S', their sizes).
bool LooksLikeSevIoctl(unsigned long request) {
  const auto r = static_cast<unsigned>(request);
  return r == uapi::kSevIssueCmd || r == uapi::kSnpGetReport || r == uapi::kSnpGetDerivedKey ||
         r == uapi::kSnpGetExtReport;
}

// A descriptor the table does not know, inherited across exec: ask the daemon what it is, if it
// is a connection to the daemon at all.
std::shared_ptr<Connection> Identify(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return nullptr;
  sockaddr_un peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
      peer.sun_family != AF_UNIX) {
    return nullptr;
  }
  // The name need not be NUL-terminated when it fills sun_path.
  const std::size_t max =
      len > offsetof(sockaddr_un, sun_path)
          ? std::min<std::size_t>(len - offsetof(sockaddr_un, sun_path), sizeof peer.sun_path)
          : 0;
  if (std::string(peer.sun_path, strnlen(peer.sun_path, max)) != protocol::DefaultSocketPath()) {
    return nullptr;
  }
  auto r = CallOn(fd, protocol::MsgType::kWhoAmI, {});
  if (!r.ok() || !r->ok()) return nullptr;
  const std::string body(r->payload.begin(), r->payload.end());
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return nullptr;
  // Reconnections (after a fork) must reach what this descriptor reaches, whatever this
  // process's environment says: the hello is rebuilt from the daemon's answer.
  auto c = std::make_shared<Connection>();
  const std::string role = j.value("role", "");
  nlohmann::json hello = {{"role", role}, {"platform", j.value("platform", "")}};
  if (role == "host") {
    c->device = Device::kSev;
    c->writable = j.value("writable", false);
    hello["writable"] = c->writable;
  } else if (role == "guest" && j.contains("guest") && j["guest"].is_object()) {
    c->device = Device::kSevGuest;
    c->secrets_gpa = SecretsGpaOf(body);
    hello["guest"] = j["guest"].value("name", "");
  } else {
    return nullptr;
  }
  c->hello = hello.dump();
  std::lock_guard<std::mutex> lock(g_mu);
  return g_fds.emplace(fd, c).first->second;
}

bool IsGenericIoctl(unsigned long request) {
  // Handled by the VFS before any driver sees them (fs/ioctl.c do_vfs_ioctl).
  switch (static_cast<unsigned>(request)) {
    case FIOCLEX:
    case FIONCLEX:
    case FIONBIO:
    case FIOASYNC:
      return true;
    default:
      return false;
  }
}

void AtForkPrepare() {
  g_mu.lock();
}
void AtForkParent() {
  g_mu.unlock();
}
void AtForkChild() {
  // The child has one thread. Take a copy of the table and release the lock before
  // reconnecting: connecting may close descriptors, and the shim's close() takes the lock.
  std::vector<std::pair<int, std::shared_ptr<Connection>>> entries(g_fds.begin(), g_fds.end());
  g_mu.unlock();
  try {
    // Give the child connections of its own: each shared connection is replaced, under the
    // same descriptor numbers, by a new one with the same hello.
    std::map<Connection*, std::shared_ptr<Connection>> replaced;
    for (auto& [fd, conn] : entries) {
      auto it = replaced.find(conn.get());
      if (it == replaced.end()) {
        auto fresh = std::make_shared<Connection>();
        fresh->device = conn->device;
        fresh->writable = conn->writable;
        fresh->hello = conn->hello;
        fresh->secrets_gpa = conn->secrets_gpa;
        it = replaced.emplace(conn.get(), fresh).first;
      }
      const int flags = Real().fcntl(fd, F_GETFD);
      const int cloexec = (flags >= 0 && (flags & FD_CLOEXEC)) ? O_CLOEXEC : 0;
      int nfd = ConnectDaemon(conn->hello, false, nullptr);
      if (nfd < 0) {
        // No daemon to reconnect to: the child must not use the parent's connection (their
        // frames would interleave), so the descriptor becomes a socket whose peer is gone and
        // every call on it fails with EIO.
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0) {
          Real().close(pair[1]);
          nfd = pair[0];
        }
      }
      if (nfd >= 0) {
        Real().dup3(nfd, fd, cloexec);
        Real().close(nfd);
      }
      conn = it->second;
    }
    std::lock_guard<std::mutex> lock(g_mu);
    for (auto& [fd, conn] : entries) g_fds[fd] = conn;
  } catch (...) {
    // Out of memory inside fork(): leave the table as it was rather than end the program.
  }
}

}  // namespace

void InstallForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(AtForkPrepare, AtForkParent, AtForkChild); });
}

namespace {

// The machine the probe files describe: a guest when SEVEMU_GUEST names one (its type from the
// daemon's hello reply), else the host.
devices::Machine ShimMachine() {
  devices::Machine m;
  const auto hello = GuestHello();
  if (!hello) return m;
  m.in_guest = true;
  std::string reply;
  const int fd = ConnectDaemon(*hello, true, &reply);
  if (fd >= 0) {
    Real().close(fd);
    m.guest_type = devices::GuestTypeOf(reply);
  }
  return m;
}

}  // namespace

int StatDevice(const char* path, struct stat* st) {
  const auto p = devices::ClassifyPath(path);
  if (p.kind == devices::PathKind::kNotOurs) return kNotOurs;
  std::optional<struct stat> got;
  if (p.kind == devices::PathKind::kTsm) {
    int err = 0;
    got = TsmStat(path, &err);
    if (!got) return err != 0 ? err : -ENOENT;  // deeper than configfs goes
  } else {
    got = devices::StatOf(p, ShimMachine());
  }
  if (!got) return -ENOENT;
  *st = *got;
  return 0;
}

int OpenDevice(const char* path, int flags) {
  if (path == nullptr) return kNotOurs;
  if (const auto probe = devices::ClassifyPath(path);
      probe.kind == devices::PathKind::kMsr || probe.kind == devices::PathKind::kKvmAmdParam) {
    return devices::OpenProbe(probe, ShimMachine(), (flags & O_CLOEXEC) != 0);
  }
  Device device;
  if (std::strcmp(path, "/dev/sev") == 0) {
    device = Device::kSev;
  } else if (std::strcmp(path, "/dev/sev-guest") == 0) {
    device = Device::kSevGuest;
  } else {
    return kNotOurs;
  }
  InstallForkHandler();
  auto c = std::make_shared<Connection>();
  c->device = device;
  c->writable = (flags & O_ACCMODE) != O_RDONLY;
  if (device == Device::kSev) {
    c->hello = HostHello(c->writable);
  } else {
    auto h = GuestHello();
    if (!h) return -ENOENT;  // not inside a guest: no /dev/sev-guest
    c->hello = *h;
  }
  std::string reply;
  const int fd = ConnectDaemon(c->hello, (flags & O_CLOEXEC) != 0, &reply);
  if (fd < 0) return fd;
  if (device == Device::kSevGuest) {
    c->secrets_gpa = SecretsGpaOf(reply);
    // A legacy SEV / SEV-ES guest has no SNP secrets page, and Linux's sev-guest driver only
    // probes in SNP guests: no /dev/sev-guest there.
    if (c->secrets_gpa == 0) {
      Real().close(fd);
      return -ENOENT;
    }
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_fds[fd] = std::move(c);
  return fd;
}

int DeviceIoctl(int fd, unsigned long request, void* arg) {
  auto c = Find(fd);
  if (!c) {
    if (!LooksLikeSevIoctl(request)) return kNotOurs;
    c = Identify(fd);
    if (!c) return kNotOurs;
  }
  if (IsGenericIoctl(request)) return kNotOurs;  // the real ioctl on the socket does it
  std::lock_guard<std::mutex> lock(c->mu);
  SelfMemory mem;
  const auto addr = reinterpret_cast<std::uint64_t>(arg);
  if (c->device == Device::kSev)
    return devices::ForwardSevIoctl(fd, c->writable, request, addr, mem);
  return devices::ForwardGuestIoctl(fd, request, addr, mem);
}

void ForgetFd(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_fds.erase(fd);
}

void DupFd(int from, int to) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_fds.find(from);
  if (it == g_fds.end()) {
    g_fds.erase(to);
  } else {
    g_fds[to] = it->second;
  }
}

}  // namespace sevemu::shim
