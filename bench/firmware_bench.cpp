// In-process figures: the firmware and the simulated kernels without any transport. SNP and
// legacy launches of large images, the default guest's launch, reports and derived keys through
// the guest driver, and one input of the command fuzzer.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>

#include "bench_registry.h"
#include "firmware_command_harness.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/guest/sev_guest_driver.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/rmp/rmp_instructions.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::bench {
namespace {

// A guest kernel's view of a Host guest, as the daemon's HostGuestPlatform (guest_kernel.h).
class InProcessGuest final : public guest::GuestPlatform {
 public:
  InProcessGuest(hypervisor::Host& host, std::string name, std::uint64_t secrets_gpa)
      : host_(host), name_(std::move(name)), secrets_gpa_(secrets_gpa) {}
  Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) override {
    return host_.ReadGuestMemory(name_, gpa, len);
  }
  Status WriteMemory(std::uint64_t gpa, ByteSpan data) override {
    return host_.WriteGuestMemory(name_, gpa, data);
  }
  Result<guest::GuestRequestReply> GuestRequest(ByteSpan request,
                                                std::optional<std::uint32_t> certs) override {
    auto r = host_.GuestRequest(name_, request, certs);
    if (!r.ok()) return r.error();
    guest::GuestRequestReply out;
    out.fw_error = static_cast<std::uint32_t>(r->fw_status);
    out.vmm_error = r->vmm_error;
    out.response = std::move(r->response);
    out.certs = std::move(r->certs);
    out.certs_needed = r->certs_needed;
    return out;
  }
  Status Lock() override { return Status::Ok(); }
  void Unlock() override {}
  std::uint64_t SecretsGpa() const override { return secrets_gpa_; }

 private:
  hypervisor::Host& host_;
  std::string name_;
  std::uint64_t secrets_gpa_;
};

// This process's own memory as the caller's (the pointers are real).
class OwnMemory final : public uapi::UserMemory {
 public:
  bool Read(std::uint64_t addr, MutableByteSpan out) override {
    std::memcpy(out.data(), reinterpret_cast<const void*>(addr), out.size());
    return true;
  }
  bool Write(std::uint64_t addr, ByteSpan data) override {
    std::memcpy(reinterpret_cast<void*>(addr), data.data(), data.size());
    return true;
  }
};

// An image of `size` bytes: the default image's OVMF layout (which is relative to the image's
// end) after a patterned body, so every page is measured and encrypted with distinct bytes.
Bytes ImageOfSize(std::size_t size) {
  const Bytes tail = hypervisor::DefaultGuestImage();
  Bytes img(size - tail.size());
  for (std::size_t i = 0; i < img.size(); i += 8)
    StoreLe64(img.data() + i, i * 0x9E3779B97F4A7C15ull);
  img.insert(img.end(), tail.begin(), tail.end());
  return img;
}

std::unique_ptr<hypervisor::Host> BootHost(emulator::FirmwareConfig cfg = {}) {
  auto host = hypervisor::Host::Boot(BenchPlatform(emulator::Product::kGenoa), cfg);
  return host.ok() ? std::move(host).value() : nullptr;
}

void SnpLaunch(benchmark::State& state) {
  const std::size_t size = static_cast<std::size_t>(state.range(0)) << 20;
  auto host = BootHost();
  hypervisor::GuestLaunchSpec spec;
  spec.name = "big";
  spec.image = ImageOfSize(size);
  for (auto _ : state) {
    auto g = host->LaunchGuest(spec);
    if (!g.ok()) return state.SkipWithError(g.error().message().c_str());
    state.PauseTiming();
    (void)host->DestroyGuest(spec.name);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

// LAUNCH_UPDATE of `MiB` of NORMAL pages straight at the firmware, as a VMM launching a guest
// with that much pre-encrypted memory: per page the hypervisor writes it and assigns it
// (RMPUPDATE to PRE_GUEST), then LAUNCH_UPDATE measures and encrypts it. OVMF images stop at
// 16 MiB (launch/ovmf_image.h), so this is how 64 and 256 MiB are launched.
void SnpLaunchUpdate(benchmark::State& state) {
  const std::size_t size = static_cast<std::size_t>(state.range(0)) << 20;
  const Bytes body = ImageOfSize(size);
  constexpr std::uint64_t kGctx = 0x100000, kBase = 0x40000000;
  for (auto _ : state) {
    state.PauseTiming();
    auto fw = emulator::Firmware::Boot(BenchPlatform(emulator::Product::kGenoa), {});
    if (!fw.ok()) return state.SkipWithError(fw.error().message().c_str());
    auto& f = **fw;
    f.Execute(emulator::SnpCmd::kInit, MutableByteSpan{});
    f.Wbinvd();
    f.Execute(emulator::SnpCmd::kDfFlush, MutableByteSpan{});
    rmp::RmpUpdate(f.memory().rmp(), kGctx, {0, true, false, true, 0});
    emulator::SnpAddrBuf gctx{kGctx};
    emulator::SnpLaunchStartBuf start{};
    start.gctx_paddr = kGctx;
    start.policy = 0x30000;
    emulator::SnpActivateBuf act{kGctx, 1};
    if (f.Execute(emulator::SnpCmd::kGctxCreate, gctx) != emulator::FwStatus::kSuccess ||
        f.Execute(emulator::SnpCmd::kLaunchStart, start) != emulator::FwStatus::kSuccess ||
        f.Execute(emulator::SnpCmd::kActivate, act) != emulator::FwStatus::kSuccess) {
      return state.SkipWithError("guest start");
    }
    state.ResumeTiming();
    for (std::size_t off = 0; off < size; off += 4096) {
      const std::uint64_t spa = kBase + off;
      (void)f.memory().HvWrite(spa, ByteSpan(body).subspan(off, 4096));
      rmp::RmpUpdate(f.memory().rmp(), spa, {off, true, false, true, 1});
      emulator::SnpLaunchUpdateBuf up{};
      up.gctx_paddr = kGctx;
      up.address = spa;
      up.page_info = static_cast<std::uint32_t>(emulator::PageType::kNormal) << 1;
      if (f.Execute(emulator::SnpCmd::kLaunchUpdate, up) != emulator::FwStatus::kSuccess) {
        return state.SkipWithError("LAUNCH_UPDATE");
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void SevLaunch(benchmark::State& state) {
  const std::size_t size = static_cast<std::size_t>(state.range(0)) << 20;
  auto host = BootHost();
  hypervisor::SevGuestLaunchSpec spec;
  spec.name = "big";
  spec.image = ImageOfSize(size);
  for (auto _ : state) {
    auto g = host->LaunchSevGuest(spec);
    if (!g.ok()) return state.SkipWithError(g.error().message().c_str());
    state.PauseTiming();
    (void)host->DestroyGuest(spec.name);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

void DefaultGuestLaunch(benchmark::State& state) {
  auto host = BootHost();
  hypervisor::GuestLaunchSpec spec;
  spec.name = "vm";
  for (auto _ : state) {
    auto g = host->LaunchGuest(spec);
    if (!g.ok()) return state.SkipWithError(g.error().message().c_str());
    state.PauseTiming();
    (void)host->DestroyGuest(spec.name);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// SNP_GET_REPORT or SNP_GET_DERIVED_KEY through guest::SevGuestDriver and Host, as the daemon
// runs them for a client, minus the socket. `low_tcb`: the key at TCB 0 (TCB_VERSION selected),
// the derive-down case (about 1,900 SHA-384s of the hash-stick chain below the current TCB).
void DriverRequest(benchmark::State& state, bool key, bool low_tcb = false) {
  auto host = BootHost();
  hypervisor::GuestLaunchSpec spec;
  spec.name = "vm";
  auto g = host->LaunchGuest(spec);
  if (!g.ok()) return state.SkipWithError(g.error().message().c_str());
  InProcessGuest platform(*host, spec.name, g->secrets_gpa);
  guest::SevGuestDriver driver(platform);
  OwnMemory user;
  uapi::SnpReportReq rreq{};
  uapi::SnpReportResp rresp{};
  uapi::SnpDerivedKeyReq kreq{};
  kreq.guest_field_select = low_tcb ? (1 | (1u << 5)) : 1;  // policy (+ TCB_VERSION)
  kreq.tcb_version = 0;
  uapi::SnpDerivedKeyResp kresp{};
  for (auto _ : state) {
    uapi::SnpGuestRequestIoctl io{};
    io.msg_version = 1;
    io.req_data =
        key ? reinterpret_cast<std::uintptr_t>(&kreq) : reinterpret_cast<std::uintptr_t>(&rreq);
    io.resp_data =
        key ? reinterpret_cast<std::uintptr_t>(&kresp) : reinterpret_cast<std::uintptr_t>(&rresp);
    const int rc = driver.Ioctl(key ? uapi::kSnpGetDerivedKey : uapi::kSnpGetReport,
                                reinterpret_cast<std::uintptr_t>(&io), user);
    if (rc != 0) return state.SkipWithError("guest request failed");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// One command-fuzzer input, as libFuzzer runs it (without its instrumentation): a setup
// selector with bit 0 set (the deep path), and a plausible command.
void FuzzCommandInput(benchmark::State& state) {
  std::uint8_t input[3 + 0x20] = {};
  input[0] = 0x20;  // a command id
  input[2] = 1;
  std::uint64_t i = 0;
  for (auto _ : state) {
    input[0] = static_cast<std::uint8_t>(0x1 + (i++ % 0x30));
    sevemu::fuzz::RunFirmwareCommandInput(input, sizeof input);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// What `sevemu kds serve` does for a VCEK not asked for before, minus HTTP: Kds::Vcek at a new
// TCB each time (hash sticks from the fuses, the VCEK's P-384 key, the certificate signed with
// RSA-PSS-4096 by the ASK), then its DER.
void KdsIssueVcek(benchmark::State& state) {
  const emulator::Platform p = BenchPlatform(emulator::Product::kMilan);
  const emulator::Kds kds(p.root);
  unsigned next = 0;
  for (auto _ : state) {
    ++next;
    emulator::TcbParts parts = p.state.reported_tcb.parts();
    parts.boot_loader = static_cast<std::uint8_t>(next % 256);
    parts.tee = static_cast<std::uint8_t>((next / 256) % 256);
    auto tcb = emulator::TcbVersion::FromParts(emulator::Product::kMilan, parts);
    if (!tcb.ok()) return state.SkipWithError("TCB");
    auto cert = kds.Vcek(p.state.chip, p.fuses, *tcb, p.state.manufactured_at);
    if (!cert.ok() || !cert->ToDer().ok()) return state.SkipWithError("VCEK");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

}  // namespace

void RegisterFirmwareBenchmarks() {
  // Whole launches through Host, of the largest OVMF image (16 MiB).
  benchmark::RegisterBenchmark("snp_launch", SnpLaunch)
      ->Arg(16)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("sev_launch", SevLaunch)
      ->Arg(16)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("snp_launch_update", SnpLaunchUpdate)
      ->Arg(16)
      ->Arg(64)
      ->Arg(256)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("guest_launch_default", DefaultGuestLaunch)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("inproc_report",
                               [](benchmark::State& s) { DriverRequest(s, false); })
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("inproc_derived_key",
                               [](benchmark::State& s) { DriverRequest(s, true); })
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("inproc_derived_key_low_tcb",
                               [](benchmark::State& s) { DriverRequest(s, true, true); })
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("inproc_kds_vcek", KdsIssueVcek)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.5)
      ->UseRealTime();
  benchmark::RegisterBenchmark("fuzz_command_input", FuzzCommandInput)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
}

}  // namespace sevemu::bench
