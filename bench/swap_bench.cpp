// swap_out_in_256mib: SNP_PAGE_SWAP_OUT + SNP_PAGE_SWAP_IN of 256 MiB of guest memory (128
// pages of 2 MiB, entries in the guest context's root), beside limit_gcm_seal_open_256mib: raw
// AES-256-GCM seal + open of the same 256 MiB through the same crypto calls, on one core in
// the same run (issue 12: the swap path should reach at least half of raw GCM). The swap path
// also pays the memory controller's AES-XTS (decrypting the guest page, encrypting it back),
// which real hardware does inline, and the RMP updates.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "bench_registry.h"
#include "sevemu/crypto/aes.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::bench {
namespace {

using sevemu::emulator::FwStatus;
using sevemu::emulator::SnpCmd;

constexpr std::uint64_t k2M = 2ull << 20;
constexpr std::uint64_t kBytes = 256ull << 20;
constexpr std::uint64_t kPages = kBytes / k2M;
constexpr std::uint64_t kGctx = 0x100000;
constexpr std::uint64_t kGuest = 64ull << 20;    // 128 guest pages of 2 MiB
constexpr std::uint64_t kOut = kGuest + kBytes;  // one FIRMWARE 2 MiB page for ciphertext
constexpr std::uint32_t kAsid = 1;

void Must(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "swap_bench setup: %s\n", what);
    std::abort();
  }
}

std::unique_ptr<sevemu::emulator::Firmware> Setup() {
  sevemu::emulator::FirmwareConfig cfg;
  cfg.memory_size = kOut + 2 * k2M;
  auto fw = sevemu::emulator::Firmware::Boot(BenchPlatform(emulator::Product::kMilan), cfg);
  Must(fw.ok(), "boot");
  auto& f = **fw;
  auto& rmp = f.memory().rmp();
  Must(f.Execute(SnpCmd::kInit, {}) == FwStatus::kSuccess, "SNP_INIT");
  f.Wbinvd();
  Must(f.Execute(SnpCmd::kDfFlush, {}) == FwStatus::kSuccess, "DF_FLUSH");
  Must(sevemu::rmp::RmpUpdate(rmp, kGctx, {0, true, false, true, 0}) ==
           sevemu::rmp::RmpResult::kSuccess,
       "gctx page");
  sevemu::emulator::SnpAddrBuf gctx{kGctx};
  Must(f.Execute(SnpCmd::kGctxCreate, gctx) == FwStatus::kSuccess, "GCTX_CREATE");
  sevemu::emulator::SnpLaunchStartBuf start{};
  start.gctx_paddr = kGctx;
  start.policy = 0x30000;
  Must(f.Execute(SnpCmd::kLaunchStart, start) == FwStatus::kSuccess, "LAUNCH_START");
  sevemu::emulator::SnpActivateBuf act{kGctx, kAsid};
  Must(f.Execute(SnpCmd::kActivate, act) == FwStatus::kSuccess, "ACTIVATE");
  sevemu::Bytes fill(k2M);
  for (std::uint64_t i = 0; i < kPages; ++i) {
    for (std::size_t b = 0; b < fill.size(); b += 64) fill[b] = static_cast<std::uint8_t>(i + b);
    const std::uint64_t spa = kGuest + i * k2M;
    Must(f.memory().HvWrite(spa, fill) == sevemu::rmp::RmpViolation::kNone, "guest contents");
    Must(sevemu::rmp::RmpUpdate(rmp, spa, {i * k2M, true, true, true, kAsid}) ==
             sevemu::rmp::RmpResult::kSuccess,
         "PRE_GUEST");
    sevemu::emulator::SnpLaunchUpdateBuf upd{};
    upd.gctx_paddr = kGctx;
    upd.address = spa;
    upd.page_info = 1u | static_cast<std::uint32_t>(sevemu::emulator::PageType::kNormal) << 1;
    Must(f.Execute(SnpCmd::kLaunchUpdate, upd) == FwStatus::kSuccess, "LAUNCH_UPDATE");
  }
  Must(sevemu::rmp::RmpUpdate(rmp, kOut, {0, true, true, true, 0}) ==
           sevemu::rmp::RmpResult::kSuccess,
       "ciphertext page");
  return std::move(fw).value();
}

// Out and back in, page by page, as a host under pressure and then relieved would: freeze
// (RMPUPDATE), SWAP_OUT to the ciphertext page, SWAP_IN into the guest's page again, RECLAIM.
void SwapOutIn(benchmark::State& state) {
  static auto fw = Setup();
  auto& f = *fw;
  const auto flags = sevemu::emulator::SwapFlags(sevemu::emulator::SwapPageType::kData, true, true);
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kPages; ++i) {
      const std::uint64_t spa = kGuest + i * k2M;
      Must(sevemu::rmp::RmpUpdate(f.memory().rmp(), spa, {i * k2M, true, true, true, kAsid}) ==
               sevemu::rmp::RmpResult::kSuccess,
           "freeze");
      sevemu::emulator::SnpPageSwapOutBuf out{kGctx, spa, kOut, 0, i, flags};
      Must(f.Execute(SnpCmd::kPageSwapOut, out) == FwStatus::kSuccess, "SWAP_OUT");
      sevemu::emulator::SnpPageSwapInBuf in{kGctx, kOut, spa, 0, 0, flags};
      Must(f.Execute(SnpCmd::kPageSwapIn, in) == FwStatus::kSuccess, "SWAP_IN");
      sevemu::emulator::SnpAddrBuf reclaim{spa | 1};
      Must(f.Execute(SnpCmd::kPageReclaim, reclaim) == FwStatus::kSuccess, "RECLAIM");
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytes));
}

// The same bytes through AES-256-GCM alone: seal then open each 2 MiB.
void GcmSealOpen(benchmark::State& state) {
  const sevemu::Bytes key(32, 0x42);
  sevemu::Bytes iv(sevemu::crypto::kGcmIvSize, 0);
  const sevemu::Bytes page(k2M, 0x5A);
  for (auto _ : state) {
    for (std::uint64_t i = 0; i < kPages; ++i) {
      iv[0] = static_cast<std::uint8_t>(i);
      auto sealed = sevemu::crypto::Aes256GcmSeal(key, iv, {}, page);
      Must(sealed.ok(), "seal");
      auto plain = sevemu::crypto::Aes256GcmOpen(key, iv, {}, sealed->ciphertext, sealed->tag);
      Must(plain.ok(), "open");
      benchmark::DoNotOptimize(plain->data());
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kBytes));
}

}  // namespace

void RegisterSwapBenchmarks() {
  benchmark::RegisterBenchmark("swap_out_in_256mib", SwapOutIn)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("limit_gcm_seal_open_256mib", GcmSealOpen)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
}

}  // namespace sevemu::bench
