// The daemon's platforms run on separate threads (docs/protocol.md, "Concurrency"): a request
// that keeps one platform busy does not hold up another platform's guests, one platform's
// requests still run one at a time, operations that hold several platforms do not deadlock,
// and one connection's replies come in request order. The daemon runs in-process over a real
// socket; a test hook (DaemonOptions::before_work) holds a platform busy for as long as the test
// says, so what is asserted is order and completion, never a time.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "../emulator/emulator_fixture.h"
#include "sevemu/daemon/daemon.h"
#include "sevemu/protocol/client.h"
#include "sevemu/protocol/wire.h"
#include "sevemu/trace/trace.h"
#include "test_util.h"

namespace sevemu {
namespace {

using nlohmann::json;
using protocol::MsgType;

// A gate the hook waits at, opened by the test.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Two Milan platforms "a" and "b" served in-process, each with SNP guest "vm".
struct TwoPlatforms {
  test::TempDir dir;
  std::unique_ptr<daemon::Daemon> daemon;
  std::thread runner;
  std::string socket = dir / "sock";
  // The hook's view: requests inside each platform now, and the most seen at once.
  std::mutex mu;
  std::map<std::string, int> inside, most;
  std::atomic<bool> hold_a{false};
  std::promise<void> a_entered;
  Gate release_a;

  std::shared_ptr<trace::TraceHub> hub;

  // `trace`: the daemon writes its trace to dir/trace.
  explicit TwoPlatforms(bool trace = false) {
    std::vector<daemon::ServedPlatform> platforms;
    for (const auto& [name, seed] : {std::pair{"a", 1}, std::pair{"b", 2}}) {
      const std::string state = dir / name;
      std::filesystem::create_directories(state);
      auto lock = DirLock::Acquire(state);
      REQUIRE(lock.ok());
      auto host = hypervisor::Host::Boot(
          test::SeededPlatform(emulator::Product::kMilan, static_cast<std::uint8_t>(seed)), {});
      REQUIRE(host.ok());
      platforms.push_back({name, state, std::move(lock).value(), nullptr, std::move(host).value()});
    }
    daemon::DaemonOptions options;
    options.socket_path = socket;
    if (trace) {
      hub = std::make_shared<trace::TraceHub>();
      REQUIRE(hub->OpenFile(dir / "trace").ok());
      options.trace = hub;
    }
    options.before_work = [this](const std::string& platform, MsgType type) {
      {
        std::lock_guard<std::mutex> l(mu);
        most[platform] = std::max(most[platform], ++inside[platform]);
      }
      // The first MANAGE on "a" after the test asks: held until the test opens the gate.
      if (platform == "a" && type == MsgType::kManage && hold_a.exchange(false)) {
        a_entered.set_value();
        release_a.Wait();
      }
      std::lock_guard<std::mutex> l(mu);
      --inside[platform];
    };
    auto d = daemon::Daemon::Create(options, std::move(platforms), nullptr);
    REQUIRE(d.ok());
    daemon = std::move(d).value();
    runner = std::thread([this] { (void)daemon->Run(); });
    protocol::Client a = Host("a");
    REQUIRE(Manage(a, {{"op", "guest.launch"}, {"name", "vm"}}).ok());
    protocol::Client b = Host("b");
    REQUIRE(Manage(b, {{"op", "guest.launch"}, {"name", "vm"}}).ok());
  }
  ~TwoPlatforms() {
    release_a.Open();
    daemon->Stop();
    runner.join();
  }

  // A client whose calls fail (kIo) rather than hang if the daemon never answers: a stalled
  // platform is then a failed check, not a hung suite.
  protocol::Client Connect(const json& hello) {
    auto c = protocol::Client::Connect(socket, hello.dump());
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message()));
    timeval tv{60, 0};
    REQUIRE(::setsockopt(c->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    return std::move(c).value();
  }
  protocol::Client Host(const std::string& platform) {
    return Connect({{"role", "host"}, {"platform", platform}, {"writable", true}});
  }
  protocol::Client Guest(const std::string& platform) {
    return Connect({{"role", "guest"}, {"platform", platform}, {"guest", "vm"}});
  }
  static Result<json> Manage(protocol::Client& c, const json& req) {
    auto r = c.Call(MsgType::kManage, protocol::EncodeJsonBlob({req.dump(), {}}));
    if (!r.ok()) return r.error();
    if (!r->ok()) {
      return Error(ErrorCode::kRefused, std::string(r->payload.begin(), r->payload.end()));
    }
    auto blob = protocol::DecodeJsonBlob(r->payload);
    if (!blob.ok()) return blob.error();
    return json::parse(blob->json);
  }
  // A configfs-tsm report of the guest: the firmware signs one (SNP_GUEST_REQUEST).
  static bool TsmReport(protocol::Client& g) {
    protocol::TsmReportRequest req;
    req.inblob = Bytes(64, 0x5a);
    auto r = g.Call(MsgType::kGuestTsmReport, protocol::EncodeTsmReportRequest(req));
    if (!r.ok() || !r->ok()) return false;
    auto reply = protocol::DecodeTsmReportReply(r->payload);
    return reply.ok() && reply->ret == 0 && !reply->outblob.empty();
  }
};

TEST_CASE("a platform held busy does not stall a guest request on another platform") {
  TwoPlatforms t;
  protocol::Client host_a = t.Host("a");
  protocol::Client guest_b = t.Guest("b");
  t.hold_a = true;
  std::atomic<bool> a_done{false};
  std::thread busy([&] {
    CHECK(TwoPlatforms::Manage(host_a, {{"op", "status"}}).ok());
    a_done = true;
  });
  t.a_entered.get_future().wait();  // "a" is inside its request now, and stays there
  // With one thread for every platform this would wait for "a" (and time out).
  CHECK(TwoPlatforms::TsmReport(guest_b));
  CHECK(TwoPlatforms::TsmReport(guest_b));
  CHECK_FALSE(a_done.load());  // "a" was busy throughout
  t.release_a.Open();
  busy.join();
  CHECK(a_done.load());
}

TEST_CASE("one platform's requests still run one at a time") {
  TwoPlatforms t;
  constexpr int kClients = 4, kRounds = 25;
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      protocol::Client g = t.Guest(i % 2 == 0 ? "a" : "b");
      for (int r = 0; r < kRounds; ++r) CHECK(TwoPlatforms::TsmReport(g));
    });
  }
  for (auto& c : clients) c.join();
  std::lock_guard<std::mutex> l(t.mu);
  CHECK(t.most["a"] == 1);
  CHECK(t.most["b"] == 1);
}

TEST_CASE("operations holding both platforms, issued from both sides, do not deadlock") {
  TwoPlatforms t;
  // capabilities reads every platform (all held, in one order); guest.migrate holds two.
  std::vector<std::thread> clients;
  for (const char* platform : {"a", "b"}) {
    clients.emplace_back([&t, platform] {
      protocol::Client h = t.Host(platform);
      for (int r = 0; r < 30; ++r) {
        auto caps = TwoPlatforms::Manage(h, {{"op", "capabilities"}});
        REQUIRE(caps.ok());
        CHECK((*caps)["platforms"].size() == 2);
        // An SNP guest cannot be moved this way: refused, after both platforms were held.
        auto m = TwoPlatforms::Manage(
            h, {{"op", "guest.migrate"}, {"name", "vm"}, {"to", platform[0] == 'a' ? "b" : "a"}});
        CHECK_FALSE(m.ok());
        CHECK(m.error().message().find("internal") == std::string::npos);
      }
    });
  }
  // Guests keep being served meanwhile.
  protocol::Client g = t.Guest("b");
  for (int r = 0; r < 10; ++r) CHECK(TwoPlatforms::TsmReport(g));
  for (auto& c : clients) c.join();
}

TEST_CASE("the trace stays one ordered stream while both platforms run") {
  TwoPlatforms t(true);
  protocol::Client live = t.Host("a");
  auto sub = live.Call(MsgType::kTraceSubscribe, {});
  REQUIRE(sub.ok());
  REQUIRE(sub->ok());
  std::vector<std::thread> clients;
  for (const char* platform : {"a", "b"}) {
    clients.emplace_back([&t, platform] {
      protocol::Client g = t.Guest(platform);
      for (int r = 0; r < 20; ++r) CHECK(TwoPlatforms::TsmReport(g));
    });
  }
  for (auto& c : clients) c.join();
  // The file: every line whole, numbered 0, 1, 2... in file order, both platforms in it.
  std::istringstream file(test::ReadText(t.dir / "trace"));
  std::string line;
  std::uint64_t n = 0;
  std::set<std::string> platforms;
  while (std::getline(file, line)) {
    const json j = json::parse(line, nullptr, false);
    REQUIRE(j.is_object());
    CHECK(j["seq"].get<std::uint64_t>() == n);
    platforms.insert(j.value("platform", ""));
    ++n;
  }
  CHECK(platforms.count("a") == 1);
  CHECK(platforms.count("b") == 1);
  // The live client: the same lines from its subscription on, in the same order, none lost.
  std::uint64_t last = 0;
  bool first = true;
  while (last + 1 < n) {
    std::array<std::uint8_t, protocol::kHeaderSize> hdr{};
    REQUIRE(protocol::ReadExact(live.fd(), hdr).ok());
    auto h = protocol::DecodeHeader(hdr);
    REQUIRE(h.ok());
    Bytes payload(h->payload_length);
    REQUIRE(protocol::ReadExact(live.fd(), payload).ok());
    REQUIRE(h->type == MsgType::kTraceEvent);
    const json j = json::parse(payload.begin(), payload.end());
    const std::uint64_t seq = j["seq"].get<std::uint64_t>();
    if (!first) CHECK(seq == last + 1);
    first = false;
    last = seq;
  }
}

TEST_CASE("pipelined requests on one connection are answered in request order") {
  TwoPlatforms t;
  protocol::Client g = t.Guest("a");
  // Three frames in one write: a report, WHOAMI, a report.
  protocol::TsmReportRequest req;
  req.inblob = Bytes(64, 1);
  const Bytes report = protocol::EncodeTsmReportRequest(req);
  Bytes frames;
  for (const auto& [type, id] :
       {std::pair{MsgType::kGuestTsmReport, 7u}, std::pair{MsgType::kWhoAmI, 8u},
        std::pair{MsgType::kGuestTsmReport, 9u}}) {
    const Bytes f =
        protocol::EncodeFrame(type, id, type == MsgType::kWhoAmI ? ByteSpan{} : ByteSpan(report));
    frames.insert(frames.end(), f.begin(), f.end());
  }
  REQUIRE(protocol::WriteAll(g.fd(), frames).ok());
  for (std::uint32_t want : {7u, 8u, 9u}) {
    std::array<std::uint8_t, protocol::kHeaderSize> hdr{};
    REQUIRE(protocol::ReadExact(g.fd(), hdr).ok());
    auto h = protocol::DecodeHeader(hdr);
    REQUIRE(h.ok());
    CHECK(h->request_id == want);
    CHECK((static_cast<std::uint16_t>(h->type) & protocol::kReplyBit) != 0);
    Bytes payload(h->payload_length);
    REQUIRE(protocol::ReadExact(g.fd(), payload).ok());
  }
}

}  // namespace
}  // namespace sevemu
