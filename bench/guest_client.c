/*
 * bench_guest_client: the benchmark's guest program. It opens /dev/sev-guest and issues one
 * kind of request in a loop, as an attestation agent would, through the system's own
 * <linux/sev-guest.h>, so it runs unchanged under the preload shim and under `sevemu run`.
 *
 *   bench_guest_client report|key ROUNDS
 *
 * Prints one line, "ok=N ns=T": N requests that succeeded and the nanoseconds the loop took
 * (the process's start-up and the open are outside it). Exit 0 when every request succeeded,
 * 1 otherwise, 2 for bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sev-guest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: bench_guest_client report|key ROUNDS\n");
    return 2;
  }
  const int key = strcmp(argv[1], "key") == 0;
  if (!key && strcmp(argv[1], "report") != 0) return 2;
  const long rounds = strtol(argv[2], NULL, 10);
  if (rounds <= 0) return 2;
  const int fd = open("/dev/sev-guest", O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "bench_guest_client: open /dev/sev-guest: %s\n", strerror(errno));
    return 1;
  }
  long ok = 0;
  const uint64_t start = NowNs();
  for (long i = 0; i < rounds; ++i) {
    struct snp_guest_request_ioctl req;
    memset(&req, 0, sizeof req);
    req.msg_version = 1;
    int ret;
    if (key) {
      struct snp_derived_key_req kreq;
      struct snp_derived_key_resp kresp;
      memset(&kreq, 0, sizeof kreq);
      memset(&kresp, 0, sizeof kresp);
      kreq.guest_field_select = 1; /* the guest policy */
      req.req_data = (uintptr_t)&kreq;
      req.resp_data = (uintptr_t)&kresp;
      ret = ioctl(fd, SNP_GET_DERIVED_KEY, &req);
    } else {
      struct snp_report_req rreq;
      struct snp_report_resp rresp;
      memset(&rreq, 0, sizeof rreq);
      memset(&rresp, 0, sizeof rresp);
      rreq.user_data[0] = (uint8_t)i;
      req.req_data = (uintptr_t)&rreq;
      req.resp_data = (uintptr_t)&rresp;
      ret = ioctl(fd, SNP_GET_REPORT, &req);
    }
    if (ret == 0) ++ok;
  }
  const uint64_t end = NowNs();
  close(fd);
  printf("ok=%ld ns=%llu\n", ok, (unsigned long long)(end - start));
  return ok == rounds ? 0 : 1;
}
