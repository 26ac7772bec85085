// The state directory's writers (SavePlatformState: platform.json with its .bak;
// SaveSevNvStore: sev-nv.json) under the fault-injecting file layer: whatever call fails or
// crashes, and after however many bytes, the directory still loads, with the committed state
// or the new one, and after a success a crash keeps the new one.
#include <doctest/doctest.h>

#include "fault_injection_fs.h"
#include "firmware_fixture.h"
#include "sevemu/common/file_io.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/sev_nv_store.h"
#include "test_util.h"

namespace sevemu {
namespace {

using test::FaultInjectionFs;

std::string Text(const std::string& path) {
  auto b = ReadWholeFile(path, 1 << 20);
  return b.ok() ? std::string(b->begin(), b->end()) : "<missing>";
}

// The committed directory, written through an unarmed layer (whose fsync is modelled: fast).
void Commit(const std::string& dir, const emulator::Platform& p, const emulator::SevNvStore& nv) {
  FaultInjectionFs quick;
  test::ScopedFileOps scope(&quick);
  REQUIRE(emulator::SaveNewPlatform(dir, p).ok());
  REQUIRE(emulator::SaveSevNvStore(dir, nv).ok());
}

// Runs `write` once under every fault (every call; every byte count of a data write) in a
// copy of `committed`, checking with `check` (given the directory) what each one left.
template <typename Write, typename Check>
void UnderEveryFault(const emulator::Platform& committed, const emulator::SevNvStore& nv,
                     Write write, Check check) {
  std::vector<FaultInjectionFs::Op> calls;
  std::size_t data_bytes = 0;
  {
    test::TempDir dir;
    Commit(dir.path(), committed, nv);
    FaultInjectionFs fs;
    {
      test::ScopedFileOps scope(&fs);
      REQUIRE(write(dir.path()).ok());
    }
    calls = fs.calls();
    fs.SimulateCrash();
    check(dir.path(), true);
    data_bytes = 4096;  // more than either file; counts past the end are the same run
  }
  std::size_t runs = 0;
  for (std::size_t at = 0; at < calls.size(); ++at) {
    const bool is_write = calls[at] == FaultInjectionFs::Op::kWrite;
    for (const auto mode : {FaultInjectionFs::Mode::kFail, FaultInjectionFs::Mode::kCrash}) {
      // Every byte for the first 16, then every 97th: each a different cut of the JSON.
      for (std::size_t bytes = 0; bytes < (is_write ? data_bytes : 1);
           bytes += bytes < 16 ? 1 : 97) {
        CAPTURE(at);
        CAPTURE(static_cast<int>(mode));
        CAPTURE(bytes);
        test::TempDir dir;
        Commit(dir.path(), committed, nv);
        FaultInjectionFs fs;
        fs.Arm(mode, at, bytes);
        Status st;
        {
          test::ScopedFileOps scope(&fs);
          st = write(dir.path());
        }
        // A fault in a call whose failure does not matter (removing a backup that is not
        // there) leaves a success, which must then be durable.
        check(dir.path(), st.ok());
        fs.SimulateCrash();
        check(dir.path(), st.ok());
        ++runs;
      }
    }
  }
  CHECK(runs > 100);
}

}  // namespace

TEST_CASE("platform.json: a failed or interrupted save never loses the committed state") {
  const emulator::Platform committed = test::SeededPlatform(emulator::Product::kMilan);
  emulator::PlatformState next = committed.state;
  next.mask_chip_id = true;
  next.reported_tcb = committed.state.committed_tcb;
  const std::string old_json = emulator::PlatformJson(committed.state);
  const std::string new_json = emulator::PlatformJson(next);
  REQUIRE(old_json != new_json);
  UnderEveryFault(
      committed, {}, [&](const std::string& dir) { return emulator::SavePlatformState(dir, next); },
      [&](const std::string& dir, bool succeeded) {
        auto loaded = emulator::LoadPlatform(dir);
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message()));
        const std::string now = emulator::PlatformJson(loaded->state);
        if (succeeded) {
          CHECK(now == new_json);
        } else {
          CHECK((now == old_json || now == new_json));
        }
        // The other files of the directory are untouched.
        CHECK(Text(dir + "/fuses.json").find("hash_stick_root") != std::string::npos);
      });
}

TEST_CASE("sev-nv.json: a failed or interrupted save never loses the committed identity") {
  const emulator::Platform platform = test::SeededPlatform(emulator::Product::kMilan);
  test::FirmwareFixture f(platform);
  f.InitPlatform();
  f.Init();
  const emulator::SevNvStore old_store = f.fw->sev_nv_store();
  REQUIRE(f.Sev(emulator::SevCmd::kPdhGen) == emulator::FwStatus::kSuccess);
  const emulator::SevNvStore new_store = f.fw->sev_nv_store();
  auto old_json = emulator::SevNvJson(old_store), new_json = emulator::SevNvJson(new_store);
  REQUIRE(old_json.ok());
  REQUIRE(new_json.ok());
  REQUIRE(!(*old_json == *new_json));
  UnderEveryFault(
      platform, old_store,
      [&](const std::string& dir) { return emulator::SaveSevNvStore(dir, new_store); },
      [&](const std::string& dir, bool succeeded) {
        auto loaded = emulator::LoadSevNvStore(dir, nullptr);
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message()));
        auto now = emulator::SevNvJson(*loaded);
        REQUIRE(now.ok());
        if (succeeded) {
          CHECK(*now == *new_json);
        } else {
          CHECK((*now == *old_json || *now == *new_json));
        }
      });
}

}  // namespace sevemu
