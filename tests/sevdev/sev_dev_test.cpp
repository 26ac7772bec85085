// /dev/sev (hypervisor::SevDevice) against the firmware model: every user command's success
// path, every refusal the kernel makes itself (sev-dev.c order: EINVAL, EPERM, EFAULT,
// ENOTSUPP, ENOMEM), the firmware's refusals as EIO with the status in `error`, the length
// probes, and that the scratch pages are back in the hypervisor state and no firmware state
// changed after a failure. Also the shim's staged user memory (uapi/staged_memory.h).
#include "sevemu/hypervisor/sev_dev.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "../emulator/firmware_fixture.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "sevemu/rmp/rmp_instructions.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using emulator::SnpCmd;
using hypervisor::SevDevice;
using hypervisor::SevIoctlResult;
using uapi::SevUserCmd;

constexpr std::uint32_t kSentinel =
    0xA5A5A5A5;  // `error` before the ioctl: kernel refusals keep it
constexpr std::uint32_t St(FwStatus s) {
  return static_cast<std::uint32_t>(s);
}

// A process's address space: one mapping of `size` bytes at kBase; everything else faults.
class FakeUser final : public uapi::UserMemory {
 public:
  static constexpr std::uint64_t kBase = 0x7f0000000000;
  explicit FakeUser(std::size_t size = 64 << 10) : mem_(size, 0) {}

  bool Read(std::uint64_t addr, MutableByteSpan out) override {
    if (!Inside(addr, out.size())) return false;
    if (!out.empty()) std::memcpy(out.data(), &mem_[addr - kBase], out.size());
    return true;
  }
  bool Write(std::uint64_t addr, ByteSpan data) override {
    if (!Inside(addr, data.size())) return false;
    if (!data.empty()) std::memcpy(&mem_[addr - kBase], data.data(), data.size());
    return true;
  }
  template <typename T>
  void Put(std::uint64_t addr, const T& v) {
    REQUIRE(Write(addr, ByteSpan(reinterpret_cast<const std::uint8_t*>(&v), sizeof v)));
  }
  template <typename T>
  T Get(std::uint64_t addr) {
    T v{};
    REQUIRE(Read(addr, MutableByteSpan(reinterpret_cast<std::uint8_t*>(&v), sizeof v)));
    return v;
  }
  Bytes Slice(std::uint64_t addr, std::size_t len) {
    Bytes out(len);
    REQUIRE(Read(addr, out));
    return out;
  }
  void Fill(std::uint64_t addr, std::size_t len, std::uint8_t v) {
    REQUIRE(Write(addr, Bytes(len, v)));
  }

 private:
  bool Inside(std::uint64_t addr, std::size_t len) const {
    return addr >= kBase && addr - kBase <= mem_.size() && len <= mem_.size() - (addr - kBase);
  }
  Bytes mem_;
};

constexpr std::uint64_t kScratch = 0x100000;
constexpr std::uint64_t kData = FakeUser::kBase;            // the command's struct
constexpr std::uint64_t kBlob = FakeUser::kBase + 0x1000;   // first buffer (up to 20 KiB)
constexpr std::uint64_t kBlob2 = FakeUser::kBase + 0x6000;  // second buffer (up to 20 KiB)
constexpr std::uint64_t kUnmapped = 0x1000;                 // faults

// A firmware, a /dev/sev over it and a process to call it.
template <typename Device = SevDevice>
struct DevT {
  test::FirmwareFixture f;
  Device dev{*f.fw, kScratch};
  FakeUser user;
  uapi::SevIssueCmdArg arg{};

  explicit DevT(bool snp_init = true) {
    if (!snp_init) return;
    f.InitPlatform();
    // The first RMPUPDATE of the scratch pages allocates their 2 MiB RMP region, which
    // StateDigest covers from then on although every entry in it is back to default: one
    // command first, so digests taken afterwards compare firmware state only.
    REQUIRE(Issue(SevUserCmd::kSnpPlatformStatus, kData).ret == 0);
  }

  SevIoctlResult Issue(SevUserCmd cmd, std::uint64_t data, bool writable = true) {
    return IssueRaw(static_cast<std::uint32_t>(cmd), data, writable);
  }
  SevIoctlResult IssueRaw(std::uint32_t cmd, std::uint64_t data, bool writable = true) {
    arg = {cmd, data, kSentinel};
    return dev.Ioctl(uapi::kSevIssueCmd, arg, user, writable);
  }

  // Every scratch page is the hypervisor's again, and zeroed.
  bool ScratchReturned() const {
    for (std::uint64_t i = 0; i < SevDevice::kScratchPages; ++i) {
      const std::uint64_t spa = kScratch + i * 4096;
      if (f.fw->memory().rmp().Get(spa).State() != rmp::PageState::kHypervisor) return false;
      Bytes page(4096);
      if (f.fw->memory().HvRead(spa, page) != rmp::RmpViolation::kNone) return false;
      if (page != Bytes(4096, 0)) return false;
    }
    return true;
  }

  uapi::SevUserDataSnpStatus SnpStatus() {
    REQUIRE(Issue(SevUserCmd::kSnpPlatformStatus, kBlob2, false).ret == 0);
    return user.Get<uapi::SevUserDataSnpStatus>(kBlob2);
  }
};
using Dev = DevT<>;

// A kernel refusal: errno, struct copied back, `error` untouched, nothing changed.
template <typename D>
void CheckRefused(D& d, const SevIoctlResult& r, int err, const Bytes& digest) {
  CHECK(r.ret == -err);
  CHECK(r.copy_back);
  CHECK(d.arg.error == kSentinel);
  CHECK(d.f.fw->StateDigest() == digest);
  CHECK(d.ScratchReturned());
}

// The firmware refused: EIO, its status in `error`, nothing changed.
template <typename D>
void CheckFwRefused(D& d, const SevIoctlResult& r, FwStatus st, const Bytes& digest) {
  CHECK(r.ret == -EIO);
  CHECK(r.copy_back);
  CHECK(d.arg.error == St(st));
  CHECK(d.f.fw->StateDigest() == digest);
  CHECK(d.ScratchReturned());
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("other ioctl requests and unknown commands: EINVAL, the struct is not copied back") {
  Dev d;
  const Bytes digest = d.f.fw->StateDigest();
  d.arg = {static_cast<std::uint32_t>(SevUserCmd::kSnpPlatformStatus), kData, kSentinel};
  const auto other = d.dev.Ioctl(uapi::kSnpGetReport, d.arg, d.user, true);
  CHECK(other.ret == -EINVAL);
  CHECK_FALSE(other.copy_back);
  CHECK(d.arg.error == kSentinel);
  for (std::uint32_t cmd : {13u, 14u, 0x100u, 0xFFFFFFFFu}) {
    CAPTURE(cmd);
    const auto r = d.IssueRaw(cmd, kData);
    CHECK(r.ret == -EINVAL);
    CHECK_FALSE(r.copy_back);
    CHECK(d.arg.error == kSentinel);
  }
  CHECK(d.f.fw->StateDigest() == digest);
}

TEST_CASE("SNP_PLATFORM_STATUS: the firmware's 32-byte status, on a read-only descriptor too") {
  Dev d;
  const auto r = d.Issue(SevUserCmd::kSnpPlatformStatus, kData, /*writable=*/false);
  CHECK(r.ret == 0);
  CHECK(r.copy_back);
  CHECK(d.arg.error == 0);
  CHECK(d.ScratchReturned());
  const auto s = d.user.Get<uapi::SevUserDataSnpStatus>(kData);
  const auto& p = d.f.fw->platform_state();
  CHECK(s.api_major == p.current_fw.major);
  CHECK(s.api_minor == p.current_fw.minor);
  CHECK(s.build_id == p.current_fw.build);
  CHECK(s.state == 1);
  CHECK(s.is_rmp_initialized == 1);
  CHECK(s.feature_bits == (1u << 3));  // no masks, no VLEK; FEATURE_INFO supported
  CHECK(s.guest_count == 0);
  CHECK(s.current_tcb_version == p.current_tcb.raw());
  CHECK(s.reported_tcb_version == p.reported_tcb.raw());
  // Byte for byte what the firmware writes into a page of its own.
  d.f.MakeFirmwarePage(0x400000);
  REQUIRE(d.f.Run(SnpCmd::kPlatformStatus, emulator::SnpAddrBuf{0x400000}) == FwStatus::kSuccess);
  Bytes direct(32);
  REQUIRE(d.f.fw->memory().FirmwareRead(0x400000, direct).ok());
  CHECK(d.user.Slice(kData, 32) == direct);
}

TEST_CASE("VerifyMitigation (sev-dev.c snp_verify_mitigation): 1.58 answers, 1.55 does not") {
  auto platform_at = [](emulator::FirmwareVersion fw) {
    emulator::ProvisionOptions opts;
    opts.product = emulator::Product::kMilan;
    opts.seed = Bytes{1};
    opts.firmware = fw;
    auto p = emulator::Provision(opts, test::TestRoot(emulator::Product::kMilan));
    REQUIRE(p.ok());
    return std::move(p).value();
  };
  {
    test::FirmwareFixture f(platform_at({1, 58, 1}));
    f.InitPlatform();
    SevDevice dev(*f.fw, kScratch);
    emulator::SnpVerifyMitigationDst out{};
    std::uint32_t error = kSentinel;
    REQUIRE(dev.VerifyMitigation(emulator::kMitSubcmdStatus, 0, &out, &error) == 0);
    CHECK(error == 0);
    const std::uint64_t supported = out.mit_supported_vector, verified = out.mit_verified_vector;
    CHECK(supported == 0x3);
    CHECK(verified == 0x3);  // SNP_INIT built the RMP with both applied
    // A bit the firmware does not know: success, with the failure in the result (Linux's
    // verified_mitigations_store turns it into EINVAL).
    REQUIRE(dev.VerifyMitigation(emulator::kMitSubcmdVerify, 1ull << 9, &out, &error) == 0);
    const std::uint32_t failure = out.mit_failure_status;
    CHECK(failure == emulator::kMitFailureUnsupported);
    // Two bits at once: the firmware refuses (Linux v5 refuses before asking).
    CHECK(dev.VerifyMitigation(emulator::kMitSubcmdVerify, 0x3, &out, &error) == -EIO);
    CHECK(error == St(FwStatus::kInvalidParam));
    // The scratch page is the hypervisor's again, and zeroed.
    Bytes page(4096);
    CHECK(f.fw->memory().rmp().Get(kScratch).State() == rmp::PageState::kHypervisor);
    REQUIRE(f.fw->memory().HvRead(kScratch, page) == rmp::RmpViolation::kNone);
    CHECK(page == Bytes(4096, 0));
  }
  {
    test::FirmwareFixture f(platform_at({1, 55, 21}));
    f.InitPlatform();
    SevDevice dev(*f.fw, kScratch);
    emulator::SnpVerifyMitigationDst out{};
    std::uint32_t error = kSentinel;
    CHECK(dev.VerifyMitigation(emulator::kMitSubcmdStatus, 0, &out, &error) == -EIO);
    CHECK(error == St(FwStatus::kInvalidCommand));
  }
}

TEST_CASE("SNP_PLATFORM_STATUS refusals") {
  SUBCASE("SNP not initialised") {
    Dev d(false);
    const Bytes digest = d.f.fw->StateDigest();
    CheckRefused(d, d.Issue(SevUserCmd::kSnpPlatformStatus, kData), EINVAL, digest);
  }
  SUBCASE("no data pointer") {
    Dev d;
    const Bytes digest = d.f.fw->StateDigest();
    CheckRefused(d, d.Issue(SevUserCmd::kSnpPlatformStatus, 0), EINVAL, digest);
  }
  SUBCASE("unwritable data pointer: EFAULT after the firmware ran") {
    Dev d;
    const Bytes digest = d.f.fw->StateDigest();
    const auto r = d.Issue(SevUserCmd::kSnpPlatformStatus, kUnmapped);
    CHECK(r.ret == -EFAULT);
    CHECK(r.copy_back);
    CHECK(d.arg.error == 0);
    CHECK(d.f.fw->StateDigest() == digest);
    CHECK(d.ScratchReturned());
  }
  SUBCASE("status page the driver cannot make FIRMWARE: EFAULT, firmware not called") {
    Dev d;
    d.f.MakeFirmwarePage(kScratch);  // someone else holds it immutable
    const Bytes digest = d.f.fw->StateDigest();
    const auto r = d.Issue(SevUserCmd::kSnpPlatformStatus, kData);
    CHECK(r.ret == -EFAULT);
    CHECK(d.arg.error == kSentinel);
    CHECK(d.f.fw->StateDigest() == digest);
  }
}

// A reported TCB one SNP SVN below the committed one.
emulator::TcbVersion LowerTcb(const emulator::PlatformState& p) {
  auto parts = p.committed_tcb.parts();
  REQUIRE(parts.snp > 0);
  parts.snp -= 1;
  auto tcb = emulator::TcbVersion::FromParts(p.chip.product, parts);
  REQUIRE(tcb.ok());
  return *tcb;
}

TEST_CASE("SNP_SET_CONFIG: reported TCB and mask bits, as SNP_PLATFORM_STATUS then shows") {
  Dev d;
  const auto& p = d.f.fw->platform_state();
  const std::uint64_t current = p.current_tcb.raw();
  const std::uint64_t lower = LowerTcb(p).raw();
  uapi::SevUserDataSnpConfig cfg{};
  cfg.reported_tcb = lower;
  cfg.flags = 3;
  d.user.Put(kData, cfg);
  const auto r = d.Issue(SevUserCmd::kSnpSetConfig, kData);
  CHECK(r.ret == 0);
  CHECK(r.copy_back);
  CHECK(d.arg.error == 0);
  CHECK(d.ScratchReturned());
  const auto s = d.SnpStatus();
  CHECK(s.reported_tcb_version == lower);
  CHECK(s.current_tcb_version == current);
  CHECK((s.feature_bits & 3u) == 3u);
  CHECK(p.mask_chip_id);
  CHECK(p.mask_chip_key);

  // reported_tcb 0 means "the committed TCB"; masks cleared.
  cfg = {};
  d.user.Put(kData, cfg);
  REQUIRE(d.Issue(SevUserCmd::kSnpSetConfig, kData).ret == 0);
  const auto s2 = d.SnpStatus();
  CHECK(s2.reported_tcb_version == p.committed_tcb.raw());
  CHECK((s2.feature_bits & 3u) == 0u);
}

TEST_CASE("SNP_SET_CONFIG refusals change nothing") {
  Dev d;
  const auto& p = d.f.fw->platform_state();
  uapi::SevUserDataSnpConfig good{};
  good.reported_tcb = LowerTcb(p).raw();
  d.user.Put(kData, good);
  const Bytes digest = d.f.fw->StateDigest();

  SUBCASE("kernel: not initialised") {
    Dev u(false);
    u.user.Put(kData, good);
    const Bytes dg = u.f.fw->StateDigest();
    CheckRefused(u, u.Issue(SevUserCmd::kSnpSetConfig, kData), EINVAL, dg);
  }
  SUBCASE("kernel: no data, even on a read-only descriptor (EINVAL before EPERM)") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpSetConfig, 0, false), EINVAL, digest);
  }
  SUBCASE("kernel: read-only descriptor") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpSetConfig, kData, false), EPERM, digest);
  }
  SUBCASE("kernel: unreadable struct") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpSetConfig, kUnmapped), EFAULT, digest);
  }
  struct Row {
    const char* rule;
    void (*spoil)(uapi::SevUserDataSnpConfig&, const emulator::PlatformState&);
  };
  const Row rows[] = {
      {"firmware: reserved byte set",
       [](uapi::SevUserDataSnpConfig& c, const emulator::PlatformState&) { c.reserved[51] = 1; }},
      {"firmware: unknown flag bit",
       [](uapi::SevUserDataSnpConfig& c, const emulator::PlatformState&) { c.flags = 4; }},
      {"firmware: reported TCB above committed",
       [](uapi::SevUserDataSnpConfig& c, const emulator::PlatformState& ps) {
         auto parts = ps.committed_tcb.parts();
         parts.snp += 1;
         c.reported_tcb = emulator::TcbVersion::FromParts(ps.chip.product, parts)->raw();
       }},
  };
  for (const Row& row : rows) {
    SUBCASE(row.rule) {
      uapi::SevUserDataSnpConfig bad = good;
      row.spoil(bad, p);
      d.user.Put(kData, bad);
      CheckFwRefused(d, d.Issue(SevUserCmd::kSnpSetConfig, kData), FwStatus::kInvalidParam, digest);
    }
  }
}

TEST_CASE("SNP_COMMIT: committed and reported TCB become the current one; data is ignored") {
  SUBCASE("not initialised") {
    Dev u(false);
    const Bytes dg = u.f.fw->StateDigest();
    CheckRefused(u, u.Issue(SevUserCmd::kSnpCommit, kData), EINVAL, dg);
  }
  SUBCASE("commit on a read-only descriptor (the kernel asks no write access)") {
    Dev d;
    const auto& p = d.f.fw->platform_state();
    uapi::SevUserDataSnpConfig cfg{};
    cfg.reported_tcb = LowerTcb(p).raw();
    d.user.Put(kData, cfg);
    REQUIRE(d.Issue(SevUserCmd::kSnpSetConfig, kData).ret == 0);
    REQUIRE(d.SnpStatus().reported_tcb_version == cfg.reported_tcb);
    const auto r = d.Issue(SevUserCmd::kSnpCommit, kUnmapped, /*writable=*/false);
    CHECK(r.ret == 0);
    CHECK(r.copy_back);
    CHECK(d.arg.error == 0);
    CHECK(d.ScratchReturned());
    CHECK(p.committed_tcb == p.current_tcb);
    CHECK(d.SnpStatus().reported_tcb_version == p.current_tcb.raw());
    CHECK(d.f.fw->persistent_state_changed());
  }
}

TEST_CASE("SNP_VLEK_LOAD: a KDS-wrapped VLEK loads; corrupted or foreign ones change nothing") {
  Dev d;
  const emulator::Platform platform = test::SeededPlatform(emulator::Product::kMilan);
  const emulator::Kds kds(platform.root);
  const auto reported = d.f.fw->platform_state().reported_tcb;
  auto issue = kds.Vlek(platform.state.chip, platform.fuses, "CN=csp.example", reported,
                        platform.state.manufactured_at);
  REQUIRE(issue.ok());
  REQUIRE(issue->wrapped.size() == uapi::kVlekWrappedSize);
  const uapi::SevUserDataSnpVlekLoad good{16, 0, {}, kBlob};
  d.user.Put(kData, good);
  REQUIRE(d.user.Write(kBlob, issue->wrapped));
  const Bytes digest = d.f.fw->StateDigest();

  SUBCASE("valid: loaded, SNP_PLATFORM_STATUS shows vlek_en") {
    const auto r = d.Issue(SevUserCmd::kSnpVlekLoad, kData);
    CHECK(r.ret == 0);
    CHECK(r.copy_back);
    CHECK(d.arg.error == 0);
    CHECK(d.ScratchReturned());
    CHECK((d.SnpStatus().feature_bits & 4u) == 4u);
  }
  SUBCASE("firmware: corrupted wrap is BAD_MEASUREMENT") {
    Bytes bad = issue->wrapped;
    bad[0x20] ^= 1;
    REQUIRE(d.user.Write(kBlob, bad));
    CheckFwRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), FwStatus::kBadMeasurement, digest);
  }
  SUBCASE("firmware: wrapped for another TCB is BAD_SVN") {
    auto other = kds.Vlek(platform.state.chip, platform.fuses, "CN=csp.example",
                          LowerTcb(d.f.fw->platform_state()), platform.state.manufactured_at);
    REQUIRE(other.ok());
    REQUIRE(d.user.Write(kBlob, other->wrapped));
    CheckFwRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), FwStatus::kBadSvn, digest);
  }
  SUBCASE("firmware: reserved bytes are passed on and refused") {
    auto bad = good;
    bad.rsvd[1] = 1;
    d.user.Put(kData, bad);
    CheckFwRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), FwStatus::kInvalidParam, digest);
  }
  SUBCASE("kernel: read-only descriptor") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData, false), EPERM, digest);
  }
  SUBCASE("kernel: no data") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, 0), EINVAL, digest);
  }
  SUBCASE("kernel: unreadable struct") {
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kUnmapped), EFAULT, digest);
  }
  SUBCASE("kernel: len != 16") {
    d.user.Put(kData, uapi::SevUserDataSnpVlekLoad{12, 0, {}, kBlob});
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), EINVAL, digest);
  }
  SUBCASE("kernel: version != 0") {
    d.user.Put(kData, uapi::SevUserDataSnpVlekLoad{16, 1, {}, kBlob});
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), EINVAL, digest);
  }
  SUBCASE("kernel: no blob address") {
    d.user.Put(kData, uapi::SevUserDataSnpVlekLoad{16, 0, {}, 0});
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), EINVAL, digest);
  }
  SUBCASE("kernel: unreadable blob") {
    d.user.Put(kData, uapi::SevUserDataSnpVlekLoad{16, 0, {}, kUnmapped});
    CheckRefused(d, d.Issue(SevUserCmd::kSnpVlekLoad, kData), EFAULT, digest);
  }
  SUBCASE("kernel: not initialised") {
    Dev u(false);
    u.user.Put(kData, good);
    const Bytes dg = u.f.fw->StateDigest();
    CheckRefused(u, u.Issue(SevUserCmd::kSnpVlekLoad, kData), EINVAL, dg);
  }
}

// ---------------------------------------------------------------------------------------------
// GET_ID / GET_ID2: the firmware's GET_ID is answered from the chip ID today.

TEST_CASE("SEV_GET_ID2: the 64-byte chip ID and the length probe") {
  Dev d;
  const Bytes& chip_id = d.f.fw->platform_state().chip.chip_id;
  REQUIRE(chip_id.size() == 64);
  const Bytes digest = d.f.fw->StateDigest();
  d.user.Fill(kBlob, 256, 0xEE);

  SUBCASE("no address: probe answers INVALID_LENGTH with length 64") {
    d.user.Put(kData, uapi::SevUserDataGetId2{0, 0});
    CheckFwRefused(d, d.Issue(SevUserCmd::kGetId2, kData, false), FwStatus::kInvalidLength, digest);
    CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);
  }
  SUBCASE("address but no length: probe, the buffer is untouched") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 0});
    CheckFwRefused(d, d.Issue(SevUserCmd::kGetId2, kData), FwStatus::kInvalidLength, digest);
    CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);
    CHECK(d.user.Slice(kBlob, 256) == Bytes(256, 0xEE));
  }
  SUBCASE("short buffer: INVALID_LENGTH, and the kernel still copies 64 bytes") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 10});
    CheckFwRefused(d, d.Issue(SevUserCmd::kGetId2, kData), FwStatus::kInvalidLength, digest);
    const auto out = d.user.Get<uapi::SevUserDataGetId2>(kData);
    CHECK(out.length == 64);
    CHECK(out.address == kBlob);
    CHECK(d.user.Slice(kBlob, 64) == Bytes(64, 0));  // the firmware wrote nothing
    CHECK(d.user.Slice(kBlob + 64, 16) == Bytes(16, 0xEE));
  }
  SUBCASE("64 bytes: the chip ID, read-only descriptor") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 64});
    const auto r = d.Issue(SevUserCmd::kGetId2, kData, false);
    CHECK(r.ret == 0);
    CHECK(d.arg.error == 0);
    CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);
    CHECK(d.user.Slice(kBlob, 64) == chip_id);
    CHECK(d.f.fw->StateDigest() == digest);
    CHECK(d.ScratchReturned());
  }
  SUBCASE("128 bytes on one socket: 64 written, length 64") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 128});
    CHECK(d.Issue(SevUserCmd::kGetId2, kData).ret == 0);
    CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);
    CHECK(d.user.Slice(kBlob, 64) == chip_id);
    CHECK(d.user.Slice(kBlob + 64, 64) == Bytes(64, 0xEE));
  }
  SUBCASE("a length the kernel cannot allocate: ENOMEM") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, (4u << 20) + 1});
    CheckRefused(d, d.Issue(SevUserCmd::kGetId2, kData), ENOMEM, digest);
  }
  SUBCASE("unreadable struct: EFAULT") {
    CheckRefused(d, d.Issue(SevUserCmd::kGetId2, kUnmapped), EFAULT, digest);
  }
  SUBCASE("unwritable buffer: EFAULT after the firmware ran; the length went back") {
    d.user.Put(kData, uapi::SevUserDataGetId2{kUnmapped, 64});
    const auto r = d.Issue(SevUserCmd::kGetId2, kData);
    CHECK(r.ret == -EFAULT);
    CHECK(d.arg.error == 0);
    CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);
    CHECK(d.ScratchReturned());
  }
}

TEST_CASE("SEV_GET_ID2 with SNP not initialised (GET_ID needs no platform state)") {
  Dev d(false);
  d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 64});
  CHECK(d.Issue(SevUserCmd::kGetId2, kData).ret == 0);
  CHECK(d.user.Slice(kBlob, 64) == d.f.fw->platform_state().chip.chip_id);
  CHECK(d.ScratchReturned());
}

TEST_CASE("SEV_GET_ID (deprecated): 64 bytes into the 128-byte struct on success") {
  Dev d;
  d.user.Fill(kData, 128, 0xEE);
  const auto r = d.Issue(SevUserCmd::kGetId, kData, false);
  CHECK(r.ret == 0);
  CHECK(r.copy_back);
  CHECK(d.arg.error == 0);
  CHECK(d.user.Slice(kData, 64) == d.f.fw->platform_state().chip.chip_id);
  CHECK(d.user.Slice(kData + 64, 64) == Bytes(64, 0xEE));  // socket2: not written
  CHECK(d.ScratchReturned());
  const auto bad = d.Issue(SevUserCmd::kGetId, kUnmapped);
  CHECK(bad.ret == -EFAULT);
  CHECK(d.arg.error == 0);
}

TEST_CASE("GET_ID and GET_ID2 need SEV API 0.16: ENOTSUPP (524) below it") {
  auto platform = test::SeededPlatform(emulator::Product::kMilan);
  platform.state.current_fw = platform.state.committed_fw = {0, 15, 1};
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 64ull << 20;
  auto fw = emulator::Firmware::Boot(platform, cfg);
  REQUIRE(fw.ok());
  SevDevice dev(**fw, kScratch);
  FakeUser user;
  user.Put(kData, uapi::SevUserDataGetId2{kBlob, 64});
  for (SevUserCmd cmd : {SevUserCmd::kGetId, SevUserCmd::kGetId2}) {
    uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(cmd), kData, kSentinel};
    const auto r = dev.Ioctl(uapi::kSevIssueCmd, arg, user, true);
    CHECK(r.ret == -uapi::kEnotsupp);
    CHECK(r.copy_back);
    CHECK(arg.error == kSentinel);
  }
}

// ---------------------------------------------------------------------------------------------
// Legacy SEV commands: the kernel side over the firmware's legacy SEV API.

TEST_CASE("legacy commands: write access first, then the firmware answers") {
  struct Row {
    SevUserCmd cmd;
    bool needs_write;
  };
  const Row rows[] = {
      {SevUserCmd::kFactoryReset, true},  {SevUserCmd::kPekGen, true},
      {SevUserCmd::kPekCsr, true},        {SevUserCmd::kPdhGen, true},
      {SevUserCmd::kPdhCertExport, true}, {SevUserCmd::kPekCertImport, true},
  };
  Dev d;
  d.user.Fill(kBlob, 0x824, 1);
  d.user.Fill(kBlob2, 0x824, 2);
  const Bytes digest = d.f.fw->StateDigest();
  for (const Row& row : rows) {
    CAPTURE(uapi::SevUserCmdName(static_cast<std::uint32_t>(row.cmd)));
    d.user.Fill(kData, 32, 0);
    CheckRefused(d, d.Issue(row.cmd, kData, false), EPERM, digest);
  }
  // PLATFORM_STATUS needs no write access: UNINIT after SNP_INIT alone.
  CHECK(d.Issue(SevUserCmd::kPlatformStatus, kData, false).ret == 0);
  CHECK(d.arg.error == 0);
  auto st = d.user.Get<uapi::SevUserDataStatus>(kData);
  CHECK(st.state == 0);
  CHECK(st.api_major == d.f.fw->platform_state().current_fw.major);
  // PEK_GEN: the implicit INIT, then PEK_GEN; INIT self-owned.
  CHECK(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);
  CHECK(d.f.fw->sev_state() == statemachine::SevPlatformState::kInit);
  CHECK(d.ScratchReturned());
  CHECK(d.Issue(SevUserCmd::kPlatformStatus, kData, false).ret == 0);
  st = d.user.Get<uapi::SevUserDataStatus>(kData);
  CHECK(st.state == 1);
  CHECK((st.flags & 1) == 0);
  CHECK(d.Issue(SevUserCmd::kPdhGen, 0).ret == 0);
  // Garbage certificates: the firmware's INVALID_CERTIFICATE, nothing changed.
  const Bytes before = d.f.fw->StateDigest();
  d.user.Put(kData, uapi::SevUserDataPekCertImport{kBlob, 0x824, kBlob2, 0x824});
  CheckFwRefused(d, d.Issue(SevUserCmd::kPekCertImport, kData), FwStatus::kInvalidCertificate,
                 before);
  // FACTORY_RESET from INIT: SHUTDOWN, then PLATFORM_RESET.
  CHECK(d.Issue(SevUserCmd::kFactoryReset, 0).ret == 0);
  CHECK(d.f.fw->sev_state() == statemachine::SevPlatformState::kUninit);
}

// Pulls a certificate out of the fake process.
emulator::SevCert CertAt(FakeUser& user, std::uint64_t addr) {
  auto c = emulator::SevCert::Parse(user.Slice(addr, emulator::kSevCertSize));
  REQUIRE_MESSAGE(c.ok(), c.error().message());
  return *c;
}

TEST_CASE("ownership through /dev/sev: CSR, OCA signature, import, export, factory reset") {
  Dev d;
  const emulator::Platform platform = test::SeededPlatform(emulator::Product::kMilan);
  auto cek_key = emulator::DeriveCek(platform.fuses.chip_unique_key);
  REQUIRE(cek_key.ok());
  const auto& fw_version = d.f.fw->platform_state().current_fw;
  auto signed_cek =
      emulator::MakeSignedCekCert(*cek_key, platform.root, fw_version.major, fw_version.minor);
  REQUIRE(signed_cek.ok());
  auto ask = emulator::MakeAmdAsk(platform.root);
  auto ark = emulator::MakeAmdArk(platform.root);
  REQUIRE((ask.ok() && ark.ok()));

  auto export_chain = [&](emulator::SevCert& pdh, emulator::SevCert& pek, emulator::SevCert& oca,
                          emulator::SevCert& cek) {
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{0, 0, 0, 0});  // probe
    CHECK(d.Issue(SevUserCmd::kPdhCertExport, kData).ret == -EIO);
    CHECK(d.arg.error == St(FwStatus::kInvalidLength));
    auto probe = d.user.Get<uapi::SevUserDataPdhCertExport>(kData);
    CHECK(probe.pdh_cert_len == 0x824);
    CHECK(probe.cert_chain_len == 0x186C);
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{kBlob, 0x824, kBlob2, 0x186C});
    REQUIRE(d.Issue(SevUserCmd::kPdhCertExport, kData).ret == 0);
    CHECK(d.ScratchReturned());
    pdh = CertAt(d.user, kBlob);
    pek = CertAt(d.user, kBlob2);
    oca = CertAt(d.user, kBlob2 + 0x824);
    cek = CertAt(d.user, kBlob2 + 2 * 0x824);
  };

  // Self-owned: the chain verifies with the KDS's CEK, whose body is the exported one.
  emulator::SevCert pdh, pek, oca, cek;
  export_chain(pdh, pek, oca, cek);
  CHECK(cek.sigs[0].empty());
  CHECK(cek.Body() == signed_cek->Body());
  auto chain = emulator::VerifySevChain(pdh, pek, oca, *signed_cek, *ask, *ark);
  CHECK_MESSAGE(chain.ok(), chain.error().message());

  // PEK_CSR: probe, then the CSR (the PEK's body, no signatures).
  d.user.Put(kData, uapi::SevUserDataPekCsr{0, 0});
  CHECK(d.Issue(SevUserCmd::kPekCsr, kData).ret == -EIO);
  CHECK(d.arg.error == St(FwStatus::kInvalidLength));
  CHECK(d.user.Get<uapi::SevUserDataPekCsr>(kData).length == 0x824);
  d.user.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x824});
  REQUIRE(d.Issue(SevUserCmd::kPekCsr, kData).ret == 0);
  emulator::SevCert csr = CertAt(d.user, kBlob);
  CHECK(csr.Body() == pek.Body());
  CHECK((csr.sigs[0].empty() && csr.sigs[1].empty()));

  // The owner signs it with its OCA and imports both.
  auto owner_key = crypto::PrivateKey::GenerateEcP384();
  REQUIRE(owner_key.ok());
  auto owner_oca = emulator::SevCert::Create(owner_key->Public(), emulator::sev_usage::kOca,
                                             emulator::sev_algo::kEcdsaSha256, 0, 0);
  REQUIRE(owner_oca.ok());
  REQUIRE(owner_oca->Sign(*owner_key, emulator::sev_usage::kOca, emulator::sev_algo::kEcdsaSha256)
              .ok());
  REQUIRE(csr.Sign(*owner_key, emulator::sev_usage::kOca, emulator::sev_algo::kEcdsaSha256).ok());
  const auto csr_bytes = csr.Encode();
  const auto oca_bytes = owner_oca->Encode();
  REQUIRE(d.user.Write(kBlob, csr_bytes));
  REQUIRE(d.user.Write(kBlob2, oca_bytes));
  d.user.Put(kData, uapi::SevUserDataPekCertImport{kBlob, 0x824, kBlob2, 0x824});
  REQUIRE(d.Issue(SevUserCmd::kPekCertImport, kData).ret == 0);
  CHECK(d.ScratchReturned());
  CHECK(d.Issue(SevUserCmd::kPlatformStatus, kData, false).ret == 0);
  CHECK((d.user.Get<uapi::SevUserDataStatus>(kData).flags & 1) == 1);
  // A second import: ALREADY_OWNED.
  const Bytes owned = d.f.fw->StateDigest();
  d.user.Put(kData, uapi::SevUserDataPekCertImport{kBlob, 0x824, kBlob2, 0x824});
  REQUIRE(d.user.Write(kBlob, csr_bytes));
  REQUIRE(d.user.Write(kBlob2, oca_bytes));
  CheckFwRefused(d, d.Issue(SevUserCmd::kPekCertImport, kData), FwStatus::kAlreadyOwned, owned);

  // The exported chain now ends in the owner's OCA; the PDH is new.
  emulator::SevCert pdh2, pek2, oca2, cek2;
  export_chain(pdh2, pek2, oca2, cek2);
  CHECK(oca2.Encode() == oca_bytes);
  CHECK(pek2.Body() == pek.Body());
  CHECK(pdh2.Body() != pdh.Body());
  chain = emulator::VerifySevChain(pdh2, pek2, oca2, *signed_cek, *ask, *ark);
  CHECK_MESSAGE(chain.ok(), chain.error().message());

  // FACTORY_RESET: self-owned again after the next INIT, with a new OCA and PEK.
  REQUIRE(d.Issue(SevUserCmd::kFactoryReset, 0).ret == 0);
  REQUIRE(d.Issue(SevUserCmd::kPdhGen, 0).ret == 0);  // INITs on demand
  CHECK(d.Issue(SevUserCmd::kPlatformStatus, kData, false).ret == 0);
  CHECK((d.user.Get<uapi::SevUserDataStatus>(kData).flags & 1) == 0);
  emulator::SevCert pdh3, pek3, oca3, cek3;
  export_chain(pdh3, pek3, oca3, cek3);
  CHECK(oca3.Body() != oca2.Body());
  CHECK(pek3.Body() != pek.Body());
  chain = emulator::VerifySevChain(pdh3, pek3, oca3, *signed_cek, *ask, *ark);
  CHECK_MESSAGE(chain.ok(), chain.error().message());
}

TEST_CASE("legacy commands: the kernel's own refusals and what goes back") {
  Dev d;
  const Bytes digest = d.f.fw->StateDigest();
  SUBCASE("PLATFORM_STATUS runs the firmware before looking at data") {
    const auto r = d.Issue(SevUserCmd::kPlatformStatus, 0, false);
    CHECK(r.ret == -EFAULT);
    CHECK(d.arg.error == 0);
    CHECK(d.f.fw->StateDigest() == digest);
  }
  SUBCASE("PEK_CSR: EPERM before the struct is read") {
    CheckRefused(d, d.Issue(SevUserCmd::kPekCsr, kUnmapped, false), EPERM, digest);
  }
  SUBCASE("PEK_CSR: unreadable struct") {
    CheckRefused(d, d.Issue(SevUserCmd::kPekCsr, kUnmapped), EFAULT, digest);
  }
  SUBCASE("PEK_CSR: a buffer above 16 KiB is EFAULT before INIT") {
    d.user.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x4001});
    CheckRefused(d, d.Issue(SevUserCmd::kPekCsr, kData), EFAULT, digest);
  }
  SUBCASE("PEK_CSR probe: the implicit INIT fails (RMP not built), the length stays") {
    Dev u(false);  // SNPEn without SNP_INIT: legacy INIT is INVALID_PLATFORM_STATE
    const Bytes du = u.f.fw->StateDigest();
    u.user.Put(kData, uapi::SevUserDataPekCsr{0, 7});
    CheckFwRefused(u, u.Issue(SevUserCmd::kPekCsr, kData), FwStatus::kInvalidPlatformState, du);
    CHECK(u.user.Get<uapi::SevUserDataPekCsr>(kData).length == 7);
  }
  SUBCASE("PEK_CSR probe: INVALID_LENGTH with 0x824 written back") {
    d.user.Put(kData, uapi::SevUserDataPekCsr{0, 7});
    CHECK(d.Issue(SevUserCmd::kPekCsr, kData).ret == -EIO);
    CHECK(d.arg.error == St(FwStatus::kInvalidLength));
    CHECK(d.user.Get<uapi::SevUserDataPekCsr>(kData).length == 0x824);
    CHECK(d.ScratchReturned());
  }
  SUBCASE("PDH_CERT_EXPORT: EPERM on a read-only descriptor before anything is read") {
    CheckRefused(d, d.Issue(SevUserCmd::kPdhCertExport, kUnmapped, false), EPERM, digest);
  }
  SUBCASE("PDH_CERT_EXPORT: the implicit INIT comes before the struct is read") {
    Dev u(false);
    const Bytes du = u.f.fw->StateDigest();
    CheckFwRefused(u, u.Issue(SevUserCmd::kPdhCertExport, kUnmapped),
                   FwStatus::kInvalidPlatformState, du);
  }
  SUBCASE("PEK_CERT_IMPORT: unreadable struct") {
    CheckRefused(d, d.Issue(SevUserCmd::kPekCertImport, kUnmapped), EFAULT, digest);
  }
  struct BlobRow {
    const char* rule;
    uapi::SevUserDataPekCertImport in;
    int err;
  };
  const BlobRow blob_rows[] = {
      {"PEK blob: no address", {0, 0x824, kBlob2, 0x824}, EINVAL},
      {"PEK blob: no length", {kBlob, 0, kBlob2, 0x824}, EINVAL},
      {"PEK blob: above 16 KiB", {kBlob, 0x4001, kBlob2, 0x824}, EINVAL},
      {"PEK blob: unreadable", {kUnmapped, 0x824, kBlob2, 0x824}, EFAULT},
      {"OCA blob: no address", {kBlob, 0x824, 0, 0x824}, EINVAL},
      {"OCA blob: no length", {kBlob, 0x824, kBlob2, 0}, EINVAL},
      {"OCA blob: above 16 KiB", {kBlob, 0x824, kBlob2, 0x4001}, EINVAL},
      {"OCA blob: unreadable", {kBlob, 0x824, kUnmapped, 0x824}, EFAULT},
  };
  for (const BlobRow& row : blob_rows) {
    SUBCASE(row.rule) {
      d.user.Put(kData, row.in);
      CheckRefused(d, d.Issue(SevUserCmd::kPekCertImport, kData), row.err, digest);
    }
  }
}

// A legacy firmware standing in for issue 6, to reach the kernel paths behind a successful
// legacy command. It answers as SEV firmware does (SEV-ABI-FACTS.md 1.4, 9.1), records each
// command with the RMP state of the buffers it was given, and writes recognisable blobs.
#pragma pack(push, 1)
struct PekCsrBuf {
  std::uint64_t address;
  std::uint32_t len;
};
struct PekCertImportBuf {
  std::uint64_t pek_cert_address;
  std::uint32_t pek_cert_len;
  std::uint32_t reserved;
  std::uint64_t oca_cert_address;
  std::uint32_t oca_cert_len;
};
struct PdhCertExportBuf {
  std::uint64_t pdh_cert_address;
  std::uint32_t pdh_cert_len;
  std::uint32_t reserved;
  std::uint64_t cert_chain_address;
  std::uint32_t cert_chain_len;
};
#pragma pack(pop)

class LegacyStandIn : public SevDevice {
 public:
  using SevDevice::SevDevice;
  emulator::Firmware* fw = nullptr;  // set by the test
  std::vector<std::uint32_t> calls;
  std::vector<rmp::PageState> buffer_states;  // page state of each buffer, in order
  std::uint8_t platform_state = 0;            // what PLATFORM_STATUS reports
  FwStatus init_status = FwStatus::kSuccess;
  Bytes pek_seen, oca_seen;

 private:
  rmp::PageState StateOf(std::uint64_t spa) const { return fw->memory().rmp().Get(spa).State(); }
  void Blob(std::uint64_t spa, std::size_t len, std::uint8_t v) {
    REQUIRE(fw->memory().FirmwareWrite(spa, Bytes(len, v)).ok());
  }
  template <typename T>
  T Load(MutableByteSpan b) {
    REQUIRE(b.size() == sizeof(T));
    T v;
    std::memcpy(&v, b.data(), sizeof v);
    return v;
  }
  template <typename T>
  void Store(MutableByteSpan b, const T& v) {
    std::memcpy(b.data(), &v, sizeof v);
  }

  FwStatus CallLegacy(std::uint32_t cmd, MutableByteSpan b) override {
    calls.push_back(cmd);
    if (fw == nullptr) return FwStatus::kInvalidCommand;  // during construction
    switch (cmd) {
      case 0x001: {  // INIT: sev_data_init, 20 bytes
        CHECK(b.size() == 20);
        const FwStatus st = init_status;
        init_status = FwStatus::kSuccess;
        return st;
      }
      case 0x004: {  // PLATFORM_STATUS
        auto s = Load<uapi::SevUserDataStatus>(b);
        s.api_major = 0;
        s.api_minor = 24;
        s.state = platform_state;
        Store(b, s);
        return FwStatus::kSuccess;
      }
      case 0x006: {  // PEK_CSR
        auto in = Load<PekCsrBuf>(b);
        if (in.len < 0x824) {
          in.len = 0x824;
          Store(b, in);
          return FwStatus::kInvalidLength;
        }
        buffer_states.push_back(StateOf(in.address));
        Blob(in.address, 0x824, 0xC5);
        in.len = 0x824;
        Store(b, in);
        return FwStatus::kSuccess;
      }
      case 0x007: {  // PEK_CERT_IMPORT
        const auto in = Load<PekCertImportBuf>(b);
        buffer_states.push_back(StateOf(in.pek_cert_address));
        buffer_states.push_back(StateOf(in.oca_cert_address));
        pek_seen.resize(in.pek_cert_len);
        oca_seen.resize(in.oca_cert_len);
        REQUIRE(fw->memory().FirmwareRead(in.pek_cert_address, pek_seen).ok());
        REQUIRE(fw->memory().FirmwareRead(in.oca_cert_address, oca_seen).ok());
        return FwStatus::kSuccess;
      }
      case 0x008: {  // PDH_CERT_EXPORT
        auto in = Load<PdhCertExportBuf>(b);
        if (in.pdh_cert_len < 0x824 || in.cert_chain_len < 0x186C) {
          in.pdh_cert_len = 0x824;
          in.cert_chain_len = 0x186C;
          Store(b, in);
          return FwStatus::kInvalidLength;
        }
        buffer_states.push_back(StateOf(in.pdh_cert_address));
        buffer_states.push_back(StateOf(in.cert_chain_address));
        Blob(in.pdh_cert_address, 0x824, 0xD1);
        Blob(in.cert_chain_address, 0x186C, 0xD2);
        in.pdh_cert_len = 0x824;
        in.cert_chain_len = 0x186C;
        Store(b, in);
        return FwStatus::kSuccess;
      }
      default:
        return FwStatus::kSuccess;  // SHUTDOWN, FACTORY_RESET, PEK_GEN, PDH_GEN, DF_FLUSH
    }
  }
};

struct StandIn : DevT<LegacyStandIn> {
  StandIn() {
    dev.fw = f.fw.get();
    dev.calls.clear();
  }
};

TEST_CASE("legacy kernel paths behind a working legacy firmware") {
  StandIn d;
  const auto fw_state = rmp::PageState::kFirmware;

  SUBCASE("PEK_GEN: INIT and DF_FLUSH first, once") {
    CHECK(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);
    CHECK(d.arg.error == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x001, 0x00A, 0x005});
    d.dev.calls.clear();
    CHECK(d.Issue(SevUserCmd::kPdhGen, 0).ret == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x009});
  }
  SUBCASE("INIT retried once after SECURE_DATA_INVALID") {
    d.dev.init_status = FwStatus::kSecureDataInvalid;
    CHECK(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x001, 0x001, 0x00A, 0x005});
  }
  SUBCASE("PEK_CSR probe: INVALID_LENGTH and the length 0x824 go back") {
    d.user.Put(kData, uapi::SevUserDataPekCsr{0, 0});
    CHECK(d.Issue(SevUserCmd::kPekCsr, kData).ret == -EIO);
    CHECK(d.arg.error == St(FwStatus::kInvalidLength));
    CHECK(d.user.Get<uapi::SevUserDataPekCsr>(kData).length == 0x824);
    CHECK(d.dev.buffer_states.empty());
    CHECK(d.ScratchReturned());
  }
  SUBCASE("PEK_CSR: the CSR lands in a FIRMWARE bounce page and is copied out") {
    d.user.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x1000});
    CHECK(d.Issue(SevUserCmd::kPekCsr, kData).ret == 0);
    CHECK(d.arg.error == 0);
    CHECK(d.user.Get<uapi::SevUserDataPekCsr>(kData).length == 0x824);
    CHECK(d.user.Slice(kBlob, 0x824) == Bytes(0x824, 0xC5));
    CHECK(d.dev.buffer_states == std::vector<rmp::PageState>{fw_state});
    CHECK(d.ScratchReturned());
  }
  SUBCASE("PEK_CSR: a short buffer gets the firmware's length copied, as the kernel does") {
    d.user.Fill(kBlob, 0x900, 0xEE);
    d.user.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x100});
    CHECK(d.Issue(SevUserCmd::kPekCsr, kData).ret == -EIO);
    CHECK(d.arg.error == St(FwStatus::kInvalidLength));
    CHECK(d.user.Get<uapi::SevUserDataPekCsr>(kData).length == 0x824);
    CHECK(d.user.Slice(kBlob, 0x824) == Bytes(0x824, 0));
    CHECK(d.user.Slice(kBlob + 0x824, 0x10) == Bytes(0x10, 0xEE));
  }
  SUBCASE("PDH_CERT_EXPORT probe and export; read-only once INIT") {
    REQUIRE(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);  // the kernel now believes INIT
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{0, 0, 0, 0});
    CHECK(d.Issue(SevUserCmd::kPdhCertExport, kData, false).ret == -EIO);
    CHECK(d.arg.error == St(FwStatus::kInvalidLength));
    auto out = d.user.Get<uapi::SevUserDataPdhCertExport>(kData);
    CHECK(out.pdh_cert_len == 0x824);
    CHECK(out.cert_chain_len == 0x186C);
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{kBlob, 0x824, kBlob2, 0x186C});
    CHECK(d.Issue(SevUserCmd::kPdhCertExport, kData, false).ret == 0);
    CHECK(d.user.Slice(kBlob, 0x824) == Bytes(0x824, 0xD1));
    CHECK(d.user.Slice(kBlob2, 0x186C) == Bytes(0x186C, 0xD2));
    CHECK(d.dev.buffer_states == std::vector<rmp::PageState>{fw_state, fw_state});
    CHECK(d.ScratchReturned());
  }
  SUBCASE("PDH_CERT_EXPORT: buffers above 16 KiB are EFAULT, after INIT") {
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{kBlob, 0x4001, kBlob2, 0x186C});
    CHECK(d.Issue(SevUserCmd::kPdhCertExport, kData).ret == -EFAULT);
    CHECK(d.arg.error == 0);  // INIT's DF_FLUSH ran
    d.user.Put(kData, uapi::SevUserDataPdhCertExport{kBlob, 0x824, kBlob2, 0x4001});
    CHECK(d.Issue(SevUserCmd::kPdhCertExport, kData).ret == -EFAULT);
  }
  SUBCASE("PEK_CERT_IMPORT: both blobs reach the firmware in hypervisor pages") {
    d.user.Fill(kBlob, 0x824, 0x11);
    d.user.Fill(kBlob2, 0x824, 0x22);
    d.user.Put(kData, uapi::SevUserDataPekCertImport{kBlob, 0x824, kBlob2, 0x824});
    CHECK(d.Issue(SevUserCmd::kPekCertImport, kData).ret == 0);
    CHECK(d.dev.pek_seen == Bytes(0x824, 0x11));
    CHECK(d.dev.oca_seen == Bytes(0x824, 0x22));
    CHECK(d.dev.buffer_states ==
          std::vector<rmp::PageState>{rmp::PageState::kHypervisor, rmp::PageState::kHypervisor});
    CHECK(d.ScratchReturned());
  }
  SUBCASE("PLATFORM_STATUS: the firmware's 12 bytes") {
    d.dev.platform_state = 1;
    CHECK(d.Issue(SevUserCmd::kPlatformStatus, kData, false).ret == 0);
    const auto s = d.user.Get<uapi::SevUserDataStatus>(kData);
    CHECK(s.api_minor == 24);
    CHECK(s.state == 1);
    CHECK(d.Issue(SevUserCmd::kPlatformStatus, kUnmapped).ret == -EFAULT);
  }
  SUBCASE("FACTORY_RESET: WORKING is EBUSY") {
    d.dev.platform_state = 2;
    CHECK(d.Issue(SevUserCmd::kFactoryReset, 0).ret == -EBUSY);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x004});
  }
  SUBCASE("FACTORY_RESET: INIT is shut down first") {
    REQUIRE(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);
    d.dev.calls.clear();
    d.dev.platform_state = 1;
    CHECK(d.Issue(SevUserCmd::kFactoryReset, 0).ret == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x004, 0x002, 0x003});
    // The kernel now believes UNINIT: the next PEK_GEN initialises again.
    d.dev.calls.clear();
    CHECK(d.Issue(SevUserCmd::kPekGen, 0).ret == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x001, 0x00A, 0x005});
  }
  SUBCASE("FACTORY_RESET: no SHUTDOWN while the kernel believes UNINIT") {
    d.dev.platform_state = 1;
    CHECK(d.Issue(SevUserCmd::kFactoryReset, 0).ret == 0);
    CHECK(d.dev.calls == std::vector<std::uint32_t>{0x004, 0x003});
  }
}

// ---------------------------------------------------------------------------------------------
// The shim's staged user memory.

using uapi::StagedUserMemory;
using uapi::UserRegion;

TEST_CASE("StagedUserMemory: accesses inside a staged region only; Written in staging order") {
  StagedUserMemory m({{0x1000, Bytes(16, 1)}, {0x2000, Bytes(8, 2)}, {~0ull - 7, Bytes(8, 3)}});
  Bytes out(4);
  CHECK(m.Read(0x1000, out));
  CHECK(out == Bytes(4, 1));
  CHECK(m.Read(0x100C, out));
  CHECK_FALSE(m.Read(0x100D, out));  // runs past the end
  CHECK_FALSE(m.Read(0xFFF, out));   // starts before
  CHECK_FALSE(m.Read(0x3000, out));
  CHECK(m.Read(~0ull - 3, out));
  CHECK(out == Bytes(4, 3));
  CHECK_FALSE(m.Read(~0ull - 2, out));  // would wrap past 2^64
  CHECK(m.Written().empty());
  CHECK(m.Write(0x2004, Bytes{9, 9}));
  CHECK_FALSE(m.Write(0x2007, Bytes{9, 9}));
  CHECK(m.Write(0x1000, Bytes{7}));
  const auto w = m.Written();
  REQUIRE(w.size() == 2);
  CHECK(w[0].addr == 0x1000);
  CHECK(w[0].bytes[0] == 7);
  CHECK(w[1].addr == 0x2000);
  CHECK(w[1].bytes == Bytes{2, 2, 2, 2, 9, 9, 2, 2});
}

TEST_CASE("StagedUserMemory: overlapping regions stay coherent, so copying out loses nothing") {
  // A GET_ID2 buffer that covers its own struct: the struct is written after the blob's copy.
  FakeUser caller;
  caller.Fill(kData, 64, 0);
  StagedUserMemory m({{kData + 16, Bytes(12, 0)}, {kData, Bytes(64, 0)}});
  CHECK(m.Write(kData, Bytes(8, 0xAA)));        // the blob's first 8 bytes
  CHECK(m.Write(kData + 16, Bytes(12, 0xBB)));  // the struct, written back after
  for (const UserRegion& r : m.Written()) REQUIRE(caller.Write(r.addr, r.bytes));
  CHECK(caller.Slice(kData, 8) == Bytes(8, 0xAA));
  CHECK(caller.Slice(kData + 16, 12) == Bytes(12, 0xBB));
  Bytes back(12);
  CHECK(m.Read(kData + 16, back));
  CHECK(back == Bytes(12, 0xBB));
}

TEST_CASE("PlanSevIssueCmdRegions: the struct, then the buffers it names, bounded as the kernel") {
  FakeUser caller;
  auto plan = [&](SevUserCmd cmd, std::uint64_t data) {
    return uapi::PlanSevIssueCmdRegions({static_cast<std::uint32_t>(cmd), data, 0}, caller);
  };
  SUBCASE("commands without data, no data pointer, unknown commands, unreadable struct") {
    CHECK(plan(SevUserCmd::kPekGen, kData).empty());
    CHECK(plan(SevUserCmd::kSnpCommit, kData).empty());
    CHECK(plan(SevUserCmd::kSnpPlatformStatus, 0).empty());
    CHECK(plan(SevUserCmd::kMax, kData).empty());
    CHECK(plan(SevUserCmd::kSnpSetConfig, kUnmapped).empty());
  }
  SUBCASE("fixed structs") {
    const std::pair<SevUserCmd, std::size_t> sizes[] = {{SevUserCmd::kPlatformStatus, 12},
                                                        {SevUserCmd::kGetId, 128},
                                                        {SevUserCmd::kSnpPlatformStatus, 32},
                                                        {SevUserCmd::kSnpSetConfig, 64}};
    for (const auto& [cmd, size] : sizes) {
      const auto r = plan(cmd, kData);
      REQUIRE(r.size() == 1);
      CHECK(r[0].addr == kData);
      CHECK(r[0].bytes.size() == size);
    }
  }
  SUBCASE("PEK_CSR: the CSR buffer, capped at 16 KiB; a probe stages none") {
    caller.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x824});
    auto r = plan(SevUserCmd::kPekCsr, kData);
    REQUIRE(r.size() == 2);
    CHECK(r[1].addr == kBlob);
    CHECK(r[1].bytes.size() == 0x824);
    caller.Put(kData, uapi::SevUserDataPekCsr{kBlob, 0x8000});
    r = plan(SevUserCmd::kPekCsr, kData);
    REQUIRE(r.size() == 2);
    CHECK(r[1].bytes.size() == 0x4000);
    caller.Put(kData, uapi::SevUserDataPekCsr{0, 0x824});
    CHECK(plan(SevUserCmd::kPekCsr, kData).size() == 1);
    caller.Put(kData, uapi::SevUserDataPekCsr{kUnmapped, 0x824});
    CHECK(plan(SevUserCmd::kPekCsr, kData).size() == 1);  // faults later, as in the kernel
  }
  SUBCASE("two-buffer commands and VLEK") {
    caller.Put(kData, uapi::SevUserDataPdhCertExport{kBlob, 0x824, kBlob2, 0x186C});
    auto r = plan(SevUserCmd::kPdhCertExport, kData);
    REQUIRE(r.size() == 3);
    CHECK(r[1].addr == kBlob);
    CHECK(r[2].addr == kBlob2);
    CHECK(r[2].bytes.size() == 0x186C);
    caller.Put(kData, uapi::SevUserDataPekCertImport{kBlob, 0x10, kBlob2, 0x20});
    r = plan(SevUserCmd::kPekCertImport, kData);
    REQUIRE(r.size() == 3);
    CHECK(r[2].bytes.size() == 0x20);
    caller.Put(kData, uapi::SevUserDataGetId2{kBlob, 64});
    r = plan(SevUserCmd::kGetId2, kData);
    REQUIRE(r.size() == 2);
    CHECK(r[1].bytes.size() == 64);
    caller.Put(kData, uapi::SevUserDataSnpVlekLoad{16, 0, {}, kBlob});
    r = plan(SevUserCmd::kSnpVlekLoad, kData);
    REQUIRE(r.size() == 2);
    CHECK(r[1].bytes.size() == uapi::kVlekWrappedSize);
  }
}

TEST_CASE("staged round trip: the driver over staged copies gives the caller what it would") {
  Dev d;
  d.user.Put(kData, uapi::SevUserDataGetId2{kBlob, 64});
  uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(SevUserCmd::kGetId2), kData, 0};
  StagedUserMemory staged(uapi::PlanSevIssueCmdRegions(arg, d.user));
  const auto r = d.dev.Ioctl(uapi::kSevIssueCmd, arg, staged, false);
  CHECK(r.ret == 0);
  for (const UserRegion& w : staged.Written()) REQUIRE(d.user.Write(w.addr, w.bytes));
  CHECK(d.user.Slice(kBlob, 64) == d.f.fw->platform_state().chip.chip_id);
  CHECK(d.user.Get<uapi::SevUserDataGetId2>(kData).length == 64);

  uapi::SevIssueCmdArg st{static_cast<std::uint32_t>(SevUserCmd::kSnpPlatformStatus), kBlob2, 0};
  StagedUserMemory staged2(uapi::PlanSevIssueCmdRegions(st, d.user));
  CHECK(d.dev.Ioctl(uapi::kSevIssueCmd, st, staged2, false).ret == 0);
  const auto w = staged2.Written();
  REQUIRE(w.size() == 1);
  CHECK(w[0].addr == kBlob2);
  CHECK(w[0].bytes[2] == 1);  // state INIT
}

}  // namespace
}  // namespace sevemu
