// Figures across processes: `sevemu serve` starting over an existing state directory, the C
// guest client under the preload shim and under `sevemu run`, the shim's start-up cost, and the
// KDS over loopback HTTP. Each iteration is real processes and sockets, so these are the
// noisiest figures; their limits are measured the same way (a plain exec, a cached HTTP answer).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "bench_registry.h"
#include "bench_util.h"
#include "sevemu/common/bytes.h"
#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::bench {
namespace {

// One daemon with guest "vm" for the whole run: starting it is measured separately.
struct GuestWorld {
  TempDir dir;
  Daemon daemon{dir};
  bool ok = false;
  GuestWorld() { ok = daemon.Start() && daemon.Sevemu({"guest", "launch", "vm"}) == 0; }
};

GuestWorld& World() {
  static GuestWorld* w =
      new GuestWorld();  // its daemon is killed at exit (bench_util.cpp, KillLiveChildren)
  return *w;
}

constexpr int kRounds = 200;

// The guest client, `rounds` requests in one process; the time is the client's own loop.
void ClientLoop(benchmark::State& state, const char* what, bool run) {
  GuestWorld& w = World();
  if (!w.ok) return state.SkipWithError("no daemon with a guest");
  std::vector<std::string> args;
  Env env;
  if (run) {
    args = {CliPath(), "run", "--socket", w.daemon.socket(), "--guest", "vm", "--"};
  } else {
    env.set = {{"LD_PRELOAD", PreloadPath()},
               {"SEVEMU_SOCKET", w.daemon.socket()},
               {"SEVEMU_GUEST", "vm"}};
  }
  args.insert(args.end(), {GuestClientPath(), what, std::to_string(kRounds)});
  for (auto _ : state) {
    std::string out;
    if (Run(args, env, &out) != 0) return state.SkipWithError(("client failed: " + out).c_str());
    unsigned long long ns = 0;
    long ok = 0;
    if (std::sscanf(out.c_str(), "ok=%ld ns=%llu", &ok, &ns) != 2 || ok != kRounds) {
      return state.SkipWithError(("client output: " + out).c_str());
    }
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * kRounds);
}

// One daemon serving `n` platforms (state directories "state", "p1", ...; their names), guest
// "vm" on each; `threads` for serve --threads (0: its default).
struct PlatformsWorld {
  TempDir dir;
  std::vector<std::string> names;
  std::unique_ptr<Daemon> daemon;
  bool ok = false;
  PlatformsWorld(int n, int threads) {
    std::vector<std::string> extra = {"--threads", std::to_string(threads)};
    names.push_back("state");
    for (int i = 1; i < n; ++i) {
      names.push_back("p" + std::to_string(i));
      extra.insert(extra.end(), {"--state", dir / names.back()});
    }
    daemon = std::make_unique<Daemon>(dir, extra);
    ok = daemon->Start();
    for (const auto& name : names) {
      ok = ok && daemon->Sevemu({"guest", "launch", "vm", "--platform", name}) == 0;
    }
  }
};

// One guest client per platform at once, each `kRounds` reports through the shim. The time is
// the slowest client's own loop, so the rate (every client's reports over it) is a lower bound.
// `threads` 1: every platform on one work thread (the one-thread daemon's serialisation, with
// the same processes and load), the control for the default.
void PlatformsReport(benchmark::State& state, int threads) {
  const int n = static_cast<int>(state.range(0));
  static std::map<std::pair<int, int>, PlatformsWorld*>
      worlds;  // their daemons are killed at exit (KillLiveChildren)
  const std::pair key{n, threads};
  if (worlds.count(key) == 0) worlds[key] = new PlatformsWorld(n, threads);
  PlatformsWorld& w = *worlds[key];
  if (!w.ok) return state.SkipWithError("no daemon with a guest on each platform");
  for (auto _ : state) {
    std::vector<std::unique_ptr<Child>> clients;
    for (const auto& name : w.names) {
      Env env{{{"LD_PRELOAD", PreloadPath()},
               {"SEVEMU_SOCKET", w.daemon->socket()},
               {"SEVEMU_PLATFORM", name},
               {"SEVEMU_GUEST", "vm"}},
              {}};
      clients.push_back(std::make_unique<Child>());
      if (!clients.back()->Spawn({GuestClientPath(), "report", std::to_string(kRounds)}, env,
                                 true)) {
        return state.SkipWithError("spawning a client failed");
      }
    }
    unsigned long long slowest = 0;
    for (auto& c : clients) {
      const std::string out = c->ReadAll();
      unsigned long long ns = 0;
      long ok = 0;
      if (c->Wait() != 0 || std::sscanf(out.c_str(), "ok=%ld ns=%llu", &ok, &ns) != 2 ||
          ok != kRounds) {
        return state.SkipWithError(("client output: " + out).c_str());
      }
      slowest = std::max(slowest, ns);
    }
    state.SetIterationTime(static_cast<double>(slowest) / 1e9);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * n * kRounds);
}

// A process start: `args` run to completion, with `env`.
// Wall time per exec, and the child's own CPU time per exec as the counter child_cpu_us: on a
// loaded machine the wall time mostly measures waiting to be scheduled, the CPU time does not.
void Exec(benchmark::State& state, std::vector<std::string> args, Env env) {
  double cpu = 0;
  for (auto _ : state) {
    if (Run(args, env, nullptr, &cpu) != 0) return state.SkipWithError("exec failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["child_cpu_us"] =
      benchmark::Counter(cpu * 1e6, benchmark::Counter::kAvgIterations);
}

void DaemonStart(benchmark::State& state) {
  TempDir dir;
  {
    Daemon first(dir);  // provisions the state directory
    if (!first.Start()) return state.SkipWithError("sevemu serve did not start");
  }
  for (auto _ : state) {
    Daemon d(dir);
    if (!d.Start()) return state.SkipWithError("sevemu serve did not start");
    state.PauseTiming();
    d.Stop();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// `sevemu kds serve` over its own state directory, and the URLs a verifier asks for.
struct KdsWorld {
  TempDir dir;
  Child child;
  int port = 0;
  std::string product, hwid;
  emulator::TcbVersion tcb;
  KdsWorld() {
    {
      Daemon d(dir);  // provisions dir/state
      if (!d.Start()) return;
    }
    auto p = emulator::LoadPlatform(dir / "state");
    if (!p.ok()) return;
    product = emulator::Info(p->state.chip.product).name;
    hwid = HexEncode(p->state.chip.hw_id());
    tcb = p->state.reported_tcb;
    if (!child.Spawn({CliPath(), "kds", "serve", "--listen", "127.0.0.1:0", "--state",
                      dir / "state", "--quiet"},
                     {}, true))
      return;
    const auto line = child.ReadLine(std::chrono::seconds(30));
    const std::string prefix = "listening on http://127.0.0.1:";
    if (line && line->rfind(prefix, 0) == 0) port = std::stoi(line->substr(prefix.size()));
  }
  // Milan/Genoa SPL bytes: boot loader 0, TEE 1, SNP 6, microcode 7.
  std::string VcekUrl(unsigned bl, unsigned tee) const {
    return "/vcek/v1/" + product + "/" + hwid + "?blSPL=" + std::to_string(bl) +
           "&teeSPL=" + std::to_string(tee) + "&snpSPL=" + std::to_string(tcb.byte(6)) +
           "&ucodeSPL=" + std::to_string(tcb.byte(7));
  }
};

KdsWorld& Kds() {
  static KdsWorld* k = new KdsWorld();
  return *k;
}

// kind 0: the cached cert_chain; 1: the platform's VCEK (cached after the first); 2: a VCEK at
// a TCB not asked for before (issued and signed on the spot).
void KdsRequest(benchmark::State& state, int kind) {
  KdsWorld& k = Kds();
  if (k.port == 0) return state.SkipWithError("sevemu kds serve did not start");
  HttpConnection http(k.port);
  static unsigned next = 0;
  for (auto _ : state) {
    std::string url;
    if (kind == 0) url = "/vcek/v1/" + k.product + "/cert_chain";
    if (kind == 1) url = k.VcekUrl(k.tcb.byte(0), k.tcb.byte(1));
    if (kind == 2) {
      ++next;
      url = k.VcekUrl(next % 256, (next / 256) % 256);
    }
    if (http.Get(url, nullptr) != 200) return state.SkipWithError(("GET " + url).c_str());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

void RegisterProcessBenchmarks() {
  benchmark::RegisterBenchmark("daemon_start", DaemonStart)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(5)
      ->UseRealTime();
  benchmark::RegisterBenchmark("exec_sevemu_version",
                               [](benchmark::State& s) {
                                 Exec(s, {CliPath(), "--version"}, {});
                               })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(20)
      ->UseRealTime();
  for (const bool run : {false, true}) {
    for (const char* what : {"report", "key"}) {
      const std::string name = std::string(run ? "run_" : "shim_") +
                               (std::string(what) == "key" ? "derived_key" : "report");
      benchmark::RegisterBenchmark(name.c_str(),
                                   [what, run](benchmark::State& s) { ClientLoop(s, what, run); })
          ->Unit(benchmark::kMicrosecond)
          ->Iterations(3)
          ->UseManualTime();
    }
  }
  benchmark::RegisterBenchmark("shim_report_platforms",
                               [](benchmark::State& s) { PlatformsReport(s, 0); })
      ->Arg(1)
      ->Arg(2)
      ->Arg(4)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseManualTime();
  benchmark::RegisterBenchmark("shim_report_platforms_1thread",
                               [](benchmark::State& s) { PlatformsReport(s, 1); })
      ->Arg(2)
      ->Arg(4)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseManualTime();
  benchmark::RegisterBenchmark("exec_plain",
                               [](benchmark::State& s) { Exec(s, {"/bin/true"}, {}); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(50)
      ->UseRealTime();
  benchmark::RegisterBenchmark("exec_preload",
                               [](benchmark::State& s) {
                                 Exec(s, {"/bin/true"}, Env{{{"LD_PRELOAD", PreloadPath()}}, {}});
                               })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(50)
      ->UseRealTime();
  benchmark::RegisterBenchmark("kds_cert_chain", [](benchmark::State& s) { KdsRequest(s, 0); })
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime()
      ->UseRealTime();
  benchmark::RegisterBenchmark("kds_vcek_cached", [](benchmark::State& s) { KdsRequest(s, 1); })
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime()
      ->UseRealTime();
  benchmark::RegisterBenchmark("kds_vcek_uncached", [](benchmark::State& s) { KdsRequest(s, 2); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(30)
      ->UseRealTime();
}

}  // namespace sevemu::bench
