// `sevemu kds serve` as users run it: provision, start on port 0, read the URL line, fetch,
// stop with SIGTERM.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kds_test_util.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "test_util.h"

namespace sevemu {
namespace {

// Runs sevemu to completion; returns the exit code, stderr in `err`.
int RunSevemu(const test::TempDir& scratch, std::vector<std::string> args, std::string* err) {
  args.insert(args.begin(), SEVEMU_CLI_PATH);
  const std::string err_path = scratch / "run.stderr";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int n = open("/dev/null", O_WRONLY);
    dup2(n, 1);
    dup2(e, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (err != nullptr) *err = test::ReadText(err_path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A running `sevemu kds serve`: stdout through a pipe (for the URL line), stderr to a file.
struct Server {
  pid_t pid = -1;
  int out = -1;
  std::string err_path;

  Server(const test::TempDir& scratch, std::vector<std::string> args) {
    args.insert(args.begin(), {SEVEMU_CLI_PATH, "kds", "serve"});
    err_path = scratch / "serve.stderr";
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fds[1], 1);
      dup2(e, 2);
      close(fds[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    out = fds[0];
  }
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (out >= 0) close(out);
  }

  // The first stdout line, waiting up to 60 s (start-up loads the platform under sanitizers).
  std::string FirstLine() {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const ssize_t n = read(out, buf, sizeof(buf));
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    return line.substr(0, line.find('\n'));
  }

  // SIGTERM, then the exit code.
  int Terminate() {
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

}  // namespace

TEST_CASE("sevemu kds serve: URL line, VCEK of two state directories, clean SIGTERM") {
  test::TempDir d;
  std::string err;
  REQUIRE_MESSAGE(RunSevemu(d, {"provision", "--state", d / "a", "--seed", "01"}, &err) == 0, err);
  REQUIRE_MESSAGE(
      RunSevemu(d, {"provision", "--state", d / "b", "--product", "turin", "--seed", "02"}, &err) ==
          0,
      err);
  auto a = emulator::LoadPlatform(d / "a");
  auto b = emulator::LoadPlatform(d / "b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());

  Server server(d, {"--listen", "127.0.0.1:0", "--state", d / "a", "--state", d / "b",
                    "--log-format", "json"});
  const std::string line = server.FirstLine();
  const std::string prefix = "listening on http://127.0.0.1:";
  REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0, line << test::ReadText(server.err_path));
  const int port = std::stoi(line.substr(prefix.size()));
  REQUIRE(port > 0);

  test::HttpClient c(static_cast<std::uint16_t>(port));
  for (const emulator::Platform* p : {&*a, &*b}) {
    const std::string name = emulator::Info(p->state.chip.product).name;
    const auto chain = c.Get("/vcek/v1/" + name + "/cert_chain");
    REQUIRE(chain.status == 200);
    const auto reply = c.Get(test::VcekPath(*p, p->state.reported_tcb));
    REQUIRE(reply.status == 200);
    auto vcek = crypto::Certificate::FromDer(test::BodyBytes(reply.body));
    REQUIRE(vcek.ok());
    CHECK(*vcek->SubjectPublicKey() == emulator::FirmwareVcek(*p)->Public());
    auto certs = crypto::Certificate::AllFromPem(chain.body);
    REQUIRE(certs.ok());
    CHECK(crypto::VerifyChain({*vcek, (*certs)[0], (*certs)[1]}, test::kKdsNow).ok());
  }
  CHECK(c.Get("/vcek/v1/Genoa/cert_chain").status == 404);

  CHECK(server.Terminate() == 0);
  // JSON lines on stderr: the chips, one line per request, "stopped"; no fuse bytes anywhere.
  const std::string log = test::ReadText(server.err_path);
  std::istringstream lines(log);
  std::string l;
  int requests = 0;
  bool stopped = false;
  while (std::getline(lines, l)) {
    auto j = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    REQUIRE_MESSAGE(!j.is_discarded(), l);
    if (j["event"] == "request") ++requests;
    if (j["event"] == "stopped") stopped = true;
  }
  CHECK(requests == 5);
  CHECK(stopped);
  for (const emulator::Platform* p : {&*a, &*b}) {
    CHECK(log.find(HexEncode(p->fuses.hash_stick_root.span())) == std::string::npos);
    CHECK(log.find(HexEncode(p->fuses.chip_unique_key.span())) == std::string::npos);
  }
}

TEST_CASE("sevemu kds serve refuses bad options with exit 2 and a missing platform with 1") {
  test::TempDir d;
  std::string err;
  REQUIRE(RunSevemu(d, {"provision", "--state", d / "a", "--seed", "01"}, &err) == 0);
  CHECK(RunSevemu(d, {"kds", "serve", "--state", d / "a", "--listen", "0.0.0.0:0"}, &err) == 2);
  CHECK(err.find("non-loopback") != std::string::npos);
  CHECK(RunSevemu(d, {"kds", "serve", "--state", d / "a", "--listen", "nonsense"}, &err) == 2);
  CHECK(RunSevemu(d, {"kds", "serve", "--state", d / "a", "--log-format", "xml"}, &err) == 2);
  CHECK(RunSevemu(d, {"kds", "serve", "--state", d / "missing", "--listen", "127.0.0.1:0"}, &err) ==
        1);
  CHECK(err.find("missing") != std::string::npos);
  CHECK(RunSevemu(
            d, {"kds", "serve", "--state", d / "a", "--state", d / "a", "--listen", "127.0.0.1:0"},
            &err) == 1);
  CHECK(RunSevemu(d, {"kds", "bogus"}, &err) == 2);
}

}  // namespace sevemu
