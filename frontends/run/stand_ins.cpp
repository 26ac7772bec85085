#include "run/stand_ins.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "devices/probes.h"

namespace sevemu::run {

namespace {

Error Fail(const std::string& what, int e) {
  return Error(ErrorCode::kRefused, what + ": " + std::strerror(e));
}

bool WriteFile(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Root has CAP_SYS_ADMIN for a mount namespace of its own. Anyone else makes a user namespace
// first (user_namespaces(7)): one line mapping their own uid and gid, so the program still
// sees itself (files of other users show as the overflow uid, 65534).
Status Unshare() {
  if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0) return {};
  const uid_t uid = geteuid();
  const gid_t gid = getegid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) return Fail("unshare", errno);
  // The CLI is not dumpable (main.cpp), which makes /proc/self/* root's: the maps can be
  // written only while this child, about to exec (which makes it dumpable anyway), is.
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  // setgroups must be denied before an unprivileged gid_map is written (Linux 3.19).
  const bool ok =
      WriteFile("/proc/self/setgroups", "deny") &&
      WriteFile("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1") &&
      WriteFile("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1");
  const int e = errno;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (!ok) return Fail("uid_map", e);
  return {};
}

class Builder {
 public:
  // Makes `dir` a directory of our own tmpfs: the original's entries bound into it, or, when it
  // does not exist, a new directory in its (then our own) parent.
  Status Writable(const std::string& dir) {
    if (ours_.count(dir) != 0) return {};
    struct stat st {};
    if (lstat(dir.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) return Fail(dir, ENOTDIR);
      if (auto s = Shadow(dir); !s.ok()) return s;
    } else {
      const std::size_t slash = dir.rfind('/');
      if (slash == 0 || slash == std::string::npos) return Fail(dir, ENOENT);
      if (auto s = Writable(dir.substr(0, slash)); !s.ok()) return s;
      if (mkdir(dir.c_str(), 0755) != 0) return Fail("mkdir " + dir, errno);
    }
    ours_.insert(dir);
    return {};
  }

  // An empty file at `path` with /dev/null bound onto it (a character device that opens
  // anywhere and needs no cleanup); its own mount, whose id names it.
  Result<std::uint64_t> Device(const std::string& path) {
    if (auto s = Writable(Parent(path)); !s.ok()) return s.error();
    if (auto s = MakeFile(path, 0600); !s.ok()) return s.error();
    if (mount("/dev/null", path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Fail("bind " + path, errno);
    }
    struct statx x {};
    if (statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID, &x) != 0 ||
        (x.stx_mask & STATX_MNT_ID) == 0) {
      return Fail("statx " + path, errno != 0 ? errno : ENOSYS);
    }
    return x.stx_mnt_id;
  }

  Status Probe(const std::string& path, const devices::Machine& m, mode_t mode) {
    if (auto s = Writable(Parent(path)); !s.ok()) return s;
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {  // the real file (an AMD host): ours replaces it
      umount2(path.c_str(), MNT_DETACH);
      unlink(path.c_str());
    }
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return Fail(path, errno);
    const int rc = devices::WriteProbe(fd, devices::ClassifyPath(path), m);
    close(fd);
    if (rc != 0) return Fail(path, -rc);
    return {};
  }

  Status Dir(const std::string& path) {
    if (auto s = Writable(Parent(path)); !s.ok()) return s;
    if (mkdir(path.c_str(), 0755) != 0) return Fail("mkdir " + path, errno);
    return {};
  }

  Status Link(const std::string& target, const std::string& path) {
    if (auto s = Writable(Parent(path)); !s.ok()) return s;
    if (symlink(target.c_str(), path.c_str()) != 0) return Fail("symlink " + path, errno);
    return {};
  }

 private:
  static std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

  static Status MakeFile(const std::string& path, mode_t mode) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, mode);
    if (fd < 0) return Fail(path, errno);
    close(fd);
    return {};
  }

  struct Entry {
    std::string name;
    unsigned char type;
  };

  // A tmpfs over `dir` holding what `dir` held: each entry bound from the original (through
  // /proc/self/fd of a descriptor taken before the tmpfs covered it; MS_REC keeps the mounts
  // below, /dev/pts and /dev/shm), symlinks copied. All or nothing: on failure the tmpfs goes.
  Status Shadow(const std::string& dir) {
    const int old = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (old < 0) return Fail(dir, errno);
    std::vector<Entry> entries;
    const int lfd = openat(old, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = lfd < 0 ? nullptr : fdopendir(lfd);
    if (d == nullptr) {
      const int e = errno;
      if (lfd >= 0) close(lfd);
      close(old);
      return Fail(dir, e);
    }
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      unsigned char type = e->d_type;
      struct stat st {};
      if (type == DT_UNKNOWN && fstatat(old, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        type = IFTODT(st.st_mode);
      }
      entries.push_back({name, type});
    }
    closedir(d);
    if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID, "mode=0755") != 0) {
      const int e = errno;
      close(old);
      return Fail("tmpfs on " + dir, e);
    }
    const std::string from = "/proc/self/fd/" + std::to_string(old) + "/";
    for (const Entry& e : entries) {
      const std::string to = dir + "/" + e.name;
      bool ok;
      if (e.type == DT_LNK) {
        char buf[PATH_MAX];
        const ssize_t n = readlinkat(old, e.name.c_str(), buf, sizeof buf - 1);
        ok = n >= 0 && (buf[n] = '\0', symlink(buf, to.c_str()) == 0);
      } else {
        ok = (e.type == DT_DIR ? mkdir(to.c_str(), 0755) == 0 : MakeFile(to, 0600).ok()) &&
             mount((from + e.name).c_str(), to.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0;
      }
      if (!ok) {
        const int err = errno;
        umount2(dir.c_str(), MNT_DETACH);
        close(old);
        return Fail("bind " + to, err);
      }
    }
    close(old);
    return {};
  }

  std::set<std::string> ours_;
};

}  // namespace

Result<StandIns> EnterStandInNamespace(const devices::Machine& machine) {
  if (auto s = Unshare(); !s.ok()) return s.error();
  // Nothing made here may reach the namespace we came from.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Fail("making mounts private", errno);
  }
  Builder b;
  StandIns out;
  auto sev = b.Device("/dev/sev");
  if (!sev.ok()) return sev.error();
  out.sev_mnt = *sev;
  const long cpus = sysconf(_SC_NPROCESSORS_CONF);
  for (long n = 0; n < (cpus > 0 ? cpus : 1); ++n) {
    if (auto s = b.Probe("/dev/cpu/" + std::to_string(n) + "/msr", machine, 0600); !s.ok()) {
      return s.error();
    }
  }
  if (machine.snp_guest()) {
    auto guest = b.Device("/dev/sev-guest");
    if (!guest.ok()) return guest.error();
    out.guest_mnt = *guest;
    if (auto s = b.Dir("/sys/devices/platform/sev-guest"); !s.ok()) return s.error();
    if (auto s =
            b.Link("../../../devices/platform/sev-guest", "/sys/bus/platform/devices/sev-guest");
        !s.ok()) {
      return s.error();
    }
  }
  if (!machine.in_guest) {
    for (const char* p : {"sev", "sev_es", "sev_snp"}) {
      if (auto s = b.Probe(std::string("/sys/module/kvm_amd/parameters/") + p, machine, 0444);
          !s.ok()) {
        return s.error();
      }
    }
  }
  // A working directory inside a replaced directory (run from /dev) still names the covered
  // original: look it up again, through the new mounts.
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) != nullptr) (void)chdir(cwd);
  return out;
}

}  // namespace sevemu::run
