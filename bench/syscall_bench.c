/* The workloads of scripts/bench-run-overhead.sh (docs/performance.md), one per mode:
 *
 *   bench_syscall files DIR N    stat + open + read + close of N small files in DIR (made on
 *                                first use, outside the timing): a syscall-heavy program that
 *                                touches no device
 *   bench_syscall reports N      N SNP_GET_REPORT ioctls on one /dev/sev-guest descriptor
 *
 * Prints one line: "mode=M n=N seconds=S per_second=R" (files: also cpu_seconds=C). Dynamically linked, so the same binary
 * runs plain, under the preload shim and under `sevemu run`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double Clock(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static double Now(void) { return Clock(CLOCK_MONOTONIC); }
/* The process's CPU time, user and system: what the calls cost, without the time spent waiting
 * for a CPU on a loaded machine (or for the supervisor, which is another process). */
static double Cpu(void) { return Clock(CLOCK_PROCESS_CPUTIME_ID); }

static int Files(const char* dir, long n) {
  char path[4096];
  static const char kData[64] = "sevemu bench: a small file of sixty-four bytes, padded......\n";
  mkdir(dir, 0755);
  for (long i = 0; i < n; ++i) {
    snprintf(path, sizeof path, "%s/f%05ld", dir, i);
    if (access(path, F_OK) == 0) continue;
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, kData, sizeof kData) != (ssize_t)sizeof kData) {
      perror(path);
      return 1;
    }
    close(fd);
  }
  char buf[256];
  long bytes = 0;
  const double t0 = Now(), c0 = Cpu();
  for (long i = 0; i < n; ++i) {
    snprintf(path, sizeof path, "%s/f%05ld", dir, i);
    struct stat st;
    if (stat(path, &st) != 0) return 1;
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    const ssize_t r = read(fd, buf, sizeof buf);
    if (r > 0) bytes += r;
    close(fd);
  }
  const double s = Now() - t0, cpu = Cpu() - c0;
  printf("mode=files n=%ld seconds=%.6f cpu_seconds=%.6f per_second=%.1f bytes=%ld\n", n, s, cpu,
         (double)n / s, bytes);
  return 0;
}

static int Reports(long n) {
  const int fd = open("/dev/sev-guest", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    perror("/dev/sev-guest");
    return 1;
  }
  struct snp_report_req req;
  struct snp_report_resp resp;
  memset(&req, 0, sizeof req);
  struct snp_guest_request_ioctl io;
  const double t0 = Now();
  for (long i = 0; i < n; ++i) {
    memset(&io, 0, sizeof io);
    io.msg_version = 1;
    io.req_data = (__u64)(unsigned long)&req;
    io.resp_data = (__u64)(unsigned long)&resp;
    req.user_data[0] = (__u8)i;
    if (ioctl(fd, SNP_GET_REPORT, &io) != 0) {
      fprintf(stderr, "SNP_GET_REPORT: %s\n", strerror(errno));
      return 1;
    }
  }
  const double s = Now() - t0;
  printf("mode=reports n=%ld seconds=%.6f per_second=%.1f\n", n, s, (double)n / s);
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "files") == 0) return Files(argv[2], atol(argv[3]));
  if (argc == 3 && strcmp(argv[1], "reports") == 0) return Reports(atol(argv[2]));
  fprintf(stderr, "usage: bench_syscall files DIR N | reports N\n");
  return 2;
}
