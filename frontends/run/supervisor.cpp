#include "run/supervisor.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "devices/daemon_call.h"
#include "devices/device_paths.h"
#include "devices/guest_forward.h"
#include "devices/probes.h"
#include "devices/process_memory.h"
#include "devices/sev_forward.h"
#include "devices/tsm_tree.h"
#include "run/fd_passing.h"
#include "run/notify_filter.h"
#include "run/stand_ins.h"
#include "run/target.h"

namespace sevemu::run {

namespace {

volatile sig_atomic_t g_child = 0;

// include/uapi/linux/seccomp.h (Linux 6.6), absent from older headers.
constexpr unsigned long kSeccompIoctlNotifSetFlags = _IOW('!', 4, std::uint64_t);
constexpr unsigned long kSeccompUserNotifFdSyncWakeUp = 1;

void Forward(int sig) {
  if (g_child > 0) kill(static_cast<pid_t>(g_child), sig);
}

enum class Device { kSev, kSevGuest };

// One open of a device. The program holds `handle`'s peer end of a socket pair, an inert
// descriptor (reads see end of file) that stands for the open file; the daemon connection
// `daemon` stays in the supervisor, so no process of the program ever reads or writes the
// daemon's frames and its dup, fork, exec and close need no help. When the last copy of the
// program's end closes, `handle` hangs up and the connection is closed.
struct Conn {
  Device device = Device::kSev;
  bool writable = false;
  std::uint64_t secrets_gpa = 0;
  int daemon = -1;
  int handle = -1;
};

// What a notification becomes.
struct Answer {
  bool cont = false;  // SECCOMP_USER_NOTIF_FLAG_CONTINUE: not ours, the kernel runs the call
  bool sent = false;  // already answered (an injected descriptor)
  long val = 0;
  int error = 0;  // -errno
  static Answer Continue() { return {true, false, 0, 0}; }
  static Answer Value(long v) { return {false, false, v, 0}; }
  static Answer Err(int neg_errno) { return {false, false, 0, neg_errno}; }
};

class Supervisor {
 public:
  // `stand_ins`: the namespace mode's device mounts; nullptr in the notify mode.
  Supervisor(const RunOptions& o, int notify_fd, devices::Machine machine,
             const StandIns* stand_ins)
      : o_(o), nfd_(notify_fd), machine_(std::move(machine)) {
    if (stand_ins != nullptr) stand_ins_ = *stand_ins;
  }
  ~Supervisor() {
    for (auto& [key, c] : conns_) {
      close(c.daemon);
      close(c.handle);
    }
    for (const int fd : shared_) {
      if (fd >= 0) close(fd);
    }
    if (inotify_ >= 0) close(inotify_);
    if (!views_dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(views_dir_, ec);
    }
    tsm_.reset();
    if (tsm_conn_ >= 0) close(tsm_conn_);
  }
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void Handle(const seccomp_notif& req) {
    Answer a;
    try {
      a = Dispatch(req);
    } catch (...) {
      a = Answer::Err(-ENOMEM);
    }
    if (a.sent) return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    if (a.cont) {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    } else {
      resp.val = a.val;
      resp.error = a.error;
    }
    // ENOENT: the task is gone (killed mid-call) or was interrupted by a signal; nothing to do.
    (void)ioctl(nfd_, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

 private:
  // Still the same call of a live task? Checked after reading its memory and before acting,
  // so a pid reused by another process is never answered with what we read (seccomp_unotify(2)).
  bool StillValid(std::uint64_t id) { return ioctl(nfd_, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }

  struct PathArgument {
    devices::DevicePath p;
    std::string abs;  // absolute, "." and ".." left in (ClassifyPath, SplitTsmPath resolve them)
    int err = 0;      // -errno: the walk fails before reaching the path (DotDotError)
  };

  // The path argument at `addr` relative to `dirfd`, classified; kNotOurs when it cannot be read.
  PathArgument PathArg(const seccomp_notif& req, int dirfd, std::uint64_t addr) {
    const pid_t tid = static_cast<pid_t>(req.pid);
    auto s = ReadString(tid, addr);
    if (!s) return {};
    auto abs = ResolveAt(tid, dirfd, *s);
    if (!abs) return {};
    FromView(*abs);
    PathArgument out{devices::ClassifyPath(*abs), *abs, 0};
    if (out.p.kind != devices::PathKind::kNotOurs) out.err = DotDotError(*abs);
    return out;
  }

  // The kernel walks ".." from the directory before it, which must exist and be a directory;
  // resolving lexically alone would make report/gone/.. the report directory after `gone` is
  // removed. Checked where sevemu is the file system (configfs-tsm): 0, -ENOENT or -ENOTDIR.
  int DotDotError(const std::string& abs) {
    for (std::size_t pos = abs.find("/.."); pos != std::string::npos; pos = abs.find("/..", pos)) {
      const std::size_t end = pos + 3;
      if (end == abs.size() || abs[end] == '/') {
        const auto t = devices::SplitTsmPath(pos == 0 ? "/" : abs.substr(0, pos));
        if (t) {
          if (EnsureTsm() != 0) return -ENOENT;
          const auto st = tsm_->Stat(*t);
          if (!st) return -ENOENT;
          if (!S_ISDIR(st->st_mode)) return -ENOTDIR;
        }
      }
      pos = end;
    }
    return 0;
  }

  Answer Dispatch(const seccomp_notif& req) {
    const auto& a = req.data.args;
    const int nr = req.data.nr;
    switch (nr) {
#ifdef SYS_open
      case SYS_open:
        return Open(req, AT_FDCWD, a[0], static_cast<int>(a[1]));
#endif
      case SYS_openat:
        return Open(req, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]));
#ifdef SYS_openat2
      case SYS_openat2: {
        open_how how{};
        devices::ProcessMemory mem(static_cast<pid_t>(req.pid));
        if (a[3] < sizeof how.flags ||
            !mem.Read(a[2], {reinterpret_cast<std::uint8_t*>(&how.flags), sizeof how.flags})) {
          return Answer::Continue();  // the kernel reports the bad argument itself
        }
        return Open(req, static_cast<int>(a[0]), a[1], static_cast<int>(how.flags));
      }
#endif
#ifdef SYS_stat
      case SYS_stat:
      case SYS_lstat:
        return Stat(req, AT_FDCWD, a[0], a[1]);
#endif
      case SYS_newfstatat:
        return Stat(req, static_cast<int>(a[0]), a[1], a[2]);
      case SYS_statx:
        return Statx(req, static_cast<int>(a[0]), a[1], static_cast<unsigned>(a[3]), a[4]);
#ifdef SYS_access
      case SYS_access:
        return Access(req, AT_FDCWD, a[0], static_cast<int>(a[1]));
#endif
      case SYS_faccessat:
#ifdef SYS_faccessat2
      case SYS_faccessat2:
#endif
        return Access(req, static_cast<int>(a[0]), a[1], static_cast<int>(a[2]));
#ifdef SYS_mkdir
      case SYS_mkdir:
        return DirOp(req, AT_FDCWD, a[0], true);
#endif
      case SYS_mkdirat:
        return DirOp(req, static_cast<int>(a[0]), a[1], true);
#ifdef SYS_rmdir
      case SYS_rmdir:
        return DirOp(req, AT_FDCWD, a[0], false);
#endif
      case SYS_unlinkat:  // the filter passes only AT_REMOVEDIR: rmdir
        return DirOp(req, static_cast<int>(a[0]), a[1], false);
      case SYS_ioctl:
        return Ioctl(req, static_cast<int>(a[0]), a[1], a[2]);
      default:
        return Answer::Continue();
    }
  }

  Answer Inject(const seccomp_notif& req, int fd, bool cloexec) {
    const int r = InjectFd(nfd_, req.id, fd, cloexec);
    close(fd);
    if (r < 0) return Answer::Err(r);  // the task is gone, or it is out of descriptors (EMFILE)
    Answer a;
    a.sent = true;
    return a;
  }

  Answer Open(const seccomp_notif& req, int dirfd, std::uint64_t path, int flags) {
    const auto [p, abs, err] = PathArg(req, dirfd, path);
    using devices::PathKind;
    if (p.kind == PathKind::kNotOurs) return Answer::Continue();
    if (!StillValid(req.id)) return Answer::Err(-ENOENT);
    if (err != 0) return Answer::Err(err);
    const bool cloexec = (flags & O_CLOEXEC) != 0;
    switch (p.kind) {
      case PathKind::kSev:
      case PathKind::kSevGuest: {
        Conn c;
        std::string hello;
        c.writable = (flags & O_ACCMODE) != O_RDONLY;
        if (p.kind == PathKind::kSev) {
          hello = devices::HostHello(o_.platform, c.writable);
        } else {
          if (!machine_.snp_guest()) return Answer::Err(-ENOENT);
          c.device = Device::kSevGuest;
          hello = devices::GuestHello(o_.platform, o_.guest);
        }
        std::string reply;
        const int fd = devices::ConnectDaemon(hello, true, &reply);
        if (fd < 0) return Answer::Err(fd);
        c.secrets_gpa = devices::SecretsGpaOf(reply);
        if (c.device == Device::kSevGuest && c.secrets_gpa == 0) {
          close(fd);  // a legacy SEV / SEV-ES guest: Linux's sev-guest driver does not probe
          return Answer::Err(-ENOENT);
        }
        int pair[2];
        struct stat st {};
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0 ||
            fstat(pair[0], &st) != 0) {
          close(fd);
          return Answer::Err(-EIO);
        }
        shutdown(pair[1], SHUT_WR);  // the program's reads see end of file, never block
        c.daemon = fd;
        c.handle = pair[1];
        const Answer a = Inject(req, pair[0], cloexec);
        if (!a.sent) {
          close(c.daemon);
          close(c.handle);
          return a;
        }
        // A later ioctl finds the open by the inode of the program's end.
        conns_[{st.st_dev, st.st_ino}] = c;
        return a;
      }
      case PathKind::kMsr:
      case PathKind::kKvmAmdParam: {
        const int fd = devices::OpenProbe(p, machine_, true);
        if (fd < 0) return Answer::Err(fd);
        return Inject(req, fd, cloexec);
      }
      case PathKind::kSevGuestSysfs:
      case PathKind::kKvmAmdDir: {
        if (!devices::StatOf(p, machine_)) return Answer::Err(-ENOENT);
        return Answer::Err(-EACCES);  // directories are for stat/access only (docs/run.md)
      }
      case PathKind::kTsm:
        return OpenTsm(req, abs, flags);
      case PathKind::kNotOurs:
        break;
    }
    return Answer::Err(-ENOENT);
  }

  // configfs-tsm, inside an SNP guest only: the tree over the supervisor's own guest
  // connection, made on first use. 0 or -errno.
  int EnsureTsm() {
    if (tsm_) return 0;
    if (!machine_.snp_guest()) return -ENOENT;
    std::string reply;
    const int fd = devices::ConnectDaemon(devices::GuestHello(o_.platform, o_.guest), true, &reply);
    if (fd < 0) return fd;
    const std::string root = devices::TsmBackingRoot(o_.platform, o_.guest);
    if (const int rc = devices::TsmTree::Make(root, fd, &tsm_); rc != 0) {
      close(fd);
      return rc;
    }
    tsm_conn_ = fd;
    views_dir_ = root + ".views/run-" + std::to_string(getpid());
    return 0;
  }

  // A path inside a directory view the program opened (openat on its descriptor, fchdir)
  // stands for the configfs directory the view shows.
  void FromView(std::string& abs) const {
    if (views_dir_.empty() || abs.compare(0, views_dir_.size() + 1, views_dir_ + "/") != 0) {
      return;
    }
    const std::size_t name_end = abs.find('/', views_dir_.size() + 1);
    auto it = views_.find(abs.substr(0, name_end));
    if (it == views_.end()) return;
    abs = it->second.shows + (name_end == std::string::npos ? "" : abs.substr(name_end));
  }

  Answer OpenTsm(const seccomp_notif& req, const std::string& abs, int flags) {
    const auto p = devices::SplitTsmPath(abs);
    if (!p) return Answer::Err(-ENOENT);
    if (const int rc = EnsureTsm(); rc != 0) return Answer::Err(rc);
    const bool cloexec = (flags & O_CLOEXEC) != 0;
    if (p->level == devices::TsmPath::Level::kAttr) {
      bool pending = false;
      const int fd = tsm_->OpenAttr(*p, flags, &pending);
      if (fd < 0) return Answer::Err(fd);
      return Inject(req, fd, cloexec);
    }
    std::string view;
    const int fd = tsm_->OpenView(*p, flags, views_dir_, &view);
    if (fd < 0) return Answer::Err(fd);
    // The view goes when its last descriptor closes (inotify reports the final close).
    if (inotify_ < 0) inotify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    const int wd =
        inotify_ < 0 ? -1
                     : inotify_add_watch(inotify_, view.c_str(), IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    views_[view] = View{abs, wd};
    return Inject(req, fd, cloexec);
  }

  std::optional<struct stat> StatPath(const seccomp_notif& req, int dirfd, std::uint64_t path,
                                      bool& ours) {
    const auto [p, abs, err] = PathArg(req, dirfd, path);
    ours = p.kind != devices::PathKind::kNotOurs;
    if (!ours || err != 0) return std::nullopt;  // a failed walk: ENOENT
    if (p.kind == devices::PathKind::kTsm) {
      const auto t = devices::SplitTsmPath(abs);
      if (!t || EnsureTsm() != 0) return std::nullopt;
      return tsm_->Stat(*t);
    }
    return devices::StatOf(p, machine_);
  }

  Answer Stat(const seccomp_notif& req, int dirfd, std::uint64_t path, std::uint64_t buf) {
    bool ours = false;
    const auto st = StatPath(req, dirfd, path, ours);
    if (!ours) return Answer::Continue();
    if (!StillValid(req.id)) return Answer::Err(-ENOENT);
    if (!st) return Answer::Err(-ENOENT);
    devices::ProcessMemory mem(static_cast<pid_t>(req.pid));
    if (!mem.Write(buf, {reinterpret_cast<const std::uint8_t*>(&*st), sizeof *st})) {
      return Answer::Err(-EFAULT);
    }
    return Answer::Value(0);
  }

  Answer Statx(const seccomp_notif& req, int dirfd, std::uint64_t path, unsigned mask,
               std::uint64_t buf) {
    (void)mask;  // everything is known, so everything is reported
    bool ours = false;
    const auto st = StatPath(req, dirfd, path, ours);
    if (!ours) return Answer::Continue();
    if (!StillValid(req.id)) return Answer::Err(-ENOENT);
    if (!st) return Answer::Err(-ENOENT);
    const struct statx x = devices::ToStatx(*st);
    devices::ProcessMemory mem(static_cast<pid_t>(req.pid));
    if (!mem.Write(buf, {reinterpret_cast<const std::uint8_t*>(&x), sizeof x})) {
      return Answer::Err(-EFAULT);
    }
    return Answer::Value(0);
  }

  Answer Access(const seccomp_notif& req, int dirfd, std::uint64_t path, int mode) {
    bool ours = false;
    const auto st = StatPath(req, dirfd, path, ours);
    if (!ours) return Answer::Continue();
    if (!st) return Answer::Err(-ENOENT);
    if (const int rc = devices::AccessOf(*st, mode); rc != 0) return Answer::Err(rc);
    return Answer::Value(0);
  }

  Answer DirOp(const seccomp_notif& req, int dirfd, std::uint64_t path, bool make) {
    const auto [p, abs, err] = PathArg(req, dirfd, path);
    if (p.kind == devices::PathKind::kNotOurs) return Answer::Continue();
    if (!StillValid(req.id)) return Answer::Err(-ENOENT);
    if (err != 0) return Answer::Err(err);
    if (p.kind != devices::PathKind::kTsm) return Answer::Err(-EPERM);  // sysfs and /dev: no
    const auto t = devices::SplitTsmPath(abs);
    if (!t) return Answer::Err(-ENOENT);
    if (const int rc = EnsureTsm(); rc != 0) return Answer::Err(rc);
    const int rc = make ? tsm_->Mkdir(*t) : tsm_->Rmdir(*t);
    return rc < 0 ? Answer::Err(rc) : Answer::Value(0);
  }

  Answer Ioctl(const seccomp_notif& req, int fd, std::uint64_t request, std::uint64_t arg) {
    if (stand_ins_) return StandInIoctl(req, fd, request, arg);
    const pid_t tid = static_cast<pid_t>(req.pid);
    const int ours = GetTargetFd(tid, fd);
    if (ours < 0) return Answer::Continue();  // EBADF and the like: the kernel says so itself
    struct stat st {};
    const Conn* c = nullptr;
    if (fstat(ours, &st) == 0 && S_ISSOCK(st.st_mode)) {
      auto it = conns_.find({st.st_dev, st.st_ino});
      if (it != conns_.end()) c = &it->second;
    }
    if (!c) {
      close(ours);
      return Answer::Continue();
    }
    if (!StillValid(req.id)) {
      close(ours);
      return Answer::Err(-ENOENT);
    }
    close(ours);  // the program's end: only its inode was needed
    devices::ProcessMemory mem(tid);
    const auto rq = static_cast<unsigned long>(request);
    const int r = c->device == Device::kSev
                      ? devices::ForwardSevIoctl(c->daemon, c->writable, rq, arg, mem)
                      : devices::ForwardGuestIoctl(c->daemon, rq, arg, mem);
    return r < 0 ? Answer::Err(r) : Answer::Value(r);
  }

 public:
  // The namespace mode: the descriptor is a device when it was opened through one of the
  // stand-in mounts (its mount id; every other file, /dev/null itself included, is the
  // kernel's). Opens are not seen, so one daemon connection serves every open of a device: the
  // guest's (its message sequence numbers are the guest's, as in the sev-guest driver), and
  // /dev/sev's read-only and writable ones (the access mode of the descriptor's open file).
  Answer StandInIoctl(const seccomp_notif& req, int fd, std::uint64_t request, std::uint64_t arg) {
    const pid_t tid = static_cast<pid_t>(req.pid);
    const int ours = GetTargetFd(tid, fd);
    if (ours < 0) return Answer::Continue();
    struct statx x {};
    const bool known =
        statx(ours, "", AT_EMPTY_PATH, STATX_MNT_ID, &x) == 0 && (x.stx_mask & STATX_MNT_ID) != 0;
    const int flags = fcntl(ours, F_GETFL);
    close(ours);
    Device dev;
    if (known && x.stx_mnt_id == stand_ins_->sev_mnt) {
      dev = Device::kSev;
    } else if (known && stand_ins_->guest_mnt != 0 && x.stx_mnt_id == stand_ins_->guest_mnt) {
      dev = Device::kSevGuest;
    } else {
      return Answer::Continue();
    }
    if (!StillValid(req.id)) return Answer::Err(-ENOENT);
    const bool writable = flags >= 0 && (flags & O_ACCMODE) != O_RDONLY;
    int& conn = shared_[dev == Device::kSevGuest ? 2 : writable ? 1 : 0];
    if (conn < 0) {
      const std::string hello = dev == Device::kSev ? devices::HostHello(o_.platform, writable)
                                                    : devices::GuestHello(o_.platform, o_.guest);
      std::string reply;
      const int c = devices::ConnectDaemon(hello, true, &reply);
      if (c < 0) return Answer::Err(c);
      conn = c;
    }
    devices::ProcessMemory mem(tid);
    const auto rq = static_cast<unsigned long>(request);
    const int r = dev == Device::kSev ? devices::ForwardSevIoctl(conn, writable, rq, arg, mem)
                                      : devices::ForwardGuestIoctl(conn, rq, arg, mem);
    return r < 0 ? Answer::Err(r) : Answer::Value(r);
  }

  // Adds every open's handle to `p`.
  void PollSet(std::vector<pollfd>& p) const {
    for (const auto& [key, c] : conns_) p.push_back({c.handle, POLLIN, 0});
    if (inotify_ >= 0) p.push_back({inotify_, POLLIN, 0});
  }
  // A handle is readable: the program wrote to its end (discarded), or hung up (every copy
  // of its end is closed): the open is over.
  void HandleEvent(int handle) {
    if (handle == inotify_) return ViewsClosed();
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
      if (it->second.handle != handle) continue;
      char buf[4096];
      const ssize_t n = recv(handle, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        close(it->second.daemon);
        close(it->second.handle);
        conns_.erase(it);
      }
      return;
    }
  }

 private:
  // A view's directory was closed for the last time: it is removed.
  void ViewsClosed() {
    alignas(inotify_event) char buf[4096];
    for (;;) {
      const ssize_t n = read(inotify_, buf, sizeof buf);
      if (n <= 0) return;
      for (ssize_t off = 0; off < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
        // Events for files inside a view (len > 0) are not the view's own close.
        if (e->len != 0 || (e->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE)) == 0) continue;
        for (auto it = views_.begin(); it != views_.end(); ++it) {
          if (it->second.wd != e->wd) continue;
          inotify_rm_watch(inotify_, e->wd);
          std::error_code ec;
          std::filesystem::remove_all(it->first, ec);
          views_.erase(it);
          break;
        }
      }
    }
  }

  struct View {
    std::string shows;  // the configfs directory, /sys/kernel/config/tsm/...
    int wd = -1;
  };

  const RunOptions& o_;
  int nfd_;
  devices::Machine machine_;
  std::optional<StandIns> stand_ins_;
  int shared_[3] = {-1, -1, -1};  // the namespace mode's connections: /dev/sev ro, rw; guest
  std::map<std::pair<dev_t, ino_t>, Conn> conns_;
  int tsm_conn_ = -1;
  std::unique_ptr<devices::TsmTree> tsm_;
  std::string views_dir_;  // <backing root>.views/run-<pid>: this supervisor's views
  std::map<std::string, View> views_;
  int inotify_ = -1;
};

// What the child tells the supervisor before it sends the filter's listener.
struct ChildReport {
  int ns = 0;  // 1: the namespace mode's stand-ins are in place
  StandIns stand_ins;
  char why[240] = {};  // why not, when the namespace mode was wanted
};

int ExitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int RunSupervised(const RunOptions& o, const std::string& prefix) {
  auto fail = [&](const std::string& m) {
    std::fprintf(stderr, "%s: %s\n", prefix.c_str(), m.c_str());
    return 1;
  };
  if (o.argv.empty()) return fail("no program to run");
  if (auto s = CheckUserNotifSupport(); !s.ok()) {
    return fail("seccomp user notification is not available here (" + s.error().message() +
                "); use the preload shim instead: LD_PRELOAD=libsevemu-preload.so PROGRAM");
  }
  devices::Machine machine;
  if (!o.guest.empty()) {
    // Fail before the program starts if the guest cannot be reached; its type decides what
    // the probes show.
    std::string reply;
    const int fd = devices::ConnectDaemon(devices::GuestHello(o.platform, o.guest), true, &reply);
    if (fd < 0) {
      return fail("cannot reach guest '" + o.guest + "' on the daemon at " +
                  protocol::DefaultSocketPath() + ": " + std::strerror(-fd));
    }
    close(fd);
    machine.in_guest = true;
    machine.guest_type = devices::GuestTypeOf(reply);
  }

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return fail(std::string("socketpair: ") + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t child = fork();
  if (child < 0) return fail(std::string("fork: ") + std::strerror(errno));
  const bool want_ns =
      o.mode == RunMode::kNamespace || (o.mode == RunMode::kAuto && !machine.snp_guest());
  if (child == 0) {
    close(sv[0]);
    // Without the supervisor, every served call would fail with ENOSYS: end with it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    ChildReport rep{};
    if (want_ns) {
      auto ns = EnterStandInNamespace(machine);
      if (ns.ok()) {
        rep.ns = 1;
        rep.stand_ins = *ns;
      } else {
        std::snprintf(rep.why, sizeof rep.why, "%s", ns.error().message().c_str());
      }
      // A change of credentials (the user namespace) clears the death signal.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
    }
    if (write(sv[1], &rep, sizeof rep) != static_cast<ssize_t>(sizeof rep)) _exit(127);
    auto nfd = LoadNotifyFilter(rep.ns == 0);
    if (!nfd.ok()) {
      std::fprintf(stderr, "%s: %s\n", prefix.c_str(), nfd.error().message().c_str());
      _exit(127);
    }
    if (!SendFd(sv[1], *nfd)) _exit(127);
    close(*nfd);
    close(sv[1]);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "%s: %s: %s\n", prefix.c_str(), argv[0], std::strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  g_child = child;
  struct sigaction sa {};
  sa.sa_handler = Forward;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaction(sig, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ChildReport rep{};
  const bool reported = read(sv[0], &rep, sizeof rep) == static_cast<ssize_t>(sizeof rep);
  if (reported && want_ns && rep.ns == 0) {
    rep.why[sizeof rep.why - 1] = '\0';
    std::fprintf(stderr,
                 "%s: notice: no namespace for the stand-in files here (%s): every open and stat "
                 "goes through the supervisor (slower; docs/run.md)\n",
                 prefix.c_str(), rep.why);
  }
  int nfd = -1;
  const bool got = reported && RecvFd(sv[0], nfd);
  close(sv[0]);
  if (!got) {
    int status = 0;
    waitpid(child, &status, 0);
    return ExitStatus(status);  // it said why on stderr
  }
  // The program blocks in each notifying call until the answer: ask the scheduler to switch
  // to the supervisor and back on the same CPU instead of waking it elsewhere (Linux 6.6
  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP; older kernels refuse it and nothing changes).
  (void)ioctl(nfd, kSeccompIoctlNotifSetFlags, kSeccompUserNotifFdSyncWakeUp);
  const long pidfd = syscall(SYS_pidfd_open, child, 0);
  Supervisor sup(o, nfd, machine, rep.ns != 0 ? &rep.stand_ins : nullptr);
  std::vector<pollfd> p;
  for (;;) {
    p.assign({{nfd, POLLIN, 0}, {static_cast<int>(pidfd), POLLIN, 0}});
    sup.PollSet(p);
    const int n = poll(p.data(), p.size(), pidfd >= 0 ? -1 : 100);
    if (n < 0 && errno != EINTR) break;
    if (n > 0 && (p[0].revents & POLLIN) != 0) {
      seccomp_notif req{};
      if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) sup.Handle(req);
      continue;  // serve everything that is pending before looking at the exit
    }
    for (std::size_t i = 2; n > 0 && i < p.size(); ++i) {
      if (p[i].revents != 0) sup.HandleEvent(p[i].fd);
    }
    int status = 0;
    const pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) {
      close(nfd);
      if (pidfd >= 0) close(static_cast<int>(pidfd));
      return ExitStatus(status);
    }
    if (r < 0 && errno == ECHILD) break;
  }
  int status = 0;
  waitpid(child, &status, 0);
  return ExitStatus(status);
}

void RemoveGuestTsmStore(const RunOptions& o) {
  if (o.guest.empty() || std::getenv("SEVEMU_TSM_DIR") != nullptr) return;
  const std::string root = devices::TsmBackingRoot(o.platform, o.guest);
  std::error_code ec;
  for (const char* suffix : {"", ".pending", ".views"}) {
    std::filesystem::remove_all(root + suffix, ec);
  }
}

}  // namespace sevemu::run
