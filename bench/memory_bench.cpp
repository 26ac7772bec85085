// Resident memory: a Genoa platform (1 TiB of sparse simulated DRAM, the FirmwareConfig
// default) with N running default-image SNP guests, measured in a fresh child process
// (`sevemu-bench --rss-child ...`) so nothing else of the benchmark is counted.
//
// ASIDs: Genoa has 1,006. SNP guests (like SEV-ES guests) take 1..min_sev_asid-1, plain SEV
// guests the rest (AMD-ASPFW sev_es_validate_asid; Linux arch/x86/kvm/svm/sev.c sev_hardware_setup
// reads min_sev_asid from CPUID 0x8000001F EDX, which the BIOS's SEV-ES ASID space limit sets).
// The default split is half (min_sev_asid 503: 502 SNP guests); a BIOS that gives SEV-ES/SNP
// every ASID corresponds to min_sev_asid 1007.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_registry.h"
#include "bench_util.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu::bench {

int RssChild(int argc, char** argv) {
  if (argc != 5) return 2;
  const unsigned guests = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));
  emulator::FirmwareConfig cfg;
  cfg.min_sev_asid = static_cast<std::uint32_t>(std::strtoul(argv[3], nullptr, 10));
  const unsigned touch = static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10));
  auto host = hypervisor::Host::Boot(BenchPlatform(emulator::Product::kGenoa), cfg);
  if (!host.ok()) {
    std::fprintf(stderr, "%s\n", host.error().message().c_str());
    return 1;
  }
  const std::uint64_t base = RssBytes();
  // Pages written across the whole simulated DRAM (the hypervisor's own pages, high up).
  Bytes page(4096, 0xA5);
  for (unsigned i = 0; i < touch; ++i) {
    const std::uint64_t spa = cfg.memory_size - (static_cast<std::uint64_t>(i) + 1) *
                                                    (cfg.memory_size / (touch + 1) & ~0xFFFull);
    (void)(*host)->firmware().memory().HvWrite(spa, page);
  }
  unsigned launched = 0;
  hypervisor::GuestLaunchSpec spec;
  for (unsigned i = 0; i < guests; ++i) {
    spec.name = "g" + std::to_string(i);
    if (!(*host)->LaunchGuest(spec).ok()) break;
    ++launched;
  }
  std::printf("launched=%u base=%llu rss=%llu\n", launched, static_cast<unsigned long long>(base),
              static_cast<unsigned long long>(RssBytes()));
  return 0;
}

namespace {

void Rss(benchmark::State& state, unsigned min_sev_asid, unsigned touch) {
  const std::string exe = "/proc/self/exe";
  unsigned long long base = 0, rss = 0;
  unsigned launched = 0;
  for (auto _ : state) {
    std::string out;
    if (Run({exe, "--rss-child", std::to_string(state.range(0)), std::to_string(min_sev_asid),
             std::to_string(touch)},
            {}, &out) != 0 ||
        std::sscanf(out.c_str(), "launched=%u base=%llu rss=%llu", &launched, &base, &rss) != 3) {
      return state.SkipWithError(("rss child: " + out).c_str());
    }
  }
  state.counters["guests"] = launched;
  state.counters["rss_MiB"] = static_cast<double>(rss) / (1 << 20);
  state.counters["platform_MiB"] = static_cast<double>(base) / (1 << 20);
  state.counters["kB_per_guest"] =
      launched == 0 ? 0.0 : static_cast<double>(rss - base) / 1024.0 / launched;
}

}  // namespace

void RegisterMemoryBenchmarks() {
  // Every ASID to SEV-ES/SNP (min_sev_asid 1007): up to the whole Genoa range.
  benchmark::RegisterBenchmark("rss_guests", [](benchmark::State& s) { Rss(s, 1007, 0); })
      ->Arg(0)
      ->Arg(64)
      ->Arg(256)
      ->Arg(502)
      ->Arg(1006)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  // The default split: asking for 1,006 launches 502.
  benchmark::RegisterBenchmark("rss_guests_default_split",
                               [](benchmark::State& s) { Rss(s, 0, 0); })
      ->Arg(1006)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  // 1 TiB of sparse DRAM with one hypervisor page written every ~1 GiB.
  benchmark::RegisterBenchmark("rss_sparse_1tib_touched",
                               [](benchmark::State& s) { Rss(s, 0, 1024); })
      ->Arg(0)
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace sevemu::bench
