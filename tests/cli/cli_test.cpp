// End-to-end: the sevemu binary as users run it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_util.h"

namespace sevemu {
namespace {

struct Run {
  int code = -1;
  std::string out, err;
};

// Runs sevemu with `args`; stdout/stderr go to files in `scratch`.
Run Sevemu(const test::TempDir& scratch, std::vector<std::string> args,
           const std::vector<std::string>& env = {}) {
  args.insert(args.begin(), SEVEMU_CLI_PATH);
  const std::string out = scratch / "stdout", err = scratch / "stderr";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    alarm(60);  // a command that should have failed but serves instead does not hang the suite
    for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), test::ReadText(out),
          test::ReadText(err)};
}

bool OneLine(const std::string& s) {
  return !s.empty() && s.find('\n') == s.size() - 1;
}

}  // namespace

TEST_CASE("provision with a seed is reproducible; export verifies with openssl") {
  test::TempDir d;
  Run a = Sevemu(d, {"provision", "--state", d / "a", "--seed", "c0ffee"});
  REQUIRE_MESSAGE(a.code == 0, a.err);
  Run b = Sevemu(d, {"provision", "--state", d / "b", "--seed", "c0ffee"});
  REQUIRE(b.code == 0);
  CHECK(test::ReadText(d / "a/platform.json") == test::ReadText(d / "b/platform.json"));
  CHECK(test::ReadText(d / "a/fuses.json") == test::ReadText(d / "b/fuses.json"));

  Run e = Sevemu(d, {"certs", "export", "--state", d / "a", "--out", d / "certs"});
  REQUIRE_MESSAGE(e.code == 0, e.err);
  for (const char* f :
       {"ark.pem", "ask.pem", "asvk.pem", "vcek.pem", "vcek.der", "cert_chain.pem"}) {
    CHECK(std::filesystem::exists(d / (std::string("certs/") + f)));
  }
  // The same check users run: OpenSSL's own chain verification, files as written.
  const std::string verify = "openssl verify -CAfile " + (d / "certs/ark.pem") + " -untrusted " +
                             (d / "certs/cert_chain.pem") + " " + (d / "certs/vcek.pem") + " > " +
                             (d / "verify.txt") + " 2>&1";
  CHECK_MESSAGE(std::system(verify.c_str()) == 0, test::ReadText(d / "verify.txt"));
  // A VCEK does not verify against the ASVK chain.
  const std::string wrong = "openssl verify -CAfile " + (d / "certs/ark.pem") + " -untrusted " +
                            (d / "certs/asvk.pem") + " " + (d / "certs/vcek.pem") +
                            " >/dev/null 2>&1";
  CHECK(std::system(wrong.c_str()) != 0);

  Run show = Sevemu(d, {"show", "--state", d / "a"});
  CHECK(show.code == 0);
  CHECK(show.out == test::ReadText(d / "a/platform.json"));
}

TEST_CASE("with --mint-root, a seed also fixes the AMD root's keys") {
  test::TempDir d;
  for (const char* dir : {"a", "b"}) {
    Run r = Sevemu(d, {"provision", "--state", d / dir, "--seed", "0102", "--mint-root",
                       "--product", "turin"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }
  for (const char* f : {"platform.json", "fuses.json", "amd/ark.key", "amd/ask.key", "amd/asvk.key",
                        "amd/kds.json"}) {
    CAPTURE(f);
    CHECK(test::ReadText(d / (std::string("a/") + f)) ==
          test::ReadText(d / (std::string("b/") + f)));
  }
  // A minted root is not the built-in test root.
  CHECK(test::ReadText(d / "a/amd/ark.key") !=
        test::ReadText(test::FixturePath("test_root/turin/ark.key")));
  Run e = Sevemu(d, {"certs", "export", "--state", d / "a", "--out", d / "certs"});
  CHECK(e.code == 0);
}

TEST_CASE("provision refuses to overwrite, and bad arguments get one line and exit 2") {
  test::TempDir d;
  REQUIRE(Sevemu(d, {"provision", "--state", d / "p", "--product", "genoa"}).code == 0);
  const std::string before = test::ReadText(d / "p/platform.json");
  Run again = Sevemu(d, {"provision", "--state", d / "p"});
  CHECK(again.code == 1);
  CHECK(OneLine(again.err));
  CHECK(again.err.find("refusing to provision over them") != std::string::npos);
  CHECK(test::ReadText(d / "p/platform.json") == before);

  const std::vector<std::vector<std::string>> bad = {
      {"provision"},  // --state missing
      {"provision", "--state", d / "x", "--product", "naples"},
      {"provision", "--state", d / "x", "--seed", "xyz"},
      {"provision", "--state", d / "x", "--seed", std::string(130, 'a')},
      {"provision", "--state", d / "x", "--tcb", "bl=1"},
      {"provision", "--state", d / "x", "--stepping", "99"},
      {"provision", "--state", d / "x", "--bogus"},
      {"provision", "--state", d / "x", "stray"},
      {"provision", "--state", d / "x", "--root", d / "r", "--mint-root"},
      {"certs", "import", "--out", d / "o"},
      {"serve", "--log-format", "xml"},
      {"serve", "--log-level", "loud"},
      {"nosuchcommand"},
  };
  for (const auto& args : bad) {
    CAPTURE(args.size() > 1 ? args[1] : args[0]);
    Run r = Sevemu(d, args);
    CHECK(r.code == 2);
    CHECK(OneLine(r.err));
  }
  CHECK_FALSE(std::filesystem::exists(d / "x/platform.json"));
}

TEST_CASE("damaged state: exit 1 with one line naming the file") {
  test::TempDir d;
  REQUIRE(Sevemu(d, {"provision", "--state", d / "p", "--seed", "01"}).code == 0);
  const std::string text = test::ReadText(d / "p/fuses.json");
  test::WriteText(d / "p/fuses.json", text.substr(0, text.size() - 10));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"show", "--state", d / "p"},
        std::vector<std::string>{"certs", "export", "--state", d / "p", "--out", d / "o"},
        std::vector<std::string>{"serve", "--check", "--state", d / "p"}}) {
    Run r = Sevemu(d, args);
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));
    CHECK(r.err.find("fuses.json") != std::string::npos);
  }
  CHECK(test::ReadText(d / "p/fuses.json") == text.substr(0, text.size() - 10));
  CHECK_FALSE(std::filesystem::exists(d / "o"));
}

// The commands that load a state directory, each of which must refuse the same damage.
std::vector<std::vector<std::string>> Loaders(const test::TempDir& d, const std::string& state) {
  return {{"show", "--state", state},
          {"certs", "export", "--state", state, "--out", d / "o"},
          {"serve", "--check", "--state", state},
          {"serve", "--state", state, "--socket", d / "never.sock"}};
}

TEST_CASE("a state directory that lost platform.json is never provisioned over") {
  test::TempDir d;
  const std::string state = d / "p";
  REQUIRE(Sevemu(d, {"provision", "--state", state, "--seed", "05"}).code == 0);
  const std::string fuses = test::ReadText(state + "/fuses.json");
  const std::string platform = test::ReadText(state + "/platform.json");
  std::filesystem::copy_file(state + "/platform.json", state + "/platform.json.bak");
  std::filesystem::remove(state + "/platform.json");
  for (const auto& args : Loaders(d, state)) {
    CAPTURE(args[0] + " " + args[1]);
    Run r = Sevemu(d, args);
    CHECK(r.code == 1);
    CHECK(OneLine(r.err));
    CHECK(r.err.find("platform.json is missing") != std::string::npos);
    CHECK(r.err.find("fuses.json") != std::string::npos);  // what is still there
    CHECK(r.err.find("cp -p " + state + "/platform.json.bak " + state + "/platform.json") !=
          std::string::npos);
    CHECK(r.err.find("provisioned") == std::string::npos);
  }
  Run again = Sevemu(d, {"provision", "--state", state});
  CHECK(again.code == 1);
  CHECK(again.err.find("refusing to provision over them") != std::string::npos);
  CHECK(test::ReadText(state + "/fuses.json") == fuses);  // the chip's identity is intact
  CHECK_FALSE(std::filesystem::exists(state + "/platform.json"));
  CHECK_FALSE(std::filesystem::exists(d / "never.sock"));

  // Without the backup too, and with only the AMD root left: still never provisioned over.
  std::filesystem::rename(state + "/platform.json.bak", d / "saved.json");
  Run no_backup = Sevemu(d, {"serve", "--state", state, "--socket", d / "never.sock"});
  CHECK(no_backup.code == 1);
  CHECK(no_backup.err.find("move the directory away") != std::string::npos);
  CHECK(test::ReadText(state + "/fuses.json") == fuses);

  // Restored as the message says, the same chip serves again.
  std::filesystem::rename(d / "saved.json", state + "/platform.json");
  CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);
  CHECK(test::ReadText(state + "/platform.json") == platform);

  // A damaged platform.json beside its backup: the message offers the backup.
  std::filesystem::copy_file(state + "/platform.json", state + "/platform.json.bak");
  test::WriteText(state + "/platform.json", "{\"format\": 7}");
  Run damaged = Sevemu(d, {"serve", "--check", "--state", state});
  CHECK(damaged.code == 1);
  CHECK(OneLine(damaged.err));
  CHECK(damaged.err.find("platform.json.bak holds the previous state") != std::string::npos);
}

TEST_CASE("state files others can read or change, or another user owns, are refused") {
  test::TempDir d;
  const std::string state = d / "p";
  REQUIRE(Sevemu(d, {"provision", "--state", state, "--seed", "06"}).code == 0);
  namespace fs = std::filesystem;
  struct Case {
    std::string path;
    fs::perms bad, good;
    const char* says;
  };
  const fs::perms rw = fs::perms::owner_read | fs::perms::owner_write;
  const fs::perms rwx = rw | fs::perms::owner_exec;
  const Case cases[] = {
      {state + "/fuses.json", rw | fs::perms::group_read | fs::perms::others_read, rw,
       "mode 0644 lets other users reach the chip's secrets; chmod 0600"},
      {state + "/amd/ark.key",
       rw | fs::perms::group_read | fs::perms::group_write | fs::perms::others_read |
           fs::perms::others_write,
       rw, "mode 0666 lets other users reach the chip's secrets; chmod 0600"},
      {state, fs::perms::all, rwx, "mode 0777 lets other users change it; chmod 0755"},
      {state + "/platform.json", rw | fs::perms::others_write, rw | fs::perms::group_read,
       "mode 0602 lets other users change it"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    fs::permissions(c.path, c.bad);
    for (const auto& args : Loaders(d, state)) {
      Run r = Sevemu(d, args);
      CHECK(r.code == 1);
      CHECK(OneLine(r.err));
      CHECK_MESSAGE(r.err.find(c.path + ": " + c.says) != std::string::npos, r.err);
    }
    fs::permissions(c.path, c.good);
    CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);
  }
  if (geteuid() == 0) {  // only root can give a file away
    REQUIRE(chown((state + "/fuses.json").c_str(), 65534, 65534) == 0);
    Run r = Sevemu(d, {"serve", "--check", "--state", state});
    CHECK(r.code == 1);
    CHECK(r.err.find("fuses.json: owned by uid 65534, not by this user") != std::string::npos);
    REQUIRE(chown((state + "/fuses.json").c_str(), 0, 0) == 0);
    CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);
  }
}

TEST_CASE("one changed digit in fuses.json is found: the file carries a check") {
  test::TempDir d;
  const std::string state = d / "p";
  REQUIRE(Sevemu(d, {"provision", "--state", state, "--seed", "07"}).code == 0);
  auto j = nlohmann::json::parse(test::ReadText(state + "/fuses.json"));
  REQUIRE(j.contains("check"));
  for (const char* field : {"hash_stick_root", "chip_unique_key", "check"}) {
    CAPTURE(field);
    auto damaged = j;
    std::string v = damaged[field];
    v[7] = v[7] == '0' ? '1' : '0';
    damaged[field] = v;
    test::WriteText(state + "/fuses.json", damaged.dump(2));
    for (const auto& args : Loaders(d, state)) {
      Run r = Sevemu(d, args);
      CHECK(r.code == 1);
      CHECK(OneLine(r.err));
      CHECK(r.err.find("fuses.json: damaged, or not this chip's") != std::string::npos);
      CHECK(r.err.find(v) == std::string::npos);  // no secret in the message
    }
  }
  // Another chip's fuses, whole and valid on their own, are not this chip's either.
  REQUIRE(Sevemu(d, {"provision", "--state", d / "q", "--seed", "08"}).code == 0);
  test::WriteText(state + "/fuses.json", test::ReadText(d / "q/fuses.json"));
  CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 1);
  // A file from before the check existed still loads.
  j.erase("check");
  test::WriteText(state + "/fuses.json", j.dump(2));
  CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);
}

TEST_CASE("a FIFO in place of a state file is refused at once, not waited on") {
  test::TempDir d;
  const std::string state = d / "p";
  REQUIRE(Sevemu(d, {"provision", "--state", state, "--seed", "09"}).code == 0);
  for (const char* name : {"platform.json", "fuses.json"}) {
    CAPTURE(name);
    const std::string path = state + "/" + name;
    const std::string saved = test::ReadText(path);
    std::filesystem::remove(path);
    REQUIRE(mkfifo(path.c_str(), 0600) == 0);
    for (const auto& args : Loaders(d, state)) {
      Run r = Sevemu(d, args);  // before the fix, this never returned
      CHECK(r.code == 1);
      CHECK(OneLine(r.err));
      CHECK(r.err.find(path + ": not a regular file") != std::string::npos);
    }
    std::filesystem::remove(path);
    test::WriteText(path, saved);
    std::filesystem::permissions(
        path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);
}

// `sevemu serve` in the background until its socket answers, then SIGTERM; its stderr.
std::string ServeOnce(const test::TempDir& d, const std::vector<std::string>& env) {
  const std::string socket = d / "once.sock";
  const std::string err = d / "once.err";
  const pid_t daemon = fork();
  REQUIRE(daemon >= 0);
  if (daemon == 0) {
    const int f = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(f, 2);
    for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    execl(SEVEMU_CLI_PATH, SEVEMU_CLI_PATH, "serve", "--socket", socket.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 1500 && !std::filesystem::exists(socket); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(std::filesystem::exists(socket));
  REQUIRE(kill(daemon, SIGTERM) == 0);
  int status = 0;
  REQUIRE(waitpid(daemon, &status, 0) == daemon);
  CHECK(WIFEXITED(status));
  return test::ReadText(err);
}

TEST_CASE("serve provisions the default platform on first start and reuses it after") {
  test::TempDir d;
  const std::string env = "SEVEMU_STATE_DIR=" + (d / "default");
  // --check writes nothing: without a platform it is an error, and no directory appears.
  Run check_first = Sevemu(d, {"serve", "--check"}, {env});
  CHECK(check_first.code == 1);
  CHECK(OneLine(check_first.err));
  CHECK(check_first.err.find("no platform here") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(d / "default"));

  const std::string first = ServeOnce(d, {env});
  CHECK(first.find("provisioned") != std::string::npos);
  CHECK(first.find("product=Milan") != std::string::npos);
  const std::string platform = test::ReadText(d / "default/platform.json");
  Run second = Sevemu(d, {"serve", "--check", "--log-format", "json"}, {env});
  REQUIRE(second.code == 0);
  CHECK(second.err.find("provisioned") == std::string::npos);
  CHECK(second.err.find("\"event\":\"platform\"") != std::string::npos);
  CHECK(second.err.find("\"event\":\"self-test passed\"") != std::string::npos);
  CHECK(test::ReadText(d / "default/platform.json") == platform);
  // No secret from fuses.json appears in the logs.
  const auto fuses = nlohmann::json::parse(test::ReadText(d / "default/fuses.json"));
  CHECK(second.err.find(fuses["hash_stick_root"].get<std::string>()) == std::string::npos);
  CHECK(first.find(fuses["chip_unique_key"].get<std::string>()) == std::string::npos);
}

TEST_CASE("serve holds a lock, refuses a second daemon, and stops cleanly on SIGTERM") {
  test::TempDir d;
  const std::string state = d / "s";
  REQUIRE(Sevemu(d, {"provision", "--state", state}).code == 0);
  const pid_t daemon = fork();
  REQUIRE(daemon >= 0);
  if (daemon == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    const std::string socket = d / "s.sock";
    execl(SEVEMU_CLI_PATH, SEVEMU_CLI_PATH, "serve", "--state", state.c_str(), "--socket",
          socket.c_str(), nullptr);
    _exit(127);
  }
  // Wait until the daemon holds the lock (its pid is written into the lock file).
  const std::string pid = std::to_string(daemon);
  for (int i = 0; i < 500 && test::ReadText(state + "/lock").rfind(pid, 0) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(test::ReadText(state + "/lock").rfind(pid, 0) == 0);
  // The lock is taken before the platform is loaded; give the daemon time to finish starting.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Run second = Sevemu(d, {"serve", "--state", state, "--socket", d / "other.sock"});
  CHECK(second.code == 1);
  CHECK(second.err.find("in use by another sevemu (pid " + pid + ")") != std::string::npos);

  REQUIRE(kill(daemon, SIGTERM) == 0);
  int status = 0;
  REQUIRE(waitpid(daemon, &status, 0) == daemon);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::filesystem::exists(state + "/platform.json.bak"));        // state persisted on stop
  CHECK(Sevemu(d, {"serve", "--check", "--state", state}).code == 0);  // lock released
}

TEST_CASE("serve --socket never removes what is not a socket") {
  test::TempDir d;
  const std::string file = d / "file.sock", dir = d / "dir.sock";
  test::WriteText(file, "precious\n");
  REQUIRE(std::filesystem::create_directory(dir));
  for (const std::string& path : {file, dir}) {
    CAPTURE(path);
    Run r = Sevemu(d, {"serve", "--state", d / "p", "--seed", "01", "--socket", path});
    CHECK(r.code == 1);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK(r.err.find("is not a socket") != std::string::npos);
  }
  CHECK(test::ReadText(file) == "precious\n");
  CHECK(std::filesystem::is_directory(dir));
}

TEST_CASE("kds vlek issues a certificate and a wrapped VLEK; explain prints the machine") {
  test::TempDir d;
  REQUIRE(Sevemu(d, {"provision", "--state", d / "p", "--seed", "02"}).code == 0);
  Run r = Sevemu(
      d, {"kds", "vlek", "--state", d / "p", "--csp-id", "CN=csp.example", "--out", d / "v"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(std::filesystem::file_size(d / "v/vlek_wrapped.bin") == 432);
  const std::string verify = "openssl verify -CAfile " + (d / "v/ark.pem") + " -untrusted " +
                             (d / "v/asvk.pem") + " " + (d / "v/vlek.pem") + " >/dev/null 2>&1";
  CHECK(std::system(verify.c_str()) == 0);
  Run above = Sevemu(
      d, {"kds", "vlek", "--state", d / "p", "--csp-id", "x", "--tcb", "bl=1", "--out", d / "w"});
  CHECK(above.code == 2);

  Run dot = Sevemu(d, {"explain", "statemachine", "--format", "dot"});
  CHECK(dot.code == 0);
  CHECK(dot.out.rfind("digraph snp_platform {", 0) == 0);
}

}  // namespace sevemu

namespace sevemu {
TEST_CASE("firmware image: builds an ARK-signed image; bad arguments are usage errors") {
  test::TempDir d;
  REQUIRE(Sevemu(d, {"provision", "--state", d / "p", "--seed", "03"}).code == 0);
  Run r = Sevemu(d, {"firmware", "image", "--state", d / "p", "--version", "1.56.3", "--tcb",
                     "bl=3,tee=0,snp=9,ucode=115", "--out", d / "fw.bin"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string image = test::ReadText(d / "fw.bin");
  CHECK(image.rfind("SEVEMUFW", 0) == 0);
  CHECK(image.size() == 0x40 + 4096 + 512);
  for (const char* v : {"1.56", "1.56.3.1", "1.300.2", "x"}) {
    CAPTURE(v);
    CHECK(
        Sevemu(d, {"firmware", "image", "--state", d / "p", "--version", v, "--out", d / "bad.bin"})
            .code == 2);
  }
  CHECK(Sevemu(d, {"firmware", "image", "--state", d / "p", "--version", "1.56.3", "--tcb", "bl=1",
                   "--out", d / "bad.bin"})
            .code == 2);
  CHECK_FALSE(std::filesystem::exists(d / "bad.bin"));
}

TEST_CASE("owner measure predicts direct-boot digests; owner image writes the built-in images") {
  // No daemon: the owner's side alone, against fixtures/launch/direct_boot.json.
  test::TempDir d;
  const auto fixture = test::LoadJsonFixture("launch/direct_boot.json");
  Run r = Sevemu(d, {"owner", "image", "--direct-boot", "--out", d / "db.fd"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const std::string db = test::ReadText(d / "db.fd");
  CHECK(db.size() == fixture["ovmf"]["size"].get<std::size_t>());
  const std::string fixtures = SEVEMU_FIXTURES_DIR;
  int n = 0;
  for (const auto& c : fixture["cases"]) {
    CAPTURE(c["command"].get<std::string>());
    const std::string mode = c["mode"];
    std::vector<std::string> args = {"owner",     "measure", "--image",
                                     d / "db.fd", "--type",  mode == "seves" ? "sev-es" : mode};
    if (mode != "sev") {
      args.insert(args.end(), {"--vcpus", std::to_string(c["vcpus"].get<int>()), "--vcpu-type",
                               c["vcpu_type"].get<std::string>()});
    }
    for (const char* key : {"kernel", "initrd"}) {
      if (!c.contains(key)) continue;
      args.push_back(std::string("--") + key);
      args.push_back(fixtures + c[key].get<std::string>().substr(std::string("fixtures").size()));
    }
    if (c.contains("append")) args.insert(args.end(), {"--append", c["append"]});
    r = Sevemu(d, args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    CHECK(r.out == c["digest"].get<std::string>() + "\n");
    ++n;
  }
  CHECK(n >= 7);
  // Usage errors: exit 2, one line.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"owner", "measure", "--image", "builtin", "--initrd", d / "db.fd"},
        std::vector<std::string>{"owner", "measure", "--image", "builtin", "--append", "x"},
        std::vector<std::string>{"owner", "measure", "--digest", "00", "--kernel", d / "db.fd"}}) {
    r = Sevemu(d, bad);
    CHECK(r.code == 2);
    CHECK_MESSAGE(OneLine(r.err), r.err);
    CHECK((r.err.find("only allowed with -kernel option") != std::string::npos ||
           r.err.find("--kernel goes with measure --image") != std::string::npos));
  }
  // The plain built-in image has no hash table: one line with QEMU's words, exit 1.
  r = Sevemu(d, {"owner", "image", "--out", d / "plain.fd"});
  REQUIRE(r.code == 0);
  r = Sevemu(
      d, {"owner", "measure", "--image", d / "plain.fd", "--type", "sev", "--kernel", d / "db.fd"});
  CHECK(r.code == 1);
  CHECK_MESSAGE(OneLine(r.err), r.err);
  CHECK(r.err.find("kernel specified but guest firmware has no hashes table GUID") !=
        std::string::npos);
}

TEST_CASE("docs/diagrams are what the code prints") {
  test::TempDir d;
  for (const char* machine :
       {"snp_platform", "snp_guest", "snp_migration", "sev_platform", "sev_guest"}) {
    CAPTURE(machine);
    Run dot = Sevemu(d, {"explain", "statemachine", "--machine", machine, "--format", "dot"});
    REQUIRE(dot.code == 0);
    CHECK(dot.out ==
          test::ReadText(test::FixturePath(std::string("../docs/diagrams/") + machine + ".dot")));
  }
  CHECK(Sevemu(d, {"explain", "statemachine", "--machine", "nope"}).code == 2);
  Run rmp = Sevemu(d, {"explain", "rmp", "--format", "dot"});
  REQUIRE(rmp.code == 0);
  CHECK(rmp.out == test::ReadText(test::FixturePath("../docs/diagrams/rmp_page_states.dot")));
  CHECK(
      Sevemu(d, {"explain", "rmp"}).out.find("PRE_SWAP --SNP_PAGE_SWAP_OUT source--> PRE_GUEST") !=
      std::string::npos);
}
}  // namespace sevemu
