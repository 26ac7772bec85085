// The benchmark's parts: each file registers its benchmarks; bench_main.cpp pairs every figure
// with its limit (kPairs there) and prints the ratios.
#pragma once

#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::bench {

// A platform provisioned from seed 01 with the test root (aborts if that fails: nothing could
// be measured).
emulator::Platform BenchPlatform(emulator::Product product);

void RegisterLimitBenchmarks();     // crypto_limits.cpp: raw OpenSSL
void RegisterFirmwareBenchmarks();  // firmware_bench.cpp: in-process
void RegisterProcessBenchmarks();   // process_bench.cpp: daemon, shim, run, KDS, exec
void RegisterMemoryBenchmarks();    // memory_bench.cpp: RSS
void RegisterSwapBenchmarks();      // swap_bench.cpp: page swap vs raw AES-256-GCM
void RegisterMigrateBenchmarks();   // migrate_bench.cpp: SNP live migration vs guest memory

// memory_bench.cpp's child mode: `sevemu-bench --rss-child GUESTS MIN_SEV_ASID`. Prints
// "launched=N rss=BYTES" and returns the exit code.
int RssChild(int argc, char** argv);

}  // namespace sevemu::bench
