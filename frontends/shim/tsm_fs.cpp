#include "tsm_fs.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon_link.h"
#include "device_fds.h"
#include "devices/tsm_tree.h"
#include "real_libc.h"

namespace sevemu::shim {

namespace {

// The guest's configfs as this process sees it: a guest connection of its own and the tree
// over it (devices::TsmTree, shared with `sevemu run`).
struct TsmContext {
  int fd = -1;
  pid_t pid = 0;
  std::unique_ptr<devices::TsmTree> tree;
};

std::mutex g_mu;
TsmContext g_ctx;
std::map<int, std::string> g_pending_fds;  // descriptor -> entry, opened by this process
std::map<int, std::string> g_view_fds;     // descriptor -> its view's directory

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

// The report directory and below: the paths the shim serves (directories are not opened here:
// glibc's opendir cannot be interposed).
std::optional<devices::TsmPath> Split(const char* path) {
  auto p = devices::SplitTsmPath(path);
  if (!p || p->level == devices::TsmPath::Level::kTsm) return std::nullopt;
  return p;
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
  g_ctx.tree.reset();
  g_ctx.fd = -1;
}

// REQUIRES: g_mu held. 0 or -errno (-ENOENT outside a guest or without a daemon).
int EnsureContext() {
  InstallTsmForkHandler();
  if (g_ctx.tree && g_ctx.pid == getpid()) return 0;
  if (g_ctx.fd >= 0) {
    // Forked: the parent's connection is not ours to use; drop our copy of it.
    g_ctx.tree.reset();
    Real().close(g_ctx.fd);
    g_ctx.fd = -1;
  }
  auto hello = GuestHello();
  if (!hello) return -ENOENT;
  std::string reply;
  const int fd = ConnectDaemon(*hello, true, &reply);
  if (fd < 0) return fd;
  const std::string root = devices::TsmBackingRoot(Env("SEVEMU_PLATFORM"), Env("SEVEMU_GUEST"));
  if (const int rc = devices::TsmTree::Make(root, fd, &g_ctx.tree); rc != 0) {
    Real().close(fd);
    return rc;
  }
  g_ctx.fd = fd;
  g_ctx.pid = getpid();
  return 0;
}

}  // namespace

int TsmMkdir(const char* path) {
  auto p = Split(path);
  if (!p) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  return g_ctx.tree->Mkdir(*p);
}

int TsmRmdir(const char* path) {
  auto p = Split(path);
  if (!p) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  return g_ctx.tree->Rmdir(*p);
}

int TsmOpen(const char* path, int flags) {
  auto p = Split(path);
  if (!p || p->level != devices::TsmPath::Level::kAttr) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  bool pending = false;
  const int fd = g_ctx.tree->OpenAttr(*p, flags, &pending);
  if (pending) g_pending_fds[fd] = p->entry;
  return fd;
}

std::optional<struct stat> TsmStat(const char* path, int* err) {
  auto p = devices::SplitTsmPath(path);  // /sys/kernel/config/tsm itself too
  *err = 0;
  if (!p) return std::nullopt;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) {
    *err = rc;
    return std::nullopt;
  }
  auto st = g_ctx.tree->Stat(*p);
  if (!st) *err = -ENOENT;
  return st;
}

namespace {

// Views left by processes that exited without closedir: removed by the next opendir.
// REQUIRES: g_mu held.
void SweepViews(const std::string& views) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(views, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("shim-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 5, nullptr, 10);
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
}

}  // namespace

int TsmOpenDir(const char* path) {
  auto p = devices::SplitTsmPath(path);
  if (!p) return kNotOurs;
  std::lock_guard<std::mutex> lock(g_mu);
  if (int rc = EnsureContext(); rc != 0) return rc;
  const std::string views = g_ctx.tree->backing_root() + ".views";
  SweepViews(views);
  std::string view;
  const int fd = g_ctx.tree->OpenView(*p, O_RDONLY | O_CLOEXEC,
                                      views + "/shim-" + std::to_string(getpid()), &view);
  if (fd >= 0) g_view_fds[fd] = view;
  return fd;
}

void TsmCloseDir(int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_view_fds.find(fd);
  if (it == g_view_fds.end()) return;
  std::error_code ec;
  std::filesystem::remove_all(it->second, ec);
  g_view_fds.erase(it);
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
  g_ctx.tree->ApplyPending(entry);
  return 0;
}

}  // namespace sevemu::shim
