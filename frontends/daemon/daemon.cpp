#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "daemon_impl.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"

namespace sevemu::daemon {

namespace {

// True if something accepts connections at `path` (a live daemon); false for a stale file.
bool SomeoneListens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const bool live = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

Status CheckSocketFree(const std::string& path) {
  // lstat, not stat: a symlink at the path is not ours to follow or remove either.
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // nothing there
  if (!S_ISSOCK(st.st_mode)) {
    return Error(ErrorCode::kAlreadyExists,
                 path + " exists and is not a socket; not replacing it (choose another --socket)");
  }
  if (SomeoneListens(path)) return Error(ErrorCode::kBusy, "a daemon already listens on " + path);
  return {};
}

void Daemon::Impl::Accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, Socket sock) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or memory: the connection stays queued in the
      // kernel, so accepting again at once fails again at once, a busy loop. Wait, then retry;
      // the connections already accepted are served meanwhile.
      if (!accept_failing) {
        Log(true, "accept failed, retrying every 100 ms", {{"error", ec.message()}});
      }
      accept_failing = true;
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](const boost::system::error_code& tec) {
        if (!tec && !stopping) Accept();
      });
      return;
    }
    if (accept_failing) {
      accept_failing = false;
      Log(false, "accepting again", {});
    }
    auto s = std::make_shared<Session>(*this, std::move(sock), next_session++);
    sessions.insert(s);
    s->Start();
    Accept();
  });
}

Status Daemon::Impl::Persist(const ServedPlatform& p, const hypervisor::PersistentChange& what) {
  Status result;
  auto logged = [&](Status st, const char* file) {
    if (!st.ok()) {
      // The messages name files and fields, never key material (sev_nv_store.h).
      Log(true, "persist failed",
          {{"platform", p.name}, {"file", file}, {"error", st.error().message()}});
      result = st;
    } else {
      Log(false, "persisted", {{"platform", p.name}, {"state", p.state_dir}, {"file", file}});
    }
  };
  if (what.platform_json) {
    logged(emulator::SavePlatformState(p.state_dir, p.host->firmware().platform_state()),
           "platform.json");
  }
  if (what.sev_nv) {
    logged(emulator::SaveSevNvStore(p.state_dir, p.host->firmware().sev_nv_store()),
           emulator::kSevNvFile);
  }
  return result;
}

bool Held::Holds(std::size_t i) const {
  return std::binary_search(indices_.begin(), indices_.end(), i);
}

Held Daemon::Impl::Hold(std::vector<std::size_t> indices) {
  // One global order (ascending index): two jobs each holding several platforms cannot wait
  // for each other in a cycle.
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  Held held;
  for (std::size_t i : indices) held.locks_.emplace_back(exec[i]->mu);
  held.indices_ = std::move(indices);
  return held;
}

std::size_t Daemon::Impl::PlatformIndex(const std::string& name) const {
  for (std::size_t i = 0; i < platforms.size(); ++i) {
    if (platforms[i].name == name) return i;
  }
  return platforms.size();
}

void Daemon::Impl::AttachTrace(std::size_t i) {
  ServedPlatform& p = platforms[i];
  p.host->firmware().set_observer(trace->active() ? p.trace.get() : nullptr);
}

void Daemon::Impl::AttachTraceAll() {
  if (stopping) return;  // the pool is joined or about to be; nothing is traced any more
  // Each job reads the hub's state when it runs, so the last one on a strand after the last
  // subscribe or unsubscribe leaves that platform right.
  for (std::size_t i = 0; i < platforms.size(); ++i) {
    asio::post(exec[i]->strand, [this, i] {
      Held held = Hold({i});
      AttachTrace(i);
    });
  }
}

void Daemon::Impl::PersistIfChanged(std::size_t i) {
  const ServedPlatform& p = platforms[i];
  const hypervisor::PersistentChange change = p.host->TakePersistentChange();
  if (change.any()) (void)Persist(p, change);
}

Status Daemon::Impl::PersistAll() {
  Status result;
  for (auto& p : platforms) {
    (void)p.host->TakePersistentChange();
    // Always written at a clean stop, so platform.json.bak is the state before this run's last,
    // and a sev-nv.json write that failed earlier is retried (an empty store with no file is
    // what a missing file means already).
    hypervisor::PersistentChange all;
    all.platform_json = true;
    all.sev_nv = !p.host->firmware().sev_nv_store().empty() ||
                 PathExists(p.state_dir + "/" + emulator::kSevNvFile);
    if (Status st = Persist(p, all); !st.ok()) result = st;
  }
  return result;
}

Result<std::unique_ptr<Daemon>> Daemon::Create(const DaemonOptions& options,
                                               std::vector<ServedPlatform> platforms, LogSink log) {
  if (platforms.empty()) return Error(ErrorCode::kInvalidArgument, "no platform to serve");
  const std::string& path = options.socket_path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Error(ErrorCode::kInvalidArgument, "socket path empty or longer than 107 bytes");
  }
  std::error_code fec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    const bool existed = std::filesystem::exists(parent, fec);
    std::filesystem::create_directories(parent, fec);
    if (fec) return Error(ErrorCode::kIo, "creating " + parent.string() + ": " + fec.message());
    if (!existed) ::chmod(parent.c_str(), 0700);
    // Whoever controls the directory controls the socket: it must be ours (or root's), and
    // not writable by others unless sticky (like /tmp).
    struct stat st {};
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Error(ErrorCode::kIo, parent.string() + " is not a directory");
    }
    if ((st.st_uid != ::geteuid() && st.st_uid != 0) ||
        ((st.st_mode & 0022) != 0 && (st.st_mode & S_ISVTX) == 0)) {
      return Error(ErrorCode::kRefused, "refusing socket directory " + parent.string() +
                                            ": owned by another user or writable by others");
    }
  }
  if (Status st = CheckSocketFree(path); !st.ok()) return st.error();
  // What is left is nothing or a socket nobody answers on: stale, left by a daemon that was
  // killed. ::unlink removes only that (never a directory).
  ::unlink(path.c_str());
  auto impl = std::make_unique<Impl>();
  impl->platforms = std::move(platforms);
  impl->log = std::move(log);
  impl->trace = options.trace ? options.trace : std::make_shared<trace::TraceHub>();
  for (auto& p : impl->platforms) {
    if (!p.trace) p.trace = std::make_unique<trace::TraceWriter>(p.name, *impl->trace);
  }
  for (std::size_t i = 0; i < impl->platforms.size(); ++i) impl->AttachTrace(i);
  impl->before_work = options.before_work;
  {
    // The pool's threads never take SIGTERM/SIGINT: Run's thread does (asio::signal_set).
    unsigned n = options.threads;
    if (n == 0) {
      const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
      const auto count = static_cast<unsigned>(impl->platforms.size());
      n = std::min(count, std::max(hw, count > 1 ? 2u : 1u));
    }
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    impl->pool = std::make_unique<asio::thread_pool>(n);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    for (std::size_t i = 0; i < impl->platforms.size(); ++i) {
      impl->exec.push_back(std::make_unique<PlatformExec>(*impl->pool));
    }
  }
  impl->socket_path = path;
  for (std::size_t i = 0; i < impl->platforms.size(); ++i) impl->WatchFaults(i);
  boost::system::error_code ec;
  const asio::local::stream_protocol::endpoint ep(path);
  // The socket file is created with the mode the umask leaves; narrow the umask so there is no
  // window where it is wider than asked.
  const mode_t old_umask = ::umask(static_cast<mode_t>(~options.socket_mode & 0777));
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  ::umask(old_umask);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error(ErrorCode::kIo, "listening on " + path + ": " + ec.message());
  if (::chmod(path.c_str(), options.socket_mode) != 0) {
    return Error(ErrorCode::kIo, "chmod " + path + ": " + std::strerror(errno));
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() {
  std::error_code ec;
  std::filesystem::remove(impl_->socket_path, ec);
}

Status Daemon::Run() {
  Impl& d = *impl_;
  d.signals.add(SIGTERM);
  d.signals.add(SIGINT);
  d.signals.async_wait([&d](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    d.Log(false, "stopping", {{"signal", strsignal(sig)}});
    d.stopping = true;
    d.io.stop();
  });
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &stop, nullptr);
  // What booting changed (the legacy INIT makes the platform's first identity) is written
  // before any client is served, so a crash cannot lose it.
  for (std::size_t i = 0; i < d.platforms.size(); ++i) d.PersistIfChanged(i);
  d.Accept();
  d.Log(false, "listening",
        {{"socket", d.socket_path}, {"platforms", std::to_string(d.platforms.size())}});
  d.io.run();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // Nothing posts new work now (only the io thread does); what is under way finishes (its
  // replies are not sent), then the platforms are the main thread's alone.
  d.stopping = true;
  d.pool->join();
  boost::system::error_code ec;
  d.acceptor.close(ec);
  // Clients blocked in a call see EOF now, not a hang.
  for (const auto& s : std::set<std::shared_ptr<Session>>(d.sessions)) s->Close();
  d.sessions.clear();
  return d.PersistAll();
}

void Daemon::Stop() {
  asio::post(impl_->io, [d = impl_.get()] {
    d->stopping = true;
    d->io.stop();
  });
}

}  // namespace sevemu::daemon
