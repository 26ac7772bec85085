#include "sevemu/common/file_io.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

namespace sevemu {

TEST_CASE("WriteFileAtomic replaces contents, keeps a backup, and sets the mode") {
  test::TempDir dir;
  const std::string path = dir / "state.json";
  REQUIRE(WriteFileAtomic(path, AsBytes("first"), 0600, true).ok());
  CHECK(test::ReadText(path) == "first");
  CHECK_FALSE(PathExists(path + ".bak"));  // nothing to back up the first time
  REQUIRE(WriteFileAtomic(path, AsBytes("second"), 0600, true).ok());
  CHECK(test::ReadText(path) == "second");
  CHECK(test::ReadText(path + ".bak") == "first");
  CHECK_FALSE(PathExists(path + ".tmp"));
  struct stat sb {};
  REQUIRE(stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
}

TEST_CASE("WriteFileAtomic failure leaves the previous contents in place") {
  test::TempDir dir;
  const std::string path = dir / "state.json";
  REQUIRE(WriteFileAtomic(path, AsBytes("good"), 0600, false).ok());
  // A directory where the temporary file must go makes the write fail before the rename.
  REQUIRE(mkdir((path + ".tmp").c_str(), 0700) == 0);
  const Status st = WriteFileAtomic(path, AsBytes("bad"), 0600, false);
  CHECK_FALSE(st.ok());
  CHECK(st.error().message().find("state.json.tmp") != std::string::npos);
  CHECK(test::ReadText(path) == "good");
}

TEST_CASE("ReadWholeFile names the file in every error") {
  test::TempDir dir;
  auto missing = ReadWholeFile(dir / "nope", 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == ErrorCode::kNotFound);
  CHECK(missing.error().message().find("nope") != std::string::npos);

  test::WriteText(dir / "big", std::string(200, 'x'));
  auto big = ReadWholeFile(dir / "big", 100);
  REQUIRE_FALSE(big.ok());
  CHECK(big.error().code() == ErrorCode::kCorrupt);

  auto is_dir = ReadWholeFile(dir.path(), 100);
  REQUIRE_FALSE(is_dir.ok());
  CHECK(is_dir.error().code() == ErrorCode::kCorrupt);
}

TEST_CASE("DirLock excludes a second holder, in this process and in another") {
  test::TempDir dir;
  auto first = DirLock::Acquire(dir.path());
  REQUIRE(first.ok());
  auto second = DirLock::Acquire(dir.path());
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code() == ErrorCode::kBusy);
  CHECK(second.error().message().find(std::to_string(getpid())) != std::string::npos);

  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) _exit(DirLock::Acquire(dir.path()).ok() ? 1 : 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("DirLock is released with its owner") {
  test::TempDir dir;
  {
    auto lock = DirLock::Acquire(dir.path());
    REQUIRE(lock.ok());
  }
  CHECK(DirLock::Acquire(dir.path()).ok());
}

TEST_CASE("DirLock records exactly its holder's pid over a longer previous record") {
  test::TempDir dir;
  // A previous holder's record, longer than any pid, is replaced, not overwritten in part.
  test::WriteText(dir / "lock", "12345678901234567890\n");
  auto lock = DirLock::Acquire(dir.path());
  REQUIRE(lock.ok());
  CHECK(test::ReadText(dir / "lock") == std::to_string(getpid()) + "\n");
}

}  // namespace sevemu
