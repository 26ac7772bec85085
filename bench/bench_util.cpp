#include "bench_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

extern char** environ;

namespace sevemu::bench {

const char* CliPath() {
  return SEVEMU_BENCH_CLI;
}
const char* PreloadPath() {
  return SEVEMU_BENCH_PRELOAD;
}
const char* GuestClientPath() {
  return SEVEMU_BENCH_GUEST_CLIENT;
}

namespace {

// Every child still running, so that those the benchmarks keep for the whole run (their
// daemons and KDS servers live in leaked statics) die with the bench process instead of
// loading the machine after it: posix_spawn has no parent-death signal.
std::mutex live_mutex;
std::set<pid_t>& LiveChildren() {
  static auto* live = new std::set<pid_t>();
  return *live;
}

void KillLiveChildren() {
  std::lock_guard lock(live_mutex);
  for (pid_t pid : LiveChildren()) {
    kill(pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  LiveChildren().clear();
}

void Track(pid_t pid) {
  static const bool registered = std::atexit(KillLiveChildren) == 0;
  (void)registered;
  std::lock_guard lock(live_mutex);
  LiveChildren().insert(pid);
}

void Untrack(pid_t pid) {
  std::lock_guard lock(live_mutex);
  LiveChildren().erase(pid);
}

}  // namespace

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (out_fd_ >= 0) close(out_fd_);
}

bool Child::Spawn(const std::vector<std::string>& args, const Env& env, bool capture_stdout,
                  const std::string& stderr_path) {
  std::vector<std::string> envs;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    bool drop = false;
    for (const auto& u : env.unset) drop |= key == u;
    for (const auto& [k, v] : env.set) drop |= key == k;
    if (!drop) envs.push_back(kv);
  }
  for (const auto& [k, v] : env.set) envs.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : envs) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int pipe_fds[2] = {-1, -1};
  if (capture_stdout) {
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (capture_stdout) {
    close(pipe_fds[1]);
    out_fd_ = pipe_fds[0];
  }
  if (rc != 0) pid_ = -1;
  if (rc == 0) Track(pid_);
  return rc == 0;
}

std::optional<std::string> Child::ReadLine(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (auto nl = buffered_.find('\n'); nl != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || out_fd_ < 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    buffered_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string Child::ReadAll() {
  std::string out = std::move(buffered_);
  buffered_.clear();
  char buf[4096];
  ssize_t n;
  while (out_fd_ >= 0 && (n = read(out_fd_, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<std::size_t>(n));
  return out;
}

int Child::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  struct rusage ru {};
  while (wait4(pid_, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  cpu_seconds_ = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  Untrack(pid_);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Child::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

bool Child::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    Untrack(pid_);
    pid_ = -1;
    return false;
  }
  return true;
}

int Run(const std::vector<std::string>& args, const Env& env, std::string* out, double* cpu) {
  Child c;
  if (!c.Spawn(args, env, out != nullptr)) return -1;
  if (out != nullptr) *out = c.ReadAll();
  const int rc = c.Wait();
  if (cpu != nullptr) *cpu += c.cpu_seconds();
  return rc;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/sevemu-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool SocketAccepts(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

std::uint64_t RssBytes(int pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

HttpConnection::HttpConnection(int port) : port_(port) {}

HttpConnection::~HttpConnection() {
  if (fd_ >= 0) close(fd_);
}

int HttpConnection::Get(const std::string& target, std::string* body) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ < 0) {
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<std::uint16_t>(port_));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const int one = 1;
      setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd_);
        fd_ = -1;
        return 0;
      }
    }
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      close(fd_);
      fd_ = -1;
      continue;
    }
    std::string got;
    std::size_t header_end = std::string::npos, length = 0;
    char buf[16384];
    while (true) {
      if (header_end == std::string::npos &&
          (header_end = got.find("\r\n\r\n")) != std::string::npos) {
        const auto cl = got.find("Content-Length: ");
        if (cl == std::string::npos || cl > header_end) return 0;
        length = std::strtoull(got.c_str() + cl + 16, nullptr, 10);
      }
      if (header_end != std::string::npos && got.size() >= header_end + 4 + length) break;
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    if (header_end == std::string::npos || got.size() < header_end + 4 + length) {
      close(fd_);
      fd_ = -1;
      continue;  // the server closed a kept-alive connection: once more on a new one
    }
    if (body != nullptr) *body = got.substr(header_end + 4, length);
    return std::atoi(got.c_str() + 9);  // "HTTP/1.1 200 ..."
  }
  return 0;
}

Daemon::Daemon(const TempDir& dir, std::vector<std::string> extra_args)
    : state_(dir / "state"),
      socket_(dir / "s.sock"),
      log_(dir / "daemon.log"),
      extra_(std::move(extra_args)) {}

Daemon::~Daemon() {
  Stop();
}

bool Daemon::Start() {
  std::vector<std::string> args = {CliPath(), "serve", "--state",  state_,
                                   "--seed",  "01",    "--socket", socket_};
  args.insert(args.end(), extra_.begin(), extra_.end());
  if (!child_.Spawn(args, {}, false, log_)) return false;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!SocketAccepts(socket_)) {
    if (!child_.Running() || Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

void Daemon::Stop() {
  if (!child_.Running()) return;
  child_.Signal(SIGTERM);
  child_.Wait();
}

int Daemon::Sevemu(std::vector<std::string> args, std::string* out) const {
  args.insert(args.begin(), CliPath());
  args.push_back("--socket");
  args.push_back(socket_);
  return Run(args, {}, out);
}

}  // namespace sevemu::bench
