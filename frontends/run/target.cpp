#include "run/target.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace sevemu::run {

namespace {

std::optional<std::string> ReadLink(const std::string& link) {
  char buf[PATH_MAX];
  const ssize_t n = readlink(link.c_str(), buf, sizeof buf);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buf)) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

pid_t TgidOf(pid_t tid) {
  std::ifstream f("/proc/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("Tgid:", 0) == 0) return static_cast<pid_t>(std::stol(line.substr(5)));
  }
  return tid;
}

}  // namespace

std::optional<std::string> ReadString(pid_t tid, std::uint64_t addr) {
  if (addr == 0) return std::nullopt;
  std::string out;
  char chunk[256];
  while (out.size() < PATH_MAX) {
    // Never read across a page boundary in one go: the next page may be unmapped while the
    // string ends before it.
    const std::uint64_t page_left = 4096 - (addr % 4096);
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof chunk, page_left));
    iovec local{chunk, want};
    iovec remote{reinterpret_cast<void*>(addr), want};
    const ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
    if (n <= 0) return std::nullopt;
    const void* nul = std::memchr(chunk, '\0', static_cast<std::size_t>(n));
    if (nul != nullptr) {
      out.append(chunk, static_cast<const char*>(nul) - chunk);
      return out;
    }
    out.append(chunk, static_cast<std::size_t>(n));
    addr += static_cast<std::uint64_t>(n);
  }
  return std::nullopt;  // ENAMETOOLONG for the kernel; not one of ours either way
}

std::optional<std::string> ResolveAt(pid_t tid, int dirfd, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  if (path.empty()) return std::nullopt;  // AT_EMPTY_PATH: the descriptor itself
  const std::string base = "/proc/" + std::to_string(tid);
  auto dir =
      dirfd == AT_FDCWD ? ReadLink(base + "/cwd") : ReadLink(base + "/fd/" + std::to_string(dirfd));
  if (!dir || dir->empty() || (*dir)[0] != '/') return std::nullopt;
  // Not normalised: "." and ".." stay for the caller, which must check what they walk through.
  return *dir + "/" + path;
}

int GetTargetFd(pid_t tid, int fd) {
#ifndef SYS_pidfd_open
  (void)tid;
  (void)fd;
  return -ENOSYS;
#else
  // A pidfd of the thread itself where the kernel has them (PIDFD_THREAD = O_EXCL, Linux
  // 6.9), so a thread with its own descriptor table is looked at; else its thread group's.
  long pidfd = syscall(SYS_pidfd_open, tid, O_EXCL);
  if (pidfd < 0) pidfd = syscall(SYS_pidfd_open, TgidOf(tid), 0);
  if (pidfd < 0) return -errno;
  const long r = syscall(SYS_pidfd_getfd, static_cast<int>(pidfd), fd, 0);
  const int e = errno;
  close(static_cast<int>(pidfd));
  return r < 0 ? -e : static_cast<int>(r);
#endif
}

}  // namespace sevemu::run
