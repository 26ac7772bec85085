// The libc functions the shim interposes or uses unintercepted, as the next library in the lookup
// order provides them (dlsym(RTLD_NEXT)). Resolved once, on first use.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdarg>

namespace sevemu::shim {

struct RealLibc {
  int (*open)(const char*, int, ...);
  int (*open64)(const char*, int, ...);
  int (*openat)(int, const char*, int, ...);
  int (*openat64)(int, const char*, int, ...);
  int (*open_2)(const char*, int);
  int (*open64_2)(const char*, int);
  int (*openat_2)(int, const char*, int);
  int (*openat64_2)(int, const char*, int);
  int (*close)(int);
  int (*ioctl)(int, unsigned long, ...);
  int (*dup)(int);
  int (*dup2)(int, int);
  int (*dup3)(int, int, int);
  int (*fcntl)(int, int, ...);

  ssize_t (*read)(int, void*, size_t);
  ssize_t (*write)(int, const void*, size_t);
  off_t (*lseek)(int, off_t, int);
  int (*mkdir)(const char*, mode_t);
  int (*mkdirat)(int, const char*, mode_t);
  int (*rmdir)(const char*);

  int (*stat)(const char*, struct stat*);
  int (*stat64)(const char*, struct stat64*);
  int (*lstat)(const char*, struct stat*);
  int (*lstat64)(const char*, struct stat64*);
  int (*fstatat)(int, const char*, struct stat*, int);
  int (*fstatat64)(int, const char*, struct stat64*, int);
  int (*statx)(int, const char*, int, unsigned, struct statx*);
  int (*access)(const char*, int);
  int (*faccessat)(int, const char*, int, int);
  int (*euidaccess)(const char*, int);
  int (*eaccess)(const char*, int);

  DIR* (*opendir)(const char*);
  DIR* (*fdopendir)(int);
  int (*closedir)(DIR*);
};

const RealLibc& Real();

}  // namespace sevemu::shim
