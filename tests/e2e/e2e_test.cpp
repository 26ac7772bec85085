// End to end with the real ABI: `sevemu serve` as a child process, guests launched with the
// CLI, and tests/e2e/uapi_client.c — a C program written against the system's own
// <linux/psp-sev.h> and <linux/sev-guest.h> — issuing raw ioctls under the preload shim, as an
// unmodified tool would. Reports are checked by tests/support's independent OpenSSL verifier
// with certificates fetched over HTTP from `sevemu kds serve`.
//
// Every test has its own temp dir and daemon; every wait has a timeout; every child process is
// killed and reaped when the test ends, whatever happens.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "report_verifier.h"
#include "sevemu/common/bytes.h"
#include "sevemu/crypto/base64.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/protocol/client.h"
#include "sevemu/protocol/wire.h"
#include "test_util.h"

extern char** environ;

namespace sevemu {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Generous: a sanitized daemon provisions and boots in 1-2 s, but CI machines are slow.
constexpr auto kBootTimeout = 60s;
constexpr auto kRunTimeout = 60s;

constexpr std::size_t kReportSize = 0x4A0;
constexpr std::size_t kRespSize = 4000;

// ---------------------------------------------------------------------------------------------
// Child processes

using Env = std::vector<std::pair<std::string, std::string>>;

// This process's environment without anything that would steer sevemu or the shim, plus `env`.
std::vector<std::string> MakeEnv(const Env& env) {
  static const char* const kDrop[] = {
      "LD_PRELOAD=", "SEVEMU_SOCKET=", "SEVEMU_GUEST=", "SEVEMU_PLATFORM=", "SEVEMU_STATE_DIR="};
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    bool drop = false;
    for (const char* d : kDrop) drop = drop || kv.rfind(d, 0) == 0;
    for (const auto& [k, v] : env) drop = drop || kv.rfind(k + "=", 0) == 0;
    if (!drop) out.push_back(kv);
  }
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

struct SpawnOptions {
  Env env;
  std::string stdout_path = "/dev/null";  // ignored with pipe_stdout
  std::string stderr_path = "/dev/null";
  bool pipe_stdin = false;
  bool pipe_stdout = false;
  rlim_t max_files = 0;  // RLIMIT_NOFILE for the child; 0: inherited
};

// A child process, SIGKILLed and reaped when it goes away unless it was waited for.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    Kill();
    CloseIn();
    if (out_ >= 0) close(out_);
  }

  void Spawn(std::vector<std::string> args, const SpawnOptions& o) {
    REQUIRE(pid_ < 0);
    std::vector<std::string> env = MakeEnv(o.env);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    int in[2] = {-1, -1}, out[2] = {-1, -1};
    if (o.pipe_stdin) REQUIRE(pipe2(in, O_CLOEXEC) == 0);
    if (o.pipe_stdout) REQUIRE(pipe2(out, O_CLOEXEC) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      // Only async-signal-safe calls from here on. Die with the test, should it be killed.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int n = open("/dev/null", O_RDWR);
      dup2(o.pipe_stdin ? in[0] : n, 0);
      if (o.pipe_stdout) {
        dup2(out[1], 1);
      } else {
        const int f = open(o.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(f, 1);
      }
      const int e = open(o.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(e, 2);
      if (o.max_files != 0) {
        const rlimit lim{o.max_files, o.max_files};
        setrlimit(RLIMIT_NOFILE, &lim);
      }
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    pid_ = pid;
    if (o.pipe_stdin) {
      close(in[0]);
      in_ = in[1];
    }
    if (o.pipe_stdout) {
      close(out[1]);
      out_ = out[0];
    }
  }

  // The exit code (128 + signal when killed), or nullopt if it is still running at `timeout`.
  std::optional<int> Wait(Clock::duration timeout) {
    if (pid_ < 0) return code_;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return code_;
      }
      if (r < 0) return std::nullopt;
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
  }
  // Still running?
  bool Running() { return pid_ >= 0 && !Wait(0s).has_value(); }
  void Signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  void CloseIn() {
    if (in_ >= 0) close(in_);
    in_ = -1;
  }

  // The next line of its piped stdout (without '\n'), or nullopt at EOF or `timeout`.
  std::optional<std::string> ReadLine(Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
        std::string line = buffered_.substr(0, nl);
        buffered_.erase(0, nl + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      buffered_.append(buf, static_cast<std::size_t>(n));
    }
  }
  // All the rest of its stdout, up to EOF or `timeout`.
  std::string ReadRest(Clock::duration timeout) {
    std::string all;
    while (auto l = ReadLine(timeout)) all += *l + "\n";
    all += buffered_;
    buffered_.clear();
    return all;
  }
  bool WriteIn(const std::string& s) {
    return in_ >= 0 && write(in_, s.data(), s.size()) == static_cast<ssize_t>(s.size());
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> code_;
  int in_ = -1, out_ = -1;
  std::string buffered_;
};

struct RunResult {
  int code = -1;  // -1: timed out (and killed)
  std::string out, err;
};

int g_run_counter = 0;

RunResult Run(const test::TempDir& t, std::vector<std::string> args, const Env& env = {},
              Clock::duration timeout = kRunTimeout) {
  const std::string base = t / ("run" + std::to_string(++g_run_counter));
  SpawnOptions o;
  o.env = env;
  o.stdout_path = base + ".out";
  o.stderr_path = base + ".err";
  Child c;
  c.Spawn(std::move(args), o);
  const auto code = c.Wait(timeout);
  c.Kill();
  return {code.value_or(-1), test::ReadText(o.stdout_path), test::ReadText(o.stderr_path)};
}

bool OneLine(const std::string& s) {
  return !s.empty() && s.find('\n') == s.size() - 1;
}

std::string LastLine(const std::string& s) {
  const std::string t = !s.empty() && s.back() == '\n' ? s.substr(0, s.size() - 1) : s;
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// ---------------------------------------------------------------------------------------------
// The daemon

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

class Daemon {
 public:
  Daemon(const test::TempDir& t, std::string state, std::string socket)
      : state_(std::move(state)), socket_(std::move(socket)), log_(t / "daemon.log") {}

  // Starts `sevemu serve` and waits until its socket accepts connections.
  void Start() {
    ++starts_;
    std::filesystem::remove(log_ + "." + std::to_string(starts_));
    SpawnOptions o;
    o.stderr_path = log_ + "." + std::to_string(starts_);
    o.max_files = max_files_;
    o.env = env_;
    child_ = std::make_unique<Child>();
    std::vector<std::string> args = {SEVEMU_CLI_PATH, "serve", "--state", state_};
    for (const auto& dir : extra_states_) args.insert(args.end(), {"--state", dir});
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    args.insert(args.end(), {"--seed", "01", "--socket", socket_});
    child_->Spawn(std::move(args), o);
    const auto deadline = Clock::now() + kBootTimeout;
    while (!SocketAccepts(socket_)) {
      if (!child_->Running()) FAIL("sevemu serve exited: " << Log());
      if (Clock::now() >= deadline) FAIL("sevemu serve not ready: " << Log());
      std::this_thread::sleep_for(10ms);
    }
  }
  // SIGTERM; the exit code (nullopt if it did not stop in time, then it is killed).
  std::optional<int> Stop() {
    child_->Signal(SIGTERM);
    auto code = child_->Wait(kRunTimeout);
    child_->Kill();
    return code;
  }
  // Another platform for the next Start (served second, named after the directory).
  void AddState(const std::string& dir) { extra_states_.push_back(dir); }
  // RLIMIT_NOFILE of the next Start.
  void LimitFiles(rlim_t n) { max_files_ = n; }
  // Environment for the next Start, on top of this process's.
  void SetEnv(Env env) { env_ = std::move(env); }
  // More options for the next Start.
  void AddArgs(const std::vector<std::string>& args) {
    extra_args_.insert(extra_args_.end(), args.begin(), args.end());
  }
  void KillHard() { child_->Kill(); }
  bool Running() { return child_ && child_->Running(); }
  Child& child() { return *child_; }
  std::string Log() const { return test::ReadText(log_ + "." + std::to_string(starts_)); }
  const std::string& socket() const { return socket_; }
  const std::string& state() const { return state_; }

 private:
  std::string state_, socket_, log_;
  std::vector<std::string> extra_states_, extra_args_;
  rlim_t max_files_ = 0;
  Env env_;
  int starts_ = 0;
  std::unique_ptr<Child> child_;
};

// ---------------------------------------------------------------------------------------------
// The C client's output: "step=NAME k=v k=v ..." lines

using Fields = std::map<std::string, std::string>;

struct Steps {
  std::map<std::string, Fields> by_step;
  std::string raw;
  int code = -1;
  std::string err;

  bool Has(const std::string& step) const { return by_step.count(step) != 0; }
  // A field of a step; "<no step>" / "<no field>" so that CHECKs show what was missing.
  std::string Get(const std::string& step, const std::string& key) const {
    auto s = by_step.find(step);
    if (s == by_step.end()) return "<no step " + step + ">";
    auto f = s->second.find(key);
    return f == s->second.end() ? "<no field " + key + ">" : f->second;
  }
  std::string Errname(const std::string& step) const { return Get(step, "errname"); }
  std::string Ret(const std::string& step) const { return Get(step, "ret"); }
};

Steps ParseSteps(const std::string& out) {
  Steps s;
  s.raw = out;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string w, step;
    Fields f;
    while (words >> w) {
      const auto eq = w.find('=');
      if (eq == std::string::npos) continue;
      f[w.substr(0, eq)] = w.substr(eq + 1);
    }
    if (f.count("step") != 0) s.by_step[f["step"]] = f;
  }
  return s;
}

std::string ClientContext(const Steps& s) {
  return "uapi_client exit " + std::to_string(s.code) + "\nstdout:\n" + s.raw + "stderr:\n" + s.err;
}

// ---------------------------------------------------------------------------------------------
// HTTP to the simulated KDS (a minimal HTTP/1.1 GET over a TCP socket)

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

HttpResponse HttpGet(int port, const std::string& target) {
  HttpResponse r;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  timeval tv{10, 0};  // never hang on a silent server
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    FAIL("connect to KDS port " << port << ": " << std::strerror(errno));
  }
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  REQUIRE(send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string all;
  char buf[8192];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  const auto end = all.find("\r\n\r\n");
  REQUIRE_MESSAGE(end != std::string::npos, "no HTTP header in: " << all);
  r.headers = all.substr(0, end);
  REQUIRE(r.headers.rfind("HTTP/1.1 ", 0) == 0);
  r.status = std::stoi(r.headers.substr(9, 3));
  std::string body = all.substr(end + 4);
  const std::string h = Lower(r.headers);
  if (h.find("transfer-encoding: chunked") != std::string::npos) {
    std::string decoded;
    std::size_t pos = 0;
    for (;;) {
      const auto crlf = body.find("\r\n", pos);
      REQUIRE(crlf != std::string::npos);
      const std::size_t len = std::stoul(body.substr(pos, crlf - pos), nullptr, 16);
      if (len == 0) break;
      decoded += body.substr(crlf + 2, len);
      pos = crlf + 2 + len + 2;
    }
    body = decoded;
  } else if (const auto cl = h.find("content-length: "); cl != std::string::npos) {
    const std::size_t len = std::stoul(h.substr(cl + 16));
    REQUIRE_MESSAGE(body.size() >= len, "short body from KDS");
    body.resize(len);
  }
  r.body = body;
  return r;
}

// `sevemu kds serve` on a free loopback port.
class Kds {
 public:
  Kds(const test::TempDir& t, const std::string& state) {
    SpawnOptions o;
    o.pipe_stdout = true;
    o.stderr_path = t / "kds.log";
    log_ = o.stderr_path;
    child_.Spawn(
        {SEVEMU_CLI_PATH, "kds", "serve", "--listen", "127.0.0.1:0", "--state", state, "--quiet"},
        o);
    const auto line = child_.ReadLine(kBootTimeout);
    REQUIRE_MESSAGE(line.has_value(), "kds serve printed no URL: " << test::ReadText(log_));
    const std::string prefix = "listening on http://127.0.0.1:";
    REQUIRE_MESSAGE(line->rfind(prefix, 0) == 0, *line);
    port_ = std::stoi(line->substr(prefix.size()));
  }
  HttpResponse Get(const std::string& target) const { return HttpGet(port_, target); }
  bool Running() { return child_.Running(); }

 private:
  Child child_;
  int port_ = 0;
  std::string log_;
};

// ---------------------------------------------------------------------------------------------
// Reports and certificates

Bytes ReadBytes(const std::string& path) {
  const std::string s = test::ReadText(path);
  return Bytes(s.begin(), s.end());
}

Bytes Slice(const Bytes& b, std::size_t off, std::size_t len) {
  REQUIRE(off + len <= b.size());
  return Bytes(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + len));
}

std::uint64_t U64(const Bytes& b, std::size_t off) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b.at(off + static_cast<std::size_t>(i));
  return v;
}
std::uint32_t U32(const Bytes& b, std::size_t off) {
  return static_cast<std::uint32_t>(
      U64(Bytes{b.at(off), b.at(off + 1), b.at(off + 2), b.at(off + 3), 0, 0, 0, 0}, 0));
}

// The report inside a 4000-byte snp_report_resp, checking the wrapper.
Bytes ReportFromResp(const std::string& path) {
  const Bytes resp = ReadBytes(path);
  REQUIRE_MESSAGE(resp.size() == kRespSize, path << ": " << resp.size() << " bytes");
  CHECK(U32(resp, 0) == 0);            // status
  CHECK(U32(resp, 4) == kReportSize);  // report_size
  return Slice(resp, 0x20, kReportSize);
}

// Report fields (SEV-ABI-FACTS.md 4.1).
Bytes ReportData(const Bytes& r) {
  return Slice(r, 0x50, 64);
}
Bytes Measurement(const Bytes& r) {
  return Slice(r, 0x90, 48);
}
Bytes HostData(const Bytes& r) {
  return Slice(r, 0xC0, 32);
}
Bytes ChipId(const Bytes& r) {
  return Slice(r, 0x1A0, 64);
}
std::uint32_t SigningKey(const Bytes& r) {
  return (U32(r, 0x48) >> 2) & 7;
}

std::string Base64(const Bytes& in) {
  return crypto::Base64Encode(in);
}

std::string DerToPem(const Bytes& der) {
  const std::string b64 = Base64(der);
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (std::size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\n";
  return pem + "-----END CERTIFICATE-----\n";
}

std::vector<std::string> SplitPem(const std::string& pem) {
  std::vector<std::string> out;
  const std::string begin = "-----BEGIN CERTIFICATE-----", end = "-----END CERTIFICATE-----";
  std::size_t pos = 0;
  while ((pos = pem.find(begin, pos)) != std::string::npos) {
    const auto e = pem.find(end, pos);
    REQUIRE(e != std::string::npos);
    out.push_back(pem.substr(pos, e + end.size() - pos) + "\n");
    pos = e + end.size();
  }
  return out;
}

struct CertChain {
  std::string leaf, intermediate, ark;
};

// The VCEK for `report` (its CHIP_ID and REPORTED_TCB, Milan/Genoa layout) and the ASK/ARK, as
// a verifier fetches them from the KDS.
CertChain FetchVcekChain(const Kds& kds, const std::string& product, const Bytes& report) {
  const std::uint64_t tcb = U64(report, 0x180);
  auto spl = [&](int byte) { return std::to_string((tcb >> (8 * byte)) & 0xFF); };
  const std::string url = "/vcek/v1/" + product + "/" + HexEncode(ChipId(report)) +
                          "?blSPL=" + spl(0) + "&teeSPL=" + spl(1) + "&snpSPL=" + spl(6) +
                          "&ucodeSPL=" + spl(7);
  const HttpResponse vcek = kds.Get(url);
  REQUIRE_MESSAGE(vcek.status == 200, url << " -> " << vcek.status << " " << vcek.body);
  const HttpResponse chain = kds.Get("/vcek/v1/" + product + "/cert_chain");
  REQUIRE_MESSAGE(chain.status == 200, "cert_chain -> " << chain.status << " " << chain.body);
  const auto pems = SplitPem(chain.body);
  REQUIRE(pems.size() == 2);  // ASK first, then ARK
  return {DerToPem(Bytes(vcek.body.begin(), vcek.body.end())), pems[0], pems[1]};
}

void CheckVerifies(const Bytes& report, const CertChain& c) {
  const auto check = test::VerifyAttestationReport(report, c.leaf, c.intermediate, c.ark,
                                                   static_cast<long long>(std::time(nullptr)));
  CHECK_MESSAGE(check.ok, check.why);
}

// The chain in an extended report's certificate table: VCEK, ASK, ARK.
CertChain ChainFromTable(const Bytes& table_bytes) {
  auto table = guestmsg::ParseCertTable(table_bytes);
  REQUIRE_MESSAGE(table.ok(), table.error().message());
  CertChain c;
  for (const auto& e : *table) {
    if (e.guid == guestmsg::kGuidVcek) c.leaf = DerToPem(e.der);
    if (e.guid == guestmsg::kGuidAsk) c.intermediate = DerToPem(e.der);
    if (e.guid == guestmsg::kGuidArk) c.ark = DerToPem(e.der);
  }
  REQUIRE_MESSAGE(!c.leaf.empty(), "no VCEK in the certificate table");
  REQUIRE_MESSAGE(!c.intermediate.empty(), "no ASK in the certificate table");
  REQUIRE_MESSAGE(!c.ark.empty(), "no ARK in the certificate table");
  return c;
}

// Bytes to the daemon's socket on a fresh connection; the reply bytes until EOF (or timeout).
std::string RawExchange(const std::string& path, const Bytes& send_bytes, bool half_close) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (!send_bytes.empty()) {
    CHECK(send(fd, send_bytes.data(), send_bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(send_bytes.size()));
  }
  if (half_close) shutdown(fd, SHUT_WR);
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return got;
}

// A raw connection to the daemon's socket with timeouts on every read and write, speaking the
// wire protocol by hand (the test does not lean on the client library it checks).
class RawConn {
 public:
  explicit RawConn(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  ~RawConn() { close(fd_); }

  struct Frame {
    protocol::MsgType type;
    std::string payload;
  };
  // One request frame, one reply frame; nullopt on EOF, timeout or a malformed reply.
  std::optional<Frame> Call(protocol::MsgType type, const std::string& payload) {
    const Bytes frame = protocol::EncodeFrame(type, ++id_, Bytes(payload.begin(), payload.end()));
    if (send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
      return std::nullopt;
    }
    std::string hdr;
    if (!Read(protocol::kHeaderSize, hdr)) return std::nullopt;
    auto h = protocol::DecodeHeader(
        ByteSpan(reinterpret_cast<const std::uint8_t*>(hdr.data()), hdr.size()));
    if (!h.ok()) return std::nullopt;
    Frame f{h->type, {}};
    if (!Read(h->payload_length, f.payload)) return std::nullopt;
    return f;
  }
  std::optional<Frame> Hello(const std::string& json) {
    return Call(protocol::MsgType::kHello, json);
  }

 private:
  bool Read(std::size_t n, std::string& out) {
    out.resize(n);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = recv(fd_, out.data() + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  }
  int fd_ = -1;
  std::uint32_t id_ = 0;
};

bool IsReply(const std::optional<RawConn::Frame>& f, protocol::MsgType request) {
  return f.has_value() && static_cast<std::uint16_t>(f->type) ==
                              (static_cast<std::uint16_t>(request) | protocol::kReplyBit);
}
bool IsError(const std::optional<RawConn::Frame>& f) {
  return f.has_value() && f->type == protocol::MsgType::kError;
}

// ---------------------------------------------------------------------------------------------
// One test's world: a temp dir, a daemon on a fresh seeded platform, helpers for the CLI and the
// C client.

bool ShimBuilt() {
  return std::string(SEVEMU_PRELOAD_PATH).size() > 0 &&
         std::filesystem::exists(SEVEMU_PRELOAD_PATH);
}

struct World {
  test::TempDir t;
  Daemon daemon{t, t / "p", t / "s.sock"};
  std::string platform;  // SEVEMU_PLATFORM for the client; empty: the daemon's first

  explicit World(bool start = true) {
    if (start) daemon.Start();
  }

  RunResult Sevemu(std::vector<std::string> args, const Env& env = {}) {
    args.insert(args.begin(), SEVEMU_CLI_PATH);
    args.push_back("--socket");
    args.push_back(daemon.socket());
    return Run(t, std::move(args), env);
  }

  nlohmann::json SevemuJson(std::vector<std::string> args) {
    args.push_back("--json");
    const RunResult r = Sevemu(std::move(args));
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return nlohmann::json::parse(r.out);
  }

  nlohmann::json HostStatus() {
    const RunResult r = Sevemu({"host", "status"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return nlohmann::json::parse(r.out);
  }

  nlohmann::json Launch(const std::string& name, const std::string& host_data = "",
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"guest", "launch", name};
    if (!host_data.empty()) {
      args.push_back("--host-data");
      args.push_back(host_data);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return SevemuJson(args);
  }

  Env ClientEnv(const std::string& guest, const std::string& socket = "") const {
    Env env = {{"LD_PRELOAD", std::string(SEVEMU_SANITIZER_PRELOAD) + SEVEMU_PRELOAD_PATH},
               {"SEVEMU_SOCKET", socket.empty() ? daemon.socket() : socket},
               {"ASAN_OPTIONS", "detect_leaks=0"}};
    if (!guest.empty()) env.push_back({"SEVEMU_GUEST", guest});
    if (!platform.empty()) env.push_back({"SEVEMU_PLATFORM", platform});
    return env;
  }

  // The C client under the shim, acting in `guest` (if any).
  Steps Client(std::vector<std::string> args, const std::string& guest = "",
               const std::string& socket = "") {
    REQUIRE_MESSAGE(ShimBuilt(), "the preload shim was not built (" SEVEMU_PRELOAD_PATH ")");
    args.insert(args.begin(), SEVEMU_UAPI_CLIENT_PATH);
    const RunResult r = Run(t, std::move(args), ClientEnv(guest, socket));
    Steps s = ParseSteps(r.out);
    s.code = r.code;
    s.err = r.err;
    REQUIRE_MESSAGE(r.code == 0, ClientContext(s));
    return s;
  }
};

#define CHECK_STEP(s, step, key, want)        \
  CHECK_MESSAGE((s).Get(step, key) == (want), \
                (std::string(step) + "." + (key) + "\n" + ClientContext(s)))

// A report through the shim, checked step by step; returns the bare report.
Bytes GuestReport(World& w, const std::string& guest, const std::string& out,
                  const std::string& user_data) {
  const Steps s = w.Client({"guest", "report", out, "--user-data", user_data}, guest);
  CHECK_STEP(s, "open", "ret", "0");
  REQUIRE_MESSAGE(s.Ret("snp_get_report") == "0", ClientContext(s));
  CHECK_STEP(s, "snp_get_report.fields", "status", "0x0");
  CHECK_STEP(s, "snp_get_report.fields", "report_size", "1184");
  return ReportFromResp(out);
}

// A Milan/Genoa TCB_VERSION ("0x..." from the client) as TcbVersion::ToString writes it.
std::string TcbText(const std::string& hex) {
  REQUIRE_MESSAGE(hex.rfind("0x", 0) == 0, hex);
  const std::uint64_t v = std::stoull(hex.substr(2), nullptr, 16);
  auto b = [&](int i) { return std::to_string((v >> (8 * i)) & 0xFF); };
  return "bl=" + b(0) + " tee=" + b(1) + " snp=" + b(6) + " ucode=" + b(7);
}

std::string Hex64(std::uint8_t first) {
  Bytes b(64);
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(first + i);
  return HexEncode(b);
}

// ---------------------------------------------------------------------------------------------

TEST_CASE(
    "a report through /dev/sev-guest verifies with the KDS's certificates and carries "
    "the launch's measurement and host data") {
  World w;
  const std::string host_data = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  const auto g = w.Launch("vm1", host_data);
  const Bytes report = GuestReport(w, "vm1", w.t / "resp.bin", Hex64(0x40));

  CHECK(U32(report, 0) >= 2);  // VERSION
  CHECK(HexEncode(ReportData(report)) == Hex64(0x40));
  const auto shown = w.SevemuJson({"guest", "show", "vm1"});
  CHECK(Lower(HexEncode(Measurement(report))) == Lower(shown["measurement"].get<std::string>()));
  CHECK(Lower(HexEncode(Measurement(report))) == Lower(g["measurement"].get<std::string>()));
  CHECK(Lower(HexEncode(HostData(report))) == host_data);
  CHECK(SigningKey(report) == 0);  // VCEK
  const auto status = w.HostStatus();
  CHECK(Lower(HexEncode(ChipId(report))) == Lower(status["chip_id"].get<std::string>()));

  // The KDS reads the state directory the running daemon holds locked.
  Kds kds(w.t, w.daemon.state());
  CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));

  // A report whose REPORT_DATA was changed after signing does not verify.
  Bytes forged = report;
  forged[0x50] ^= 1;
  const auto chain = FetchVcekChain(kds, status["product"].get<std::string>(), report);
  CHECK_FALSE(test::VerifyAttestationReport(forged, chain.leaf, chain.intermediate, chain.ark,
                                            static_cast<long long>(std::time(nullptr)))
                  .ok);
  CHECK(kds.Running());
  CHECK(w.daemon.Running());
}

TEST_CASE(
    "SNP_GET_EXT_REPORT: too small a buffer says how large, the retry brings a table "
    "whose VCEK verifies the report") {
  World w;
  w.Launch("vm1");
  for (const char* first : {"0", "4096"}) {
    CAPTURE(first);
    const std::string resp = w.t / (std::string("ext-") + first + ".bin");
    const std::string certs = w.t / (std::string("certs-") + first + ".bin");
    const Steps s = w.Client(
        {"guest", "ext-report", resp, certs, "--first-len", first, "--user-data", Hex64(7)}, "vm1");
    // The length query: EIO, exitinfo2 = SNP_GUEST_VMM_ERR(INVALID_LEN), certs_len written back
    // in whole pages, no response copied.
    CHECK_STEP(s, "first", "ret", "-1");
    CHECK_STEP(s, "first", "errname", "EIO");
    CHECK_STEP(s, "first", "exitinfo2", "0x100000000");
    CHECK_STEP(s, "first", "vmm_error", "0x1");
    CHECK_STEP(s, "first", "fw_error", "0x0");
    CHECK_STEP(s, "first.fields", "resp_untouched", "1");
    const std::string len_text = s.Get("first.fields", "certs_len");
    REQUIRE_MESSAGE(len_text.find('<') == std::string::npos, ClientContext(s));
    const unsigned long len = std::stoul(len_text);
    CHECK(len % 4096 == 0);
    CHECK(len > std::stoul(first));
    CHECK(len <= 0x4000);
    // The retry with that length succeeds, and exitinfo2 is not written back on success.
    CHECK_STEP(s, "retry", "ret", "0");
    CHECK_STEP(s, "retry", "exitinfo2", "0x5a5a5a5a5a5a5a5a");
    CHECK_STEP(s, "final.fields", "status", "0x0");
    const Bytes report = ReportFromResp(resp);
    CHECK(HexEncode(ReportData(report)) == Hex64(7));
    const Bytes table = ReadBytes(certs);
    CHECK(table.size() == len);
    const CertChain chain = ChainFromTable(table);
    CheckVerifies(report, chain);
    // The table is what the host configured (`sevemu host certs-get`).
    const RunResult got = w.Sevemu({"host", "certs-get", w.t / "host-table.bin"});
    REQUIRE_MESSAGE(got.code == 0, got.err);
    const Bytes host_table = ReadBytes(w.t / "host-table.bin");
    REQUIRE(host_table.size() <= table.size());
    CHECK(Slice(table, 0, host_table.size()) == host_table);
  }
  // A buffer that is large enough from the start: one call.
  const Steps s = w.Client(
      {"guest", "ext-report", w.t / "r.bin", w.t / "c.bin", "--first-len", "16384"}, "vm1");
  CHECK_STEP(s, "first", "ret", "0");
  CHECK_FALSE(s.Has("retry"));
  CHECK(guestmsg::ParseCertTable(ReadBytes(w.t / "c.bin")).ok());
  // Not a multiple of 4096: EINVAL before anything is sent.
  const Steps bad = w.Client(
      {"guest", "ext-report", w.t / "r2.bin", w.t / "c2.bin", "--first-len", "100"}, "vm1");
  CHECK_STEP(bad, "first", "errname", "EINVAL");
}

TEST_CASE("SNP_GET_DERIVED_KEY: stable across calls and processes, different per selection") {
  World w;
  w.Launch("vm1");
  w.Launch("vm2", "", {"--vcpus", "2"});
  struct Row {
    const char* name;
    std::vector<std::string> opts;
  };
  const Row rows[] = {
      {"vcek-none", {}},
      {"vcek-policy", {"--field-select", "0x1"}},
      {"vcek-measurement", {"--field-select", "0x8"}},
      {"vcek-all", {"--field-select", "0x3f"}},
      {"vmrk-none", {"--root-key-select", "1"}},
      {"vcek-vmpl1", {"--vmpl", "1"}},
      {"vcek-svn", {"--field-select", "0x10", "--svn", "0"}},
  };
  std::map<std::string, Bytes> keys;
  for (const Row& r : rows) {
    for (int round = 0; round < 2; ++round) {
      std::vector<std::string> args = {"guest", "key",
                                       w.t / (std::string(r.name) + std::to_string(round))};
      args.insert(args.end(), r.opts.begin(), r.opts.end());
      const Steps s = w.Client(args, "vm1");
      CAPTURE(r.name);
      CHECK_STEP(s, "snp_get_derived_key", "ret", "0");
      CHECK_STEP(s, "snp_get_derived_key.fields", "status", "0x0");
    }
    const Bytes a = ReadBytes(w.t / (std::string(r.name) + "0"));
    const Bytes b = ReadBytes(w.t / (std::string(r.name) + "1"));
    CAPTURE(r.name);
    REQUIRE(a.size() == 32);
    CHECK(a == b);             // stable
    CHECK(a != Bytes(32, 0));  // a key, not zeros
    keys[r.name] = a;
  }
  // The field selections mixing in only values that are 0 here (SVN 0 with field 4) may equal
  // others; the rest must all differ.
  const char* distinct[] = {"vcek-none", "vcek-policy", "vcek-measurement",
                            "vcek-all",  "vmrk-none",   "vcek-vmpl1"};
  for (const char* a : distinct) {
    for (const char* b : distinct) {
      if (std::string(a) < std::string(b)) {
        CAPTURE(a);
        CAPTURE(b);
        CHECK(keys[a] != keys[b]);
      }
    }
  }
  // Another guest with another measurement (two vCPUs, so two VMSAs): a key bound to the
  // measurement differs, a key bound to nothing but the chip (VCEK root, no fields) does not.
  // The VMRK is per guest.
  const auto g2 = w.SevemuJson({"guest", "show", "vm2"});
  const auto g1 = w.SevemuJson({"guest", "show", "vm1"});
  REQUIRE(g1["measurement"] != g2["measurement"]);
  for (const auto& [name, opts] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"vm2-meas", {"--field-select", "0x8"}},
           {"vm2-none", {}},
           {"vm2-vmrk", {"--root-key-select", "1"}}}) {
    std::vector<std::string> args = {"guest", "key", w.t / name};
    args.insert(args.end(), opts.begin(), opts.end());
    const Steps s2 = w.Client(args, "vm2");
    CHECK_STEP(s2, "snp_get_derived_key", "ret", "0");
  }
  CHECK(ReadBytes(w.t / "vm2-meas") != keys["vcek-measurement"]);
  CHECK(ReadBytes(w.t / "vm2-none") == keys["vcek-none"]);
  CHECK(ReadBytes(w.t / "vm2-vmrk") != keys["vmrk-none"]);
  // Reserved field-select bits: the firmware refuses inside the response (status), the ioctl
  // succeeds (the transport worked).
  const Steps bad = w.Client({"guest", "key", w.t / "bad", "--field-select", "0x8000"}, "vm1");
  CHECK_STEP(bad, "snp_get_derived_key", "ret", "0");
  CHECK_STEP(bad, "snp_get_derived_key.fields", "status", "0x16");
}

TEST_CASE("pages swapped out and in by the host: the guest program keeps its reports and keys") {
  World w;
  const auto g = w.Launch("vm1");
  const std::string secrets = std::to_string(g["secrets_gpa"].get<std::uint64_t>());
  const Steps k0 = w.Client({"guest", "key", w.t / "key0", "--field-select", "0x8"}, "vm1");
  CHECK_STEP(k0, "snp_get_derived_key.fields", "status", "0x0");
  const RunResult before =
      w.Sevemu({"guest", "read", "vm1", "--gpa", "0xFFFF0000", "--len", "4096"});
  REQUIRE_MESSAGE(before.code == 0, before.err);

  // The whole image and the secrets page (VMPCKs, the driver's message counters) go out.
  const auto out =
      w.SevemuJson({"guest", "swap-out", "vm1", "--gpa", "0xFFFF0000", "--pages", "16"});
  CHECK(out["pages_done"] == 16);
  CHECK(out["swapped_pages"] == 16);
  CHECK(out["metadata_pages"] == 1);
  const RunResult plain = w.Sevemu({"guest", "swap-out", "vm1", "--gpa", secrets});
  REQUIRE_MESSAGE(plain.code == 0, plain.err);
  CHECK(plain.out.find("swapped out 1 page(s) of vm1") != std::string::npos);
  const RunResult gone = w.Sevemu({"guest", "read", "vm1", "--gpa", "0xFFFF0000"});
  CHECK(gone.code != 0);
  CHECK(gone.err.find("swapped out") != std::string::npos);

  REQUIRE(w.SevemuJson({"guest", "swap-in", "vm1", "--gpa", secrets})["pages_done"] == 1);
  const auto in = w.SevemuJson({"guest", "swap-in", "vm1", "--gpa", "0xFFFF0000", "--pages", "16"});
  CHECK(in["swapped_pages"] == 0);
  CHECK(w.Sevemu({"guest", "read", "vm1", "--gpa", "0xFFFF0000", "--len", "4096"}).out ==
        before.out);
  REQUIRE(w.SevemuJson({"guest", "move-page", "vm1", "--gpa", secrets})["pages_done"] == 1);

  // The program in the guest: a report that verifies, with the launch's measurement, and the
  // same measurement-bound key as before.
  const Bytes report = GuestReport(w, "vm1", w.t / "resp.bin", Hex64(0x11));
  CHECK(Lower(HexEncode(Measurement(report))) == Lower(g["measurement"].get<std::string>()));
  Kds kds(w.t, w.daemon.state());
  const auto status = w.HostStatus();
  CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));
  const Steps k1 = w.Client({"guest", "key", w.t / "key1", "--field-select", "0x8"}, "vm1");
  CHECK_STEP(k1, "snp_get_derived_key.fields", "status", "0x0");
  CHECK(ReadBytes(w.t / "key1") == ReadBytes(w.t / "key0"));

  // Bad arguments: one line, nothing done.
  CHECK(w.Sevemu({"guest", "swap-out", "vm1"}).code == 2);
  CHECK(w.Sevemu({"guest", "swap-out", "vm1", "--gpa", "0xFFFF0000", "--pages", "0"}).code == 2);
  CHECK(w.Sevemu({"guest", "move-page", "vm1", "--gpa", secrets, "--pages", "2"}).code == 2);
  const RunResult odd = w.Sevemu({"guest", "swap-out", "vm1", "--gpa", "0xFFFF0010"});
  CHECK(odd.code != 0);
  CHECK(odd.err.find("not 4 KiB aligned") != std::string::npos);
  CHECK(std::count(odd.err.begin(), odd.err.end(), '\n') == 1);
  CHECK(w.Sevemu({"guest", "swap-in", "vm1", "--gpa", "0xFFFF0000"}).code != 0);
  CHECK(w.SevemuJson({"guest", "show", "vm1"})["swapped_pages"] == 0);
}

TEST_CASE("/dev/sev-guest argument errors are the sev-guest driver's") {
  World w;
  w.Launch("vm1");
  const Steps v = w.Client({"guest", "bad-version"}, "vm1");
  // msg_version 0: EINVAL and nothing written back (exitinfo2 keeps the caller's value).
  CHECK_STEP(v, "report_v0", "errname", "EINVAL");
  CHECK_STEP(v, "report_v0", "exitinfo2", "0x5a5a5a5a5a5a5a5a");
  CHECK_STEP(v, "key_v0", "errname", "EINVAL");
  CHECK_STEP(v, "key_v0", "exitinfo2", "0x5a5a5a5a5a5a5a5a");
  CHECK_STEP(v, "report_no_req", "errname", "EINVAL");
  CHECK_STEP(v, "after", "ret", "0");  // none of these reached the firmware; the key works

  const Steps p = w.Client({"guest", "bad-ptr"}, "vm1");
  CHECK_STEP(p, "bad_req", "errname", "EFAULT");
  CHECK_STEP(p, "bad_req", "exitinfo2", "0xff");  // set on entry, copied back as it is non-zero
  CHECK_STEP(p, "bad_arg", "errname", "EFAULT");
  CHECK_STEP(p, "after", "ret", "0");

  // The requested VMPL is the report's; above 3 the firmware refuses inside the response
  // (the ioctl succeeds: the transport worked).
  const Steps v1 = w.Client({"guest", "report", w.t / "v1.bin", "--vmpl", "1"}, "vm1");
  CHECK_STEP(v1, "snp_get_report", "ret", "0");
  CHECK(U32(ReportFromResp(w.t / "v1.bin"), 0x30) == 1);
  const Steps v4 = w.Client({"guest", "report", w.t / "v4.bin", "--vmpl", "4"}, "vm1");
  CHECK_STEP(v4, "snp_get_report", "ret", "0");
  CHECK_STEP(v4, "snp_get_report.fields", "status", "0x16");

  const Steps u = w.Client({"guest", "unknown"}, "vm1");
  CHECK_STEP(u, "nr_7", "errname", "ENOTTY");
  CHECK_STEP(u, "sev_issue_cmd_on_guest", "errname", "ENOTTY");
}

TEST_CASE("/dev/sev ioctls answer as the ccp driver does") {
  // One daemon for all of them (in this order: the last two change the platform).
  World w;
  w.Launch("vm1");
  const auto status = w.HostStatus();

  {  // SNP_PLATFORM_STATUS
    const Steps s = w.Client({"host", "status"});
    CHECK_STEP(s, "open", "ret", "0");
    CHECK_STEP(s, "snp_platform_status", "ret", "0");
    CHECK_STEP(s, "snp_platform_status", "error", "0x0");
    const std::string f = "snp_platform_status.fields";
    CHECK_STEP(s, f, "state", "1");  // INIT
    CHECK_STEP(s, f, "is_rmp_initialized", "1");
    CHECK_STEP(s, f, "guest_count", "1");
    CHECK_STEP(s, f, "mask_chip_id", "0");
    CHECK_STEP(s, f, "vlek_en", "0");
    const std::string fw = status["firmware"].get<std::string>();
    CHECK(fw.rfind(s.Get(f, "api_major") + "." + s.Get(f, "api_minor") + ".", 0) == 0);
    CHECK(TcbText(s.Get(f, "current_tcb")) == status["current_tcb"]);
    CHECK(TcbText(s.Get(f, "reported_tcb")) == status["reported_tcb"]);
  }
  {  // unknown ioctls and commands: EINVAL, error untouched
    const Steps s = w.Client({"host", "unknown"});
    for (const char* step : {"other_ioctl", "guest_ioctl_on_sev", "cmd_13", "cmd_0x100"}) {
      CHECK_STEP(s, step, "errname", "EINVAL");
      CHECK_STEP(s, step, "error", "0xa5a5a5a5");
    }
  }
  {  // bad pointers: EFAULT
    const Steps s = w.Client({"host", "efault"});
    CHECK_STEP(s, "status_bad_data", "errname", "EFAULT");
    CHECK_STEP(s, "status_bad_data", "error", "0x0");  // the firmware ran, the copy-out failed
    CHECK_STEP(s, "set_config_bad_data", "errname", "EFAULT");
    CHECK_STEP(s, "set_config_bad_data", "error", "0xa5a5a5a5");
    CHECK_STEP(s, "bad_arg", "errname", "EFAULT");
    CHECK_STEP(s, "after", "ret", "0");
  }
  {  // a read-only descriptor: status yes, changes EPERM
    const Steps s = w.Client({"host", "rdonly"});
    CHECK_STEP(s, "status_rdonly", "ret", "0");
    CHECK_STEP(s, "set_config_rdonly", "errname", "EPERM");
    CHECK_STEP(s, "set_config_rdonly", "error", "0xa5a5a5a5");
    CHECK_STEP(s, "vlek_load_rdonly", "errname", "EPERM");
    CHECK_STEP(s, "pek_gen_rdonly", "errname", "EPERM");
  }
  {  // SNP_SET_CONFIG with a reported TCB below the committed one, then SNP_COMMIT
    const Steps st = w.Client({"host", "status"});
    const std::string cur = st.Get("snp_platform_status.fields", "current_tcb");
    REQUIRE_MESSAGE(cur.rfind("0x", 0) == 0, ClientContext(st));
    const std::uint64_t current = std::stoull(cur.substr(2), nullptr, 16);
    REQUIRE(((current >> 48) & 0xFF) > 0);
    const std::uint64_t lower = current - (std::uint64_t{1} << 48);  // SNP SVN - 1 (Milan)
    char lower_hex[32];
    std::snprintf(lower_hex, sizeof lower_hex, "0x%016llx", static_cast<unsigned long long>(lower));
    const Steps set = w.Client({"host", "set-config", lower_hex, "0"});
    CHECK_STEP(set, "snp_set_config", "ret", "0");
    CHECK_STEP(set, "after.fields", "reported_tcb", std::string(lower_hex));
    CHECK_STEP(set, "after.fields", "current_tcb", cur);
    // Reports now name the lower TCB, signed by the VCEK of that TCB, which the KDS issues.
    const Bytes report = GuestReport(w, "vm1", w.t / "lower.bin", Hex64(0x70));
    CHECK(U64(report, 0x180) == lower);
    Kds kds(w.t, w.daemon.state());
    CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));
    // The VCEK of the current TCB does not verify it.
    Bytes at_current = report;
    for (int i = 0; i < 8; ++i)
      at_current[0x180 + i] = static_cast<std::uint8_t>(current >> (8 * i));
    const CertChain wrong = FetchVcekChain(kds, status["product"].get<std::string>(), at_current);
    CHECK_FALSE(test::VerifyAttestationReport(report, wrong.leaf, wrong.intermediate, wrong.ark,
                                              static_cast<long long>(std::time(nullptr)))
                    .ok);

    const Steps s = w.Client({"host", "commit"});
    CHECK_STEP(s, "snp_commit", "ret", "0");
    CHECK_STEP(s, "snp_commit", "error", "0x0");
    CHECK_STEP(s, "after.fields", "reported_tcb", cur);  // ReportedTCB := CurrentTCB
  }
  {  // SNP_SET_CONFIG: MASK_CHIP_KEY, and the firmware's refusals
    const Steps ok = w.Client({"host", "set-config", "0", "0x2"});
    CHECK_STEP(ok, "snp_set_config", "ret", "0");
    CHECK_STEP(ok, "after.fields", "mask_chip_key", "1");
    CHECK_STEP(ok, "after.fields", "mask_chip_id", "0");
    // A masked chip key: the report is not signed (zero signature, MASK_CHIP_KEY in signer info).
    const Bytes report = GuestReport(w, "vm1", w.t / "masked.bin", Hex64(0x71));
    CHECK((U32(report, 0x48) & 2u) == 2u);
    CHECK(Slice(report, 0x2A0, 512) == Bytes(512, 0));
    // Firmware refusals: EIO with the status in `error`.
    const Steps flag = w.Client({"host", "set-config", "0", "0x4"});
    CHECK_STEP(flag, "snp_set_config", "errname", "EIO");
    CHECK_STEP(flag, "snp_set_config", "error", "0x16");
    const Steps rsvd = w.Client({"host", "set-config", "0", "0", "1"});
    CHECK_STEP(rsvd, "snp_set_config", "errname", "EIO");
    CHECK_STEP(rsvd, "snp_set_config", "error", "0x16");
    const Steps high = w.Client({"host", "set-config", "0xffffffffffffffff", "0"});
    CHECK_STEP(high, "snp_set_config", "errname", "EIO");
    CHECK_STEP(high, "snp_set_config", "error", "0x16");
    CHECK_STEP(high, "after.fields", "mask_chip_key", "1");  // unchanged by the refusals
  }
}

TEST_CASE("/dev/sev: GET_ID2 and the legacy SEV commands go through the kernel's legacy path") {
  World w;
  const auto status = w.HostStatus();
  {  // SEV_GET_ID2 with the length probe
    const Steps s = w.Client({"host", "get-id2", w.t / "id.bin"});
    CHECK_STEP(s, "get_id2_probe", "errname", "EIO");
    CHECK_STEP(s, "get_id2_probe", "error", "0x4");  // INVALID_LENGTH
    CHECK_STEP(s, "get_id2_probe.fields", "length", "64");
    CHECK_STEP(s, "get_id2", "ret", "0");
    CHECK_STEP(s, "get_id2.fields", "length", "64");
    CHECK_STEP(s, "get_id2.fields", "untouched_after", "1");
    CHECK(Lower(HexEncode(ReadBytes(w.t / "id.bin"))) ==
          Lower(status["chip_id"].get<std::string>()));
    CHECK_STEP(s, "get_id2_bad_buffer", "errname", "EFAULT");
    CHECK_STEP(s, "get_id2_bad_buffer", "error", "0x0");  // the firmware ran
  }
  // GET_ID2 runs through the kernel's legacy path (DoLegacy); if that took the daemon down, say
  // so with its log, and start it again so that each command below is tested on its own.
  auto alive = [&w] {
    CHECK_MESSAGE(w.daemon.Running(), "the daemon died:\n" << w.daemon.Log());
    if (!w.daemon.Running()) w.daemon.Start();
  };
  alive();
  {  // legacy SEV commands reach the firmware's legacy SEV API
    const Steps s = w.Client({"host", "legacy-status"});
    CHECK_STEP(s, "sev_platform_status", "ret", "0");
    CHECK_STEP(s, "sev_platform_status", "error", "0x0");
    CHECK_STEP(s, "sev_pek_gen", "ret", "0");  // the kernel INITs first
    CHECK_STEP(s, "sev_pek_gen", "error", "0x0");
  }
  alive();
  {  // PEK_CSR's length probe: INVALID_LENGTH with the length 0x824 written back
    const Steps p = w.Client({"host", "pek-csr-probe"});
    CHECK_STEP(p, "pek_csr_probe", "errname", "EIO");
    CHECK_STEP(p, "pek_csr_probe", "error", "0x4");
    CHECK_STEP(p, "pek_csr_probe.fields", "length", "0x824");
  }
  alive();
}

TEST_CASE("SNP_VLEK_LOAD from a file: reports are then signed with the VLEK") {
  World w;
  w.Launch("vm1");
  const RunResult made = Run(w.t, {SEVEMU_CLI_PATH, "kds", "vlek", "--state", w.daemon.state(),
                                   "--csp-id", "e2e-csp", "--out", w.t / "vlek"});
  REQUIRE_MESSAGE(made.code == 0, made.err);
  const Steps s = w.Client({"host", "vlek-load", w.t / "vlek/vlek_wrapped.bin"});
  CHECK_STEP(s, "snp_vlek_load", "blob_len", "432");
  CHECK_STEP(s, "snp_vlek_load", "ret", "0");
  CHECK_STEP(s, "snp_vlek_load", "error", "0x0");
  CHECK_STEP(s, "vlek_bad_len", "errname", "EINVAL");
  CHECK_STEP(s, "after.fields", "vlek_en", "1");

  const Bytes report = GuestReport(w, "vm1", w.t / "resp.bin", Hex64(1));
  CHECK(SigningKey(report) == 1);  // VLEK
  const std::string vlek = test::ReadText(w.t / "vlek/vlek.pem");
  const std::string asvk = test::ReadText(w.t / "vlek/asvk.pem");
  const std::string ark = test::ReadText(w.t / "vlek/ark.pem");
  CheckVerifies(report, {vlek, asvk, ark});
  // A corrupted blob: the firmware refuses it (EIO), and the loaded VLEK stays.
  Bytes blob = ReadBytes(w.t / "vlek/vlek_wrapped.bin");
  blob[0x20] ^= 1;
  test::WriteText(w.t / "bad.bin", std::string(blob.begin(), blob.end()));
  const Steps bad = w.Client({"host", "vlek-load", w.t / "bad.bin"});
  CHECK_STEP(bad, "snp_vlek_load", "errname", "EIO");
  CHECK(bad.Get("snp_vlek_load", "error") != "0x0");
  CHECK_STEP(bad, "after.fields", "vlek_en", "1");
}

TEST_CASE(
    "SNP_SET_CONFIG MASK_CHIP_ID: reports carry a zero CHIP_ID, and the setting survives "
    "SIGTERM and a restart") {
  World w;
  w.Launch("vm1");
  const Bytes before = GuestReport(w, "vm1", w.t / "before.bin", Hex64(2));
  CHECK(ChipId(before) != Bytes(64, 0));
  const Steps s = w.Client({"host", "set-config", "0", "0x1"});
  CHECK_STEP(s, "snp_set_config", "ret", "0");
  CHECK_STEP(s, "after.fields", "mask_chip_id", "1");
  const Bytes after = GuestReport(w, "vm1", w.t / "after.bin", Hex64(3));
  CHECK(ChipId(after) == Bytes(64, 0));
  CHECK(w.HostStatus()["mask_chip_id"] == true);

  const auto code = w.daemon.Stop();
  REQUIRE(code.has_value());
  CHECK_MESSAGE(*code == 0, w.daemon.Log());
  CHECK_FALSE(std::filesystem::exists(w.daemon.socket()));
  const auto pj = nlohmann::json::parse(test::ReadText(w.daemon.state() + "/platform.json"));
  CHECK(pj["config"]["mask_chip_id"] == true);
  CHECK(pj["config"]["mask_chip_key"] == false);

  w.daemon.Start();
  const auto st = w.HostStatus();
  CHECK(st["mask_chip_id"] == true);
  CHECK(st["mask_chip_key"] == false);
  const Steps s2 = w.Client({"host", "status"});
  CHECK_STEP(s2, "snp_platform_status.fields", "mask_chip_id", "1");
}

TEST_CASE("one daemon per state directory and per socket; a second is refused in one line") {
  World w;
  const RunResult same_state = Run(
      w.t, {SEVEMU_CLI_PATH, "serve", "--state", w.daemon.state(), "--socket", w.t / "other.sock"});
  CHECK(same_state.code == 1);
  CHECK_MESSAGE(OneLine(same_state.err), same_state.err);
  CHECK(same_state.err.find("in use") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(w.t / "other.sock"));

  const RunResult same_socket = Run(w.t, {SEVEMU_CLI_PATH, "serve", "--state", w.t / "q", "--seed",
                                          "02", "--socket", w.daemon.socket()});
  CHECK(same_socket.code == 1);
  // It logs its own platform first; the refusal is the last line, and the only error.
  CHECK_MESSAGE(LastLine(same_socket.err).find("already listens") != std::string::npos,
                same_socket.err);
  CHECK(same_socket.err.rfind("sevemu serve: ") == same_socket.err.find("sevemu serve: "));
  // The first daemon still serves, on its socket.
  CHECK(w.daemon.Running());
  CHECK(w.HostStatus()["platform"] == "p");
}

TEST_CASE("no daemon, no guest, or an unknown guest: the devices do not open") {
  World w(/*start=*/false);
  // No daemon listening: ENOENT, as on a machine without the device.
  const Steps h = w.Client({"host", "status"}, "", w.t / "nobody.sock");
  CHECK_STEP(h, "open", "errname", "ENOENT");
  const Steps g = w.Client({"guest", "report", w.t / "r.bin"}, "vm1", w.t / "nobody.sock");
  CHECK_STEP(g, "open", "errname", "ENOENT");

  w.daemon.Start();
  w.Launch("vm1");
  // A daemon, but SEVEMU_GUEST unset: this is not a guest.
  const Steps no_guest = w.Client({"guest", "report", w.t / "r.bin"});
  CHECK_STEP(no_guest, "open", "errname", "ENOENT");
  // A guest the daemon does not have.
  const Steps unknown = w.Client({"guest", "report", w.t / "r.bin"}, "nosuch");
  CHECK_STEP(unknown, "open", "ret", "-1");
  CHECK_MESSAGE(unknown.Errname("open") == "ENOENT", ClientContext(unknown));
  // The protocol refuses such a hello itself, whoever asks, and closes the connection.
  using protocol::MsgType;
  {
    RawConn c(w.daemon.socket());
    const auto r = c.Hello(R"({"role":"guest","guest":"nosuch"})");
    CHECK_MESSAGE(IsError(r), (r ? r->payload : "no reply"));
    CHECK_FALSE(c.Call(MsgType::kWhoAmI, "").has_value());  // closed
  }
  for (const char* hello : {R"({"role":"guest"})", R"({"role":"guest","guest":""})",
                            R"({"role":"guest","guest":"vm1","platform":"nope"})",
                            R"({"role":"guest","guest":7})", R"({"role":"vmm"})"}) {
    CAPTURE(hello);
    RawConn c(w.daemon.socket());
    CHECK(IsError(c.Hello(hello)));
  }
  {
    RawConn c(w.daemon.socket());
    const auto r = c.Hello(R"({"role":"guest","guest":"vm1"})");
    REQUIRE(IsReply(r, MsgType::kHello));
    const auto j = nlohmann::json::parse(r->payload);
    CHECK(j["guest"]["name"] == "vm1");
  }
  // And a destroyed guest is gone for new openers.
  const RunResult d = w.Sevemu({"guest", "destroy", "vm1"});
  REQUIRE_MESSAGE(d.code == 0, d.err);
  const Steps gone = w.Client({"guest", "report", w.t / "r.bin"}, "vm1");
  CHECK_STEP(gone, "open", "ret", "-1");
}

TEST_CASE("the daemon killed under a connected client: errors, not a hang") {
  World w;
  w.Launch("vm1");
  REQUIRE(ShimBuilt());
  SUBCASE("between two host calls") {
    SpawnOptions o;
    o.env = w.ClientEnv("");
    o.pipe_stdin = o.pipe_stdout = true;
    o.stderr_path = w.t / "client.err";
    Child c;
    c.Spawn({SEVEMU_UAPI_CLIENT_PATH, "host", "pause-status"}, o);
    std::string out;
    while (auto line = c.ReadLine(kRunTimeout)) {
      out += *line + "\n";
      if (*line == "step=paused") break;
    }
    REQUIRE_MESSAGE(out.find("step=paused") != std::string::npos,
                    out << test::ReadText(o.stderr_path));
    w.daemon.KillHard();
    REQUIRE(c.WriteIn("\n"));
    out += c.ReadRest(20s);
    const auto code = c.Wait(5s);
    REQUIRE_MESSAGE(code.has_value(), "the client hung after the daemon died:\n" << out);
    Steps s = ParseSteps(out);
    s.code = *code;
    s.err = test::ReadText(o.stderr_path);
    CHECK_STEP(s, "first", "ret", "0");
    CHECK_STEP(s, "second", "ret", "-1");
    CHECK_STEP(s, "second", "errname", "EIO");
  }
  SUBCASE("in the middle of a guest request (daemon stopped, then killed)") {
    SpawnOptions o;
    o.env = w.ClientEnv("vm1");
    o.pipe_stdin = o.pipe_stdout = true;
    o.stderr_path = w.t / "client.err";
    Child c;
    c.Spawn({SEVEMU_UAPI_CLIENT_PATH, "guest", "pause-report", w.t / "r.bin"}, o);
    std::string out;
    while (auto line = c.ReadLine(kRunTimeout)) {
      out += *line + "\n";
      if (*line == "step=paused") break;
    }
    REQUIRE_MESSAGE(out.find("step=paused") != std::string::npos,
                    out << test::ReadText(o.stderr_path));
    w.daemon.child().Signal(SIGSTOP);
    REQUIRE(c.WriteIn("\n"));
    std::this_thread::sleep_for(300ms);  // the client is now blocked on the stopped daemon
    CHECK(c.Running());
    w.daemon.KillHard();
    out += c.ReadRest(20s);
    const auto code = c.Wait(5s);
    REQUIRE_MESSAGE(code.has_value(), "the client hung after the daemon died:\n" << out);
    Steps s = ParseSteps(out);
    s.code = *code;
    s.err = test::ReadText(o.stderr_path);
    CHECK_STEP(s, "first", "ret", "0");
    CHECK_STEP(s, "second", "ret", "-1");
    CHECK_MESSAGE(s.Errname("second") == "EIO", ClientContext(s));
  }
}

TEST_CASE("garbage on the daemon's socket is refused; the daemon keeps serving") {
  World w;
  w.Launch("vm1");
  using protocol::MsgType;
  auto is_error_reply = [](const std::string& got) {
    if (got.size() < protocol::kHeaderSize) return false;
    auto h = protocol::DecodeHeader(
        ByteSpan(reinterpret_cast<const std::uint8_t*>(got.data()), protocol::kHeaderSize));
    return h.ok() && h->type == MsgType::kError;
  };
  // Not a frame at all: an error reply, then the connection is closed.
  Bytes garbage(100);
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 37);
  CHECK(is_error_reply(RawExchange(w.daemon.socket(), garbage, false)));
  // The right magic, a payload length above the maximum.
  auto hdr = protocol::EncodeHeader({protocol::kVersion, MsgType::kHello, 1, 0xFFFFFFFFu});
  CHECK(is_error_reply(RawExchange(w.daemon.socket(), Bytes(hdr.begin(), hdr.end()), false)));
  // A version from the future.
  auto v9 = protocol::EncodeHeader({9, MsgType::kHello, 1, 0});
  CHECK(is_error_reply(RawExchange(w.daemon.socket(), Bytes(v9.begin(), v9.end()), false)));
  // A host frame before any hello.
  const Bytes early = protocol::EncodeFrame(MsgType::kManage, 1, Bytes(8, 0));
  CHECK(is_error_reply(RawExchange(w.daemon.socket(), early, false)));
  // A hello that is not JSON.
  const std::string junk = "{not json";
  CHECK(is_error_reply(RawExchange(
      w.daemon.socket(), protocol::EncodeFrame(MsgType::kHello, 1, Bytes(junk.begin(), junk.end())),
      false)));
  // A header promising a large payload that never comes, then the client goes away.
  auto big = protocol::EncodeHeader({protocol::kVersion, MsgType::kHello, 1, 1u << 20});
  Bytes partial(big.begin(), big.end());
  partial.resize(partial.size() + 100, 0x41);
  CHECK(RawExchange(w.daemon.socket(), partial, true).empty());
  // Half a header, then EOF.
  CHECK(RawExchange(w.daemon.socket(), Bytes{'S', 'E', 'V'}, true).empty());
  // After a valid hello: garbage payloads, an unknown message type, a second hello.
  {
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"host","writable":true})"), MsgType::kHello));
    const auto r = c.Call(MsgType::kSevIoctl, std::string(7, '\xFF'));
    CHECK((!r.has_value() || IsError(r)));
  }
  {
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"host"})"), MsgType::kHello));
    const auto again = c.Hello(R"({"role":"host"})");
    CHECK((!again.has_value() || IsError(again)));
  }
  {
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"guest","guest":"vm1"})"), MsgType::kHello));
    const auto r = c.Call(static_cast<MsgType>(0x55), std::string(3, '\0'));
    CHECK((!r.has_value() || IsError(r)));
  }
  {
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"guest","guest":"vm1"})"), MsgType::kHello));
    const auto r = c.Call(MsgType::kGuestRequest, std::string(5, '\xAB'));
    CHECK((!r.has_value() || IsError(r)));
  }
  {  // A guest may not issue host ioctls.
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"guest","guest":"vm1"})"), MsgType::kHello));
    const auto r = c.Call(MsgType::kManage, std::string(8, '\0'));
    CHECK((!r.has_value() || IsError(r)));
  }
  // Still alive and serving the CLI and the shim.
  CHECK(w.daemon.Running());
  CHECK(w.HostStatus()["guests"] == 1);
  const Bytes report = GuestReport(w, "vm1", w.t / "resp.bin", Hex64(9));
  CHECK(HexEncode(ReportData(report)) == Hex64(9));
}

std::size_t CountOf(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

TEST_CASE("client-supplied strings cannot forge daemon log lines") {
  World w;
  using protocol::MsgType;
  {
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"host"})"), MsgType::kHello));
    const std::string op = "x\n2026-01-01T00:00:00Z info FORGED by=client\r\x1b[31mred\\";
    const std::string req = nlohmann::json({{"op", op}}).dump();
    const Bytes blob = protocol::EncodeJsonBlob({req, {}});
    CHECK(IsError(c.Call(MsgType::kManage, std::string(blob.begin(), blob.end()))));
  }
  REQUIRE(w.daemon.Stop() == 0);
  const std::string log = w.daemon.Log();
  CHECK_MESSAGE(log.find("\n2026-01-01T00:00:00Z info FORGED") == std::string::npos, log);
  CHECK_MESSAGE(log.find('\r') == std::string::npos, log);
  CHECK_MESSAGE(log.find('\x1b') == std::string::npos, log);
  // The text is all there, escaped as the JSON format escapes it.
  CHECK_MESSAGE(log.find(R"(x\n2026-01-01T00:00:00Z info FORGED by=client\r\u001b[31mred\\)") !=
                    std::string::npos,
                log);
}

TEST_CASE("the daemon's refusals reach the CLI user as one plain line") {
  World w;
  w.Launch("vm1");
  const RunResult r = w.Sevemu({"guest", "read", "vm1", "--gpa", "0", "--len", "16"});
  CHECK(r.code == 1);
  CHECK_MESSAGE(OneLine(r.err), r.err);
  CHECK_MESSAGE(r.err == "sevemu guest: guest page 0x0 is not mapped\n", r.err);
  const RunResult show = w.Sevemu({"guest", "show", "nosuch"});
  CHECK(show.code == 1);
  CHECK_MESSAGE(OneLine(show.err), show.err);
  CHECK_MESSAGE(show.err.find('{') == std::string::npos, show.err);
}

TEST_CASE("SEVEMU_PLATFORM is the CLI's default platform too") {
  World w(/*start=*/false);
  w.daemon.AddState(w.t / "p2");
  w.daemon.Start();
  const Env p2 = {{"SEVEMU_PLATFORM", "p2"}};
  RunResult r = w.Sevemu({"host", "status"}, p2);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["platform"] == "p2");
  r = w.Sevemu({"guest", "launch", "vm2"}, p2);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(w.HostStatus()["guests"] == 0);  // not on the first platform
  r = w.Sevemu({"guest", "show", "vm2"}, p2);
  CHECK_MESSAGE(r.code == 0, r.err);
  // --platform still wins over the variable.
  r = w.Sevemu({"host", "status", "--platform", "p"}, p2);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["platform"] == "p");
  r = w.Sevemu({"host", "status"}, {{"SEVEMU_PLATFORM", "nope"}});
  CHECK(r.code == 1);
  CHECK_MESSAGE(OneLine(r.err), r.err);
}

TEST_CASE("hellos and successful ioctls are logged only at --log-level debug") {
  for (const bool debug : {false, true}) {
    CAPTURE(debug);
    World w(/*start=*/false);
    if (debug) w.daemon.AddArgs({"--log-level", "debug"});
    w.daemon.Start();
    for (int i = 0; i < 3; ++i) w.HostStatus();
    const Steps s = w.Client({"host", "status"});
    CHECK_STEP(s, "snp_platform_status", "ret", "0");
    REQUIRE(w.daemon.Stop() == 0);
    const std::string log = w.daemon.Log();
    // Three CLI connections and the shim's.
    CHECK_MESSAGE((CountOf(log, " debug hello ") >= 4) == debug, log);
    CHECK_MESSAGE((CountOf(log, " debug ioctl ") >= 1) == debug, log);
    CHECK_MESSAGE(CountOf(log, " info hello ") == 0u, log);
    CHECK(log.find(" info listening ") != std::string::npos);  // the rest is still there
  }
}

TEST_CASE("out of descriptors, the daemon backs off, logs once and serves the connections it has") {
  World w(/*start=*/false);
  w.daemon.LimitFiles(64);
  w.daemon.Start();
  using protocol::MsgType;
  RawConn served(w.daemon.socket());
  REQUIRE(IsReply(served.Hello(R"({"role":"host"})"), MsgType::kHello));
  {
    // More connections than the daemon has descriptors for: the rest wait in the listen queue.
    std::vector<std::unique_ptr<RawConn>> held;
    for (int i = 0; i < 80; ++i) held.push_back(std::make_unique<RawConn>(w.daemon.socket()));
    // Time for a daemon that re-arms accept at once to log thousands of lines.
    std::this_thread::sleep_for(500ms);
    CHECK(IsReply(served.Call(MsgType::kWhoAmI, ""), MsgType::kWhoAmI));
    const std::string log = w.daemon.Log();
    CHECK_MESSAGE(CountOf(log, "accept failed") == 1, log.substr(0, 2000));
  }
  // The held connections are gone: the waiting ones are accepted (and see EOF), new clients are
  // served again.
  CHECK(w.HostStatus()["platform"] == "p");
  CHECK(IsReply(served.Call(MsgType::kWhoAmI, ""), MsgType::kWhoAmI));
  const std::string log = w.daemon.Log();
  CHECK_MESSAGE(CountOf(log, "accept failed") == 1, log.substr(0, 2000));
  CHECK_MESSAGE(CountOf(log, "accepting again") == 1, log.substr(0, 2000));
}

// Resident memory of a process, in KiB.
long RssKib(pid_t pid) {
  const std::string status = test::ReadText("/proc/" + std::to_string(pid) + "/status");
  const auto at = status.find("VmRSS:");
  REQUIRE(at != std::string::npos);
  return std::stol(status.substr(at + 6));
}

TEST_CASE("a client that sends without reading cannot make the daemon queue without limit") {
  World w;
  const auto guest = w.Launch("vm1");
  const auto gpa = guest["secrets_gpa"].get<std::uint64_t>();
  using protocol::MsgType;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, w.daemon.socket().c_str(), sizeof a.sun_path - 1);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto recv_frame = [&](std::string& payload) -> std::optional<protocol::FrameHeader> {
    std::string hdr(protocol::kHeaderSize, '\0');
    auto read_all = [&](std::string& buf) {
      std::size_t got = 0;
      while (got < buf.size()) {
        const ssize_t n = recv(fd, buf.data() + got, buf.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += static_cast<std::size_t>(n);
      }
      return true;
    };
    if (!read_all(hdr)) return std::nullopt;
    auto h = protocol::DecodeHeader(
        ByteSpan(reinterpret_cast<const std::uint8_t*>(hdr.data()), hdr.size()));
    if (!h.ok()) return std::nullopt;
    payload.assign(h->payload_length, '\0');
    if (!read_all(payload)) return std::nullopt;
    return *h;
  };
  const std::string hello = R"({"role":"guest","guest":"vm1"})";
  const Bytes hf = protocol::EncodeFrame(MsgType::kHello, 1, Bytes(hello.begin(), hello.end()));
  REQUIRE(send(fd, hf.data(), hf.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(hf.size()));
  std::string payload;
  REQUIRE(recv_frame(payload).has_value());

  const long before = RssKib(w.daemon.child().pid());
  // 4 KiB reads, pipelined, never reading a reply: 30,000 of them would be 120 MiB of replies.
  Bytes requests;
  constexpr int kRequests = 30000;
  for (int i = 0; i < kRequests; ++i) {
    const Bytes f = protocol::EncodeFrame(MsgType::kGuestMemRead, static_cast<std::uint32_t>(i + 2),
                                          protocol::EncodeGuestMemRead({gpa, 4096}));
    requests.insert(requests.end(), f.begin(), f.end());
  }
  const std::size_t frame_size = requests.size() / kRequests;
  std::size_t sent = 0;
  long peak = before;
  while (sent < requests.size()) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 1000) <= 0) break;  // the daemon stopped reading: what a bound looks like
    const ssize_t n =
        send(fd, requests.data() + sent, requests.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    REQUIRE(n > 0);
    sent += static_cast<std::size_t>(n);
    peak = std::max(peak, RssKib(w.daemon.child().pid()));
  }
  for (int i = 0; i < 10; ++i) {  // whatever it still had to handle
    std::this_thread::sleep_for(100ms);
    peak = std::max(peak, RssKib(w.daemon.child().pid()));
  }
  CHECK_MESSAGE(peak - before < 48 * 1024,
                "daemon grew from " << before << " KiB to " << peak << " KiB; sent " << sent);
  // Others are served meanwhile.
  CHECK(w.HostStatus()["guests"] == 1);
  // And every request that was sent whole is answered, in order, once the client reads.
  const std::size_t whole = sent / frame_size;
  for (std::size_t i = 0; i < whole; ++i) {
    const auto h = recv_frame(payload);
    REQUIRE_MESSAGE(h.has_value(), "reply " << i << " of " << whole);
    CHECK(h->request_id == i + 2);
    CHECK(h->type == static_cast<MsgType>(static_cast<std::uint16_t>(MsgType::kGuestMemRead) |
                                          protocol::kReplyBit));
    CHECK(payload.size() == 4096);
  }
  close(fd);
}

TEST_CASE("the ASID split is a platform setting: provision --min-sev-asid, kept in platform.json") {
  World w(/*start=*/false);
  // The default is recorded at provisioning: Milan's 509 ASIDs split at 254, so 253 SNP guests.
  RunResult r = Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", w.t / "d", "--seed", "01"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(test::ReadText(w.t / "d/platform.json"))["bios"]["min_sev_asid"] ==
        254);
  for (const char* bad : {"1", "511", "x"}) {
    CAPTURE(bad);
    r = Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", w.t / "bad", "--min-sev-asid", bad});
    CHECK(r.code == 2);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK_FALSE(std::filesystem::exists(w.t / "bad/platform.json"));
  }
  r = Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", w.daemon.state(), "--seed", "01",
                "--min-sev-asid", "3"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(
            test::ReadText(w.daemon.state() + "/platform.json"))["bios"]["min_sev_asid"] == 3);
  for (int start = 0; start < 2; ++start) {  // loaded back after a restart
    CAPTURE(start);
    w.daemon.Start();
    const auto st = w.HostStatus();
    CHECK(st["min_sev_asid"] == 3);
    CHECK(st["max_asid"] == 509);
    if (start == 0) {
      // ASIDs 1 and 2 are all SNP and SEV-ES guests get.
      CHECK(w.Launch("vm1")["asid"] == 1);
      CHECK(w.Launch("vm2")["asid"] == 2);
      const RunResult third = w.Sevemu({"guest", "launch", "vm3"});
      CHECK(third.code == 1);
      CHECK_MESSAGE(third.err == "sevemu guest: no free SNP ASID\n", third.err);
      const RunResult es = w.Sevemu({"guest", "launch", "es1", "--type", "sev-es"});
      CHECK(es.code == 1);
      // A plain SEV guest takes an ASID from min_sev_asid up.
      CHECK(w.Launch("sev1", "", {"--type", "sev"})["asid"] == 3);
    }
    REQUIRE(w.daemon.Stop() == 0);
  }
  CHECK(nlohmann::json::parse(
            test::ReadText(w.daemon.state() + "/platform.json"))["bios"]["min_sev_asid"] == 3);
}

TEST_CASE("fork: parent and child both use the inherited /dev/sev-guest descriptor") {
  World w;
  w.Launch("vm1");
  const Steps s = w.Client({"guest", "fork", w.t / "fork", "--rounds", "4"}, "vm1");
  CHECK_STEP(s, "open", "ret", "0");
  CHECK_STEP(s, "child_exit", "exited", "1");
  CHECK_STEP(s, "child_exit", "code", "0");
  // The certificate table tells us the VCEK to check every report with.
  const RunResult got = w.Sevemu({"host", "certs-get", w.t / "table.bin"});
  REQUIRE_MESSAGE(got.code == 0, got.err);
  const CertChain chain = ChainFromTable(ReadBytes(w.t / "table.bin"));
  for (const char* who : {"parent", "child"}) {
    for (int r = 0; r < 4; ++r) {
      CAPTURE(who);
      CAPTURE(r);
      const std::string step = std::string(who) + "." + std::to_string(r);
      CHECK_STEP(s, step, "ret", "0");
      const Bytes report = ReadBytes(w.t / ("fork." + step));
      REQUIRE(report.size() == kReportSize);
      CHECK(report[0x50] == (std::string(who) == "child" ? 0xC1 : 0xA1));
      CHECK(report[0x51] == r);
      CheckVerifies(report, chain);
    }
  }
  // The guest still works for a fresh process (sequence numbers stayed in step).
  GuestReport(w, "vm1", w.t / "resp.bin", Hex64(5));
}

TEST_CASE("many descriptors left open at exit; the daemon serves on") {
  World w;
  w.Launch("vm1");
  const Steps g = w.Client({"open-many", "/dev/sev-guest", "200"}, "vm1");
  CHECK_STEP(g, "open_many", "opened", "200");
  CHECK_STEP(g, "call_0", "ret", "0");
  CHECK_STEP(g, "call_199", "ret", "0");
  const Steps h = w.Client({"open-many", "/dev/sev", "200"});
  CHECK_STEP(h, "open_many", "opened", "200");
  CHECK_STEP(h, "call_0", "ret", "0");
  CHECK_STEP(h, "call_199", "ret", "0");
  CHECK(w.daemon.Running());
  CHECK(w.HostStatus()["guests"] == 1);
  GuestReport(w, "vm1", w.t / "resp.bin", Hex64(6));
}

TEST_CASE("every way a program opens and duplicates the devices reaches the daemon") {
  World w;
  w.Launch("vm1");
  for (const char* dev : {"/dev/sev-guest", "/dev/sev"}) {
    CAPTURE(dev);
    const Steps s = w.Client({"open-variants", dev}, "vm1");
    for (const char* step :
         {"open64", "openat", "open_2", "openat_2", "dup", "fcntl_dupfd", "dup2"}) {
      CHECK_STEP(s, step, "ret", "0");
    }
  }
}

TEST_CASE("openat relative to a descriptor of /dev reaches the daemon too") {
  World w;
  w.Launch("vm1");
  for (const char* dev : {"/dev/sev-guest", "/dev/sev"}) {
    CAPTURE(dev);
    const Steps s = w.Client({"open-variants", dev}, "vm1");
    CHECK_STEP(s, "openat_dirfd", "ret", "0");
  }
}

TEST_CASE("several processes in one guest at once: every request succeeds") {
  World w;
  w.Launch("vm1");
  REQUIRE(ShimBuilt());
  // Three clients at once, each forking: six processes sharing the guest's message counter.
  std::vector<std::unique_ptr<Child>> clients;
  for (int i = 0; i < 3; ++i) {
    SpawnOptions o;
    o.env = w.ClientEnv("vm1");
    o.stdout_path = w.t / ("conc" + std::to_string(i) + ".out");
    o.stderr_path = w.t / ("conc" + std::to_string(i) + ".err");
    clients.push_back(std::make_unique<Child>());
    clients.back()->Spawn({SEVEMU_UAPI_CLIENT_PATH, "guest", "fork",
                           w.t / ("conc" + std::to_string(i)), "--rounds", "3"},
                          o);
  }
  for (int i = 0; i < 3; ++i) {
    const auto code = clients[static_cast<std::size_t>(i)]->Wait(kRunTimeout);
    Steps s = ParseSteps(test::ReadText(w.t / ("conc" + std::to_string(i) + ".out")));
    s.code = code.value_or(-1);
    s.err = test::ReadText(w.t / ("conc" + std::to_string(i) + ".err"));
    REQUIRE_MESSAGE(code == 0, ClientContext(s));
    CHECK_STEP(s, "child_exit", "code", "0");
    for (const char* who : {"parent", "child"}) {
      for (int r = 0; r < 3; ++r) {
        CHECK_STEP(s, std::string(who) + "." + std::to_string(r), "ret", "0");
      }
    }
  }
  GuestReport(w, "vm1", w.t / "resp.bin", Hex64(8));
}

// The message counter the guest driver keeps for VMPCK0 (secrets page OS area, offset 0xA0),
// read as the guest sees it.
std::uint32_t Seqno0(World& w, const std::string& guest) {
  const auto launched = w.SevemuJson({"guest", "show", guest});
  const std::uint64_t gpa = launched["secrets_gpa"].get<std::uint64_t>() + 0xA0;
  RawConn c(w.daemon.socket());
  REQUIRE(IsReply(c.Hello(R"({"role":"guest","guest":")" + guest + R"("})"),
                  protocol::MsgType::kHello));
  const Bytes req = protocol::EncodeGuestMemRead({gpa, 4});
  const auto r = c.Call(protocol::MsgType::kGuestMemRead, std::string(req.begin(), req.end()));
  REQUIRE(IsReply(r, protocol::MsgType::kGuestMemRead));
  REQUIRE(r->payload.size() == 4);
  const Bytes b(r->payload.begin(), r->payload.end());
  return U32(b, 0);
}

TEST_CASE("a process gone in the middle of a guest request does not break the guest") {
  World w;
  w.Launch("vm1");
  REQUIRE(ShimBuilt());
  SUBCASE("a client that sends SNP_GET_REPORT and leaves: the request completes in the daemon") {
    const std::uint32_t before = Seqno0(w, "vm1");
    {
      // The ioctl as the shim forwards it, at made-up addresses of a process that is gone
      // by the time the daemon answers.
      uapi::SnpGuestRequestIoctl io{};
      io.msg_version = 1;
      io.req_data = 0x20000;
      io.resp_data = 0x30000;
      protocol::GuestIoctlRequest req;
      req.request = uapi::kSnpGetReport;
      req.arg = 0x10000;
      req.regions.push_back({0x10000, Bytes(reinterpret_cast<const std::uint8_t*>(&io),
                                            reinterpret_cast<const std::uint8_t*>(&io + 1))});
      req.regions.push_back({0x20000, Bytes(sizeof(uapi::SnpReportReq))});
      req.regions.push_back({0x30000, Bytes(sizeof(uapi::SnpReportResp))});
      // As the shim does: hello answered, then the ioctl's frame, then the process is gone
      // before the reply comes.
      const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd >= 0);
      sockaddr_un a{};
      a.sun_family = AF_UNIX;
      std::strncpy(a.sun_path, w.daemon.socket().c_str(), sizeof a.sun_path - 1);
      REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
      const std::string hello = R"({"role":"guest","guest":"vm1"})";
      const Bytes h = protocol::EncodeFrame(protocol::MsgType::kHello, 1, AsBytes(hello));
      REQUIRE(send(fd, h.data(), h.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(h.size()));
      std::uint8_t hdr[protocol::kHeaderSize];
      REQUIRE(recv(fd, hdr, sizeof hdr, MSG_WAITALL) == static_cast<ssize_t>(sizeof hdr));
      auto hh = protocol::DecodeHeader(hdr);
      REQUIRE(hh.ok());
      std::string body(hh->payload_length, '\0');
      REQUIRE(recv(fd, body.data(), body.size(), MSG_WAITALL) == static_cast<ssize_t>(body.size()));
      REQUIRE(static_cast<std::uint16_t>(hh->type) ==
              (static_cast<std::uint16_t>(protocol::MsgType::kHello) | protocol::kReplyBit));
      const Bytes frame = protocol::EncodeFrame(protocol::MsgType::kGuestIoctl, 2,
                                                protocol::EncodeGuestIoctlRequest(req));
      REQUIRE(send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(frame.size()));
      close(fd);  // no reply is ever read
    }
    // The abandoned request consumed its two sequence numbers (request and response)...
    std::uint32_t after = before;
    for (int i = 0; i < 100 && after == before; ++i) {
      std::this_thread::sleep_for(50ms);
      after = Seqno0(w, "vm1");
    }
    CHECK(after == before + 2);
    // ...and the next process's request is accepted: the counter and the VMPCK are intact.
    GuestReport(w, "vm1", w.t / "resp.bin", Hex64(9));
    CHECK(Seqno0(w, "vm1") == before + 4);
  }
  SUBCASE("clients killed with SIGKILL at random points of a report loop") {
    // Before the driver ran in the daemon, one SIGKILL between the firmware's answer and the
    // driver's write-back left the counter behind: the next request got AEAD_OFLOW, the driver
    // wiped VMPCK0, and every later request failed with ENOTTY.
    unsigned delay_ms = 7;
    for (int i = 0; i < 12; ++i) {
      SpawnOptions o;
      o.env = w.ClientEnv("vm1");
      Child c;
      c.Spawn({SEVEMU_UAPI_CLIENT_PATH, "guest", "loop", "--rounds", "200"}, o);
      delay_ms = (delay_ms * 37 + 11) % 180 + 5;  // 5..184 ms, a fixed sequence
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      c.Signal(SIGKILL);
      CHECK(c.Wait(kRunTimeout).has_value());
    }
    GuestReport(w, "vm1", w.t / "resp.bin", Hex64(10));
  }
}

TEST_CASE("a daemon with two platforms: SEVEMU_PLATFORM picks the one the devices act on") {
  World w(/*start=*/false);
  w.daemon.AddState(w.t / "p2");
  w.daemon.Start();
  // Configure only the second platform through its /dev/sev.
  w.platform = "p2";
  const Steps set = w.Client({"host", "set-config", "0", "0x1"});
  CHECK_STEP(set, "snp_set_config", "ret", "0");
  CHECK_STEP(set, "after.fields", "mask_chip_id", "1");
  w.platform = "";
  const Steps first = w.Client({"host", "status"});
  CHECK_STEP(first, "snp_platform_status.fields", "mask_chip_id", "0");
  w.platform = "nope";
  const Steps none = w.Client({"host", "status"});
  CHECK_STEP(none, "open", "ret", "-1");
  // A guest on the second platform, reached with SEVEMU_PLATFORM; its reports show the mask.
  w.platform = "p2";
  const RunResult l = w.Sevemu({"guest", "launch", "vm2", "--platform", "p2"});
  REQUIRE_MESSAGE(l.code == 0, l.err);
  const Bytes report = GuestReport(w, "vm2", w.t / "r2.bin", Hex64(4));
  CHECK(ChipId(report) == Bytes(64, 0));
  // The first platform has no such guest.
  w.platform = "";
  const Steps other = w.Client({"guest", "report", w.t / "r1.bin"}, "vm2");
  CHECK_STEP(other, "open", "ret", "-1");
}

TEST_CASE("configfs-tsm report entries through the shim") {
  World w;
  w.Launch("vm1", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  const Steps s = w.Client(
      {"tsm", "e2e0", w.t / "outblob.bin", w.t / "auxblob.bin", "--user-data", Hex64(0x11)}, "vm1");
  CHECK_STEP(s, "mkdir", "ret", "0");
  CHECK_STEP(s, "read_provider.fields", "value", "sev_guest");
  CHECK_STEP(s, "read_outblob_early", "errname", "EINVAL");  // no inblob yet
  CHECK_STEP(s, "write_inblob", "bytes", "64");
  CHECK_STEP(s, "read_generation.fields", "value", "1");
  CHECK_STEP(s, "read_outblob", "ret", "0");
  CHECK_STEP(s, "rmdir", "ret", "0");
  const Bytes report = ReadBytes(w.t / "outblob.bin");
  REQUIRE_MESSAGE(report.size() == kReportSize, ClientContext(s));
  CHECK(HexEncode(ReportData(report)) == Hex64(0x11));
  CHECK(Lower(HexEncode(HostData(report))) ==
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  CheckVerifies(report, ChainFromTable(ReadBytes(w.t / "auxblob.bin")));
}

}  // namespace
}  // namespace sevemu

namespace sevemu {

TEST_CASE("sevemu owner measure and secret: the guest owner's side of LAUNCH_MEASURE/SECRET") {
  World w(false);
  // A transport key file as `owner session` writes it (TEK ‖ TIK).
  Bytes tk(32);
  for (std::size_t i = 0; i < tk.size(); ++i) tk[i] = static_cast<std::uint8_t>(0x40 + i);
  const std::string tk_path = w.t / "tmp_tk.bin";
  test::WriteText(tk_path, std::string(tk.begin(), tk.end()));
  emulator::SevTransportKeys keys{SecretBytes(ByteSpan(tk).first(16)),
                                  SecretBytes(ByteSpan(tk).subspan(16))};
  // What the VMM launched, and the firmware's LAUNCH_MEASURE over it (computed here with the
  // firmware-side function, as the firmware would).
  const std::string image = w.t / "image.bin";
  test::WriteText(image, std::string(8192, 'x'));
  const Bytes image_bytes(8192, 'x');
  const std::vector<ByteSpan> launched = {image_bytes};
  auto digest = owner::LegacyLaunchDigest(launched);
  REQUIRE(digest.ok());
  const emulator::SevApiVersion api{1, 55, 21};
  emulator::SevMeasureOut m{};
  m.mnonce.fill(0x33);
  auto mac = emulator::ComputeSevMeasurement(keys.tik, api, 0x1, *digest, m.mnonce);
  REQUIRE(mac.ok());
  m.measurement = *mac;
  const auto m_bytes = emulator::SerializeSevMeasureOut(m);
  const std::string measure = w.t / "measure.bin";
  test::WriteText(measure, std::string(m_bytes.begin(), m_bytes.end()));

  auto owner_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SEVEMU_CLI_PATH, "owner"});
    return Run(w.t, std::move(args));
  };
  RunResult r = owner_cli({"measure", "--tk", tk_path, "--api", "1.55.21", "--policy", "0x1",
                           "--data", image, "--measurement", measure});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("measurement matches") != std::string::npos);
  // Another policy, build or image: refused in one line.
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"--policy", "0x3", "--api", "1.55.21", "--data", image},
           {"--policy", "0x1", "--api", "1.55.22", "--data", image},
           {"--policy", "0x1", "--api", "1.55.21", "--digest", std::string(64, '0')}}) {
    std::vector<std::string> args = {"measure", "--tk", tk_path, "--measurement", measure};
    args.insert(args.end(), bad.begin(), bad.end());
    r = owner_cli(args);
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));
  }
  CHECK(owner_cli({"measure", "--tk", tk_path, "--api", "1.55", "--measurement", measure, "--data",
                   image})
            .code == 2);

  // The secret: the firmware side opens the packet the CLI made, given the same measurement.
  const std::string secret = w.t / "secret.bin";
  test::WriteText(secret, "0123456789abcdef0123456789ABCDEF");
  r = owner_cli({"secret", "--tk", tk_path, "--api", "1.55.21", "--measurement", measure,
                 "--secret", secret, "--out", w.t / "pkt"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const Bytes hdr_bytes = ReadBytes(w.t / "pkt/packet_header.bin");
  const Bytes ct = ReadBytes(w.t / "pkt/encrypted_secret.bin");
  auto hdr = emulator::ParseSevPacketHeader(hdr_bytes);
  REQUIRE(hdr.ok());
  CHECK(ct != Bytes(AsBytes("0123456789abcdef0123456789ABCDEF").begin(),
                    AsBytes("0123456789abcdef0123456789ABCDEF").end()));
  auto plain = emulator::OpenSevLaunchSecret(keys, *hdr, static_cast<std::uint32_t>(ct.size()), ct,
                                             m.measurement);
  REQUIRE(plain.ok());
  CHECK(std::string(plain->span().begin(), plain->span().end()) ==
        "0123456789abcdef0123456789ABCDEF");
  emulator::SevMac other = m.measurement;
  other[0] ^= 1;
  CHECK_FALSE(
      emulator::OpenSevLaunchSecret(keys, *hdr, static_cast<std::uint32_t>(ct.size()), ct, other)
          .ok());
}

TEST_CASE("legacy SEV: a guest owner verifies the exported chain and makes a session for its PDH") {
  World w;
  const std::string chain = w.t / "chain";
  RunResult r = w.Sevemu({"host", "sev-export", chain});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  // The AMD part (ARK, ASK in AMD's format; the ASK-signed CEK) comes from the state directory.
  r = Run(w.t, {SEVEMU_CLI_PATH, "certs", "export", "--state", w.daemon.state(), "--out", chain});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  for (const char* f : {"pdh.cert", "pek.cert", "oca.cert", "cek.cert", "ask.cert", "ark.cert"}) {
    CHECK(std::filesystem::file_size(chain + "/" + f) ==
          (std::string(f).rfind("a", 0) == 0 ? 0x640u : 0x824u));
  }
  r = Run(w.t, {SEVEMU_CLI_PATH, "owner", "verify-chain", "--dir", chain});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("chain verifies") != std::string::npos);

  r = Run(w.t, {SEVEMU_CLI_PATH, "owner", "session", "--pdh", chain + "/pdh.cert", "--policy",
                "0x1", "--out", w.t / "owner"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(std::filesystem::file_size(w.t / "owner/godh.cert") == 0x824u);
  CHECK(std::filesystem::file_size(w.t / "owner/launch_blob.bin") == 0x80u);
  CHECK(std::filesystem::file_size(w.t / "owner/tmp_tk.bin") == 32u);
  CHECK((std::filesystem::status(w.t / "owner/tmp_tk.bin").permissions() &
         std::filesystem::perms::group_read) == std::filesystem::perms::none);

  // A chain whose PDH is not the one the PEK signed is refused, naming the link.
  std::filesystem::copy_file(chain + "/oca.cert", chain + "/pdh.cert",
                             std::filesystem::copy_options::overwrite_existing);
  r = Run(w.t, {SEVEMU_CLI_PATH, "owner", "verify-chain", "--dir", chain});
  CHECK(r.code == 1);
  CHECK(OneLine(r.err));
  CHECK(r.err.find("PDH") != std::string::npos);
}

TEST_CASE("legacy SEV and SEV-ES guests through the daemon: the guest owner's whole flow") {
  World w;
  const std::string chain = w.t / "chain";
  RunResult r = w.Sevemu({"host", "sev-export", chain});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto owner_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SEVEMU_CLI_PATH, "owner"});
    return Run(w.t, std::move(args));
  };
  const std::string mnonce = "00112233445566778899aabbccddeeff";
  for (const bool es : {false, true}) {
    CAPTURE(es);
    const std::string name = es ? "es-vm" : "sev-vm";
    const std::string policy = es ? "0x5" : "0x1";
    const std::string own = w.t / (name + "-owner");
    r = owner_cli({"session", "--pdh", chain + "/pdh.cert", "--policy", policy, "--out", own});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    // The SEV-ES launch gets its blobs as base64, as sevctl writes them for QEMU.
    std::string cert = own + "/godh.cert", session = own + "/launch_blob.bin";
    if (es) {
      test::WriteText(own + "/godh.b64", Base64(ReadBytes(cert)) + "\n");
      test::WriteText(own + "/session.b64", Base64(ReadBytes(session)) + "\n");
      cert = own + "/godh.b64";
      session = own + "/session.b64";
    }
    const std::string measure = w.t / (name + "-measure.bin");
    const auto g = w.SevemuJson({"guest", "launch", name, "--type", es ? "sev-es" : "sev",
                                 "--policy", policy, "--vcpus", es ? "2" : "1", "--dh-cert-file",
                                 cert, "--session-file", session, "--measurement-out", measure});
    CHECK(g["type"] == (es ? "sev-es" : "sev"));
    CHECK(g["state"] == "launch-secret");
    CHECK(std::filesystem::file_size(measure) == 0x30u);
    const std::string api = g["api"];

    // The owner checks the measurement from the image alone (the built-in one here).
    std::vector<std::string> measure_args = {
        "measure",       "--tk",  own + "/tmp_tk.bin", "--api",  api, "--policy", policy,
        "--measurement", measure, "--image",           "builtin"};
    if (es) {
      measure_args.insert(measure_args.end(), {"--type", "sev-es", "--vcpus", "2", "--vcpu-sig",
                                               g["vcpu_sig"].get<std::string>()});
    }
    r = owner_cli(measure_args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.find("measurement matches") != std::string::npos);
    if (es) {  // the wrong vCPU count is a different launch
      measure_args[measure_args.size() - 3] = "3";
      r = owner_cli(measure_args);
      CHECK(r.code == 1);
      CHECK(OneLine(r.err));
    }

    // The secret goes in, and the guest reads it at its secret area.
    const std::string secret = w.t / (name + "-secret.bin");
    std::string secret_text = "the launch secret of " + name;
    secret_text.resize(32, '.');
    test::WriteText(secret, secret_text);
    REQUIRE(std::filesystem::file_size(secret) == 32u);
    r = owner_cli({"secret", "--tk", own + "/tmp_tk.bin", "--api", api, "--measurement", measure,
                   "--secret", secret, "--out", own + "/pkt"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    // A packet whose MAC does not match is refused by the firmware, naming the command.
    Bytes bad_header = ReadBytes(own + "/pkt/packet_header.bin");
    bad_header[0x20] ^= 1;
    test::WriteText(own + "/bad_header.bin", std::string(bad_header.begin(), bad_header.end()));
    r = w.Sevemu({"guest", "inject-secret", name, "--header", own + "/bad_header.bin", "--secret",
                  own + "/pkt/encrypted_secret.bin"});
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));
    CHECK(r.err.find("LAUNCH_UPDATE_SECRET") != std::string::npos);
    r = w.Sevemu({"guest", "inject-secret", name, "--header", own + "/pkt/packet_header.bin",
                  "--secret", own + "/pkt/encrypted_secret.bin"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const std::uint64_t secret_gpa = g["secret_gpa"];
    r = w.Sevemu({"guest", "read", name, "--gpa", std::to_string(secret_gpa), "--len", "32"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const Bytes want = ReadBytes(secret);
    CHECK(r.out == HexEncode(want) + "\n");

    // The guest starts; secrets are refused from then on.
    const auto running = w.SevemuJson({"guest", "finish", name});
    CHECK(running["state"] == "running");
    CHECK(running["secret_injected"] == true);
    r = w.Sevemu({"guest", "inject-secret", name, "--header", own + "/pkt/packet_header.bin",
                  "--secret", own + "/pkt/encrypted_secret.bin"});
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));

    // ATTESTATION: the owner verifies it with the exported PEK.
    const std::string report = w.t / (name + "-report.bin");
    r = w.Sevemu({"guest", "attest", name, "--mnonce", mnonce, "--out", report});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    r = owner_cli({"verify-report", "--report", report, "--pek", chain + "/pek.cert", "--mnonce",
                   mnonce, "--policy", policy, "--digest",
                   running["launch_digest"].get<std::string>()});
    CHECK_MESSAGE(r.code == 0, r.err);
    r = owner_cli({"verify-report", "--report", report, "--pek", chain + "/pek.cert", "--mnonce",
                   std::string(32, '0')});
    CHECK(r.code == 1);
  }

  // A legacy guest has no /dev/sev-guest (Linux's driver only probes in SNP guests).
  if (ShimBuilt()) {
    const Steps in_sev = w.Client({"guest", "report", w.t / "r.bin"}, "sev-vm");
    CHECK_STEP(in_sev, "open", "errname", "ENOENT");
  }
  // Launch arguments that cannot work are refused in one line, and nothing is left behind.
  for (const auto& bad : std::vector<std::vector<std::string>>{
           {"guest", "launch", "x", "--type", "sev", "--policy", "0x5"},
           {"guest", "launch", "x", "--type", "sev", "--policy", "0x100000000"},
           {"guest", "launch", "x", "--type", "sev-es", "--dh-cert-file", chain + "/pdh.cert"},
           {"guest", "launch", "x", "--type", "sev", "--dh-cert-file", chain + "/pdh.cert",
            "--session-file", chain + "/pek.cert"},
           {"guest", "launch", "x", "--type", "tdx"},
           {"guest", "launch", "x", "--host-data", std::string(64, '0'), "--type", "sev"},
           {"guest", "attest", "sev-vm", "--mnonce", "00", "--out", w.t / "x.bin"},
           {"guest", "finish", "nosuch"}}) {
    CAPTURE(bad);
    r = w.Sevemu(bad);
    CHECK(r.code != 0);
    CHECK(OneLine(r.err));
  }
  const auto list = w.SevemuJson({"guest", "list"});
  CHECK(list["guests"].size() == 2);
  CHECK(w.HostStatus()["sev_state"] == "WORKING");  // legacy guests exist
  REQUIRE(w.Sevemu({"guest", "destroy", "sev-vm"}).code == 0);
  REQUIRE(w.Sevemu({"guest", "destroy", "es-vm"}).code == 0);
  CHECK(w.HostStatus()["sev_state"] == "INIT");  // the last DECOMMISSION
}

TEST_CASE("direct boot through the daemon: guest launch --kernel and owner measure agree") {
  // fixtures/launch/direct_boot.json: sev-snp-measure's digests for these files over the
  // built-in direct-boot image, which a launch with --kernel and no --image takes.
  World w;
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  const std::string dir = std::string(SEVEMU_FIXTURES_DIR) + "/launch/direct_boot";
  const std::vector<std::string> boot = {"--kernel", dir + "/vmlinuz",
                                         "--initrd", dir + "/initrd.img",
                                         "--append", "console=ttyS0 root=/dev/vda"};
  auto with_boot = [&boot](std::vector<std::string> args) {
    args.insert(args.end(), boot.begin(), boot.end());
    return args;
  };
  auto digest_of = [&fixture](const std::string& mode, int vcpus, const std::string& cpu) {
    for (const auto& c : fixture["cases"]) {
      if (c["mode"] == mode && c["vcpus"] == vcpus && c.contains("initrd") &&
          c.value("vcpu_type", cpu) == cpu) {
        return c["digest"].get<std::string>();
      }
    }
    FAIL("no case " << mode << " " << vcpus << " " << cpu);
    return std::string();
  };
  auto owner_cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SEVEMU_CLI_PATH, "owner"});
    return Run(w.t, std::move(args));
  };

  // SNP, two vCPUs of QEMU's EPYC-Milan: the report's MEASUREMENT is the tool's digest, and the
  // owner's prediction too.
  const std::string snp = digest_of("snp", 2, "EPYC-Milan");
  auto g = w.SevemuJson(
      with_boot({"guest", "launch", "kvm", "--vcpus", "2", "--vcpu-type", "EPYC-Milan"}));
  CHECK(Lower(g["measurement"].get<std::string>()) == snp);
  CHECK(g["direct_boot"] == true);
  RunResult r = owner_cli(with_boot({"measure", "--image", "builtin", "--type", "snp", "--vcpus",
                                     "2", "--vcpu-type", "EPYC-Milan"}));
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(Lower(r.out) == snp + "\n");
  r = w.Sevemu(with_boot({"guest", "show", "kvm"}));
  CHECK(r.out.find("direct boot") != std::string::npos);

  // SEV-ES with an owner session: the firmware's LAUNCH_MEASURE checks against the owner's
  // prediction from the same files.
  const std::string chain = w.t / "chain";
  r = w.Sevemu({"host", "sev-export", chain});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string own = w.t / "owner";
  r = owner_cli({"session", "--pdh", chain + "/pdh.cert", "--policy", "0x5", "--out", own});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string measure = w.t / "measure.bin";
  g = w.SevemuJson(with_boot({"guest", "launch", "es", "--type", "sev-es", "--vcpu-type", "EPYC-v4",
                              "--dh-cert-file", own + "/godh.cert", "--session-file",
                              own + "/launch_blob.bin", "--measurement-out", measure}));
  CHECK(Lower(g["launch_digest"].get<std::string>()) == digest_of("seves", 1, "EPYC-v4"));
  std::vector<std::string> check =
      with_boot({"measure", "--tk", own + "/tmp_tk.bin", "--api", g["api"].get<std::string>(),
                 "--policy", "0x5", "--measurement", measure, "--image", "builtin", "--type",
                 "sev-es", "--vcpu-type", "EPYC-v4"});
  r = owner_cli(check);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("measurement matches") != std::string::npos);
  check[check.size() - 1] = "console=ttyS1";  // another command line is another launch
  r = owner_cli(check);
  CHECK(r.code == 1);
  CHECK(OneLine(r.err));

  // The refusals: one line each, nothing launched.
  r = w.Sevemu({"guest", "launch", "x", "--initrd", dir + "/initrd.img"});
  CHECK(r.code == 2);
  CHECK(r.err.find("-initrd only allowed with -kernel option") != std::string::npos);
  const std::string plain = w.t / "plain.fd";
  r = owner_cli({"image", "--out", plain});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  r = w.Sevemu(with_boot({"guest", "launch", "x", "--image", plain}));
  CHECK(r.code == 1);
  CHECK_MESSAGE(OneLine(r.err), r.err);
  CHECK(r.err.find("SEV: kernel specified but guest firmware has no hashes table GUID") !=
        std::string::npos);
  CHECK(w.SevemuJson({"guest", "list"})["guests"].size() == 2);
}

TEST_CASE("sevemu guest migrate: legacy guests move between two platforms of one daemon") {
  World w(/*start=*/false);
  // A second chip (another seed): its own CEK, OCA, PEK and PDH.
  const std::string p2 = w.t / "p2";
  RunResult r = Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", p2, "--seed", "02"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  w.daemon.AddState(p2);
  w.daemon.Start();
  const std::string reset = "0xffffffc0";  // the image's last bytes: OVMF's reset vector
  auto read = [&](const std::string& name, const std::string& platform) {
    const RunResult m =
        w.Sevemu({"guest", "read", name, "--platform", platform, "--gpa", reset, "--len", "64"});
    REQUIRE_MESSAGE(m.code == 0, m.err);
    return m.out;
  };
  auto launch = [&](const std::string& name, const std::string& type, const std::string& policy) {
    REQUIRE(w.Sevemu({"guest", "launch", name, "--type", type, "--policy", policy}).code == 0);
    REQUIRE(w.Sevemu({"guest", "finish", name}).code == 0);
  };

  for (const bool es : {false, true}) {
    CAPTURE(es);
    const std::string name = es ? "es-vm" : "sev-vm";
    const std::string policy = es ? "0x25" : "0x21";  // NODBG, SEV (+ ES)
    launch(name, es ? "sev-es" : "sev", policy);
    const std::string before = read(name, "p");
    CHECK(before != std::string(128, '0') + "\n");
    r = w.Sevemu({"guest", "migrate", name, "--to", "p2"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.find("migrated " + name + " from p to p2") != std::string::npos);
    // Same memory, same policy, running on p2; gone from p.
    CHECK(read(name, "p2") == before);
    const auto g = w.SevemuJson({"guest", "show", name, "--platform", "p2"});
    CHECK(g["type"] == (es ? "sev-es" : "sev"));
    CHECK(g["policy"] == policy);
    CHECK(g["state"] == "running");
    CHECK(g["received"] == true);
    r = w.Sevemu({"guest", "show", name});
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));

    // ATTESTATION on p2, verified with p2's PEK: the kept policy, a zero launch digest
    // (RECEIVE_* does not carry it).
    const std::string chain = w.t / (name + "-p2-chain");
    REQUIRE(w.Sevemu({"host", "sev-export", chain, "--platform", "p2"}).code == 0);
    const std::string report = w.t / (name + "-report.bin");
    const std::string mnonce = "00112233445566778899aabbccddeeff";
    r = w.Sevemu(
        {"guest", "attest", name, "--platform", "p2", "--mnonce", mnonce, "--out", report});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    r = Run(w.t, {SEVEMU_CLI_PATH, "owner", "verify-report", "--report", report, "--pek",
                  chain + "/pek.cert", "--mnonce", mnonce, "--policy", policy, "--digest",
                  std::string(64, '0')});
    CHECK_MESSAGE(r.code == 0, r.err);
  }
  // The last source guest was decommissioned: p's legacy platform is back to INIT.
  CHECK(w.HostStatus()["guests"] == 0);
  CHECK(w.HostStatus()["sev_state"] == "INIT");
  // And back again, from p2 to p.
  r = w.Sevemu({"guest", "migrate", "sev-vm", "--platform", "p2", "--to", "p"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(w.SevemuJson({"guest", "show", "sev-vm"})["received"] == true);

  // Refusals: one line each, the source guest still running where it was.
  launch("nosend", "sev", "0x9");   // NOSEND
  launch("domain", "sev", "0x11");  // DOMAIN: p2's OCA is not p's
  REQUIRE(w.Sevemu({"guest", "launch", "snp-vm"}).code == 0);
  struct Refusal {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Refusal> refusals = {
      {{"guest", "migrate", "nosend", "--to", "p2"}, "SEND_START: POLICY_FAILURE"},
      {{"guest", "migrate", "domain", "--to", "p2"}, "SEND_START: POLICY_FAILURE"},
      {{"guest", "migrate", "nosend", "--to", "nope"}, "no platform named 'nope'"},
      {{"guest", "migrate", "nosend", "--to", "p"}, "already on platform 'p'"},
      {{"guest", "migrate", "snp-vm", "--to", "p2"}, "--trust-ark"},  // SNP: with agents
      {{"guest", "migrate", "ghost", "--to", "p2"}, "no guest named 'ghost'"},
      {{"guest", "migrate", "nosend"}, "--to"},
  };
  for (const Refusal& f : refusals) {
    CAPTURE(f.args);
    r = w.Sevemu(f.args);
    CHECK(r.code != 0);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK_MESSAGE(r.err.find(f.says) != std::string::npos, r.err);
  }
  for (const char* name : {"nosend", "domain"}) {
    CAPTURE(name);
    CHECK(w.SevemuJson({"guest", "show", name})["state"] == "running");
    CHECK(read(name, "p") != std::string(128, '0') + "\n");
    CHECK(w.Sevemu({"guest", "show", name, "--platform", "p2"}).code == 1);
  }
}

// SNP live migration with migration agents (docs/migration.md): a guest bound to its agent at
// launch moves from a Milan platform to a Genoa one and back, its pages swapped out under its
// OEK and its context carried by the two reference agents (`sevemu ma-agent`) over their own
// attested channel; the program inside it goes on with its message counter, and its reports
// on each platform verify with that platform's VCEK from the KDS.
TEST_CASE("sevemu guest migrate: an SNP guest moves between platforms with its migration agents") {
  World w(/*start=*/false);
  const std::string p2 = w.t / "p2";
  RunResult r =
      Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", p2, "--seed", "02", "--product", "genoa"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  w.daemon.AddState(p2);
  w.daemon.Start();
  Kds kds_p(w.t, w.daemon.state());
  Kds kds_p2(w.t, p2);
  const auto status_p = w.HostStatus();
  const auto status_p2 =
      nlohmann::json::parse(w.Sevemu({"host", "status", "--platform", "p2"}).out);
  // The agents trust AMD's roots of both products, as the KDS serves them.
  std::vector<std::string> trust;
  for (const auto& [kds, product] : {std::pair{&kds_p, status_p["product"].get<std::string>()},
                                     std::pair{&kds_p2, status_p2["product"].get<std::string>()}}) {
    const HttpResponse chain = kds->Get("/vcek/v1/" + product + "/cert_chain");
    REQUIRE(chain.status == 200);
    const std::string file = w.t / ("ark-" + product + ".pem");
    test::WriteText(file, SplitPem(chain.body).at(1));
    trust.insert(trust.end(), {"--trust-ark", file});
  }
  auto migrate = [&](const std::string& name, const std::string& from, const std::string& to,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"guest", "migrate", name, "--platform", from, "--to", to};
    args.insert(args.end(), trust.begin(), trust.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return w.Sevemu(args);
  };
  // The agents: one per platform, the same image and vCPU model (so the same MEASUREMENT, which
  // is what each agent checks of the other); a guest bound to p's.
  REQUIRE(w.Sevemu({"guest", "launch", "ma"}).code == 0);
  REQUIRE(w.Sevemu({"guest", "launch", "ma", "--platform", "p2", "--vcpu-sig", "0xa00f10"}).code ==
          0);
  // 8 MiB more than the built-in image: 2075 pages, 33 METADATA pages and one under the root.
  const auto g = w.Launch("vm", "", {"--migration-agent", "ma", "--memory", "8M"});
  CHECK(g["policy"] == "0x70000");  // MIGRATE_MA added to the default policy
  CHECK(g["migration_agent"] == "ma");
  const std::uint64_t secrets = g["secrets_gpa"].get<std::uint64_t>();

  // A secret pattern in the guest's private memory, and its VMPCKs, to look for in what the
  // host carries.
  const std::uint64_t secret_gpa = 0x1400800;  // in the added memory
  Bytes pattern(64);
  for (std::size_t i = 0; i < pattern.size(); ++i)
    pattern[i] = static_cast<std::uint8_t>(0xA5 ^ (i * 7));
  Bytes vmpcks;
  {
    auto c = protocol::Client::Connect(w.daemon.socket(), R"({"role":"guest","guest":"vm"})");
    REQUIRE(c.ok());
    auto wr = c->Call(protocol::MsgType::kGuestMemWrite,
                      protocol::EncodeGuestMemWrite({secret_gpa, pattern}));
    REQUIRE((wr.ok() && wr->ok()));
    auto rd = c->Call(protocol::MsgType::kGuestMemRead,
                      protocol::EncodeGuestMemRead({secrets + 0x20, 128}));
    REQUIRE((rd.ok() && rd->ok()));
    vmpcks = rd->payload;
  }
  auto read = [&](const std::string& what, const std::string& platform, std::uint64_t gpa,
                  int len) {
    const RunResult m = w.Sevemu({"guest", "read", what, "--platform", platform, "--gpa",
                                  std::to_string(gpa), "--len", std::to_string(len)});
    REQUIRE_MESSAGE(m.code == 0, m.err);
    return m.out;
  };
  auto counter = [&](const std::string& platform) {
    return std::stoul(read("vm", platform, secrets + 0xA0, 4).substr(0, 2), nullptr, 16);
  };
  auto report_in = [&](const std::string& guest, const std::string& platform) {
    w.platform = platform;
    const Bytes rep = GuestReport(w, guest, w.t / "resp.bin", Hex64(0x21));
    w.platform.clear();
    return rep;
  };
  const std::string memory_before = read("vm", "p", 0xFFFF0000, 4096);
  const Bytes ma_p = report_in("ma", "p"), ma_p2 = report_in("ma", "p2");
  const Bytes before = report_in("vm", "p");
  CheckVerifies(before, FetchVcekChain(kds_p, status_p["product"], before));
  CHECK(Slice(before, 0x160, 32) == Slice(ma_p, 0x140, 32));  // REPORT_ID_MA = MA's REPORT_ID
  const unsigned long seq = counter("p");

  // Refusals, each with the firmware's status, and the guest runs on where it was.
  REQUIRE(w.Sevemu({"guest", "launch", "plain"}).code == 0);  // no agent, no MIGRATE_MA
  REQUIRE(w.Sevemu({"guest", "launch", "ma2"}).code == 0);
  struct Refusal {
    std::string guest;
    std::vector<std::string> extra;
    std::string says;
  };
  const std::vector<Refusal> refusals = {
      {"plain", {}, "has no migration agent"},
      {"plain", {"--agent", "ma"}, "MSG_EXPORT_REQ: INVALID_GUEST"},  // policy: no MA bound
      {"vm", {"--agent", "ma2", "--to-agent", "ma"}, "MSG_EXPORT_REQ: INVALID_GUEST"},  // not vm's
      {"vm", {"--to-agent", "nope"}, "no guest named 'nope'"},
  };
  for (const Refusal& f : refusals) {
    CAPTURE(f.guest);
    CAPTURE(f.extra);
    r = migrate(f.guest, "p", "p2", f.extra);
    CHECK(r.code == 1);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK_MESSAGE(r.err.find(f.says) != std::string::npos, r.err);
    const auto still = w.SevemuJson({"guest", "show", f.guest});
    CHECK(still["swapped_pages"] == 0);
    CHECK(still["migrating"] == false);
    CHECK(w.Sevemu({"guest", "show", f.guest, "--platform", "p2"}).code == 1);
  }
  CHECK(w.Sevemu({"guest", "migrate", "vm", "--to", "p2"}).code == 2);  // no --trust-ark
  CHECK(read("vm", "p", 0xFFFF0000, 4096) == memory_before);
  CHECK(counter("p") == seq);
  const Bytes after_refusals = report_in("vm", "p");
  CheckVerifies(after_refusals, FetchVcekChain(kds_p, status_p["product"], after_refusals));

  // p -> p2, recording every byte the host carried.
  const std::string rec = w.t / "carried";
  r = migrate("vm", "p", "p2", {"--record", rec});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("migrated vm from p to p2") != std::string::npos);
  CHECK(w.Sevemu({"guest", "show", "vm"}).code == 1);  // the source holds nothing of it
  const auto moved = w.SevemuJson({"guest", "show", "vm", "--platform", "p2"});
  CHECK(moved["pages"] == 2075);        // every data page (the vCPU's VMSA is not carried)
  CHECK(moved["metadata_pages"] == 0);  // the tree (33 + 1 pages) used up and given back
  CHECK(moved["migration_agent"] == "ma");
  CHECK(moved["measurement"] == g["measurement"]);
  CHECK(moved["policy"] == g["policy"]);
  CHECK(read("vm", "p2", 0xFFFF0000, 4096) == memory_before);
  CHECK(read("vm", "p2", secret_gpa, 64) == Lower(HexEncode(pattern)) + "\n");
  CHECK(counter("p2") == seq + 2);  // the driver's counter came along, the last report's

  // What the host carried: pages under the OEK, the agents' frames. No plaintext in it (and
  // the same scan finds the pattern in the guest's own view of that page).
  auto holds = [](const std::string& text, ByteSpan needle) {
    const Bytes bytes(text.begin(), text.end());
    return std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end()) != bytes.end();
  };
  REQUIRE(w.Sevemu({"guest", "read", "vm", "--platform", "p2", "--gpa", std::to_string(secret_gpa),
                    "--len", "4096", "--out", w.t / "plain.bin"})
              .code == 0);
  CHECK(holds(test::ReadText(w.t / "plain.bin"), pattern));
  std::size_t carried = 0;
  for (const auto& e : std::filesystem::directory_iterator(rec)) {
    const std::string bytes = test::ReadText(e.path());
    carried += bytes.size();
    CHECK_MESSAGE(!holds(bytes, pattern), e.path());
    for (int k = 0; k < 4; ++k) {
      CHECK_MESSAGE(!holds(bytes, ByteSpan(vmpcks).subspan(32 * k, 32)), e.path());
    }
  }
  CHECK(carried > 4096 * moved["pages"].get<std::size_t>());

  // The program in the guest on p2: the next sequence number works, the report is p2's.
  const Bytes on_p2 = report_in("vm", "p2");
  CHECK(counter("p2") == seq + 4);
  CheckVerifies(on_p2, FetchVcekChain(kds_p2, status_p2["product"], on_p2));
  CHECK(Lower(HexEncode(ChipId(on_p2))) == Lower(status_p2["chip_id"].get<std::string>()));
  CHECK(Measurement(on_p2) == Measurement(before));
  CHECK(Slice(on_p2, 0x160, 32) == Slice(ma_p2, 0x140, 32));   // bound to p2's agent now
  CHECK(Slice(on_p2, 0x140, 32) != Slice(before, 0x140, 32));  // a fresh REPORT_ID
  CHECK(Slice(on_p2, 0x1F0, 8) == Slice(before, 0x180, 8));    // LAUNCH_TCB: p's
  CHECK(Slice(on_p2, 0x180, 8) != Slice(before, 0x180, 8));    // REPORTED_TCB: p2's
  // The VCEK of p does not verify it.
  const auto wrong = test::VerifyAttestationReport(
      on_p2, FetchVcekChain(kds_p, status_p["product"], before).leaf,
      FetchVcekChain(kds_p, status_p["product"], before).intermediate,
      FetchVcekChain(kds_p, status_p["product"], before).ark, std::time(nullptr));
  CHECK_FALSE(wrong.ok);

  // And back: p2 -> p, with p's agent.
  r = migrate("vm", "p2", "p");
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(w.Sevemu({"guest", "show", "vm", "--platform", "p2"}).code == 1);
  const Bytes back = report_in("vm", "p");
  CheckVerifies(back, FetchVcekChain(kds_p, status_p["product"], back));
  CHECK(Measurement(back) == Measurement(before));
  CHECK(Slice(back, 0x160, 32) == Slice(ma_p, 0x140, 32));
  CHECK(Slice(back, 0x1F0, 8) == Slice(before, 0x180, 8));
  CHECK(counter("p") == seq + 6);
  CHECK(read("vm", "p", 0xFFFF0000, 4096) == memory_before);
}

TEST_CASE("legacy SEV: the platform identity survives daemon restarts (sev-nv.json)") {
  World w;
  const std::string nv = w.daemon.state() + "/sev-nv.json";
  auto exported = [&w](const std::string& name) {
    const std::string dir = w.t / name;
    const RunResult r = w.Sevemu({"host", "sev-export", dir});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    std::map<std::string, Bytes> chain;
    for (const char* f : {"pdh.cert", "pek.cert", "oca.cert"}) chain[f] = ReadBytes(dir + "/" + f);
    return chain;
  };
  // The host's boot INIT made the identity; the daemon wrote it before serving anyone.
  const auto first = exported("first");
  REQUIRE(std::filesystem::exists(nv));
  CHECK((std::filesystem::status(nv).permissions() & std::filesystem::perms::all) ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  // PEK_GEN: a new OCA, PEK and PDH, not the seeded platform's first ones.
  const Steps s = w.Client({"host", "legacy-status"});
  CHECK_STEP(s, "sev_pek_gen", "ret", "0");
  const auto regenerated = exported("regenerated");
  CHECK(regenerated.at("pdh.cert") != first.at("pdh.cert"));
  CHECK(regenerated.at("oca.cert") != first.at("oca.cert"));
  // Killed: what the command changed was written when it ran.
  w.daemon.KillHard();
  w.daemon.Start();
  CHECK(exported("after-kill") == regenerated);
  // Stopped cleanly: the same again.
  REQUIRE(w.daemon.Stop() == 0);
  w.daemon.Start();
  CHECK(exported("after-stop") == regenerated);
  CHECK(w.daemon.Log().find("PRIVATE KEY") == std::string::npos);
  // A store that is not this chip's is refused at start, in one line naming the field.
  REQUIRE(w.daemon.Stop() == 0);
  std::string text = test::ReadText(nv);
  const auto at = text.find("\"pdh_cert\": \"") + 14 + 2 * 0x41C;  // signature 1, byte 0 of r
  text[at] = text[at] == '0' ? '1' : '0';
  test::WriteText(nv, text);
  const RunResult r = Run(w.t, {SEVEMU_CLI_PATH, "serve", "--check", "--state", w.daemon.state()});
  CHECK(r.code == 1);
  CHECK(OneLine(r.err));
  CHECK(r.err.find("sev-nv.json.pdh_cert is not signed by the PEK") != std::string::npos);
  CHECK(r.err.find("PRIVATE KEY") == std::string::npos);
}

}  // namespace sevemu

namespace sevemu {

// ---------------------------------------------------------------------------------------------
// sevemu run: the same devices through seccomp user notification, for programs the shim cannot
// reach (static binaries, Go).

namespace {

// `sevemu run [run_opts] -- args...` against w's daemon.
RunResult SevemuRun(World& w, std::vector<std::string> run_opts, std::vector<std::string> args,
                    const Env& env = {}) {
  std::vector<std::string> all = {SEVEMU_CLI_PATH, "run", "--socket", w.daemon.socket()};
  all.insert(all.end(), run_opts.begin(), run_opts.end());
  all.push_back("--");
  all.insert(all.end(), args.begin(), args.end());
  return Run(w.t, std::move(all), env);
}

// Whether this kernel lets `sevemu run` work; when not, the test says so and is skipped.
bool RunSupported(World& w) {
  static std::optional<bool> supported;
  if (!supported) {
    const RunResult r = SevemuRun(w, {}, {"/bin/true"});
    supported = r.code == 0;
    if (!*supported) MESSAGE("skipped: sevemu run is not available on this kernel: " << r.err);
  }
  return *supported;
}

// The static C client under `sevemu run`.
Steps RunClient(World& w, std::vector<std::string> args, const std::string& guest = "") {
  args.insert(args.begin(), SEVEMU_UAPI_CLIENT_STATIC_PATH);
  std::vector<std::string> opts;
  if (!guest.empty()) opts = {"--guest", guest};
  const RunResult r = SevemuRun(w, opts, std::move(args));
  Steps s = ParseSteps(r.out);
  s.code = r.code;
  s.err = r.err;
  REQUIRE_MESSAGE(r.code == 0, ClientContext(s));
  return s;
}

std::string Text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

// tests/e2e/go_client built with Debian's golang-go into w's temp dir; "" (the test says why
// and is skipped) when Go is not installed.
std::string BuildGoClient(World& w) {
  if (!std::filesystem::exists("/usr/bin/go")) {
    MESSAGE("skipped: golang-go is not installed (scripts/install-deps.sh installs it)");
    return "";
  }
  // Built offline from the test's sources: no module download, caches inside the temp dir.
  const std::string src = w.t / "go_client";
  std::filesystem::copy(SEVEMU_GO_CLIENT_DIR, src);
  const std::string bin = w.t / "goclient";
  const RunResult built =
      Run(w.t, {"/bin/sh", "-c", "cd '" + src + "' && exec /usr/bin/go build -o '" + bin + "' ."},
          {{"GOFLAGS", "-mod=mod"},
           {"GOPROXY", "off"},
           {"GOCACHE", w.t / "gocache"},
           {"GOPATH", w.t / "gopath"},
           {"HOME", w.t.path()},
           {"CGO_ENABLED", "0"}},
          std::chrono::seconds(240));
  REQUIRE_MESSAGE(built.code == 0, built.err);
  return bin;
}

}  // namespace

TEST_CASE("sevemu run: a static C program gets a report that verifies, and /dev/sev") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1");
  const Steps s =
      RunClient(w, {"guest", "report", w.t / "resp.bin", "--user-data", Hex64(9)}, "vm1");
  CHECK_STEP(s, "open", "ret", "0");
  CHECK_STEP(s, "snp_get_report", "ret", "0");
  CHECK_STEP(s, "snp_get_report", "exitinfo2", "0x5a5a5a5a5a5a5a5a");  // no copy-back on success
  CHECK_STEP(s, "snp_get_report.fields", "status", "0x0");
  const Bytes report = ReportFromResp(w.t / "resp.bin");
  CHECK(HexEncode(ReportData(report)) == Hex64(9));
  Kds kds(w.t, w.daemon.state());
  const auto status = w.HostStatus();
  CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));

  // /dev/sev from the host, with the ccp driver's answers.
  const Steps h = RunClient(w, {"host", "status"});
  CHECK_STEP(h, "snp_platform_status", "ret", "0");
  CHECK_STEP(h, "snp_platform_status", "error", "0x0");
  CHECK_STEP(h, "snp_platform_status.fields", "guest_count", "1");
  const Steps u = RunClient(w, {"host", "unknown"});
  CHECK_STEP(u, "other_ioctl", "errname", "EINVAL");
  CHECK_STEP(u, "other_ioctl", "error", "0xa5a5a5a5");
  // Bad pointers in the program's memory are EFAULT where the kernel's are.
  const Steps f = RunClient(w, {"host", "efault"});
  CHECK_STEP(f, "bad_arg", "errname", "EFAULT");
  CHECK_STEP(f, "set_config_bad_data", "errname", "EFAULT");
  const Steps g = RunClient(w, {"guest", "bad-ptr"}, "vm1");
  CHECK_STEP(g, "bad_req", "errname", "EFAULT");
  // Outside a guest there is no /dev/sev-guest.
  const Steps none = RunClient(w, {"guest", "report", w.t / "x.bin"});
  CHECK_STEP(none, "open", "errname", "ENOENT");
}

TEST_CASE("sevemu run: derived keys equal the shim's; fork inside works") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1");
  const Steps run_key = RunClient(w, {"guest", "key", w.t / "run.key"}, "vm1");
  CHECK_STEP(run_key, "snp_get_derived_key", "ret", "0");
  if (ShimBuilt()) {
    const Steps shim_key = w.Client({"guest", "key", w.t / "shim.key"}, "vm1");
    CHECK_STEP(shim_key, "snp_get_derived_key", "ret", "0");
    CHECK(ReadBytes(w.t / "run.key") == ReadBytes(w.t / "shim.key"));
  }
  const Steps s = RunClient(w, {"guest", "fork", w.t / "fork", "--rounds", "3"}, "vm1");
  CHECK_STEP(s, "child_exit", "code", "0");
  const RunResult got = w.Sevemu({"host", "certs-get", w.t / "table.bin"});
  REQUIRE_MESSAGE(got.code == 0, got.err);
  const CertChain chain = ChainFromTable(ReadBytes(w.t / "table.bin"));
  for (const char* who : {"parent", "child"}) {
    for (int r = 0; r < 3; ++r) {
      const std::string step = std::string(who) + "." + std::to_string(r);
      CHECK_STEP(s, step, "ret", "0");
      CheckVerifies(ReadBytes(w.t / ("fork." + step)), chain);
    }
  }
  // exec: a shell runs the client, which inherits nothing but finds the devices anew.
  const RunResult sh = SevemuRun(
      w, {"--guest", "vm1"},
      {"/bin/sh", "-c",
       std::string(SEVEMU_UAPI_CLIENT_STATIC_PATH) + " guest report " + (w.t / "sh.bin")});
  CHECK_MESSAGE(sh.code == 0, sh.err);
  CHECK(ParseSteps(sh.out).Ret("snp_get_report") == "0");
}

TEST_CASE("sevemu run: a Go program's raw ioctls and MSR probe are served, from many threads") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1");
  const std::string bin = BuildGoClient(w);
  if (bin.empty()) return;
  const RunResult r = SevemuRun(w, {"--guest", "vm1"}, {bin, "report", w.t / "go.bin", Hex64(3)});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const Steps s = ParseSteps(r.out);
  CHECK_STEP(s, "open", "ret", "0");
  for (int i = 0; i < 4; ++i) CHECK_STEP(s, "report." + std::to_string(i), "ret", "0");
  const Bytes report = ReportFromResp(w.t / "go.bin");
  CHECK(HexEncode(ReportData(report)) == Hex64(3));
  Kds kds(w.t, w.daemon.state());
  const auto status = w.HostStatus();
  CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));
  const RunResult st = SevemuRun(w, {}, {bin, "status"});
  CHECK_STEP(ParseSteps(st.out), "status", "ret", "0");
  CHECK_STEP(ParseSteps(st.out), "status", "api_major", "1");
  // SEV_STATUS inside an SNP guest: SEV, SEV-ES and SNP enabled (bits 0-2).
  const RunResult msr = SevemuRun(w, {"--guest", "vm1"}, {bin, "msr"});
  CHECK_STEP(ParseSteps(msr.out), "msr", "sev_status", "0x7");
}

TEST_CASE("sevemu run: configfs-tsm for a static C program, a Go program and a shell") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  const RunResult table = w.Sevemu({"host", "certs-get", w.t / "table.bin"});
  REQUIRE_MESSAGE(table.code == 0, table.err);
  const CertChain chain = ChainFromTable(ReadBytes(w.t / "table.bin"));

  // The static C client: the shim's configfs test, step for step.
  const Steps s = RunClient(
      w, {"tsm", "e2e0", w.t / "outblob.bin", w.t / "auxblob.bin", "--user-data", Hex64(0x11)},
      "vm1");
  CHECK_STEP(s, "mkdir", "ret", "0");
  CHECK_STEP(s, "read_provider.fields", "value", "sev_guest");
  CHECK_STEP(s, "read_outblob_early", "errname", "EINVAL");  // no inblob yet
  CHECK_STEP(s, "write_inblob", "bytes", "64");
  CHECK_STEP(s, "read_generation.fields", "value", "1");
  CHECK_STEP(s, "read_outblob", "ret", "0");
  CHECK_STEP(s, "rmdir", "ret", "0");
  const Bytes report = ReadBytes(w.t / "outblob.bin");
  REQUIRE_MESSAGE(report.size() == kReportSize, ClientContext(s));
  CHECK(HexEncode(ReportData(report)) == Hex64(0x11));
  CHECK(Lower(HexEncode(HostData(report))) ==
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100");
  CheckVerifies(report, ChainFromTable(ReadBytes(w.t / "auxblob.bin")));
  CheckVerifies(report, chain);

  // A Go program: os.Mkdir, os.ReadDir of the report directory and of the entry (getdents on
  // the directories' views), os.WriteFile, os.ReadFile, os.Remove.
  const std::string bin = BuildGoClient(w);
  if (!bin.empty()) {
    const RunResult r = SevemuRun(w, {"--guest", "vm1"},
                                  {bin, "tsm", "go0", w.t / "go.out", w.t / "go.aux", Hex64(0x22)});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    const Steps g = ParseSteps(r.out);
    CHECK_STEP(g, "mkdir", "ret", "0");
    CHECK_STEP(g, "list_root", "names", "go0");
    CHECK_STEP(g, "list_entry", "names",
               "auxblob,generation,inblob,outblob,privlevel,privlevel_floor,provider");
    CHECK_STEP(g, "read_generation", "value", "1");
    CHECK_STEP(g, "read_outblob", "ret", "0");
    CHECK_STEP(g, "rmdir", "gone", "true");
    const Bytes go_report = ReadBytes(w.t / "go.out");
    REQUIRE_MESSAGE(go_report.size() == kReportSize, r.out);
    CHECK(HexEncode(ReportData(go_report)) == Hex64(0x22));
    CheckVerifies(go_report, chain);
  }

  // One entry, many processes: a shell's mkdir, `>` redirection, cat, ls and rmdir are each a
  // process of their own; the store made by one is what the next one reads.
  const std::string d = "/sys/kernel/config/tsm/report/sh1";
  const std::string script =
      "mkdir " + d + " && printf %064d 7 > " + d + "/inblob && cat " + d + "/generation && ls " +
      d + "/.. && test -d " + d + " && test -f " + d + "/outblob && test ! -e " + d +
      "/nothing && cat " + d + "/outblob > " + (w.t / "sh.out") + " && ls -l " + d +
      "/outblob | cut -c1-10 && rmdir " + d + " && ls /sys/kernel/config/tsm/report && echo done";
  const RunResult sh = SevemuRun(w, {"--guest", "vm1"}, {"/bin/sh", "-c", script});
  CHECK_MESSAGE(sh.code == 0, sh.err);
  CHECK(sh.out == "1\nsh1\n-r--r--r--\ndone\n");
  const Bytes sh_report = ReadBytes(w.t / "sh.out");
  REQUIRE(sh_report.size() == kReportSize);
  CHECK(Text(ReportData(sh_report)) == std::string(63, '0') + "7");
  CheckVerifies(sh_report, chain);

  // Outside a guest there is no configfs-tsm.
  const RunResult host = SevemuRun(w, {}, {"/bin/mkdir", d});
  CHECK(host.code != 0);

  // --launch's guest takes its entries with it; vm1's stay (the directory views are gone).
  const RunResult eph = SevemuRun(w, {"--launch"}, {"/bin/mkdir", d});
  CHECK_MESSAGE(eph.code == 0, eph.err);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(w.t / "tsm/default")) {
    left.push_back(e.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"vm1", "vm1.pending", "vm1.views"});
  CHECK(std::filesystem::is_empty(w.t / "tsm/default/vm1.views"));
}

TEST_CASE("sevemu run: \"..\" in configfs-tsm walks through directories that exist") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1");
  const std::string r = "/sys/kernel/config/tsm/report";
  const std::string script = "mkdir " + r + "/e && test -d " + r + "/e/.. && echo up; cat " + r +
                             "/e/../e/provider; mkdir " + r + "/gone && rmdir " + r +
                             "/gone && { test -e " + r + "/gone/.. || echo gone; }; cat " + r +
                             "/e/inblob/../provider 2>/dev/null || echo notdir; rmdir " + r + "/e";
  const RunResult sh = SevemuRun(w, {"--guest", "vm1"}, {"/bin/sh", "-c", script});
  CHECK_MESSAGE(sh.code == 0, sh.err);
  CHECK(sh.out == "up\nsev_guest\ngone\nnotdir\n");
}

TEST_CASE("the shim answers the probes `sevemu run` answers: stat, lstat, statx, access") {
  World w;
  REQUIRE(ShimBuilt());
  // dash's `test` calls stat64 and faccessat, coreutils' stat statx, ls lstat: all through
  // glibc, so the shim sees them.
  const std::string host_probe =
      "stat -c %F /dev/sev; test -c /dev/sev && echo chr; test -e "
      "/sys/module/kvm_amd/parameters/sev "
      "&& echo kvm; test -r /sys/module/kvm_amd/parameters/sev_snp && echo readable; "
      "test -e /dev/sev-guest || echo no-guest-dev; test -d /sys/devices/platform/sev-guest || "
      "echo no-sysfs";
  const RunResult host = Run(w.t, {"/bin/sh", "-c", host_probe}, w.ClientEnv(""));
  CHECK_MESSAGE(host.out == "character special file\nchr\nkvm\nreadable\nno-guest-dev\nno-sysfs\n",
                host.err);
  w.Launch("vm1");
  const std::string guest_probe =
      "stat -c %F /dev/sev-guest; test -r /dev/sev-guest && echo readable; test -d "
      "/sys/devices/platform/sev-guest && echo sysfs; ls -ld /sys/bus/platform/devices/sev-guest "
      "| cut -c1; test -e /sys/module/kvm_amd/parameters/sev || echo no-kvm; test -d "
      "/sys/kernel/config/tsm/report && echo tsm";
  const RunResult guest = Run(w.t, {"/bin/sh", "-c", guest_probe}, w.ClientEnv("vm1"));
  CHECK_MESSAGE(guest.out == "character special file\nreadable\nsysfs\nd\nno-kvm\ntsm\n",
                guest.err);
  // The same script under `sevemu run` says the same.
  if (RunSupported(w)) {
    CHECK(SevemuRun(w, {}, {"/bin/sh", "-c", host_probe}).out == host.out);
    CHECK(SevemuRun(w, {"--guest", "vm1"}, {"/bin/sh", "-c", guest_probe}).out == guest.out);
  }
  // Paths that are not ours are the kernel's: a missing file stays missing, a real one real.
  const RunResult other = Run(w.t,
                              {"/bin/sh", "-c",
                               "test -e /dev/sevx || echo none; stat -c %F /dev/null; test -e "
                               "/sys/devices/platform/sev-guest-not || echo none"},
                              w.ClientEnv("vm1"));
  CHECK(other.out == "none\ncharacter special file\nnone\n");
}

#ifdef SEVEMU_XSTAT_CLIENT_PATH
TEST_CASE("the shim answers __xstat, __lxstat and __fxstatat as it answers stat") {
  World w;
  REQUIRE(ShimBuilt());
  const std::vector<std::string> args = {SEVEMU_XSTAT_CLIENT_PATH, "/dev/sev",
                                         "/sys/module/kvm_amd/parameters/sev", "/dev/null",
                                         "/dev/sevx"};
  const RunResult shim = Run(w.t, args, w.ClientEnv(""));
  CHECK_MESSAGE(shim.code == 0, shim.err);
  CHECK(shim.out ==
        "/dev/sev c c c\n/sys/module/kvm_amd/parameters/sev f f f\n/dev/null c c c\n"
        "/dev/sevx - - -\nbadver -1 Invalid argument\n");
  // Without the shim the same calls see the machine as it is.
  const RunResult plain = Run(w.t, args);
  CHECK(plain.out.rfind("/dev/sev - - -\n", 0) == 0);
}
#endif

TEST_CASE("the shim lists configfs-tsm: ls of the report directory and of an entry") {
  World w;
  REQUIRE(ShimBuilt());
  w.Launch("vm1");
  const std::string r = "/sys/kernel/config/tsm/report";
  const RunResult ls = Run(w.t,
                           {"/bin/sh", "-c",
                            "mkdir " + r + "/a && mkdir " + r + "/b && ls " + r + " && ls " + r +
                                "/a && ls /sys/kernel/config/tsm && rmdir " + r + "/b && ls " + r},
                           w.ClientEnv("vm1"));
  CHECK_MESSAGE(ls.code == 0, ls.err);
  CHECK(ls.out ==
        "a\nb\nauxblob\ngeneration\ninblob\noutblob\nprivlevel\nprivlevel_floor\nprovider\n"
        "report\na\n");
  // Every view went at its closedir.
  bool left = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(w.t / "tsm")) {
    if (e.path().string().find(".views/shim-") != std::string::npos &&
        e.path().filename().string().rfind("view.", 0) == 0) {
      left = true;
    }
  }
  CHECK_FALSE(left);
  // An entry that does not exist does not list.
  const RunResult none = Run(w.t, {"/bin/ls", r + "/nothing"}, w.ClientEnv("vm1"));
  CHECK(none.code != 0);
}

TEST_CASE("configfs-tsm entries are shared by `sevemu run` and the shim") {
  World w;
  if (!RunSupported(w) || !ShimBuilt()) return;
  w.Launch("vm1");
  const std::string d = "/sys/kernel/config/tsm/report/both";
  const RunResult made = SevemuRun(w, {"--guest", "vm1"}, {"/bin/mkdir", d});
  REQUIRE_MESSAGE(made.code == 0, made.err);
  // The shim sees the entry run made (stat, interposed), stores an inblob into it...
  const RunResult shim =
      Run(w.t,
          {"/bin/sh", "-c",
           "test -d " + d + " && printf %064d 5 > " + d + "/inblob && cat " + d + "/generation"},
          w.ClientEnv("vm1"));
  CHECK_MESSAGE(shim.code == 0, shim.err);
  CHECK(shim.out == "1\n");
  // ... and run reads the report of that inblob, then removes the entry.
  const RunResult got = SevemuRun(
      w, {"--guest", "vm1"},
      {"/bin/sh", "-c", "cat " + d + "/outblob > " + (w.t / "both.out") + " && rmdir " + d});
  CHECK_MESSAGE(got.code == 0, got.err);
  const Bytes report = ReadBytes(w.t / "both.out");
  REQUIRE(report.size() == kReportSize);
  CHECK(Text(ReportData(report)) == std::string(63, '0') + "5");
  const RunResult gone = Run(w.t, {"/bin/sh", "-c", "test -e " + d}, w.ClientEnv("vm1"));
  CHECK(gone.code == 1);
}

TEST_CASE("sevemu run: exit status, unrelated files and the probes' view of the machine") {
  World w;
  if (!RunSupported(w)) return;
  CHECK(SevemuRun(w, {}, {"/bin/sh", "-c", "exit 7"}).code == 7);
  CHECK(SevemuRun(w, {}, {"/bin/sh", "-c", "kill -9 $$"}).code == 128 + 9);
  const RunResult missing = SevemuRun(w, {}, {w.t / "no-such-program"});
  CHECK(missing.code == 127);
  CHECK(OneLine(missing.err));
  // Files and descriptors that are not ours are the kernel's, byte for byte.
  const std::string script = "echo hello > " + (w.t / "f") + " && cat " + (w.t / "f") +
                             " && stat -c %s:%F " + (w.t / "f") + " /dev/null && ls " + w.t.path() +
                             " >/dev/null && cat /dev/sev 2>/dev/null; echo $?";
  const RunResult plain = Run(w.t, {"/bin/sh", "-c", script});
  const RunResult under = SevemuRun(w, {}, {"/bin/sh", "-c", script});
  CHECK(under.code == 0);
  CHECK(LastLine(plain.out) != LastLine(under.out));  // /dev/sev exists only under run
  CHECK(plain.out.substr(0, plain.out.rfind('\n', plain.out.size() - 2)) ==
        under.out.substr(0, under.out.rfind('\n', under.out.size() - 2)));
  // What host and guest probes see (stat, access, sysfs, module parameters).
  const RunResult host = SevemuRun(
      w, {},
      {"/bin/sh", "-c",
       "stat -c %F /dev/sev; cat /sys/module/kvm_amd/parameters/sev_snp; test -e "
       "/dev/sev-guest || echo no-guest-dev; test -d /sys/devices/platform/sev-guest || echo "
       "no-sysfs"});
  CHECK(host.out == "character special file\nY\nno-guest-dev\nno-sysfs\n");
  w.Launch("vm1");
  const RunResult guest = SevemuRun(
      w, {"--guest", "vm1"},
      {"/bin/sh", "-c",
       "stat -c %F /dev/sev-guest; test -d /sys/devices/platform/sev-guest && echo sysfs; test "
       "-e /sys/module/kvm_amd/parameters/sev || echo no-kvm"});
  CHECK(guest.out == "character special file\nsysfs\nno-kvm\n");
}

// The namespace mode (docs/run.md "Two modes"): the paths are stand-in files, only device
// ioctls notify. What programs see must be what the notify mode gives them.
TEST_CASE("sevemu run, namespace mode: the same devices, probes and reports as the notify mode") {
  World w;
  if (!RunSupported(w)) return;
  const std::string host_probe =
      "stat -c %F /dev/sev; test -c /dev/sev && echo chr; test -r /dev/sev -a -w /dev/sev && "
      "echo rw; cat /sys/module/kvm_amd/parameters/sev /sys/module/kvm_amd/parameters/sev_es "
      "/sys/module/kvm_amd/parameters/sev_snp; test -d /sys/module/kvm_amd/parameters && echo "
      "kvm; test -e /dev/sev-guest || echo no-guest-dev; test -d /sys/devices/platform/sev-guest "
      "|| echo no-sysfs; od -An -tx8 -j 3221291024 -N8 /dev/cpu/0/msr; od -An -tx8 -j "
      "3221291313 -N8 /dev/cpu/0/msr; test -e /sys/kernel/config/tsm || echo no-tsm";
  const RunResult ns = SevemuRun(w, {"--mode", "namespace"}, {"/bin/sh", "-c", host_probe});
  const RunResult notify = SevemuRun(w, {"--mode", "notify"}, {"/bin/sh", "-c", host_probe});
  CHECK_MESSAGE(ns.err.empty(), ns.err);  // no notice: the namespace was made
  CHECK(ns.out == notify.out);
  CHECK(ns.out ==
        "character special file\nchr\nrw\nY\nY\nY\nkvm\nno-guest-dev\nno-sysfs\n"
        " 0000000003880000\n 0000000000000000\nno-tsm\n");
  // The default outside an SNP guest is the namespace mode: the same answers.
  CHECK(SevemuRun(w, {}, {"/bin/sh", "-c", host_probe}).out == ns.out);
  // Started from inside a directory the namespace replaces, the program sees the new one.
  const RunResult in_dev =
      Run(w.t, {"/bin/sh", "-c",
                "cd /dev && exec " + std::string(SEVEMU_CLI_PATH) + " run --socket " +
                    w.daemon.socket() + " -- /bin/sh -c 'test -c sev && pwd'"});
  CHECK_MESSAGE(in_dev.out == "/dev\n", in_dev.err);

  w.Launch("vm1");
  const std::string guest_probe =
      "stat -c %F /dev/sev-guest; test -r /dev/sev-guest && echo readable; test -d "
      "/sys/devices/platform/sev-guest && echo sysfs; test -d "
      "/sys/bus/platform/devices/sev-guest && echo bus; test -e "
      "/sys/module/kvm_amd/parameters/sev || echo no-kvm; od -An -tx8 -j 3221291313 -N8 "
      "/dev/cpu/0/msr";
  const RunResult gns =
      SevemuRun(w, {"--guest", "vm1", "--mode", "namespace"}, {"/bin/sh", "-c", guest_probe});
  CHECK(gns.out == SevemuRun(w, {"--guest", "vm1"}, {"/bin/sh", "-c", guest_probe}).out);
  CHECK(gns.out == "character special file\nreadable\nsysfs\nbus\nno-kvm\n 0000000000000007\n");

  // Reports verify and derived keys are those of the notify mode (the guest's VMPCK, one
  // implementation); fork and exec inside share and find the devices.
  const auto ns_client = [&](std::vector<std::string> args) {
    args.insert(args.begin(), SEVEMU_UAPI_CLIENT_STATIC_PATH);
    const RunResult r = SevemuRun(w, {"--guest", "vm1", "--mode", "namespace"}, std::move(args));
    Steps st = ParseSteps(r.out);
    st.code = r.code;
    st.err = r.err;
    REQUIRE_MESSAGE(r.code == 0, ClientContext(st));
    return st;
  };
  const Steps rep = ns_client({"guest", "report", w.t / "ns.bin", "--user-data", Hex64(5)});
  CHECK_STEP(rep, "snp_get_report", "ret", "0");
  const Bytes report = ReportFromResp(w.t / "ns.bin");
  CHECK(HexEncode(ReportData(report)) == Hex64(5));
  Kds kds(w.t, w.daemon.state());
  const auto status = w.HostStatus();
  CheckVerifies(report, FetchVcekChain(kds, status["product"].get<std::string>(), report));
  const Steps ns_key = ns_client({"guest", "key", w.t / "ns.key"});
  CHECK_STEP(ns_key, "snp_get_derived_key", "ret", "0");
  const Steps notify_key = RunClient(w, {"guest", "key", w.t / "notify.key"}, "vm1");
  CHECK_STEP(notify_key, "snp_get_derived_key", "ret", "0");
  CHECK(ReadBytes(w.t / "ns.key") == ReadBytes(w.t / "notify.key"));
  const Steps f = ns_client({"guest", "fork", w.t / "nsfork", "--rounds", "2"});
  CHECK_STEP(f, "child_exit", "code", "0");
  CHECK_STEP(f, "parent.1", "ret", "0");
  CHECK_STEP(f, "child.1", "ret", "0");
  const Steps bad = ns_client({"guest", "bad-ptr"});
  CHECK_STEP(bad, "bad_req", "errname", "EFAULT");
  // /dev/sev in the namespace mode: the ccp driver's answers, EFAULT where the kernel's is.
  const Steps h = RunClient(w, {"host", "status"});
  CHECK_STEP(h, "snp_platform_status", "ret", "0");
  CHECK_STEP(h, "snp_platform_status.fields", "guest_count", "1");
  const Steps hf = RunClient(w, {"host", "efault"});
  CHECK_STEP(hf, "bad_arg", "errname", "EFAULT");
  const Steps hu = RunClient(w, {"host", "unknown"});
  CHECK_STEP(hu, "other_ioctl", "errname", "EINVAL");

  // A Go program's raw ioctls and MSR read, from its many threads.
  const std::string bin = BuildGoClient(w);
  if (!bin.empty()) {
    const RunResult g = SevemuRun(w, {"--guest", "vm1", "--mode", "namespace"},
                                  {bin, "report", w.t / "gons.bin", Hex64(6)});
    REQUIRE_MESSAGE(g.code == 0, g.err);
    const Steps gs = ParseSteps(g.out);
    for (int i = 0; i < 4; ++i) {
      CHECK_STEP(gs, "report." + std::to_string(i), "ret", "0");
    }
    const Bytes go_report = ReportFromResp(w.t / "gons.bin");
    CHECK(HexEncode(ReportData(go_report)) == Hex64(6));
    CheckVerifies(go_report, FetchVcekChain(kds, status["product"].get<std::string>(), go_report));
    const RunResult m = SevemuRun(w, {"--guest", "vm1", "--mode", "namespace"}, {bin, "msr"});
    CHECK_STEP(ParseSteps(m.out), "msr", "sev_status", "0x7");
  }
  // In the namespace mode configfs-tsm is not served (it needs code at open: the notify mode).
  CHECK(SevemuRun(w, {"--guest", "vm1", "--mode", "namespace"},
                  {"/bin/mkdir", "/sys/kernel/config/tsm/report/x"})
            .code != 0);
}

TEST_CASE("sevemu run, namespace mode for a user who is not root: their own uid, the stand-ins") {
  World w;
  if (!RunSupported(w)) return;
  if (geteuid() != 0 || !std::filesystem::exists("/usr/bin/setpriv")) {
    MESSAGE("skipped: needs root and setpriv to become another user");
    return;
  }
  std::filesystem::permissions(w.t.path(), std::filesystem::perms::all);
  const RunResult r = Run(
      w.t, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", SEVEMU_CLI_PATH,
            "run", "--socket", w.daemon.socket(), "--mode", "namespace", "--", "/bin/sh", "-c",
            "id -u; id -g; stat -c %F /dev/sev; cat /sys/module/kvm_amd/parameters/sev_snp; "
            "echo x > /dev/null && echo null; test -c /dev/null && echo chr"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK_MESSAGE(r.err.empty(), r.err);  // a user namespace was made: no notice
  CHECK(r.out == "65534\n65534\ncharacter special file\nY\nnull\nchr\n");
}

TEST_CASE("sevemu run where no namespace can be made: one notice line, then the notify mode") {
  World w;
  if (!RunSupported(w)) return;
  // A seccomp policy that refuses unshare(), as container runtimes without user namespaces do.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = open((w.t / "nons.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    const int e = open((w.t / "nons.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(e, 2);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
    if (seccomp_load(ctx) != 0) _exit(99);
    execl(SEVEMU_CLI_PATH, SEVEMU_CLI_PATH, "run", "--socket", w.daemon.socket().c_str(), "--",
          "/bin/sh", "-c", "stat -c %F /dev/sev; cat /sys/module/kvm_amd/parameters/sev",
          static_cast<char*>(nullptr));
    _exit(98);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const std::string err = test::ReadText(w.t / "nons.err");
  CHECK_MESSAGE(OneLine(err), err);
  CHECK_MESSAGE(err.find("notice") != std::string::npos, err);
  CHECK(test::ReadText(w.t / "nons.out") == "character special file\nY\n");
}

TEST_CASE("sevemu run: a program killed in the middle of its ioctls leaves the guest working") {
  World w;
  if (!RunSupported(w)) return;
  w.Launch("vm1");
  SpawnOptions o;
  o.stdout_path = w.t / "loop.out";
  o.stderr_path = w.t / "loop.err";
  Child c;
  c.Spawn({SEVEMU_CLI_PATH, "run", "--socket", w.daemon.socket(), "--guest", "vm1", "--",
           SEVEMU_UAPI_CLIENT_STATIC_PATH, "guest", "fork", w.t / "loop", "--rounds", "1000"},
          o);
  // Wait for the program's first reports, then SIGKILL it and its forked child (never the
  // supervisor): whatever request was in flight is abandoned by its caller.
  const auto deadline = Clock::now() + kRunTimeout;
  while (!std::filesystem::exists(w.t / "loop.parent.3") && Clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  std::function<std::vector<pid_t>(pid_t)> descendants = [&](pid_t pid) {
    std::vector<pid_t> out;
    std::istringstream kids(test::ReadText("/proc/" + std::to_string(pid) + "/task/" +
                                           std::to_string(pid) + "/children"));
    for (pid_t k; kids >> k;) {
      out.push_back(k);
      for (pid_t g : descendants(k)) out.push_back(g);
    }
    return out;
  };
  const std::vector<pid_t> victims = descendants(c.pid());
  REQUIRE(!victims.empty());
  for (pid_t v : victims) kill(v, SIGKILL);
  const auto code = c.Wait(kRunTimeout);
  REQUIRE(code.has_value());
  CHECK(*code == 128 + SIGKILL);  // the program's own status
  // A new program in the same guest gets its report: no lock held, sequence numbers in step.
  const Steps s = RunClient(w, {"guest", "report", w.t / "after.bin"}, "vm1");
  CHECK_STEP(s, "snp_get_report", "ret", "0");
  CHECK(w.daemon.Running());
}

TEST_CASE("sevemu run without seccomp user notification: one line naming the shim") {
  World w;
  // A seccomp policy that refuses seccomp() itself, as some container runtimes do.
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int n = open("/dev/null", O_RDWR);
    dup2(n, 1);
    const int e = open((w.t / "noseccomp.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(e, 2);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(seccomp), 0);
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(prctl), 1,
                     SCMP_A0(SCMP_CMP_EQ, PR_SET_SECCOMP));
    if (seccomp_load(ctx) != 0) _exit(99);
    execl(SEVEMU_CLI_PATH, SEVEMU_CLI_PATH, "run", "--socket", w.daemon.socket().c_str(), "--",
          "/bin/true", static_cast<char*>(nullptr));
    _exit(98);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  const std::string err = test::ReadText(w.t / "noseccomp.err");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  CHECK_MESSAGE(OneLine(err), err);
  CHECK_MESSAGE(err.find("preload shim") != std::string::npos, err);
  CHECK_MESSAGE(err.find("LD_PRELOAD") != std::string::npos, err);
}

// ---------------------------------------------------------------------------------------------
// The control channel (sevemu ctl; docs/protocol.md "Control operations") and load

namespace {

std::string ManageJson(const nlohmann::json& j) {
  const Bytes p = protocol::EncodeJsonBlob({j.dump(), {}});
  return std::string(p.begin(), p.end());
}

// The JSON of a MANAGE reply (empty object for an error reply).
nlohmann::json ManageReply(const std::optional<RawConn::Frame>& f) {
  if (!IsReply(f, protocol::MsgType::kManage)) return nlohmann::json::object();
  auto b = protocol::DecodeJsonBlob(
      ByteSpan(reinterpret_cast<const std::uint8_t*>(f->payload.data()), f->payload.size()));
  REQUIRE(b.ok());
  return nlohmann::json::parse(b->json);
}

std::string ErrorCodeOf(const std::optional<RawConn::Frame>& f) {
  if (!IsError(f)) return "<not an error>";
  return nlohmann::json::parse(f->payload)["code"].get<std::string>();
}

nlohmann::json Faults(World& w) {
  const RunResult r = w.Sevemu({"ctl", "list"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  return nlohmann::json::parse(r.out)["faults"];
}

}  // namespace

TEST_CASE("ctl: host-only, writable to change, listed with counts, cleared, logged") {
  World w;
  w.Launch("vm1");
  // A guest connection cannot reach the control channel at all.
  {
    RawConn g(w.daemon.socket());
    REQUIRE(IsReply(g.Hello(R"({"role":"guest","guest":"vm1"})"), protocol::MsgType::kHello));
    for (const char* op : {"fault.inject", "fault.list", "fault.clear", "platform.reset"}) {
      const auto r =
          g.Call(protocol::MsgType::kManage, ManageJson({{"op", op}, {"kind", "guest.busy"}}));
      CHECK(ErrorCodeOf(r) == "not_permitted");
    }
  }
  // A read-only host connection may list, not inject, clear or reset.
  {
    RawConn h(w.daemon.socket());
    REQUIRE(IsReply(h.Hello(R"({"role":"host"})"), protocol::MsgType::kHello));
    CHECK(ErrorCodeOf(h.Call(protocol::MsgType::kManage,
                             ManageJson({{"op", "fault.inject"}, {"kind", "guest.busy"}}))) ==
          "refused");
    CHECK(ErrorCodeOf(h.Call(protocol::MsgType::kManage, ManageJson({{"op", "platform.reset"}}))) ==
          "refused");
    CHECK(ManageReply(h.Call(protocol::MsgType::kManage, ManageJson({{"op", "fault.list"}})))
              .contains("faults"));
  }
  CHECK(Faults(w).empty());
  // Bad specs: one plain line, nothing armed.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"ctl", "inject", "no.such.kind"},
        {"ctl", "inject", "command", "--command", "SNP_NOPE"},
        {"ctl", "inject", "command", "--command", "SNP_GUEST_REQUEST", "--status", "WAT"},
        {"ctl", "inject", "guest.invalid_len"},
        {"ctl", "inject", "command", "--command", "SNP_INIT", "--status", "SUCCESS"}}) {
    const RunResult r = w.Sevemu(bad);
    CHECK(r.code == 1);
    CHECK_MESSAGE(OneLine(r.err), r.err);
  }
  CHECK(Faults(w).empty());
  REQUIRE(w.Sevemu({"ctl", "inject", "guest.busy", "--guest", "vm1", "--count", "2"}).code == 0);
  REQUIRE(w.Sevemu({"ctl", "inject", "certs.missing"}).code == 0);
  auto faults = Faults(w);
  REQUIRE(faults.size() == 2);
  CHECK(faults[0]["kind"] == "guest.busy");
  CHECK(faults[0]["guest"] == "vm1");
  CHECK(faults[0]["count"] == 2);
  CHECK(faults[0]["fired"] == 0);
  CHECK(faults[1]["guest"] == "");
  REQUIRE(w.Sevemu({"ctl", "clear", std::to_string(faults[0]["id"].get<int>())}).code == 0);
  CHECK(Faults(w).size() == 1);
  CHECK(w.Sevemu({"ctl", "clear", "999"}).code == 1);
  REQUIRE(w.Sevemu({"ctl", "clear"}).code == 0);
  CHECK(Faults(w).empty());
  const std::string log = w.daemon.Log();
  CHECK(log.find("fault injected") != std::string::npos);
  CHECK(log.find("faults cleared") != std::string::npos);
}

TEST_CASE("ctl guest.busy: the driver's retries end in success, or in ETIMEDOUT and a wiped key") {
  World w;
  w.Launch("vm1");
  w.Launch("vm2");
  REQUIRE(w.Sevemu({"ctl", "inject", "guest.busy", "--guest", "vm1", "--count", "3"}).code == 0);
  // Linux retries a busy request every 2 s; the daemon runs the retries on a virtual clock, so
  // the request succeeds after three BUSY exits without anyone waiting.
  GuestReport(w, "vm1", w.t / "r1.bin", Hex64(1));
  auto faults = Faults(w);
  CHECK(faults[0]["fired"] == 3);
  CHECK(faults[0]["exhausted"] == true);
  CHECK(w.daemon.Log().find("fault fired") != std::string::npos);

  // Busy until cleared: the driver gives up after 60 s (of virtual time) with ETIMEDOUT, and,
  // as Linux does after any failed exchange, wipes the VMPCK.
  REQUIRE(w.Sevemu({"ctl", "inject", "guest.busy", "--guest", "vm1"}).code == 0);
  const Steps busy = w.Client({"guest", "report", w.t / "r2.bin"}, "vm1");
  CHECK_STEP(busy, "snp_get_report", "errname", "ETIMEDOUT");
  CHECK_STEP(busy, "snp_get_report", "exitinfo2", "0x200000000");
  // vm2 was never in scope.
  GuestReport(w, "vm2", w.t / "r3.bin", Hex64(3));
  REQUIRE(w.Sevemu({"ctl", "clear"}).code == 0);
  const Steps after = w.Client({"guest", "report", w.t / "r4.bin"}, "vm1");
  CHECK_STEP(after, "snp_get_report", "errname", "ENOTTY");
}

TEST_CASE("ctl command fault: SNP_GUEST_REQUEST fails once with the status, the VMPCK is wiped") {
  World w;
  w.Launch("vm1");
  w.Launch("vm2");
  REQUIRE(w.Sevemu({"ctl", "inject", "command", "--command", "SNP_GUEST_REQUEST", "--status",
                    "INVALID_PARAM", "--guest", "vm1", "--count", "1"})
              .code == 0);
  GuestReport(w, "vm2", w.t / "a.bin", Hex64(1));  // out of scope
  const Steps s = w.Client({"guest", "report", w.t / "b.bin"}, "vm1");
  CHECK_STEP(s, "snp_get_report", "errname", "EIO");
  CHECK_STEP(s, "snp_get_report", "exitinfo2", "0x16");
  CHECK(Faults(w)[0]["fired"] == 1);
  // snp_disable_vmpck: every later request in the guest fails with ENOTTY.
  const Steps t = w.Client({"guest", "report", w.t / "c.bin"}, "vm1");
  CHECK_STEP(t, "snp_get_report", "errname", "ENOTTY");
  // A launch fault in the host's own command path, scoped to the guest being launched.
  REQUIRE(w.Sevemu({"ctl", "inject", "command", "--command", "SNP_LAUNCH_UPDATE", "--status",
                    "RESOURCE_LIMIT", "--guest", "vm3", "--count", "1"})
              .code == 0);
  const RunResult launch = w.Sevemu({"guest", "launch", "vm3"});
  CHECK(launch.code == 1);
  CHECK(launch.err.find("SNP_LAUNCH_UPDATE: RESOURCE_LIMIT") != std::string::npos);
  w.Launch("vm3");
}

TEST_CASE("ctl firmware-update: new firmware, committed, new reported TCB under a running guest") {
  // From the product's 1.55.21 to 1.55.30 (the default, 1.58.1, would refuse it as a rollback).
  World w(/*start=*/false);
  const RunResult p = Run(w.t, {SEVEMU_CLI_PATH, "provision", "--state", w.daemon.state(), "--seed",
                                "01", "--firmware", "1.55"});
  REQUIRE_MESSAGE(p.code == 0, p.err);
  w.daemon.Start();
  w.Launch("vm1");
  const auto before = w.HostStatus();
  const Bytes r1 = GuestReport(w, "vm1", w.t / "r1.bin", Hex64(1));
  const RunResult r = w.Sevemu({"ctl", "firmware-update", "--version", "1.55.30"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto after = w.HostStatus();
  CHECK(after["firmware"] == "1.55.30");
  CHECK(after["committed_firmware"] == "1.55.30");
  CHECK(after["current_tcb"] != before["current_tcb"]);
  CHECK(after["committed_tcb"] == after["current_tcb"]);
  CHECK(after["reported_tcb"] == after["current_tcb"]);
  CHECK(after["guests"] == 1);
  // The running guest's next report claims the new reported TCB (report offset 0x180).
  const Bytes r2 = GuestReport(w, "vm1", w.t / "r2.bin", Hex64(2));
  CHECK(U64(r2, 0x180) != U64(r1, 0x180));
  CHECK(w.daemon.Log().find("firmware updated") != std::string::npos);
}

TEST_CASE("ctl reset: a host reboot; guests are gone, their connections answer not_found") {
  World w;
  w.Launch("vm1");
  RawConn g(w.daemon.socket());
  REQUIRE(IsReply(g.Hello(R"({"role":"guest","guest":"vm1"})"), protocol::MsgType::kHello));
  REQUIRE(w.Sevemu({"ctl", "inject", "certs.missing"}).code == 0);
  const RunResult r = w.Sevemu({"ctl", "reset"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(nlohmann::json::parse(r.out)["guests_lost"] == 1);
  const Bytes read = protocol::EncodeGuestMemRead({0x80D000, 4});
  CHECK(ErrorCodeOf(g.Call(protocol::MsgType::kGuestMemRead,
                           std::string(read.begin(), read.end()))) == "not_found");
  const auto status = w.HostStatus();
  CHECK(status["guests"] == 0);
  CHECK(status["snp_state"] == "INIT");
  // The faults are the test's: still armed. A new guest of the same name is another guest.
  CHECK(Faults(w).size() == 1);
  w.Launch("vm1");
  CHECK(ErrorCodeOf(g.Call(protocol::MsgType::kGuestMemRead,
                           std::string(read.begin(), read.end()))) == "not_found");
  GuestReport(w, "vm1", w.t / "r.bin", Hex64(1));
  CHECK(w.daemon.Log().find("platform reset") != std::string::npos);
}

TEST_CASE("capabilities: serve --print-capabilities and the daemon op agree") {
  World w;
  const RunResult printed = Run(w.t, {SEVEMU_CLI_PATH, "serve", "--print-capabilities"});
  REQUIRE_MESSAGE(printed.code == 0, printed.err);
  const auto offline = nlohmann::json::parse(printed.out);
  const RunResult live = w.Sevemu({"ctl", "capabilities"});
  REQUIRE_MESSAGE(live.code == 0, live.err);
  auto online = nlohmann::json::parse(live.out);
  REQUIRE(online.contains("platforms"));
  CHECK(online["platforms"][0]["name"] == "p");
  online.erase("platforms");
  CHECK(online == offline);
  CHECK(offline["protocol"] == 1);
  for (const char* key : {"products", "snp_commands", "sev_commands", "guest_messages",
                          "dev_sev_commands", "fault_kinds", "front_ends", "ctl_ops"}) {
    CHECK_MESSAGE(!offline[key].empty(), key);
  }
}

// N guests x M report requests at once, each guest on its own connection with its requests
// pipelined (raw GUEST_REQUEST frames sealed here with the guest's VMPCK0): every answer comes
// back, to the connection that asked, for the request it answers (report_data), from the guest
// it names (host_data); and the daemon's RSS stays flat over the run.
TEST_CASE("load: guests x requests in parallel, no lost or misattributed answers, flat memory") {
  World w(/*start=*/false);
  // AddressSanitizer keeps freed memory in a quarantine (256 MiB by default) before reusing
  // it, so under ASan RSS grows with every allocation until the quarantine is full whether or
  // not the daemon holds anything: without one, flat means flat.
  w.daemon.SetEnv({{"ASAN_OPTIONS", "quarantine_size_mb=0:detect_leaks=0"}});
  w.daemon.Start();
  constexpr int kGuests = 6;
  constexpr int kRequests = 40;
  constexpr int kWindow = 8;
  struct G {
    std::string name;
    Bytes vmpck;
  };
  std::vector<G> guests;
  for (int i = 0; i < kGuests; ++i) {
    const std::string name = "load" + std::to_string(i);
    char hd[3];
    std::snprintf(hd, sizeof hd, "%02x", 0x40 + i);
    const auto info = w.Launch(name, hd + std::string(62, '0'));
    RawConn c(w.daemon.socket());
    REQUIRE(IsReply(c.Hello(R"({"role":"guest","guest":")" + name + R"("})"),
                    protocol::MsgType::kHello));
    const Bytes req =
        protocol::EncodeGuestMemRead({info["secrets_gpa"].get<std::uint64_t>(), 4096});
    const auto r = c.Call(protocol::MsgType::kGuestMemRead, std::string(req.begin(), req.end()));
    REQUIRE(IsReply(r, protocol::MsgType::kGuestMemRead));
    guests.push_back({name, Bytes(r->payload.begin() + 0x20, r->payload.begin() + 0x40)});
  }
  auto run_guest = [&](int gi, int first, int count, std::string* failure) {
    const G& g = guests[static_cast<std::size_t>(gi)];
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, w.daemon.socket().c_str(), sizeof a.sun_path - 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      *failure = "connect";
      return;
    }
    timeval tv{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto send_all = [&](const Bytes& b) {
      return send(fd, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
    };
    auto read_n = [&](std::size_t n, Bytes& out) {
      out.resize(n);
      std::size_t got = 0;
      while (got < n) {
        const ssize_t r = recv(fd, out.data() + got, n - got, 0);
        if (r <= 0) return false;
        got += static_cast<std::size_t>(r);
      }
      return true;
    };
    auto read_frame = [&](protocol::FrameHeader& h, Bytes& payload) {
      Bytes hdr;
      if (!read_n(protocol::kHeaderSize, hdr)) return false;
      auto d = protocol::DecodeHeader(hdr);
      if (!d.ok()) return false;
      h = *d;
      return read_n(h.payload_length, payload);
    };
    const std::string hello = R"({"role":"guest","guest":")" + g.name + R"("})";
    protocol::FrameHeader h;
    Bytes payload;
    if (!send_all(protocol::EncodeFrame(protocol::MsgType::kHello, 1,
                                        Bytes(hello.begin(), hello.end()))) ||
        !read_frame(h, payload)) {
      *failure = "hello";
      close(fd);
      return;
    }
    std::uint64_t seq = 2 * static_cast<std::uint64_t>(first) + 1;
    for (int done = 0; done < count && failure->empty(); done += kWindow) {
      const int n = std::min(kWindow, count - done);
      for (int k = 0; k < n; ++k) {
        const int idx = first + done + k;
        guestmsg::GuestMsgHeader mh;
        mh.seqno = seq + 2 * static_cast<std::uint64_t>(k);
        mh.type = guestmsg::GuestMsgType::kReportReq;
        Bytes body(0x60, 0);
        body[0] = static_cast<std::uint8_t>(gi);
        StoreLe32(body.data() + 4, static_cast<std::uint32_t>(idx));
        mh.msg_size = static_cast<std::uint16_t>(body.size());
        auto ct = guestmsg::SealGuestMsg(mh, body, g.vmpck);
        Bytes page(4096, 0);
        const auto hb = guestmsg::SerializeGuestMsgHeader(mh);
        std::copy(hb.begin(), hb.end(), page.begin());
        std::copy(ct->begin(), ct->end(), page.begin() + 0x60);
        protocol::GuestRequestMsg m;
        m.request = page;
        if (!send_all(protocol::EncodeFrame(protocol::MsgType::kGuestRequest,
                                            static_cast<std::uint32_t>(1000 + idx),
                                            protocol::EncodeGuestRequest(m)))) {
          *failure = "send";
        }
      }
      for (int k = 0; k < n && failure->empty(); ++k) {
        const int idx = first + done + k;
        if (!read_frame(h, payload)) {
          *failure = "lost answer " + std::to_string(idx);
          break;
        }
        auto rep = protocol::DecodeGuestRequestReply(payload);
        if (h.request_id != static_cast<std::uint32_t>(1000 + idx) || !rep.ok() ||
            rep->fw_error != 0) {
          *failure = "bad answer to " + std::to_string(idx);
          break;
        }
        auto rh = guestmsg::ParseGuestMsgHeader(rep->response);
        auto plain = guestmsg::OpenGuestMsg(
            *rh, ByteSpan(rep->response).subspan(0x60, rh->msg_size), g.vmpck);
        if (!plain.ok()) {
          *failure = "answer does not open under " + g.name + "'s key";
          break;
        }
        const std::uint8_t* report = plain->data() + 0x20;
        if (report[0x50] != gi || LoadLe32(report + 0x54) != static_cast<std::uint32_t>(idx) ||
            report[0xC0] != 0x40 + gi) {
          *failure = "misattributed answer " + std::to_string(idx);
        }
      }
      seq += 2 * static_cast<std::uint64_t>(n);
    }
    close(fd);
  };
  auto round = [&](int first, int count) {
    std::vector<std::string> failures(kGuests);
    std::vector<std::thread> threads;
    for (int gi = 0; gi < kGuests; ++gi) {
      threads.emplace_back(run_guest, gi, first, count, &failures[static_cast<std::size_t>(gi)]);
    }
    for (auto& t : threads) t.join();
    for (int gi = 0; gi < kGuests; ++gi) {
      CHECK_MESSAGE(failures[static_cast<std::size_t>(gi)].empty(),
                    guests[static_cast<std::size_t>(gi)].name
                        << ": " << failures[static_cast<std::size_t>(gi)]);
    }
  };
  round(0, kWindow);  // warm-up: allocator pools, caches
  const long rss_start = RssKib(w.daemon.child().pid());
  round(kWindow, kRequests - kWindow);
  const long rss_mid = RssKib(w.daemon.child().pid());
  round(kRequests, kRequests);
  const long rss_end = RssKib(w.daemon.child().pid());
  // Flat: the second half of the run adds no more than a few MiB to what the first left.
  CHECK_MESSAGE(rss_end - rss_mid < 8 * 1024,
                "RSS KiB: " << rss_start << " " << rss_mid << " " << rss_end);
}

}  // namespace sevemu

// ---------------------------------------------------------------------------------------------
// Durability and the trace (issue 16)

namespace sevemu {

TEST_CASE("kill -9 at random moments in a loop of state changes: restarts with the last commit") {
  World w;
  const unsigned seed = static_cast<unsigned>(std::time(nullptr));
  CAPTURE(seed);  // a failure names the schedule that found it
  std::srand(seed);
  struct Config {
    bool id = false, key = false;
    bool operator==(const Config&) const = default;
  };
  auto status = [&] {
    const auto j = w.HostStatus();
    return Config{j["mask_chip_id"].get<bool>(), j["mask_chip_key"].get<bool>()};
  };
  Config committed = status();
  int killed_mid_command = 0;
  for (int round = 0; round < 10; ++round) {
    CAPTURE(round);
    const Config next{std::rand() % 2 == 1, std::rand() % 2 == 1};
    std::vector<std::string> args = {SEVEMU_CLI_PATH, "host", "set-config", "--socket",
                                     w.daemon.socket()};
    if (next.id) args.push_back("--mask-chip-id");
    if (next.key) args.push_back("--mask-chip-key");
    SpawnOptions o;
    o.stderr_path = w.t / "set-config.err";
    Child c;
    c.Spawn(args, o);
    // Somewhere before, during or after the command: connecting, the ioctl, writing
    // platform.json, replying.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::rand() % 60));
    w.daemon.KillHard();
    const auto code = c.Wait(kRunTimeout);
    REQUIRE(code.has_value());
    killed_mid_command += *code != 0;
    w.daemon.Start();  // loads what is on disk: it must load
    const Config now = status();
    if (*code == 0) {
      CHECK(now == next);  // acknowledged: committed, so it survived
    } else {
      CHECK((now == committed || now == next));  // not acknowledged: either, nothing else
    }
    committed = now;
    // platform.json is whole (it loaded) and still a plain file.
    CHECK(std::filesystem::is_regular_file(w.daemon.state() + "/platform.json"));
  }
  MESSAGE("rounds where the kill came before the reply: " << killed_mid_command);
}

TEST_CASE("serve --trace records the launch; sevemu trace streams it; render draws it") {
  World w(false);
  const std::string trace_file = w.t / "trace.jsonl";
  w.daemon.AddArgs({"--trace", trace_file});
  w.daemon.Start();
  SpawnOptions o;
  o.pipe_stdout = true;
  o.stderr_path = w.t / "trace.err";
  Child live;
  live.Spawn({SEVEMU_CLI_PATH, "trace", "--socket", w.daemon.socket()}, o);
  // The subscription is in place once the client has connected; a status call after it shows
  // in the stream only if it was (status issues no firmware command, so wait on the socket).
  std::this_thread::sleep_for(300ms);
  w.Launch("vm1");
  std::string streamed;
  while (auto line = live.ReadLine(10s)) {
    streamed += *line + "\n";
    if (line->find("SNP_LAUNCH_FINISH") != std::string::npos) break;
  }
  CHECK(streamed.find("\"name\":\"SNP_LAUNCH_START\"") != std::string::npos);
  CHECK(streamed.find("\"name\":\"SNP_LAUNCH_FINISH\"") != std::string::npos);
  // An injected fault is in the trace when it fires, with the caller it hit.
  const RunResult inject = w.Sevemu({"ctl", "inject", "command", "--command", "SNP_LAUNCH_START",
                                     "--status", "RESOURCE_LIMIT", "--count", "1"});
  REQUIRE_MESSAGE(inject.code == 0, inject.err);
  CHECK(w.Sevemu({"guest", "launch", "vm2"}).code != 0);
  std::string fault_line;
  while (auto line = live.ReadLine(10s)) {
    if (line->find("\"ev\":\"fault\"") != std::string::npos) {
      fault_line = *line;
      break;
    }
  }
  CHECK_MESSAGE(fault_line.find("\"kind\":\"command\"") != std::string::npos, fault_line);
  CHECK_MESSAGE(fault_line.find("SNP_LAUNCH_START") != std::string::npos, fault_line);
  CHECK_MESSAGE(fault_line.find("\"role\":\"host\"") != std::string::npos, fault_line);
  live.Kill();
  REQUIRE(w.daemon.Stop() == 0);
  const std::string file = test::ReadText(trace_file);
  // From boot: SNP_INIT by the daemon itself, then the launch by a host session.
  CHECK(file.find("\"caller\":{\"role\":\"host\",\"session\":0},\"api\":\"snp\",\"id\":129,"
                  "\"name\":\"SNP_INIT\"") != std::string::npos);
  CHECK(file.find("\"name\":\"SNP_LAUNCH_UPDATE\"") != std::string::npos);
  CHECK(file.find("\"ev\":\"rmp\",") != std::string::npos);
  CHECK(file.find("\"ev\":\"fault\"") != std::string::npos);
  for (const std::string format : {"mermaid", "dot"}) {
    const RunResult r =
        Run(w.t, {SEVEMU_CLI_PATH, "trace", "render", trace_file, "--format", format});
    CHECK_MESSAGE(r.code == 0, r.err);
    CHECK(r.out.find("SNP_LAUNCH_FINISH") != std::string::npos);
  }
  const RunResult bad = Run(w.t, {SEVEMU_CLI_PATH, "trace", "render", w.t / "nope"});
  CHECK(bad.code == 1);
  CHECK_MESSAGE(OneLine(bad.err), bad.err);
}

}  // namespace sevemu
