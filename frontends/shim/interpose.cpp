// The libc entry points libsevemu-preload.so replaces. Each checks whether the path or
// descriptor is one the shim serves (device_fds.h, tsm_fs.h) and otherwise calls the real
// function with the arguments untouched. While the shim itself runs (talking to the daemon,
// using the backing directory), a thread-local guard sends its own calls straight to libc, so
// the shim never re-enters itself.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdarg>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "device_fds.h"
#include "real_libc.h"
#include "tsm_fs.h"

#define SEVEMU_EXPORT extern "C" __attribute__((visibility("default")))

namespace sevemu::shim {
namespace {

thread_local bool t_inside = false;

class Scope {
 public:
  Scope() : outer_(t_inside) { t_inside = true; }
  ~Scope() { t_inside = outer_; }
  bool nested() const { return outer_; }

 private:
  bool outer_;
};

// A libc-style return: -errno becomes -1 with errno set.
long Ret(long r) {
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

// Not inlined into callers whose path parameter glibc declares nonnull: a NULL from a buggy
// program must still reach libc (EFAULT), not crash here.
[[gnu::noinline]] bool Absolute(const char* path) {
  return path != nullptr && path[0] == '/';
}

bool TakesMode(int flags) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}

// A relative path that may name a device ("sev" with the working directory /dev, or openat on
// a descriptor of /dev), made absolute; nullopt for every other relative path, so ordinary
// opens cost no extra system call.
std::optional<std::string> DevicePathAt(int dirfd, const char* path) {
  if (path == nullptr) return std::nullopt;
  const std::string_view p(path);
  const auto slash = p.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? p : p.substr(slash + 1);
  if (base != "sev" && base != "sev-guest") return std::nullopt;
  char dir[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (getcwd(dir, sizeof dir) == nullptr) return std::nullopt;
  } else {
    const std::string link = "/proc/self/fd/" + std::to_string(dirfd);
    const ssize_t n = readlink(link.c_str(), dir, sizeof dir - 1);
    if (n <= 0) return std::nullopt;
    dir[n] = '\0';
  }
  return std::filesystem::path(dir).append(p).lexically_normal().string();
}

// kNotOurs, or the result of opening one of the shim's paths.
int OpenOurs(int dirfd, const char* path, int flags) {
  if (path == nullptr) return kNotOurs;
  Scope scope;
  if (scope.nested()) return kNotOurs;
  // No C++ exception may cross into the program's C frames.
  try {
    std::optional<std::string> resolved;
    if (!Absolute(path)) {
      resolved = DevicePathAt(dirfd, path);
      if (!resolved) return kNotOurs;
      path = resolved->c_str();
    }
    const int r = OpenDevice(path, flags);
    if (r != kNotOurs) return r;
    return TsmOpen(path, flags);
  } catch (...) {
    return -EIO;
  }
}

// mkdir/rmdir on a configfs-tsm path: kNotOurs, or the operation's result.
int TsmPathOp(int (*op)(const char*), const char* path) {
  if (t_inside || !Absolute(path)) return kNotOurs;
  Scope scope;
  try {
    return op(path);
  } catch (...) {
    return -EIO;
  }
}

}  // namespace
}  // namespace sevemu::shim

using namespace sevemu::shim;

// The mode argument exists only with O_CREAT or O_TMPFILE.
#define SEVEMU_MODE_ARG(flags, mode)             \
  mode_t mode = 0;                               \
  if (TakesMode(flags)) {                        \
    va_list ap;                                  \
    va_start(ap, flags);                         \
    mode = static_cast<mode_t>(va_arg(ap, int)); \
    va_end(ap);                                  \
  }

SEVEMU_EXPORT int open(const char* path, int flags, ...) {
  SEVEMU_MODE_ARG(flags, mode);
  if (const int r = OpenOurs(AT_FDCWD, path, flags); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().open(path, flags, mode);
}
SEVEMU_EXPORT int open64(const char* path, int flags, ...) {
  SEVEMU_MODE_ARG(flags, mode);
  if (const int r = OpenOurs(AT_FDCWD, path, flags); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().open64(path, flags, mode);
}
SEVEMU_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  SEVEMU_MODE_ARG(flags, mode);
  if (const int r = OpenOurs(dirfd, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().openat(dirfd, path, flags, mode);
}
SEVEMU_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  SEVEMU_MODE_ARG(flags, mode);
  if (const int r = OpenOurs(dirfd, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().openat64(dirfd, path, flags, mode);
}
// _FORTIFY_SOURCE variants (no mode argument).
SEVEMU_EXPORT int __open_2(const char* path, int flags) {
  if (const int r = OpenOurs(AT_FDCWD, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().open_2(path, flags);
}
SEVEMU_EXPORT int __open64_2(const char* path, int flags) {
  if (const int r = OpenOurs(AT_FDCWD, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().open64_2(path, flags);
}
SEVEMU_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  if (const int r = OpenOurs(dirfd, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().openat_2(dirfd, path, flags);
}
SEVEMU_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  if (const int r = OpenOurs(dirfd, path, flags); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().openat64_2(dirfd, path, flags);
}

SEVEMU_EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (!t_inside) {
    Scope scope;
    int r;
    try {
      r = DeviceIoctl(fd, request, arg);
    } catch (...) {
      r = -EIO;
    }
    if (r != kNotOurs) return static_cast<int>(Ret(r));
  }
  return Real().ioctl(fd, request, arg);
}

SEVEMU_EXPORT int close(int fd) {
  if (t_inside) return Real().close(fd);
  Scope scope;
  ForgetFd(fd);
  const int r = Real().close(fd);
  const int saved = errno;
  try {
    (void)TsmAfterClose(fd);  // a finished configfs store applies now
  } catch (...) {
  }
  errno = saved;
  return r;
}

SEVEMU_EXPORT int dup(int fd) {
  const int r = Real().dup(fd);
  if (r >= 0 && !t_inside) {
    Scope scope;
    DupFd(fd, r);
  }
  return r;
}
SEVEMU_EXPORT int dup2(int from, int to) {
  const int r = Real().dup2(from, to);
  if (r >= 0 && from != to && !t_inside) {
    Scope scope;
    DupFd(from, to);
  }
  return r;
}
SEVEMU_EXPORT int dup3(int from, int to, int flags) {
  const int r = Real().dup3(from, to, flags);
  if (r >= 0 && !t_inside) {
    Scope scope;
    DupFd(from, to);
  }
  return r;
}
SEVEMU_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  const int r = Real().fcntl(fd, cmd, arg);
  if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && !t_inside) {
    Scope scope;
    DupFd(fd, r);
  }
  return r;
}

SEVEMU_EXPORT int mkdir(const char* path, mode_t mode) {
  if (const int r = TsmPathOp(TsmMkdir, path); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().mkdir(path, mode);
}
SEVEMU_EXPORT int mkdirat(int dirfd, const char* path, mode_t mode) {
  if (const int r = TsmPathOp(TsmMkdir, path); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().mkdirat(dirfd, path, mode);
}
SEVEMU_EXPORT int rmdir(const char* path) {
  if (const int r = TsmPathOp(TsmRmdir, path); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().rmdir(path);
}
