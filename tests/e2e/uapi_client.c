/*
 * uapi_client: an ordinary C program that drives /dev/sev and /dev/sev-guest with the raw Linux
 * ioctls, through the system's own <linux/psp-sev.h> and <linux/sev-guest.h>. The end-to-end
 * tests run it under the sevemu preload shim to prove that a program written against the real
 * kernel ABI (and knowing nothing of sevemu) gets what the Linux ccp and sev-guest drivers give.
 *
 * Output: one line per ioctl, "step=NAME ret=R errno=E errname=NAME" followed by the fields the
 * call returned as key=value (hex with 0x, decimal otherwise). Binary results go to files.
 * Exit status: 0 when every step ran (whatever the ioctls returned), 2 for bad usage, 1 when
 * the program itself could not run (open failed is a step, not an exit).
 *
 *   uapi_client [--rdonly] [--dev PATH] host status|commit|legacy-status|pek-csr-probe|unknown|
 *               efault|rdonly
 *   uapi_client host set-config TCB FLAGS [RSVD_BYTE]   (TCB, FLAGS hex; RSVD_BYTE -> byte 12)
 *   uapi_client host vlek-load FILE
 *   uapi_client host get-id2 OUT
 *   uapi_client [--dev PATH] guest report OUT [--user-data HEX] [--vmpl N] [--msg-version N]
 *               [--report-only]
 *   uapi_client guest key OUT [--root-key-select N] [--field-select HEX] [--vmpl N] [--svn N]
 *               [--tcb HEX] [--msg-version N]
 *   uapi_client guest ext-report RESP_OUT CERTS_OUT [--first-len N] [--user-data HEX]
 *   uapi_client guest bad-version | bad-ptr | unknown
 *   uapi_client guest fork OUT_PREFIX [--rounds N]    (OUT_PREFIX.parent.I / .child.I)
 *   uapi_client guest loop [--rounds N]               (N reports and derived keys, in turn,
 *                                                      nothing written: a process to kill)
 *   uapi_client guest pause-report OUT                (report, wait for a stdin line, report)
 *   uapi_client host pause-status                     (status, wait for a stdin line, status)
 *   uapi_client open-many PATH N                      (N opens left open, then one call on each
 *                                                      of the first and last)
 *   uapi_client open-variants PATH                    (open64, openat, __open_2, openat with a
 *                                                      directory fd, dup, dup2, fcntl dup; one
 *                                                      call through each)
 *   uapi_client tsm NAME REPORT_OUT AUX_OUT [--user-data HEX] [--privlevel N]
 *                                                     (configfs-tsm: mkdir, inblob, outblob,
 *                                                      auxblob, provider, generation, rmdir)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/psp-sev.h>
#include <linux/sev-guest.h>
#include <linux/version.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The SNP host commands and their structs came to the uapi header in Linux 6.11 (upstream
 * include/uapi/linux/psp-sev.h; SEV-ABI-FACTS.md 1.2 and 1.3). Debian 12's linux-libc-dev 6.1
 * lacks them, so they are declared here exactly as upstream declares them. They are enum
 * constants and structs (nothing #ifdef can see), so the guard is the header's version;
 * define SEVEMU_UAPI_HAS_SNP_HOST to force the system's own.
 */
#if !defined(SEVEMU_UAPI_HAS_SNP_HOST) && LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
enum {
  SNP_PLATFORM_STATUS = SEV_GET_ID2 + 1, /* 9 */
  SNP_COMMIT,                            /* 10 */
  SNP_SET_CONFIG,                        /* 11 */
  SNP_VLEK_LOAD,                         /* 12 */
  SNP_SEV_MAX_UPSTREAM,                  /* 13: SEV_MAX upstream */
};

struct sev_user_data_snp_status {
  __u8 api_major;
  __u8 api_minor;
  __u8 state;
  __u8 is_rmp_initialized : 1;
  __u8 rsvd : 7;
  __u32 build_id;
  __u32 mask_chip_id : 1;
  __u32 mask_chip_key : 1;
  __u32 vlek_en : 1;
  __u32 feature_info : 1;
  __u32 rapl_dis : 1;
  __u32 ciphertext_hiding_cap : 1;
  __u32 ciphertext_hiding_en : 1;
  __u32 rsvd1 : 25;
  __u32 guest_count;
  __u64 current_tcb_version;
  __u64 reported_tcb_version;
} __attribute__((packed));

struct sev_user_data_snp_config {
  __u64 reported_tcb;
  __u32 mask_chip_id : 1;
  __u32 mask_chip_key : 1;
  __u32 rsvd : 30;
  __u8 rsvd1[52];
} __attribute__((packed));

struct sev_user_data_snp_vlek_load {
  __u32 len;
  __u8 vlek_wrapped_version;
  __u8 rsvd[3];
  __u64 vlek_wrapped_address;
} __attribute__((packed));

struct sev_user_data_snp_wrapped_vlek_hashstick {
  __u8 data[432];
} __attribute__((packed));
#endif

_Static_assert(sizeof(struct sev_issue_cmd) == 16, "sev_issue_cmd");
_Static_assert(sizeof(struct sev_user_data_snp_status) == 32, "snp_status");
_Static_assert(sizeof(struct sev_user_data_snp_config) == 64, "snp_config");
_Static_assert(sizeof(struct sev_user_data_snp_vlek_load) == 16, "vlek_load");
_Static_assert(sizeof(struct sev_user_data_get_id2) == 12, "get_id2");
_Static_assert(sizeof(struct sev_user_data_pek_csr) == 12, "pek_csr");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl");
_Static_assert(offsetof(struct snp_guest_request_ioctl, exitinfo2) == 24, "exitinfo2");
_Static_assert(sizeof(struct snp_report_req) == 96, "snp_report_req");
_Static_assert(sizeof(struct snp_report_resp) == 4000, "snp_report_resp");
_Static_assert(sizeof(struct snp_derived_key_req) == 32, "snp_derived_key_req");
_Static_assert(offsetof(struct snp_ext_report_req, certs_len) == 104, "certs_len");

/* What `error` holds before each /dev/sev ioctl: a kernel refusal leaves it as it was. */
#define ERROR_SENTINEL 0xA5A5A5A5u
/* What exitinfo2 holds before each /dev/sev-guest ioctl. */
#define EXITINFO2_SENTINEL 0x5A5A5A5A5A5A5A5Aull
#define REPORT_SIZE 0x4A0

static const char* dev_override;
static int rdonly;

/* ---- output ---- */

/* Writes one whole line with one write(2), so the lines of forked processes never interleave. */
static void Line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void Line(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t off = 0;
  while (off < n) {
    const ssize_t w = write(1, buf + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += w;
  }
}

static const char* ErrName(int e) {
  static const struct {
    int value;
    const char* name;
  } kNames[] = {
      {0, "OK"},
      {EPERM, "EPERM"},
      {ENOENT, "ENOENT"},
      {EIO, "EIO"},
      {ENXIO, "ENXIO"},
      {EBADF, "EBADF"},
      {EAGAIN, "EAGAIN"},
      {ENOMEM, "ENOMEM"},
      {EACCES, "EACCES"},
      {EFAULT, "EFAULT"},
      {EBUSY, "EBUSY"},
      {ENODEV, "ENODEV"},
      {EINVAL, "EINVAL"},
      {ENOTTY, "ENOTTY"},
      {EPIPE, "EPIPE"},
      {ETIMEDOUT, "ETIMEDOUT"},
      {ECONNREFUSED, "ECONNREFUSED"},
      {ECONNRESET, "ECONNRESET"},
      {EBADMSG, "EBADMSG"},
      {524, "ENOTSUPP"},
  };
  for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; ++i) {
    if (kNames[i].value == e) return kNames[i].name;
  }
  return "other";
}

static int WriteFile(const char* path, const void* data, size_t len) {
  FILE* f = fopen(path, "wb");
  if (f == NULL) return -1;
  const size_t w = fwrite(data, 1, len, f);
  if (fclose(f) != 0 || w != len) return -1;
  return 0;
}

/* Reads at most `max` bytes of `path` into a malloc'd buffer. */
static unsigned char* ReadFile(const char* path, size_t max, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) return NULL;
  unsigned char* buf = malloc(max);
  if (buf == NULL) {
    fclose(f);
    return NULL;
  }
  *len = fread(buf, 1, max, f);
  fclose(f);
  return buf;
}

static int ParseHex(const char* hex, unsigned char* out, size_t max, size_t* len) {
  const size_t n = strlen(hex);
  if (n % 2 != 0 || n / 2 > max) return -1;
  for (size_t i = 0; i < n / 2; ++i) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (unsigned char)v;
  }
  *len = n / 2;
  return 0;
}

static void Usage(void) {
  fprintf(stderr, "usage: uapi_client [--rdonly] [--dev PATH] host|guest|open-many ...\n");
  exit(2);
}

/* Options after the positional arguments: "--name value" or a bare "--flag". */
static const char* Opt(int argc, char** argv, int from, const char* name) {
  for (int i = from; i < argc; ++i) {
    if (strcmp(argv[i], name) == 0) return i + 1 < argc ? argv[i + 1] : "";
  }
  return NULL;
}
static unsigned long long OptNum(int argc, char** argv, int from, const char* name,
                                 unsigned long long def) {
  const char* v = Opt(argc, argv, from, name);
  if (v == NULL) return def;
  char* end = NULL;
  errno = 0;
  const unsigned long long n = strtoull(v, &end, 0);
  if (*v == '\0' || *end != '\0' || errno != 0) Usage();
  return n;
}
static unsigned long long Num(const char* v) {
  char* end = NULL;
  errno = 0;
  const unsigned long long n = strtoull(v, &end, 0);
  if (*v == '\0' || *end != '\0' || errno != 0) Usage();
  return n;
}

/* A page nobody may touch: the "bad user pointer" of the EFAULT cases. */
static void* NoAccessPage(void) {
  void* p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

/* ---- /dev/sev ---- */

static int OpenDev(const char* def, int flags, const char* step) {
  const char* path = dev_override != NULL ? dev_override : def;
  const int fd = open(path, flags);
  const int e = fd < 0 ? errno : 0;
  Line("step=%s ret=%d errno=%d errname=%s path=%s", step, fd < 0 ? -1 : 0, e, ErrName(e), path);
  return fd;
}

static int OpenSev(void) {
  return OpenDev("/dev/sev", rdonly ? O_RDONLY : O_RDWR, "open");
}

/* ioctl(SEV_ISSUE_CMD); prints the step line's common part into `prefix`. */
static int IssueCmd(int fd, const char* step, __u32 cmd, void* data, const char* extra) {
  struct sev_issue_cmd arg;
  memset(&arg, 0, sizeof arg);
  arg.cmd = cmd;
  arg.data = (__u64)(uintptr_t)data;
  arg.error = ERROR_SENTINEL;
  errno = 0;
  const int ret = ioctl(fd, SEV_ISSUE_CMD, &arg);
  const int e = ret < 0 ? errno : 0;
  Line("step=%s ret=%d errno=%d errname=%s error=0x%x%s%s", step, ret, e, ErrName(e), arg.error,
       extra != NULL ? " " : "", extra != NULL ? extra : "");
  errno = e;
  return ret;
}

static void PrintSnpStatus(const char* step, const struct sev_user_data_snp_status* s) {
  Line(
      "step=%s.fields api_major=%u api_minor=%u state=%u is_rmp_initialized=%u build_id=%u "
      "mask_chip_id=%u mask_chip_key=%u vlek_en=%u feature_info=%u guest_count=%u "
      "current_tcb=0x%016" PRIx64 " reported_tcb=0x%016" PRIx64,
      step, s->api_major, s->api_minor, s->state, (unsigned)s->is_rmp_initialized,
      (unsigned)s->build_id, (unsigned)s->mask_chip_id, (unsigned)s->mask_chip_key,
      (unsigned)s->vlek_en, (unsigned)s->feature_info, (unsigned)s->guest_count,
      (uint64_t)s->current_tcb_version, (uint64_t)s->reported_tcb_version);
}

static int SnpStatus(int fd, const char* step) {
  struct sev_user_data_snp_status s;
  memset(&s, 0, sizeof s);
  const int ret = IssueCmd(fd, step, SNP_PLATFORM_STATUS, &s, NULL);
  if (ret == 0) PrintSnpStatus(step, &s);
  return ret;
}

static int WaitStdinLine(void) {
  char c;
  for (;;) {
    const ssize_t n = read(0, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    if (c == '\n') return 0;
  }
}

static int Host(int argc, char** argv, int i) {
  if (i >= argc) Usage();
  const char* what = argv[i++];
  if (strcmp(what, "rdonly") == 0) rdonly = 1;
  const int fd = OpenSev();
  if (fd < 0) return 0;

  if (strcmp(what, "status") == 0) {
    SnpStatus(fd, "snp_platform_status");
  } else if (strcmp(what, "pause-status") == 0) {
    SnpStatus(fd, "first");
    Line("step=paused");
    if (WaitStdinLine() != 0) return 1;
    SnpStatus(fd, "second");
  } else if (strcmp(what, "commit") == 0) {
    /* The kernel ignores the data of SNP_COMMIT; pass none, as virtee does. */
    IssueCmd(fd, "snp_commit", SNP_COMMIT, NULL, NULL);
    SnpStatus(fd, "after");
  } else if (strcmp(what, "set-config") == 0) {
    if (i + 1 >= argc) Usage();
    struct sev_user_data_snp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.reported_tcb = Num(argv[i]);
    const __u32 flags = (__u32)Num(argv[i + 1]);
    memcpy((unsigned char*)&cfg + 8, &flags, sizeof flags); /* the whole flags word, raw */
    if (i + 2 < argc) ((unsigned char*)&cfg)[12] = (unsigned char)Num(argv[i + 2]);
    IssueCmd(fd, "snp_set_config", SNP_SET_CONFIG, &cfg, NULL);
    SnpStatus(fd, "after");
  } else if (strcmp(what, "vlek-load") == 0) {
    if (i >= argc) Usage();
    size_t len = 0;
    unsigned char* blob = ReadFile(argv[i], 4096, &len);
    if (blob == NULL) {
      perror(argv[i]);
      return 1;
    }
    struct sev_user_data_snp_vlek_load load;
    memset(&load, 0, sizeof load);
    load.len = sizeof load;
    load.vlek_wrapped_version = 0;
    load.vlek_wrapped_address = (__u64)(uintptr_t)blob;
    char extra[64];
    snprintf(extra, sizeof extra, "blob_len=%zu", len);
    IssueCmd(fd, "snp_vlek_load", SNP_VLEK_LOAD, &load, extra);
    /* A struct of the wrong length: the kernel refuses before the firmware. */
    load.len = sizeof load + 1;
    IssueCmd(fd, "vlek_bad_len", SNP_VLEK_LOAD, &load, NULL);
    free(blob);
    SnpStatus(fd, "after");
  } else if (strcmp(what, "get-id2") == 0) {
    if (i >= argc) Usage();
    struct sev_user_data_get_id2 id;
    char extra[64];
    /* The length probe: no buffer; the kernel writes the length needed back. */
    memset(&id, 0, sizeof id);
    IssueCmd(fd, "get_id2_probe", SEV_GET_ID2, &id, NULL);
    Line("step=get_id2_probe.fields length=%u", id.length);
    unsigned char buf[128];
    memset(buf, 0xEE, sizeof buf);
    id.address = (__u64)(uintptr_t)buf;
    id.length = id.length != 0 ? id.length : 64;
    snprintf(extra, sizeof extra, "asked=%u", id.length);
    const int ret = IssueCmd(fd, "get_id2", SEV_GET_ID2, &id, extra);
    Line("step=get_id2.fields length=%u untouched_after=%d", id.length,
         id.length <= 64 && buf[id.length] == 0xEE);
    if (ret == 0 && WriteFile(argv[i], buf, id.length <= sizeof buf ? id.length : 0) != 0) {
      perror(argv[i]);
      return 1;
    }
    /* An unwritable output buffer. */
    id.address = (__u64)(uintptr_t)NoAccessPage();
    id.length = 64;
    IssueCmd(fd, "get_id2_bad_buffer", SEV_GET_ID2, &id, NULL);
  } else if (strcmp(what, "pek-csr-probe") == 0) {
    struct sev_user_data_pek_csr csr;
    memset(&csr, 0, sizeof csr);
    csr.address = 0;
    csr.length = 0;
    IssueCmd(fd, "pek_csr_probe", SEV_PEK_CSR, &csr, NULL);
    Line("step=pek_csr_probe.fields length=0x%x", csr.length);
  } else if (strcmp(what, "legacy-status") == 0) {
    struct sev_user_data_status st;
    memset(&st, 0, sizeof st);
    IssueCmd(fd, "sev_platform_status", SEV_PLATFORM_STATUS, &st, NULL);
    IssueCmd(fd, "sev_pek_gen", SEV_PEK_GEN, NULL, NULL);
  } else if (strcmp(what, "unknown") == 0) {
    /* Another ioctl number on /dev/sev: EINVAL, nothing copied back. */
    struct sev_issue_cmd arg;
    memset(&arg, 0, sizeof arg);
    arg.cmd = SNP_PLATFORM_STATUS;
    arg.error = ERROR_SENTINEL;
    errno = 0;
    int ret = ioctl(fd, _IOWR('S', 0x7, struct sev_issue_cmd), &arg);
    int e = ret < 0 ? errno : 0;
    Line("step=other_ioctl ret=%d errno=%d errname=%s error=0x%x", ret, e, ErrName(e), arg.error);
    errno = 0;
    ret = ioctl(fd, SNP_GET_REPORT, &arg);
    e = ret < 0 ? errno : 0;
    Line("step=guest_ioctl_on_sev ret=%d errno=%d errname=%s error=0x%x", ret, e, ErrName(e),
         arg.error);
    unsigned char scratch[64];
    memset(scratch, 0, sizeof scratch);
    IssueCmd(fd, "cmd_13", 13, scratch, NULL);
    IssueCmd(fd, "cmd_0x100", 0x100, scratch, NULL);
  } else if (strcmp(what, "efault") == 0) {
    void* bad = NoAccessPage();
    /* The data pointer: SNP_PLATFORM_STATUS runs the firmware, then cannot copy out. */
    IssueCmd(fd, "status_bad_data", SNP_PLATFORM_STATUS, bad, NULL);
    /* SNP_SET_CONFIG cannot copy its struct in. */
    IssueCmd(fd, "set_config_bad_data", SNP_SET_CONFIG, bad, NULL);
    /* The ioctl argument itself. */
    errno = 0;
    const int ret = ioctl(fd, SEV_ISSUE_CMD, bad);
    const int e = ret < 0 ? errno : 0;
    Line("step=bad_arg ret=%d errno=%d errname=%s", ret, e, ErrName(e));
    SnpStatus(fd, "after");
  } else if (strcmp(what, "rdonly") == 0) {
    /* A read-only descriptor: status works; commands that change the platform are EPERM. */
    SnpStatus(fd, "status_rdonly");
    struct sev_user_data_snp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    IssueCmd(fd, "set_config_rdonly", SNP_SET_CONFIG, &cfg, NULL);
    struct sev_user_data_snp_vlek_load load;
    memset(&load, 0, sizeof load);
    load.len = sizeof load;
    IssueCmd(fd, "vlek_load_rdonly", SNP_VLEK_LOAD, &load, NULL);
    IssueCmd(fd, "pek_gen_rdonly", SEV_PEK_GEN, NULL, NULL);
  } else {
    Usage();
  }
  close(fd);
  return 0;
}

/* ---- /dev/sev-guest ---- */

static int OpenGuest(void) {
  return OpenDev("/dev/sev-guest", O_RDWR, "open");
}

/* ioctl on /dev/sev-guest with `req`/`resp`; prints the step line. */
static int GuestIoctl(int fd, const char* step, unsigned long request, __u8 msg_version, void* req,
                      void* resp, const char* extra) {
  struct snp_guest_request_ioctl arg;
  memset(&arg, 0, sizeof arg);
  arg.msg_version = msg_version;
  arg.req_data = (__u64)(uintptr_t)req;
  arg.resp_data = (__u64)(uintptr_t)resp;
  arg.exitinfo2 = EXITINFO2_SENTINEL;
  errno = 0;
  const int ret = ioctl(fd, request, &arg);
  const int e = ret < 0 ? errno : 0;
  Line("step=%s ret=%d errno=%d errname=%s exitinfo2=0x%" PRIx64
       " fw_error=0x%x vmm_error=0x%x%s%s",
       step, ret, e, ErrName(e), (uint64_t)arg.exitinfo2, arg.fw_error, arg.vmm_error,
       extra != NULL ? " " : "", extra != NULL ? extra : "");
  errno = e;
  return ret;
}

static void FillReportReq(struct snp_report_req* r, int argc, char** argv, int from) {
  memset(r, 0, sizeof *r);
  const char* ud = Opt(argc, argv, from, "--user-data");
  size_t len = 0;
  if (ud != NULL && ParseHex(ud, r->user_data, sizeof r->user_data, &len) != 0) Usage();
  r->vmpl = (__u32)OptNum(argc, argv, from, "--vmpl", 0);
}

static void PrintReportResp(const char* step, const unsigned char* resp) {
  __u32 status, size;
  memcpy(&status, resp, 4);
  memcpy(&size, resp + 4, 4);
  Line("step=%s.fields status=0x%x report_size=%u", step, status, size);
}

/* One SNP_GET_REPORT; writes the response (or the bare report) to `out` when it succeeds. */
static int Report(int fd, const char* step, const struct snp_report_req* req, __u8 version,
                  const char* out, int report_only) {
  struct snp_report_resp resp;
  memset(&resp, 0, sizeof resp);
  const int ret = GuestIoctl(fd, step, SNP_GET_REPORT, version, (void*)req, &resp, NULL);
  if (ret != 0) return ret;
  PrintReportResp(step, resp.data);
  if (out != NULL && WriteFile(out, report_only ? resp.data + 0x20 : resp.data,
                               report_only ? REPORT_SIZE : sizeof resp.data) != 0) {
    perror(out);
    exit(1);
  }
  return 0;
}

static int GuestFork(int fd, const char* prefix, int rounds) {
  /* Flush nothing buffered (Line writes directly), then share the descriptor. */
  const pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  const char* who = pid == 0 ? "child" : "parent";
  int failures = 0;
  for (int r = 0; r < rounds; ++r) {
    struct snp_report_req req;
    memset(&req, 0, sizeof req);
    req.user_data[0] = pid == 0 ? 0xC1 : 0xA1;
    req.user_data[1] = (unsigned char)r;
    char step[64], out[4096];
    snprintf(step, sizeof step, "%s.%d", who, r);
    snprintf(out, sizeof out, "%s.%s.%d", prefix, who, r);
    if (Report(fd, step, &req, 1, out, 1) != 0) ++failures;
  }
  if (pid == 0) _exit(failures == 0 ? 0 : 3);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  Line("step=child_exit exited=%d code=%d signal=%d", WIFEXITED(status),
       WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return 0;
}

static int Guest(int argc, char** argv, int i) {
  if (i >= argc) Usage();
  const char* what = argv[i++];
  const int fd = OpenGuest();
  if (fd < 0) return 0;
  const __u8 version = (__u8)OptNum(argc, argv, i, "--msg-version", 1);

  if (strcmp(what, "report") == 0) {
    if (i >= argc) Usage();
    struct snp_report_req req;
    FillReportReq(&req, argc, argv, i + 1);
    Report(fd, "snp_get_report", &req, version, argv[i],
           Opt(argc, argv, i + 1, "--report-only") != NULL);
  } else if (strcmp(what, "pause-report") == 0) {
    if (i >= argc) Usage();
    struct snp_report_req req;
    FillReportReq(&req, argc, argv, i + 1);
    Report(fd, "first", &req, version, argv[i], 1);
    Line("step=paused");
    if (WaitStdinLine() != 0) return 1;
    Report(fd, "second", &req, version, NULL, 1);
  } else if (strcmp(what, "key") == 0) {
    if (i >= argc) Usage();
    struct snp_derived_key_req req;
    memset(&req, 0, sizeof req);
    req.root_key_select = (__u32)OptNum(argc, argv, i + 1, "--root-key-select", 0);
    req.guest_field_select = OptNum(argc, argv, i + 1, "--field-select", 0);
    req.vmpl = (__u32)OptNum(argc, argv, i + 1, "--vmpl", 0);
    req.guest_svn = (__u32)OptNum(argc, argv, i + 1, "--svn", 0);
    req.tcb_version = OptNum(argc, argv, i + 1, "--tcb", 0);
    struct snp_derived_key_resp resp;
    memset(&resp, 0, sizeof resp);
    if (GuestIoctl(fd, "snp_get_derived_key", SNP_GET_DERIVED_KEY, version, &req, &resp, NULL) ==
        0) {
      __u32 status;
      memcpy(&status, resp.data, 4);
      Line("step=snp_get_derived_key.fields status=0x%x", status);
      if (WriteFile(argv[i], resp.data + 0x20, 32) != 0) {
        perror(argv[i]);
        return 1;
      }
    }
  } else if (strcmp(what, "ext-report") == 0) {
    if (i + 1 >= argc) Usage();
    const char* resp_out = argv[i];
    const char* certs_out = argv[i + 1];
    struct snp_ext_report_req req;
    memset(&req, 0, sizeof req);
    FillReportReq(&req.data, argc, argv, i + 2);
    const __u32 first_len = (__u32)OptNum(argc, argv, i + 2, "--first-len", 0);
    unsigned char* certs = calloc(1, 0x4000);
    struct snp_report_resp resp;
    memset(&resp, 0xEE, sizeof resp);
    req.certs_address = (__u64)(uintptr_t)certs;
    req.certs_len = first_len;
    char extra[128];
    int ret = GuestIoctl(fd, "first", SNP_GET_EXT_REPORT, version, &req, &resp, NULL);
    int resp_untouched = 1;
    for (size_t k = 0; k < sizeof resp.data; ++k) resp_untouched &= resp.data[k] == 0xEE;
    Line("step=first.fields certs_len=%u resp_untouched=%d", req.certs_len, resp_untouched);
    if (ret != 0 && errno == EIO && req.certs_len > first_len && req.certs_len <= 0x4000) {
      snprintf(extra, sizeof extra, "certs_len_in=%u", req.certs_len);
      ret = GuestIoctl(fd, "retry", SNP_GET_EXT_REPORT, version, &req, &resp, extra);
      Line("step=retry.fields certs_len=%u", req.certs_len);
    }
    if (ret == 0) {
      PrintReportResp("final", resp.data);
      if (WriteFile(resp_out, resp.data, sizeof resp.data) != 0 ||
          WriteFile(certs_out, certs, req.certs_len <= 0x4000 ? req.certs_len : 0) != 0) {
        perror("write");
        return 1;
      }
    }
    free(certs);
  } else if (strcmp(what, "bad-version") == 0) {
    struct snp_report_req req;
    memset(&req, 0, sizeof req);
    struct snp_report_resp resp;
    GuestIoctl(fd, "report_v0", SNP_GET_REPORT, 0, &req, &resp, NULL);
    struct snp_derived_key_req kreq;
    memset(&kreq, 0, sizeof kreq);
    struct snp_derived_key_resp kresp;
    GuestIoctl(fd, "key_v0", SNP_GET_DERIVED_KEY, 0, &kreq, &kresp, NULL);
    /* No request or response buffer. */
    GuestIoctl(fd, "report_no_req", SNP_GET_REPORT, 1, NULL, &resp, NULL);
    /* And the key still works afterwards (none of these reached the firmware). */
    Report(fd, "after", &req, 1, NULL, 1);
  } else if (strcmp(what, "bad-ptr") == 0) {
    void* bad = NoAccessPage();
    struct snp_report_req req;
    memset(&req, 0, sizeof req);
    struct snp_report_resp resp;
    GuestIoctl(fd, "bad_req", SNP_GET_REPORT, 1, bad, &resp, NULL);
    errno = 0;
    const int ret = ioctl(fd, SNP_GET_REPORT, bad);
    const int e = ret < 0 ? errno : 0;
    Line("step=bad_arg ret=%d errno=%d errname=%s", ret, e, ErrName(e));
    Report(fd, "after", &req, 1, NULL, 1);
  } else if (strcmp(what, "unknown") == 0) {
    struct snp_report_req req;
    memset(&req, 0, sizeof req);
    struct snp_report_resp resp;
    GuestIoctl(fd, "nr_7", _IOWR('S', 0x7, struct snp_guest_request_ioctl), 1, &req, &resp, NULL);
    GuestIoctl(fd, "sev_issue_cmd_on_guest", SEV_ISSUE_CMD, 1, &req, &resp, NULL);
  } else if (strcmp(what, "loop") == 0) {
    const int rounds = (int)OptNum(argc, argv, i, "--rounds", 100);
    for (int r = 0; r < rounds; ++r) {
      struct snp_report_req req;
      memset(&req, 0, sizeof req);
      struct snp_report_resp resp;
      struct snp_derived_key_req kreq;
      memset(&kreq, 0, sizeof kreq);
      struct snp_derived_key_resp kresp;
      char step[32];
      snprintf(step, sizeof step, "report.%d", r);
      GuestIoctl(fd, step, SNP_GET_REPORT, 1, &req, &resp, NULL);
      snprintf(step, sizeof step, "key.%d", r);
      GuestIoctl(fd, step, SNP_GET_DERIVED_KEY, 1, &kreq, &kresp, NULL);
    }
  } else if (strcmp(what, "fork") == 0) {
    if (i >= argc) Usage();
    const int rounds = (int)OptNum(argc, argv, i + 1, "--rounds", 3);
    const int rc = GuestFork(fd, argv[i], rounds);
    close(fd);
    return rc;
  } else {
    Usage();
  }
  close(fd);
  return 0;
}

/* N opens left open (the daemon must cope with many connections and with their abrupt end when
 * the process exits), then one call through the first and through the last. */
static int OpenMany(const char* path, int n) {
  int* fds = calloc((size_t)n, sizeof *fds);
  int opened = 0, first_errno = 0;
  for (int k = 0; k < n; ++k) {
    fds[k] = open(path, O_RDWR);
    if (fds[k] >= 0) {
      ++opened;
    } else if (first_errno == 0) {
      first_errno = errno;
    }
  }
  Line("step=open_many opened=%d wanted=%d errno=%d errname=%s", opened, n, first_errno,
       ErrName(first_errno));
  const int ends[2] = {0, n - 1};
  for (int k = 0; k < 2; ++k) {
    const int fd = fds[ends[k]];
    if (fd < 0) continue;
    char step[32];
    snprintf(step, sizeof step, "call_%d", ends[k]);
    if (strstr(path, "guest") != NULL) {
      struct snp_report_req req;
      memset(&req, 0, sizeof req);
      Report(fd, step, &req, 1, NULL, 1);
    } else {
      SnpStatus(fd, step);
    }
  }
  /* Exits with every descriptor still open. */
  return 0;
}

/* One call through `fd`: a report on /dev/sev-guest, SNP_PLATFORM_STATUS on /dev/sev. */
static void OneCall(int fd, const char* path, const char* step) {
  if (fd < 0) {
    Line("step=%s ret=-1 errno=%d errname=%s", step, errno, ErrName(errno));
    return;
  }
  if (strstr(path, "guest") != NULL) {
    struct snp_report_req req;
    memset(&req, 0, sizeof req);
    Report(fd, step, &req, 1, NULL, 1);
  } else {
    SnpStatus(fd, step);
  }
}

/* glibc's fortified open entry points (what _FORTIFY_SOURCE builds call). */
extern int __open_2(const char* path, int flags);
extern int __openat_2(int dirfd, const char* path, int flags);

static int OpenVariants(const char* path) {
  errno = 0;
  OneCall(open64(path, O_RDWR), path, "open64");
  errno = 0;
  OneCall(openat(AT_FDCWD, path, O_RDWR | O_CLOEXEC), path, "openat");
  errno = 0;
  OneCall(__open_2(path, O_RDWR), path, "open_2");
  errno = 0;
  OneCall(__openat_2(AT_FDCWD, path, O_RDWR), path, "openat_2");
  /* Relative to a directory descriptor for /dev. */
  const int dev = open("/dev", O_RDONLY | O_DIRECTORY);
  const char* base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
  errno = 0;
  OneCall(openat(dev, base, O_RDWR), path, "openat_dirfd");
  close(dev);
  /* Duplicates: each one reaches the same device; closing the original keeps the copy. */
  const int fd = open(path, O_RDWR);
  const int d1 = dup(fd);
  const int d2 = fcntl(fd, F_DUPFD_CLOEXEC, 100);
  const int d3 = dup2(fd, 90);
  close(fd);
  errno = 0;
  OneCall(d1, path, "dup");
  errno = 0;
  OneCall(d2, path, "fcntl_dupfd");
  errno = 0;
  OneCall(d3 == 90 ? d3 : -1, path, "dup2");
  return 0;
}

/* Reads a whole configfs attribute; prints a step line. Returns the byte count or -1. */
static ssize_t ReadAttr(const char* dir, const char* attr, const char* step, unsigned char* buf,
                        size_t max) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, attr);
  const int fd = open(path, O_RDONLY);
  ssize_t total = fd < 0 ? -1 : 0;
  int e = fd < 0 ? errno : 0;
  while (fd >= 0 && (size_t)total < max) {
    const ssize_t n = read(fd, buf + total, max - (size_t)total);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      e = errno;
      total = -1;
      break;
    }
    if (n == 0) break;
    total += n;
  }
  if (fd >= 0) close(fd);
  Line("step=%s ret=%d errno=%d errname=%s bytes=%zd", step, total < 0 ? -1 : 0, e, ErrName(e),
       total);
  return total;
}

static int WriteAttr(const char* dir, const char* attr, const void* data, size_t len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, attr);
  const int fd = open(path, O_WRONLY);
  int e = fd < 0 ? errno : 0;
  ssize_t n = -1;
  if (fd >= 0) {
    n = write(fd, data, len);
    if (n < 0) e = errno;
    close(fd);
  }
  Line("step=write_%s ret=%d errno=%d errname=%s bytes=%zd", attr, n < 0 ? -1 : 0, e, ErrName(e),
       n);
  return n < 0 ? -1 : 0;
}

/* configfs-tsm (Documentation/ABI/testing/configfs-tsm-report; SEV-ABI-FACTS.md 2.4). */
static int Tsm(int argc, char** argv, int i) {
  if (i + 2 >= argc) Usage();
  char dir[512];
  snprintf(dir, sizeof dir, "/sys/kernel/config/tsm/report/%s", argv[i]);
  const char* report_out = argv[i + 1];
  const char* aux_out = argv[i + 2];
  errno = 0;
  int ret = mkdir(dir, 0755);
  int e = ret < 0 ? errno : 0;
  Line("step=mkdir ret=%d errno=%d errname=%s", ret, e, ErrName(e));
  if (ret != 0) return 0;
  static unsigned char buf[64 * 1024];
  ssize_t n = ReadAttr(dir, "provider", "read_provider", buf, sizeof buf - 1);
  if (n >= 0) {
    buf[n] = 0;
    if (n > 0 && buf[n - 1] == '\n') buf[n - 1] = 0;
    Line("step=read_provider.fields value=%s", (char*)buf);
  }
  /* outblob before any inblob: EINVAL. */
  ReadAttr(dir, "outblob", "read_outblob_early", buf, sizeof buf);
  const char* priv = Opt(argc, argv, i + 3, "--privlevel");
  if (priv != NULL) WriteAttr(dir, "privlevel", priv, strlen(priv));
  unsigned char inblob[64];
  memset(inblob, 0, sizeof inblob);
  size_t len = 0;
  const char* ud = Opt(argc, argv, i + 3, "--user-data");
  if (ud != NULL && ParseHex(ud, inblob, sizeof inblob, &len) != 0) Usage();
  WriteAttr(dir, "inblob", inblob, sizeof inblob);
  n = ReadAttr(dir, "generation", "read_generation", buf, sizeof buf - 1);
  if (n >= 0) {
    buf[n] = 0;
    Line("step=read_generation.fields value=%ld", strtol((char*)buf, NULL, 10));
  }
  n = ReadAttr(dir, "outblob", "read_outblob", buf, sizeof buf);
  if (n >= 0 && WriteFile(report_out, buf, (size_t)n) != 0) return 1;
  n = ReadAttr(dir, "auxblob", "read_auxblob", buf, sizeof buf);
  if (n >= 0 && WriteFile(aux_out, buf, (size_t)n) != 0) return 1;
  errno = 0;
  ret = rmdir(dir);
  e = ret < 0 ? errno : 0;
  Line("step=rmdir ret=%d errno=%d errname=%s", ret, e, ErrName(e));
  return 0;
}

int main(int argc, char** argv) {
  int i = 1;
  while (i < argc && strncmp(argv[i], "--", 2) == 0) {
    if (strcmp(argv[i], "--rdonly") == 0) {
      rdonly = 1;
      ++i;
    } else if (strcmp(argv[i], "--dev") == 0 && i + 1 < argc) {
      dev_override = argv[i + 1];
      i += 2;
    } else {
      Usage();
    }
  }
  if (i >= argc) Usage();
  const char* group = argv[i++];
  if (strcmp(group, "host") == 0) return Host(argc, argv, i);
  if (strcmp(group, "guest") == 0) return Guest(argc, argv, i);
  if (strcmp(group, "tsm") == 0) return Tsm(argc, argv, i);
  if (strcmp(group, "open-variants") == 0) {
    if (i >= argc) Usage();
    return OpenVariants(argv[i]);
  }
  if (strcmp(group, "open-many") == 0) {
    if (i + 1 >= argc) Usage();
    return OpenMany(argv[i], (int)Num(argv[i + 1]));
  }
  Usage();
  return 2;
}
