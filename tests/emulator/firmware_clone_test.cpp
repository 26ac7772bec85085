// Firmware::Clone: the snapshot the command fuzzers restore per input instead of booting
// (docs/fuzzing.md). A clone is in the same state as its original, the same commands give the
// same results on both, and nothing one does reaches the other: memory, RMP, guests, their
// machines and a legacy launch digest being hashed.
#include <doctest/doctest.h>

#include "command_recorder.h"
#include "sev_legacy_fixture.h"
#include "swap_fixture.h"

namespace sevemu::test {
namespace {

using F = SwapFixture;

TEST_CASE("a clone of an SNP platform with a running guest and swapped pages is independent") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  f.MakeTarget(F::kIn);
  CommandRecorder rec;
  f.fw->set_observer(&rec);
  auto c = f.fw->Clone();
  CHECK(c->StateDigest() == f.fw->StateDigest());
  CHECK(c->snp_state() == f.fw->snp_state());

  // The clone swaps the page back in; the original does not see it, then does the same.
  const Bytes before = f.fw->StateDigest();
  auto in = SwapFixture::Buf(F::kGctx, F::kOut, F::kIn, F::kMd, SwapFlags(SwapPageType::kData));
  const std::size_t events = rec.events.size();
  REQUIRE(c->Execute(SnpCmd::kPageSwapIn, in) == FwStatus::kSuccess);
  CHECK(rec.events.size() == events);  // the clone has no observer
  CHECK(f.fw->StateDigest() == before);
  CHECK(f.fw->memory().rmp().Get(F::kIn).State() == rmp::PageState::kPreGuest);
  CHECK(c->memory().rmp().Get(F::kIn).State() == rmp::PageState::kPreSwap);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, in) == FwStatus::kSuccess);
  CHECK(c->StateDigest() == f.fw->StateDigest());

  // Decommissioning the guest in the original leaves the clone's guest running.
  REQUIRE(f.Run(SnpCmd::kDecommission, emulator::SnpAddrBuf{F::kGctx}) == FwStatus::kSuccess);
  CHECK(c->StateDigest() != f.fw->StateDigest());
  emulator::SnpAddrBuf again{F::kGctx};
  CHECK(c->Execute(SnpCmd::kDecommission, again) == FwStatus::kSuccess);
  CHECK(c->StateDigest() == f.fw->StateDigest());
  f.fw->set_observer(nullptr);
}

TEST_CASE("a clone mid-launch of a legacy guest hashes its own launch digest") {
  LegacyFixture f(true);
  Launched l = LaunchUpTo(f, pol::kNoDbg, /*stop_before_measure=*/true);
  auto c = f.fw->Clone();
  CHECK(c->StateDigest() == f.fw->StateDigest());
  // One more page into the clone's digest only: the two measurements differ, and the
  // original's is the digest of what it was given.
  f.Put(kGuest + 0x1000 * kGuestPages, Bytes(0x1000, 0x3C));
  emulator::SevLaunchUpdateBuf up{l.handle, 0, kGuest + 0x1000 * kGuestPages, 0x1000};
  REQUIRE(c->ExecuteSev(SevCmd::kLaunchUpdateData, up) == FwStatus::kSuccess);
  const emulator::SevMeasureOut m = f.Measure(l.handle);
  emulator::SevLaunchMeasureBuf mb{l.handle, 0, kMeasure, 0x30};
  REQUIRE(c->ExecuteSev(SevCmd::kLaunchMeasure, mb) == FwStatus::kSuccess);
  Bytes cm(0x30);
  REQUIRE(c->memory().FirmwareRead(kMeasure, cm).ok());
  auto clone_measure = emulator::ParseSevMeasureOut(cm);
  REQUIRE(clone_measure.ok());
  CHECK(clone_measure->mnonce == m.mnonce);  // the same RNG draw on both
  CHECK(clone_measure->measurement != m.measurement);
  // The original's is the owner's expectation for the pages it was given (a shared hash
  // context would have hashed the clone's page into it too).
  const emulator::SevApiVersion api = f.Api();
  CHECK(owner::VerifyMeasurement(l.ls.keys, api, pol::kNoDbg, l.digest, m).ok());
}

}  // namespace
}  // namespace sevemu::test
