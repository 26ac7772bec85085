// The libc entry points libsevemu-preload.so replaces. Each checks whether the path or
// descriptor is one the shim serves (device_fds.h, tsm_fs.h) and otherwise calls the real
// function with the arguments untouched. While the shim itself runs (talking to the daemon,
// using the backing directory), a thread-local guard sends its own calls straight to libc, so
// the shim never re-enters itself.
#include <dirent.h>
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
#include "devices/device_paths.h"
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

// The same for closedir's DIR* (glibc answers a null one with EINVAL).
[[gnu::noinline]] bool IsNull(const void* p) {
  return p == nullptr;
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

// The stat and access family on one of the paths `sevemu run` answers (devices::ClassifyPath):
// kNotOurs, or 0 with `*st` filled, or -errno. Relative paths are looked at only where they
// may name a device (DevicePathAt), so ordinary calls cost a prefix comparison.
int StatOurs(int dirfd, const char* path, int flags, struct stat* st) {
  if (path == nullptr || t_inside) return kNotOurs;
  if ((flags & AT_EMPTY_PATH) != 0 && path[0] == '\0') return kNotOurs;  // the descriptor itself
  Scope scope;
  try {
    std::optional<std::string> resolved;
    if (!Absolute(path)) {
      resolved = DevicePathAt(dirfd, path);
      if (!resolved) return kNotOurs;
      path = resolved->c_str();
    }
    return StatDevice(path, st);
  } catch (...) {
    return -EIO;
  }
}

int AccessOurs(int dirfd, const char* path, int mode) {
  struct stat st {};
  const int r = StatOurs(dirfd, path, 0, &st);
  if (r != 0) return r;  // kNotOurs or -errno
  return sevemu::devices::AccessOf(st, mode);
}

// struct stat64 is struct stat on LP64 glibc targets (bits/struct_stat.h).
static_assert(sizeof(struct stat) == sizeof(struct stat64));
struct stat* AsStat(struct stat64* st) {
  return reinterpret_cast<struct stat*>(st);
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

// The probes tools make before they open anything (docs/devices.md "Probes"): the same answers
// as `sevemu run` gives. Binaries built against glibc before 2.33 call __xstat and friends
// (below), which land here too.
SEVEMU_EXPORT int stat(const char* path, struct stat* st) {
  if (const int r = StatOurs(AT_FDCWD, path, 0, st); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().stat(path, st);
}
SEVEMU_EXPORT int stat64(const char* path, struct stat64* st) {
  if (const int r = StatOurs(AT_FDCWD, path, 0, AsStat(st)); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().stat64(path, st);
}
SEVEMU_EXPORT int lstat(const char* path, struct stat* st) {
  if (const int r = StatOurs(AT_FDCWD, path, 0, st); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().lstat(path, st);
}
SEVEMU_EXPORT int lstat64(const char* path, struct stat64* st) {
  if (const int r = StatOurs(AT_FDCWD, path, 0, AsStat(st)); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().lstat64(path, st);
}
SEVEMU_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  if (const int r = StatOurs(dirfd, path, flags, st); r != kNotOurs)
    return static_cast<int>(Ret(r));
  return Real().fstatat(dirfd, path, st, flags);
}
SEVEMU_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
  if (const int r = StatOurs(dirfd, path, flags, AsStat(st)); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().fstatat64(dirfd, path, st, flags);
}
SEVEMU_EXPORT int statx(int dirfd, const char* path, int flags, unsigned mask, struct statx* out) {
  struct stat st {};
  if (const int r = StatOurs(dirfd, path, flags, &st); r != kNotOurs) {
    if (r == 0) *out = sevemu::devices::ToStatx(st);
    return static_cast<int>(Ret(r));
  }
  return Real().statx(dirfd, path, flags, mask, out);
}
SEVEMU_EXPORT int access(const char* path, int mode) {
  if (const int r = AccessOurs(AT_FDCWD, path, mode); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().access(path, mode);
}
SEVEMU_EXPORT int faccessat(int dirfd, const char* path, int mode, int flags) {
  if (const int r = AccessOurs(dirfd, path, mode); r != kNotOurs) return static_cast<int>(Ret(r));
  return Real().faccessat(dirfd, path, mode, flags);
}
SEVEMU_EXPORT int euidaccess(const char* path, int mode) {
  if (const int r = AccessOurs(AT_FDCWD, path, mode); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().euidaccess(path, mode);
}
SEVEMU_EXPORT int eaccess(const char* path, int mode) {
  if (const int r = AccessOurs(AT_FDCWD, path, mode); r != kNotOurs) {
    return static_cast<int>(Ret(r));
  }
  return Real().eaccess(path, mode);
}

// A listing of configfs-tsm (ls, std::filesystem::directory_iterator, readdir loops): glibc's
// opendir opens through no interposable symbol, so the directory is opened here, as a view
// (TsmOpenDir), and handed to the real fdopendir; readdir then runs in libc.
SEVEMU_EXPORT DIR* opendir(const char* path) {
  if (!t_inside && Absolute(path)) {  // Absolute: false for a null path
    Scope scope;
    int fd = kNotOurs;
    try {
      fd = TsmOpenDir(path);
    } catch (...) {
      fd = -EIO;
    }
    if (fd != kNotOurs) {
      if (fd < 0) {
        errno = -fd;
        return nullptr;
      }
      DIR* d = Real().fdopendir(fd);
      if (d == nullptr) {
        const int e = errno;
        Real().close(fd);
        TsmCloseDir(fd);
        errno = e;
      }
      return d;
    }
  }
  return Real().opendir(path);
}
SEVEMU_EXPORT int closedir(DIR* d) {
  if (t_inside || IsNull(d)) return Real().closedir(d);
  // The view goes first (an open directory can be removed): after the real close its number
  // could already name another thread's new view.
  {
    Scope scope;
    try {
      TsmCloseDir(dirfd(d));
    } catch (...) {
    }
  }
  return Real().closedir(d);
}

#if defined(__x86_64__)
// Binaries built against glibc before 2.33 call __xstat and friends, not stat: their
// sys/stat.h made stat an inline wrapper. glibc keeps them as compat symbols
// (__xstat@GLIBC_2.2.5, __fxstatat@GLIBC_2.4; sysdeps/unix/sysv/linux/xstat.c and friends). On
// x86-64 both versions it accepts, _STAT_VER_KERNEL (0) and _STAT_VER_LINUX (1), fill today's
// struct stat, and any other is EINVAL, so each is the modern call above (ours or, through it, the
// real one).
namespace {
bool StatVersionOk(int ver) {
  if (ver == 0 || ver == 1) return true;
  errno = EINVAL;
  return false;
}
}  // namespace
SEVEMU_EXPORT int __xstat(int ver, const char* path, struct stat* st) {
  return StatVersionOk(ver) ? stat(path, st) : -1;
}
SEVEMU_EXPORT int __xstat64(int ver, const char* path, struct stat64* st) {
  return StatVersionOk(ver) ? stat64(path, st) : -1;
}
SEVEMU_EXPORT int __lxstat(int ver, const char* path, struct stat* st) {
  return StatVersionOk(ver) ? lstat(path, st) : -1;
}
SEVEMU_EXPORT int __lxstat64(int ver, const char* path, struct stat64* st) {
  return StatVersionOk(ver) ? lstat64(path, st) : -1;
}
SEVEMU_EXPORT int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) {
  return StatVersionOk(ver) ? fstatat(dirfd, path, st, flags) : -1;
}
SEVEMU_EXPORT int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st, int flags) {
  return StatVersionOk(ver) ? fstatat64(dirfd, path, st, flags) : -1;
}
#endif
