// sevemu guest migrate NAME --to PLATFORM for an SNP guest: the untrusted host's side (the VMM
// of both platforms) of a live migration with migration agents (docs/migration.md). The daemon's
// guest.migrate steps pause the guest by swapping every page out and create the destination's
// empty context ("begin"); two `sevemu ma-agent` processes, each connected to the daemon as its
// agent guest, attest each other and move the context (MSG_EXPORT_REQ, their sealed channel,
// MSG_IMPORT_REQ) while this process only relays their frames; then "commit" swaps the pages in
// on the destination — or "cancel" swaps them back in on the source when the agents refused.
#include "snp_migrate.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "daemon_client.h"
#include "sevemu/common/file_io.h"

namespace sevemu::cli {

namespace {

struct AgentProcess {
  pid_t pid = -1;
  int fd = -1;  // our end of its stdin/stdout (a socket pair: MSG_NOSIGNAL works on it)
};

Result<AgentProcess> Spawn(const std::vector<std::string>& args) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return Error(ErrorCode::kIo, "cannot find the sevemu executable");
  self[n] = '\0';
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return Error(ErrorCode::kIo, "socketpair failed");
  }
  std::vector<char*> argv;
  argv.push_back(self);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return Error(ErrorCode::kIo, "fork failed");
  }
  if (pid == 0) {
    ::dup2(sv[1], STDIN_FILENO);
    ::dup2(sv[1], STDOUT_FILENO);
    ::execv(self, argv.data());
    ::_exit(127);
  }
  ::close(sv[1]);
  return AgentProcess{pid, sv[0]};
}

void Reap(AgentProcess& p) {
  if (p.fd >= 0) ::close(p.fd);
  p.fd = -1;
  if (p.pid > 0) {
    int status = 0;
    while (::waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  p.pid = -1;
}

// Carries the agents' frames, in the order their protocol has: both hellos, the sealed context
// from the source, the destination's answer. Every frame is recorded if asked.
class Relay {
 public:
  Relay(AgentProcess& src, AgentProcess& dst, std::string record)
      : src_(src), dst_(dst), record_(std::move(record)) {}

  Status Run() {
    SEVEMU_ASSIGN_OR_RETURN(Bytes hello_src, Take(src_, "the source agent"));
    SEVEMU_ASSIGN_OR_RETURN(Bytes hello_dst, Take(dst_, "the destination agent"));
    if (Status st = WriteMaFrame(dst_.fd, hello_src); !st.ok()) return st;
    if (Status st = WriteMaFrame(src_.fd, hello_dst); !st.ok()) return st;
    SEVEMU_ASSIGN_OR_RETURN(Bytes sealed, Take(src_, "the source agent"));
    if (Status st = WriteMaFrame(dst_.fd, sealed); !st.ok()) return st;
    SEVEMU_ASSIGN_OR_RETURN(Bytes done, Take(dst_, "the destination agent"));
    if (done.size() != 1 || done[0] != kFrameDone) {
      return Error(ErrorCode::kRefused, "the destination agent did not confirm the import");
    }
    return {};
  }

 private:
  Result<Bytes> Take(AgentProcess& from, const char* who) {
    auto frame = ReadMaFrame(from.fd);
    if (!frame.ok()) return frame.error().Context(who);
    if (!record_.empty()) {
      const std::string path = record_ + "/channel-" + std::to_string(++frames_) + ".bin";
      if (Status st = WriteFileAtomic(path, *frame, 0600, false); !st.ok()) return st.error();
    }
    if ((*frame)[0] == kFrameError) {
      return Error(ErrorCode::kRefused,
                   std::string(who) + ": " + std::string(frame->begin() + 1, frame->end()));
    }
    return frame;
  }
  AgentProcess &src_, &dst_;
  std::string record_;
  int frames_ = 0;
};

}  // namespace

int MigrateSnpGuest(const std::string& name, protocol::Client& host, const SnpMigrateOptions& o) {
  if (o.trust_ark.empty()) {
    return UsageError(name, "migrate (snp) needs --trust-ark FILE: the AMD roots the agents trust");
  }
  if (!o.record.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.record, ec);
    if (ec) return Fail(name, Error(ErrorCode::kIo, o.record + ": " + ec.message()));
  }
  nlohmann::json begin = {
      {"op", "guest.migrate"}, {"name", o.guest}, {"to", o.to}, {"step", "begin"}};
  if (!o.agent.empty()) begin["agent"] = o.agent;
  if (!o.to_agent.empty()) begin["to_agent"] = o.to_agent;
  if (!o.record.empty()) begin["record"] = true;
  auto b = ManageCall(host, begin);
  if (!b.ok()) return Fail(name, b.error());
  const std::string from = b->value("from", ""), agent = b->value("agent", ""),
                    to_agent = b->value("to_agent", "");
  auto agent_args = [&](const char* role, const std::string& platform, const std::string& guest,
                        std::uint64_t gctx) {
    std::vector<std::string> a = {
        "ma-agent",           role,         "--guest", guest, "--target-gctx",
        std::to_string(gctx), "--platform", platform};
    if (!o.socket.empty()) a.insert(a.end(), {"--socket", o.socket});
    for (const auto& t : o.trust_ark) a.insert(a.end(), {"--trust-ark", t});
    return a;
  };
  Status outcome;
  auto src = Spawn(agent_args("export", from, agent, b->value("source_gctx", std::uint64_t{0})));
  auto dst = Spawn(agent_args("import", o.to, to_agent, b->value("dest_gctx", std::uint64_t{0})));
  if (!src.ok() || !dst.ok()) {
    outcome = !src.ok() ? src.error() : dst.error();
  } else {
    outcome = Relay(*src, *dst, o.record).Run();
  }
  if (src.ok()) Reap(*src);
  if (dst.ok()) Reap(*dst);
  const std::string what = "migrating '" + o.guest + "' to '" + o.to + "'";
  if (!outcome.ok()) {
    // Nothing was exported: the guest runs on where it was.
    auto cancel = ManageCall(
        host, {{"op", "guest.migrate"}, {"name", o.guest}, {"to", o.to}, {"step", "cancel"}});
    if (!cancel.ok()) {
      return Fail(name,
                  Error(ErrorCode::kRefused, what + ": " + outcome.error().message() +
                                                 "; the guest cannot run on the source again (" +
                                                 cancel.error().message() + ")"));
    }
    return Fail(name, outcome.error().Context(what));
  }
  Bytes carried;
  auto done = ManageCall(host,
                         {{"op", "guest.migrate"},
                          {"name", o.guest},
                          {"to", o.to},
                          {"step", "commit"},
                          {"to_agent", to_agent},
                          {"record", !o.record.empty()}},
                         {}, &carried);
  if (!done.ok()) return Fail(name, done.error());
  if (!o.record.empty()) {
    if (Status st = WriteFileAtomic(o.record + "/pages.bin", carried, 0600, false); !st.ok()) {
      return Fail(name, st.error());
    }
  }
  if (o.json) {
    std::cout << done->dump(2) << "\n";
  } else {
    std::cout << "migrated " << o.guest << " from " << from << " to " << o.to << " (agents "
              << agent << " -> " << to_agent << ", " << (*done)["pages"] << " pages)\n";
  }
  return kExitOk;
}

}  // namespace sevemu::cli
