#include "real_libc.h"

#include <dlfcn.h>

namespace sevemu::shim {

namespace {

template <typename Fn>
void Resolve(Fn& fn, const char* name) {
  fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

RealLibc Load() {
  RealLibc r{};
  Resolve(r.open, "open");
  Resolve(r.open64, "open64");
  Resolve(r.openat, "openat");
  Resolve(r.openat64, "openat64");
  Resolve(r.open_2, "__open_2");
  Resolve(r.open64_2, "__open64_2");
  Resolve(r.openat_2, "__openat_2");
  Resolve(r.openat64_2, "__openat64_2");
  Resolve(r.close, "close");
  Resolve(r.opendir, "opendir");
  Resolve(r.fdopendir, "fdopendir");
  Resolve(r.closedir, "closedir");
  Resolve(r.ioctl, "ioctl");
  Resolve(r.dup, "dup");
  Resolve(r.dup2, "dup2");
  Resolve(r.dup3, "dup3");
  Resolve(r.fcntl, "fcntl");
  Resolve(r.read, "read");
  Resolve(r.write, "write");
  Resolve(r.lseek, "lseek");
  Resolve(r.mkdir, "mkdir");
  Resolve(r.mkdirat, "mkdirat");
  Resolve(r.rmdir, "rmdir");
  Resolve(r.stat, "stat");
  Resolve(r.stat64, "stat64");
  Resolve(r.lstat, "lstat");
  Resolve(r.lstat64, "lstat64");
  Resolve(r.fstatat, "fstatat");
  Resolve(r.fstatat64, "fstatat64");
  Resolve(r.statx, "statx");
  Resolve(r.access, "access");
  Resolve(r.faccessat, "faccessat");
  Resolve(r.euidaccess, "euidaccess");
  Resolve(r.eaccess, "eaccess");
  return r;
}

}  // namespace

const RealLibc& Real() {
  static const RealLibc real = Load();  // thread-safe initialisation
  return real;
}

}  // namespace sevemu::shim
