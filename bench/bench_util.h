// What the benchmarks share: child processes, a temporary directory, the resident set size,
// a loopback HTTP client, and the paths of the programs under test (set by bench/CMakeLists.txt).
//
// Failures abort the benchmark with one line (benchmark::State::SkipWithError where a State is
// at hand): a benchmark that cannot measure must not print a figure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sevemu::bench {

using Clock = std::chrono::steady_clock;

// Nanoseconds since `start`.
inline double ElapsedNs(Clock::time_point start) {
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

struct Env {
  std::vector<std::pair<std::string, std::string>> set;  // added to (or replacing) environ
  std::vector<std::string> unset;                        // removed from environ
};

// A child process; killed (SIGKILL) and reaped when destroyed if still running.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();
  // posix_spawn of args[0] (a path) with `env`; stdout to a pipe read by ReadAll/ReadLine when
  // `capture_stdout`, else to /dev/null; stderr to `stderr_path` ("" = /dev/null).
  bool Spawn(const std::vector<std::string>& args, const Env& env = {}, bool capture_stdout = false,
             const std::string& stderr_path = "");
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  std::string ReadAll();  // until EOF
  int Wait();             // exit code, or 128 + signal
  // The reaped child's CPU time (user + system, from wait4), seconds; 0 before Wait.
  double cpu_seconds() const { return cpu_seconds_; }
  void Signal(int sig) const;  // no-op once reaped
  bool Running();
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  double cpu_seconds_ = 0;
  std::string buffered_;
};

// Runs to completion; the exit code (stdout into *out when given).
// With `cpu`, the child's CPU time in seconds (Child::cpu_seconds) is added to *cpu.
int Run(const std::vector<std::string>& args, const Env& env = {}, std::string* out = nullptr,
        double* cpu = nullptr);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool SocketAccepts(const std::string& path);

// VmRSS of `pid` (0 = this process) in bytes; 0 if unreadable.
std::uint64_t RssBytes(int pid = 0);

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port. Get returns the status (0 on a
// transport failure) and the body.
class HttpConnection {
 public:
  explicit HttpConnection(int port);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  int Get(const std::string& target, std::string* body);

 private:
  int port_;
  int fd_ = -1;
};

// `sevemu serve` over a state directory (provisioned from seed 01 on its first start), with a
// socket in the same temporary directory. Start waits until the socket accepts.
class Daemon {
 public:
  explicit Daemon(const TempDir& dir, std::vector<std::string> extra_args = {});
  ~Daemon();
  bool Start();
  void Stop();  // SIGTERM and wait
  const std::string& socket() const { return socket_; }
  const std::string& state() const { return state_; }
  // `sevemu ARGS... --socket S`; the exit code.
  int Sevemu(std::vector<std::string> args, std::string* out = nullptr) const;

 private:
  std::string state_, socket_, log_;
  std::vector<std::string> extra_;
  Child child_;
};

// Paths of what is measured (compile definitions).
const char* CliPath();
const char* PreloadPath();
const char* GuestClientPath();

}  // namespace sevemu::bench
