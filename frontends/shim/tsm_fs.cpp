#include "tsm_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon_link.h"
#include "device_fds.h"
#include "real_libc.h"
#include "sevemu/guest/tsm_report.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::shim {

namespace {

constexpr std::string_view kRoot = "/sys/kernel/config/tsm/report";

// The guest's configfs as this process sees it: a guest connection of its own, the report
// provider behind it (in the daemon, with the guest's driver), and the shared entries.
struct TsmContext {
  int fd = -1;
  pid_t pid = 0;
  std::string pending_root;  // <backing root>.pending/<entry>/<time>.<pid>.<attr>
  std::unique_ptr<SocketTsmProvider> provider;
  std::unique_ptr<guest::TsmReportDir> dir;
};

std::mutex g_mu;
TsmContext g_ctx;
std::map<int, std::string> g_pending_fds;  // descriptor -> entry, opened by this process

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

struct TsmPath {
  bool root = false;
  std::string entry, attr;
};

std::optional<TsmPath> Split(const char* path) {
  std::string_view p(path);
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  if (p.substr(0, kRoot.size()) != kRoot) return std::nullopt;
  p.remove_prefix(kRoot.size());
  TsmPath out;
  if (p.empty()) {
    out.root = true;
    return out;
  }
  if (p.front() != '/') return std::nullopt;
  p.remove_prefix(1);
  const auto slash = p.find('/');
  out.entry = std::string(p.substr(0, slash));
  if (slash != std::string_view::npos) {
    out.attr = std::string(p.substr(slash + 1));
    if (out.attr.empty() || out.attr.find('/') != std::string::npos) return std::nullopt;
  }
  if (out.entry.empty() || out.entry == "." || out.entry == "..") return std::nullopt;
  return out;
}

// fork() while another thread holds g_mu must not leave the child's lock taken (the shim's
// close() reaches it).
void InstallTsmForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork([] { g_mu.lock(); }, [] { g_mu.unlock(); }, [] { g_mu.unlock(); });
  });
}

// The program closed the descriptor the context talks on (a daemonising program closing
// everything, say): forget the context without touching the number, which may be reused.
// REQUIRES: g_mu held.
void DropContext() {
  g_ctx.dir.reset();
  g_ctx.provider.reset();
  g_ctx.fd = -1;
}

// REQUIRES: g_mu held. 0 or -errno (-ENOENT outside a guest or without a daemon).
int EnsureContext() {
  InstallTsmForkHandler();
  if (g_ctx.dir && g_ctx.pid == getpid()) return 0;
  if (g_ctx.fd >= 0) {
    // Forked: the parent's connection is not ours to use; drop our copy of it.
    g_ctx.dir.reset();
    g_ctx.provider.reset();
    Real().close(g_ctx.fd);
    g_ctx.fd = -1;
  }
  auto hello = GuestHello();
  if (!hello) return -ENOENT;
  std::string reply;
  const int fd = ConnectDaemon(*hello, true, &reply);
  if (fd < 0) return fd;
  std::string root = Env("SEVEMU_TSM_DIR");
  if (root.empty()) {
    const std::string platform = Env("SEVEMU_PLATFORM");
    root = std::filesystem::path(protocol::DefaultSocketPath()).parent_path().string() + "/tsm/" +
           (platform.empty() ? "default" : platform) + "/" + Env("SEVEMU_GUEST");
  }
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (!ec) std::filesystem::create_directories(root + ".pending", ec);
  if (ec) {
    Real().close(fd);
    return -EIO;
  }
  g_ctx.fd = fd;
  g_ctx.pid = getpid();
  g_ctx.pending_root = root + ".pending";
  g_ctx.provider = std::make_unique<SocketTsmProvider>(fd);
  g_ctx.dir = std::make_unique<guest::TsmReportDir>(root, *g_ctx.provider);
  return 0;
}

std::string PendingDir(const std::string& entry) {
  return g_ctx.pending_root + "/" + entry;
}

// Applies, in order, every finished pending store of `entry`; stops at the first one still
// being written (its descriptor's shared lock is still held somewhere).
// REQUIRES: g_mu held and the context made.
void ApplyPending(const std::string& entry) {
  const std::string dir = PendingDir(entry);
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    const int fd = Real().open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      Real().close(fd);
      return;  // still open for writing: later stores must wait for it
    }
    Bytes data;
    std::uint8_t buf[4096];
    for (;;) {
      const ssize_t n = Real().read(fd, buf, sizeof buf);
      if (n <= 0) break;
      data.insert(data.end(), buf, buf + n);
      if (data.size() > (64u << 10)) break;  // configfs would have refused it long ago
    }
    const auto attr_name = name.substr(name.rfind('.') + 1);
    if (const auto attr = guest::TsmAttrByName(attr_name)) {
      // A store that fails (a bad privlevel, say) is dropped, as a failed write() stores
      // nothing; its writer could not be told, having gone.
      (void)g_ctx.dir->WriteAttribute(entry, *attr, data);
    }
    ::unlink(path.c_str());
    Real().close(fd);
  }
}

int OpenPending(const std::string& entry, const std::string& attr, int flags) {
  const std::string dir = PendingDir(entry);
  (void)Real().mkdir(dir.c_str(), 0700);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char name[96];
  std::snprintf(name, sizeof name, "/%020llu.%d.%s",
                static_cast<unsigned long long>(ts.tv_sec) * 1000000000ull +
                    static_cast<unsigned long long>(ts.tv_nsec),
                static_cast<int>(getpid()), attr.c_str());
  const std::string path = dir + name;
  const int acc = (flags & O_ACCMODE) == O_WRONLY ? O_WRONLY : O_RDWR;
  const int fd = Real().open(
      path.c_str(), acc | O_CREAT | O_EXCL | (flags & O_CLOEXEC) | (flags & O_APPEND), 0600);
  if (fd < 0) return -errno;
  flock(fd, LOCK_SH);
  g_pending_fds[fd] = entry;
  return fd;
}

int OpenContents(const Bytes& data, int flags) {
  const int fd = memfd_create("sevemu-tsm", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0) return -errno;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = Real().write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      Real().close(fd);
      return -EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  Real().lseek(fd, 0, SEEK_SET);
  return fd;
}

}  // namespace

int TsmMkdir(const char* path) {
  auto p = Split(path);
  if (!p) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  if (p->root) return -EEXIST;
  if (!p->attr.empty()) return g_ctx.dir->HasEntry(p->entry) ? -EEXIST : -ENOENT;
  if (p->entry.rfind(".sevemu-", 0) == 0) return -EINVAL;  // reserved by the backing store
  return g_ctx.dir->MakeEntry(p->entry);
}

int TsmRmdir(const char* path) {
  auto p = Split(path);
  if (!p) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  if (p->root) return -EBUSY;
  if (!p->attr.empty()) return -ENOTDIR;
  const int rc = g_ctx.dir->RemoveEntry(p->entry);
  if (rc == 0) {
    std::error_code ec;
    std::filesystem::remove_all(PendingDir(p->entry), ec);
  }
  return rc;
}

int TsmOpen(const char* path, int flags) {
  auto p = Split(path);
  if (!p) return kNotOurs;
  if (p->root || p->attr.empty()) return kNotOurs;  // directories: not modelled
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  const auto attr = guest::TsmAttrByName(p->attr);
  if (!attr) return (flags & O_CREAT) ? -EACCES : -ENOENT;  // configfs cannot create files
  const int acc = flags & O_ACCMODE;
  if (int rc = g_ctx.dir->CheckOpen(p->entry, *attr, acc != O_WRONLY, acc != O_RDONLY); rc != 0) {
    return rc;
  }
  ApplyPending(p->entry);
  if (acc != O_RDONLY) return OpenPending(p->entry, p->attr, flags);
  Bytes data;
  if (int rc = g_ctx.dir->ReadAttribute(p->entry, *attr, &data); rc != 0) return rc;
  return OpenContents(data, flags);
}

bool TsmIsPending(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_pending_fds.count(fd) != 0;
}

int TsmAfterClose(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (fd == g_ctx.fd && g_ctx.pid == getpid()) {
    DropContext();
    return 0;
  }
  auto it = g_pending_fds.find(fd);
  if (it == g_pending_fds.end()) return kNotOurs;
  const std::string entry = it->second;
  g_pending_fds.erase(it);
  if (int rc = EnsureContext(); rc != 0) return rc;
  ApplyPending(entry);
  return 0;
}

}  // namespace sevemu::shim
