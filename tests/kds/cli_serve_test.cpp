// `sevemu kds serve` as users run it: provision, start on port 0, read the URL line, fetch,
// stop with SIGTERM.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kds/kds_capabilities.h"
#include "kds/kds_faults.h"
#include "kds_test_util.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "test_util.h"

namespace sevemu {
namespace {

// Runs sevemu to completion; returns the exit code, stderr in `err`.
int RunSevemu(const test::TempDir& scratch, std::vector<std::string> args, std::string* err,
              std::string* out = nullptr) {
  args.insert(args.begin(), SEVEMU_CLI_PATH);
  const std::string err_path = scratch / "run.stderr";
  const std::string out_path = out != nullptr ? scratch / "run.stdout" : "/dev/null";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int n = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
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
  if (out != nullptr) *out = test::ReadText(out_path);
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

TEST_CASE("sevemu kds serve --print-capabilities: one JSON line, no state directory needed") {
  test::TempDir d;
  std::string err, out;
  REQUIRE(RunSevemu(d, {"kds", "serve", "--state", d / "none", "--print-capabilities"}, &err,
                    &out) == 0);
  CHECK(err.empty());
  REQUIRE(!out.empty());
  CHECK(out.back() == '\n');
  const auto caps = nlohmann::json::parse(out, nullptr, false);
  REQUIRE(caps.is_object());
  CHECK(out == kds::KdsCapabilitiesJson(caps["version"].get<std::string>()) + "\n");
  std::vector<std::string> kinds;
  for (const auto& k : caps["fault_kinds"]) kinds.push_back(k["kind"]);
  CHECK(kinds.size() == kds::KdsFaultKinds().size());
  CHECK(std::find(kinds.begin(), kinds.end(), "kds.rate_limited") != kinds.end());
}

TEST_CASE("sevemu ctl kds: inject, fire exactly N times, list, clear; a wrong token is refused") {
  test::TempDir d;
  std::string err;
  REQUIRE(RunSevemu(d, {"provision", "--state", d / "a", "--seed", "01"}, &err) == 0);
  auto a = emulator::LoadPlatform(d / "a");
  REQUIRE(a.ok());
  test::WriteText(d / "token", "cli-test-token\n");
  test::WriteText(d / "wrong", "not-the-token\n");
  test::WriteText(d / "empty", "\n");
  CHECK(RunSevemu(d, {"kds", "serve", "--state", d / "a", "--ctl-token", d / "empty"}, &err) == 2);

  Server server(d, {"--listen", "127.0.0.1:0", "--state", d / "a", "--ctl-token", d / "token",
                    "--log-format", "json"});
  const std::string line = server.FirstLine();
  const std::string prefix = "listening on ";
  REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0, line << test::ReadText(server.err_path));
  const std::string url = line.substr(prefix.size());
  const int port = std::stoi(url.substr(url.rfind(':') + 1));

  auto ctl = [&](std::vector<std::string> words, const std::string& token_file) {
    words.insert(words.begin(), {"ctl", "kds"});
    words.insert(words.end(), {"--url", url, "--token-file", token_file});
    return RunSevemu(d, words, &err);
  };
  CHECK(ctl({"inject", "kds.server_error", "--count", "2"}, d / "wrong") == 1);
  CHECK(err.find("401") != std::string::npos);
  CHECK(ctl({"inject", "kds.bogus"}, d / "token") == 1);
  CHECK(ctl({"frobnicate"}, d / "token") == 2);
  CHECK(ctl({"inject", "kds.server_error", "--count", "2"}, d / "token") == 0);

  test::HttpClient c(static_cast<std::uint16_t>(port));
  const std::string vcek = test::VcekPath(*a, a->state.reported_tcb);
  CHECK(c.Get(vcek).status == 500);
  CHECK(c.Get(vcek).status == 500);
  CHECK(c.Get(vcek).status == 200);

  // list prints the faults as JSON on stdout.
  const std::string out_path = d / "list.json";
  {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(o, 1);
      std::string bin = SEVEMU_CLI_PATH, t = d / "token";
      execl(bin.c_str(), bin.c_str(), "ctl", "kds", "list", "--url", url.c_str(), "--token-file",
            t.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
  }
  const auto list = nlohmann::json::parse(test::ReadText(out_path));
  REQUIRE(list["faults"].size() == 1);
  CHECK(list["faults"][0]["kind"] == "kds.server_error");
  CHECK(list["faults"][0]["fired"] == 2);
  CHECK(list["faults"][0]["exhausted"] == true);

  CHECK(ctl({"inject", "kds.not_found"}, d / "token") == 0);
  CHECK(c.Get(vcek).status == 404);
  CHECK(ctl({"clear"}, d / "token") == 0);
  CHECK(c.Get(vcek).status == 200);

  CHECK(server.Terminate() == 0);
  // The firings are in the log; the token is not.
  const std::string log = test::ReadText(server.err_path);
  CHECK(log.find("kds.server_error#1") != std::string::npos);
  CHECK(log.find("kds.not_found#2") != std::string::npos);
  CHECK(log.find("cli-test-token") == std::string::npos);
}

}  // namespace sevemu
