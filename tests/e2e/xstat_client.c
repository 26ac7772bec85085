/* A program as one built against glibc before 2.33 behaves: its stat, lstat and fstatat are
 * calls of __xstat, __lxstat and __fxstatat (version 1, _STAT_VER_LINUX), which glibc still
 * exports as compat symbols. Bound to those versions explicitly, since today's headers declare
 * none of them. For each path argument prints "PATH X L A" with the file type each call saw
 * (c character device, d directory, f regular file, - error), then "badver ERRNO" for a
 * version glibc refuses. x86-64 only (the symbol versions, GLIBC_2.2.5 and 2.4, are that
 * target's). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

__asm__(".symver __xstat,__xstat@GLIBC_2.2.5");
__asm__(".symver __lxstat,__lxstat@GLIBC_2.2.5");
__asm__(".symver __fxstatat,__fxstatat@GLIBC_2.4");
extern int __xstat(int ver, const char* path, struct stat* st);
extern int __lxstat(int ver, const char* path, struct stat* st);
extern int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags);

static char Kind(int r, const struct stat* st) {
  if (r != 0) return '-';
  if (S_ISCHR(st->st_mode)) return 'c';
  if (S_ISDIR(st->st_mode)) return 'd';
  if (S_ISREG(st->st_mode)) return 'f';
  return '?';
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    struct stat a, b, c;
    const int ra = __xstat(1, argv[i], &a);
    const int rb = __lxstat(1, argv[i], &b);
    const int rc = __fxstatat(1, AT_FDCWD, argv[i], &c, 0);
    printf("%s %c %c %c\n", argv[i], Kind(ra, &a), Kind(rb, &b), Kind(rc, &c));
  }
  struct stat st;
  errno = 0;
  const int r = __xstat(99, "/dev/sev", &st);
  printf("badver %d %s\n", r, r == 0 ? "-" : strerror(errno));
  return 0;
}
