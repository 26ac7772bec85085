#include "run/notify_filter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "run/fd_passing.h"

namespace sevemu::run {

namespace {

struct Rule {
  const char* name;
  int arg = -1;  // >= 0: notify only when (arg & mask) == value
  std::uint64_t mask = 0;
  std::uint64_t value = 0;
};

// Path-based calls must notify: the filter sees only the pointer. Descriptor-based calls on
// our descriptors need no help (they are real sockets and memfds), except ioctl, which
// notifies only for type 'S' requests (_IOC_TYPE, bits 15:8 = 0x53), the type of every
// /dev/sev and /dev/sev-guest request (SEV_IOC_TYPE, SNP_GUEST_REQ_IOC_TYPE): every other ioctl
// of the program runs at full speed. AT_REMOVEDIR is 0x200 (include/uapi/linux/fcntl.h).
const Rule kRules[] = {
    {"open"},
    {"openat"},
    {"openat2"},
    {"stat"},
    {"lstat"},
    {"newfstatat"},
    {"statx"},
    {"access"},
    {"faccessat"},
    {"faccessat2"},
    {"mkdir"},
    {"mkdirat"},
    {"rmdir"},
    {"unlinkat", 2, 0x200, 0x200},
    {"ioctl", 1, 0xFF00, 0x5300},
};

std::string Why(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

Result<int> LoadNotifyFilter(bool paths) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Error(ErrorCode::kIo, Why("no_new_privs", errno));
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return Error(ErrorCode::kIo, "seccomp_init failed");
  // Calls of another ABI (i386, x32) are let through unserved rather than killing the program.
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW);
  for (const Rule& r : kRules) {
    if (!paths && std::strcmp(r.name, "ioctl") != 0) continue;
    const int nr = seccomp_syscall_resolve_name(r.name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture (open, stat on arm64)
    int rc;
    if (r.arg < 0) {
      rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, nr, 0);
    } else {
      // An explicit struct rather than SCMP_CMP, which is a C99 compound literal (clang
      // refuses it in C++ under -Wpedantic).
      scmp_arg_cmp cmp{};
      cmp.arg = static_cast<unsigned>(r.arg);
      cmp.op = SCMP_CMP_MASKED_EQ;
      cmp.datum_a = r.mask;
      cmp.datum_b = r.value;
      rc = seccomp_rule_add_array(ctx, SCMP_ACT_NOTIFY, nr, 1, &cmp);
    }
    if (rc < 0) {
      seccomp_release(ctx);
      return Error(ErrorCode::kIo, Why(r.name, -rc));
    }
  }
  const int rc = seccomp_load(ctx);
  if (rc < 0) {
    seccomp_release(ctx);
    return Error(ErrorCode::kRefused, Why("loading the filter", -rc));
  }
  const int fd = seccomp_notify_fd(ctx);
  seccomp_release(ctx);  // the loaded filter and its listener outlive the context
  if (fd < 0) return Error(ErrorCode::kRefused, "no notification descriptor");
  return fd;
}

int InjectFd(int notify_fd, std::uint64_t id, int srcfd, bool cloexec) {
  seccomp_notif_addfd add{};
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = static_cast<std::uint32_t>(srcfd);
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int r = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  if (r >= 0) return r;
  if (errno != EINVAL) return -errno;
  // Before Linux 5.14: add, then answer with the number (a signal in between could make the
  // program miss the descriptor; the kernel's SEND flag exists for that).
  add.flags = 0;
  r = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  if (r < 0) return -errno;
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.val = r;
  if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return -errno;
  return r;
}

Status CheckUserNotifSupport() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Error(ErrorCode::kIo, Why("socketpair", errno));
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return Error(ErrorCode::kIo, Why("fork", errno));
  }
  if (pid == 0) {
    // The child: a filter that notifies getppid, then one getppid whose answer must be a
    // descriptor injected by the parent. Exit codes: 0 works, 1 the filter, 2 the answer.
    close(sv[0]);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == nullptr || seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(getppid), 0) < 0 ||
        seccomp_load(ctx) < 0) {
      char e = 1;
      (void)!write(sv[1], &e, 1);
      _exit(1);
    }
    const int nfd = seccomp_notify_fd(ctx);
    if (nfd < 0 || !SendFd(sv[1], nfd)) _exit(1);
    close(nfd);
    const long got = syscall(SYS_getppid);
    _exit(got >= 0 && fcntl(static_cast<int>(got), F_GETFD) >= 0 ? 0 : 2);
  }
  close(sv[1]);
  std::string why;
  char byte = 0;
  alignas(cmsghdr) char buf[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  int nfd = -1;
  if (recvmsg(sv[0], &msg, MSG_CMSG_CLOEXEC) == 1 && CMSG_FIRSTHDR(&msg) != nullptr &&
      CMSG_FIRSTHDR(&msg)->cmsg_type == SCM_RIGHTS) {
    std::memcpy(&nfd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof nfd);
  }
  close(sv[0]);
  if (nfd < 0) {
    why = "the kernel refused a filter with SECCOMP_RET_USER_NOTIF";
  } else {
    pollfd p{nfd, POLLIN, 0};
    seccomp_notif req{};
    if (poll(&p, 1, 10000) != 1 || ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
      why = "no notification arrived";
    } else {
      const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
      const int r = InjectFd(nfd, req.id, devnull, false);
      if (devnull >= 0) close(devnull);
      if (r < 0) {
        why = Why("SECCOMP_IOCTL_NOTIF_ADDFD (Linux 5.9)", -r);
        seccomp_notif_resp resp{};
        resp.id = req.id;
        resp.error = -ENOSYS;
        ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
      }
    }
    close(nfd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (why.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    why = "the injected descriptor did not arrive";
  }
  if (!why.empty()) return Error(ErrorCode::kRefused, why);
  return {};
}

}  // namespace sevemu::run
