// WriteFileAtomic under the fault-injecting file layer (support/fault_injection_fs.h): a write
// that fails, or a crash, at any system call it makes — and, for the data write, after any
// number of its bytes — leaves the file with its committed contents or the new ones, never a
// mix, never nothing; and once it has returned success, a crash keeps the new contents.
#include <doctest/doctest.h>

#include <string>

#include "fault_injection_fs.h"
#include "sevemu/common/file_io.h"
#include "test_util.h"

namespace sevemu {
namespace {

using test::FaultInjectionFs;

std::string Contents(const std::string& path) {
  auto b = ReadWholeFile(path, 1 << 20);
  if (!b.ok()) return "<" + b.error().message() + ">";
  return std::string(b->begin(), b->end());
}

std::string Pattern(char seed, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(seed + i % 23));
  return s;
}

}  // namespace

TEST_CASE("WriteFileAtomic: a failure or crash at any call and any byte keeps old or new") {
  const std::string old_text = Pattern('a', 97), new_text = Pattern('A', 160);
  for (const bool backup : {false, true}) {
    CAPTURE(backup);
    // Where the calls are, from a clean run.
    std::vector<FaultInjectionFs::Op> calls;
    {
      test::TempDir dir;
      REQUIRE(WriteFileAtomic(dir / "f", AsBytes(old_text), 0644, backup).ok());
      FaultInjectionFs fs;
      {
        test::ScopedFileOps scope(&fs);
        REQUIRE(WriteFileAtomic(dir / "f", AsBytes(new_text), 0644, backup).ok());
      }
      calls = fs.calls();
      // Durable once it returned: a crash right after loses nothing.
      fs.SimulateCrash();
      CHECK(Contents(dir / "f") == new_text);
      if (backup) CHECK(Contents(dir / "f.bak") == old_text);
    }
    REQUIRE(calls.size() >= 6);  // open, write, fchmod, fsync, close, rename, fsync dir
    std::size_t runs = 0, failed_new_after_crash = 0;
    for (std::size_t at = 0; at < calls.size(); ++at) {
      const bool write = calls[at] == FaultInjectionFs::Op::kWrite;
      for (const auto mode : {FaultInjectionFs::Mode::kFail, FaultInjectionFs::Mode::kCrash}) {
        for (std::size_t bytes = 0; bytes <= (write ? new_text.size() - 1 : 0); ++bytes) {
          CAPTURE(at);
          CAPTURE(static_cast<int>(mode));
          CAPTURE(bytes);
          test::TempDir dir;
          const std::string path = dir / "f";
          {
            FaultInjectionFs quick;  // unarmed: the committed contents, fast
            test::ScopedFileOps scope(&quick);
            REQUIRE(WriteFileAtomic(path, AsBytes(old_text), 0644, backup).ok());
          }
          FaultInjectionFs fs;
          fs.Arm(mode, at, bytes);
          Status st;
          {
            test::ScopedFileOps scope(&fs);
            st = WriteFileAtomic(path, AsBytes(new_text), 0644, backup);
          }
          ++runs;
          const std::string now = Contents(path);
          const bool tmp_left = PathExists(path + ".tmp");
          fs.SimulateCrash();
          const std::string after = Contents(path);
          if (st.ok()) {
            // A fault in a call whose failure does not matter (removing a backup that is not
            // there): success, and then durable.
            CHECK(now == new_text);
            CHECK(after == new_text);
          } else {
            CHECK((now == old_text || now == new_text));
            if (mode == FaultInjectionFs::Mode::kFail) {
              CHECK_FALSE(tmp_left);  // cleaned up
            }
            CHECK((after == old_text || after == new_text));
            failed_new_after_crash += after == new_text;
          }
          // And the directory still takes the next write.
          FaultInjectionFs quick;
          test::ScopedFileOps scope(&quick);
          REQUIRE(WriteFileAtomic(path, AsBytes(new_text), 0644, backup).ok());
          CHECK(Contents(path) == new_text);
        }
      }
    }
    CHECK(runs > 2 * new_text.size());
    // A failed write is never durable: every failure came before the directory's fsync
    // completed, so what a crash leaves is the committed contents.
    CHECK(failed_new_after_crash == 0);
  }
}

}  // namespace sevemu
