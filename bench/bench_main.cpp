// sevemu-bench: Google Benchmark over sevemu, with every figure printed beside its limit
// measured in the same run (docs/performance.md). Defaults for a noisy machine: 5 repetitions,
// randomly interleaved so that a figure and its limit see the same load, medians reported.
//
//   sevemu-bench [--ratios-json=FILE] [Google Benchmark flags: --benchmark_filter=REGEX,
//                 --benchmark_out=FILE --benchmark_out_format=json, --benchmark_repetitions=N]
//
// After the benchmark's own table comes "figure vs limit": one line per pair of kPairs whose
// two medians were measured.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bench_registry.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"

namespace sevemu::bench {

emulator::Platform BenchPlatform(emulator::Product product) {
  auto root = emulator::AmdRoot::FromFiles(
      fixtures::TestRootFiles(emulator::Info(product).name == std::string("Milan")   ? "milan"
                              : emulator::Info(product).name == std::string("Genoa") ? "genoa"
                                                                                     : "turin"),
      "");
  if (!root.ok()) std::abort();
  emulator::ProvisionOptions opts;
  opts.product = product;
  opts.seed = Bytes{1};
  auto p = emulator::Provision(opts, std::move(root).value());
  if (!p.ok()) std::abort();
  return std::move(p).value();
}

namespace {

// How a figure compares with its limit.
enum class Kind {
  kRate,    // ratio = figure's rate / limit's rate (items or bytes per second)
  kSlower,  // ratio = figure's time / limit's time (how many times a plain process start)
  kExtra,   // the figure's time minus the limit's (a cost added to something)
  kAlone,   // no measured limit: the value against the target
};

struct Pair {
  const char* figure;
  const char* limit;  // "" for kAlone
  Kind kind;
  const char* target;  // the target, for the reader
};

constexpr Pair kPairs[] = {
    {"shim_report", "limit_ecdsa_p384_sign", Kind::kRate, ">= 0.90"},
    {"run_report", "limit_ecdsa_p384_sign", Kind::kRate, ">= 0.90"},
    {"inproc_report", "limit_ecdsa_p384_sign", Kind::kRate, ""},
    // Platforms on separate threads: N platforms' clients at once against one platform's.
    {"shim_report_platforms/1", "limit_ecdsa_p384_sign", Kind::kRate, ""},
    {"shim_report_platforms/2", "shim_report_platforms/1", Kind::kRate, "~2 on 2 idle cores"},
    {"shim_report_platforms/4", "shim_report_platforms/1", Kind::kRate, "~cores"},
    // The same clients, every platform on one work thread (serve --threads 1): what the
    // separate threads gain under the same load.
    {"shim_report_platforms/2", "shim_report_platforms_1thread/2", Kind::kRate, "> 1"},
    {"shim_report_platforms/4", "shim_report_platforms_1thread/4", Kind::kRate, "> 1"},
    {"shim_derived_key", "limit_derived_key", Kind::kRate, ">= 5000/s"},
    {"run_derived_key", "limit_derived_key", Kind::kRate, ">= 5000/s"},
    {"inproc_derived_key", "limit_derived_key", Kind::kRate, ""},
    {"inproc_derived_key_low_tcb", "limit_derived_key", Kind::kRate, ">= 5000/s"},
    {"snp_launch/16", "limit_snp_pages/16", Kind::kRate, ">= 0.70"},
    {"snp_launch_update/16", "limit_snp_pages/16", Kind::kRate, ">= 0.70"},
    {"snp_launch_update/64", "limit_snp_pages/64", Kind::kRate, ">= 0.70"},
    {"snp_launch_update/256", "limit_snp_pages/256", Kind::kRate, ">= 0.70"},
    {"sev_launch/16", "limit_sev_pages/16", Kind::kRate, ""},
    {"guest_launch_default", "", Kind::kAlone, "~0.6 ms"},
    {"daemon_start", "exec_sevemu_version", Kind::kSlower, "< 100 ms"},
    {"kds_vcek_cached", "kds_cert_chain", Kind::kRate, ""},
    {"kds_vcek_uncached", "", Kind::kAlone, "< 5 ms"},
    {"inproc_kds_vcek", "limit_rsa4096_pss_sign", Kind::kSlower, ""},
    {"exec_preload", "exec_plain", Kind::kExtra, "< 2 ms"},
    {"fuzz_command_input", "", Kind::kAlone, ">= 1000/s"},
    {"swap_out_in_256mib", "limit_gcm_seal_open_256mib", Kind::kRate, ">= 0.50"},
};

struct Figure {
  double seconds = 0;  // per iteration
  double rate = 0;     // items or bytes per second (0 if neither)
  bool bytes = false;
  std::map<std::string, double> counters;
};

std::string Key(const benchmark::BenchmarkReporter::Run& r) {
  return r.run_name.function_name + (r.run_name.args.empty() ? "" : "/" + r.run_name.args);
}

std::string Human(double seconds) {
  char b[32];
  if (seconds >= 1)
    std::snprintf(b, sizeof b, "%.2f s", seconds);
  else if (seconds >= 1e-3)
    std::snprintf(b, sizeof b, "%.2f ms", seconds * 1e3);
  else
    std::snprintf(b, sizeof b, "%.1f us", seconds * 1e6);
  return b;
}

std::string Value(const Figure& f) {
  char b[48];
  if (f.rate == 0) return Human(f.seconds);
  if (f.bytes)
    std::snprintf(b, sizeof b, "%.1f MiB/s", f.rate / (1 << 20));
  else
    std::snprintf(b, sizeof b, "%.0f/s", f.rate);
  return b;
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(std::string json) : json_(std::move(json)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (r.error_occurred || !(median || r.run_type == Run::RT_Iteration)) continue;
      if (!median && medians_.count(Key(r)) != 0) continue;
      Figure f;
      f.seconds = r.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(r.time_unit);
      for (const auto& [name, c] : r.counters) {
        if (name == "items_per_second") f.rate = c.value;
        if (name == "bytes_per_second") f.rate = c.value, f.bytes = true;
        f.counters[name] = c.value;
      }
      figures_[Key(r)] = f;
      if (median) medians_.insert(Key(r));
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\nfigure vs limit (medians, same run)\n");
    std::printf("%-22s %14s   %-22s %14s   %10s   %s\n", "figure", "value", "limit", "value",
                "ratio", "target");
    std::string json = "[\n";
    for (const Pair& p : kPairs) {
      auto f = figures_.find(p.figure);
      if (f == figures_.end()) continue;
      auto l = figures_.find(p.limit);
      if (p.kind != Kind::kAlone && l == figures_.end()) continue;
      double ratio = 0;
      std::string ratio_text = "-";
      char b[48];
      if (p.kind == Kind::kRate && l->second.rate > 0) {
        ratio = f->second.rate / l->second.rate;
        std::snprintf(b, sizeof b, "%.3f", ratio);
        ratio_text = b;
      } else if (p.kind == Kind::kSlower && l->second.seconds > 0) {
        ratio = f->second.seconds / l->second.seconds;
        std::snprintf(b, sizeof b, "x%.2f", ratio);
        ratio_text = b;
      } else if (p.kind == Kind::kExtra) {
        ratio = f->second.seconds - l->second.seconds;
        ratio_text = "+" + Human(ratio);
      }
      const std::string fv = p.kind == Kind::kExtra || p.kind == Kind::kSlower
                                 ? Human(f->second.seconds)
                                 : Value(f->second);
      const std::string lv = p.kind == Kind::kAlone ? ""
                             : p.kind == Kind::kExtra || p.kind == Kind::kSlower
                                 ? Human(l->second.seconds)
                                 : Value(l->second);
      std::printf("%-22s %14s   %-22s %14s   %10s   %s\n", p.figure, fv.c_str(), p.limit,
                  lv.c_str(), ratio_text.c_str(), p.target);
      std::snprintf(b, sizeof b, "%.6g", ratio);
      char v[160];
      std::snprintf(v, sizeof v,
                    "  {\"figure\": \"%s\", \"limit\": \"%s\", \"figure_seconds\": %.6g, "
                    "\"figure_rate\": %.6g, ",
                    p.figure, p.limit, f->second.seconds, f->second.rate);
      json += v;
      std::snprintf(v, sizeof v, "\"limit_seconds\": %.6g, \"limit_rate\": %.6g, \"ratio\": %s},\n",
                    p.kind == Kind::kAlone ? 0.0 : l->second.seconds,
                    p.kind == Kind::kAlone ? 0.0 : l->second.rate, b);
      json += v;
      // An exec pair also compares the children's own CPU time (process_bench.cpp's Exec).
      const auto fc = f->second.counters.find("child_cpu_us");
      if (p.kind == Kind::kExtra && fc != f->second.counters.end() &&
          l->second.counters.count("child_cpu_us") != 0) {
        const double fs = fc->second / 1e6, ls = l->second.counters.at("child_cpu_us") / 1e6;
        const std::string name = std::string(p.figure) + " (cpu)";
        const std::string lname = std::string(p.limit) + " (cpu)";
        std::printf("%-22s %14s   %-22s %14s   %10s   %s\n", name.c_str(), Human(fs).c_str(),
                    lname.c_str(), Human(ls).c_str(), ("+" + Human(fs - ls)).c_str(), p.target);
        std::snprintf(v, sizeof v,
                      "  {\"figure\": \"%s\", \"limit\": \"%s\", \"figure_seconds\": %.6g, ",
                      name.c_str(), lname.c_str(), fs);
        json += v;
        std::snprintf(v, sizeof v,
                      "\"figure_rate\": 0, \"limit_seconds\": %.6g, \"limit_rate\": 0, "
                      "\"ratio\": %.6g},\n",
                      ls, fs - ls);
        json += v;
      }
    }
    std::printf("\nmemory (Genoa, 1 TiB sparse DRAM; medians)\n");
    for (const auto& [name, f] : figures_) {
      if (name.rfind("rss_", 0) != 0) continue;
      std::printf("%-30s guests %5.0f   RSS %8.1f MiB   platform %6.1f MiB   %6.1f kB/guest\n",
                  name.c_str(), f.counters.count("guests") ? f.counters.at("guests") : 0.0,
                  f.counters.count("rss_MiB") ? f.counters.at("rss_MiB") : 0.0,
                  f.counters.count("platform_MiB") ? f.counters.at("platform_MiB") : 0.0,
                  f.counters.count("kB_per_guest") ? f.counters.at("kB_per_guest") : 0.0);
    }
    if (!json_.empty()) {
      if (json.size() > 2) json.erase(json.size() - 2, 1);  // the last comma
      std::ofstream(json_) << json << "]\n";
    }
  }

 private:
  std::string json_;
  std::map<std::string, Figure> figures_;
  std::set<std::string> medians_;
};

}  // namespace
}  // namespace sevemu::bench

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "--rss-child") == 0) {
    return sevemu::bench::RssChild(argc, argv);
  }
  std::vector<char*> args = {argv[0]};
  std::string ratios_json;
  bool reps = false, interleave = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--ratios-json=", 14) == 0) {
      ratios_json = argv[i] + 14;
      continue;
    }
    reps |= std::strncmp(argv[i], "--benchmark_repetitions", 23) == 0;
    interleave |= std::strncmp(argv[i], "--benchmark_enable_random_interleaving", 38) == 0;
    args.push_back(argv[i]);
  }
  std::string rep_flag = "--benchmark_repetitions=5",
              il_flag = "--benchmark_enable_random_interleaving=true";
  if (!reps) args.push_back(rep_flag.data());
  if (!interleave) args.push_back(il_flag.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 2;
  sevemu::bench::RegisterLimitBenchmarks();
  sevemu::bench::RegisterFirmwareBenchmarks();
  sevemu::bench::RegisterMemoryBenchmarks();
  sevemu::bench::RegisterSwapBenchmarks();
  sevemu::bench::RegisterMigrateBenchmarks();
  sevemu::bench::RegisterProcessBenchmarks();
  sevemu::bench::RatioReporter reporter(ratios_json);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
