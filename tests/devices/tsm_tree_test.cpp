// devices::TsmTree, the configfs-tsm tree both front ends serve: paths, stat, entries, pending
// stores and directory views, over a backing directory in a temp dir. No daemon: the guest
// connection is -1, so report_new fails (EIO) and only what needs no report is exercised here;
// reports through the tree are tests/e2e's ("configfs-tsm ...").
#include "devices/tsm_tree.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "test_util.h"

namespace sevemu::devices {
namespace {

using Level = TsmPath::Level;
constexpr const char* kReport = "/sys/kernel/config/tsm/report";

TsmPath P(const std::string& rel) {
  auto p = SplitTsmPath(std::string(kReport) + rel);
  REQUIRE(p.has_value());
  return *p;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

std::string Show(TsmTree& t, const std::string& rel) {
  bool pending = true;
  const int fd = t.OpenAttr(P(rel), O_RDONLY, &pending);
  REQUIRE(fd >= 0);
  CHECK_FALSE(pending);
  return ReadAll(fd);
}

int Store(TsmTree& t, const std::string& rel, const std::string& data) {
  bool pending = false;
  const int fd = t.OpenAttr(P(rel), O_WRONLY, &pending);
  REQUIRE(fd >= 0);
  CHECK(pending);
  REQUIRE(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  return fd;  // still open: the store waits for its close
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string() + (e.is_directory() ? "/" : ""));
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST_CASE("SplitTsmPath: the levels of the tree; what configfs does not have is nullopt") {
  CHECK(SplitTsmPath("/sys/kernel/config/tsm")->level == Level::kTsm);
  CHECK(SplitTsmPath("/sys/kernel/config/tsm/report/")->level == Level::kReport);
  const auto e = SplitTsmPath("/sys/kernel/config/tsm/report/r1");
  CHECK(e->level == Level::kEntry);
  CHECK(e->entry == "r1");
  const auto a = SplitTsmPath("/sys/kernel/config/tsm/report/r1/outblob");
  CHECK(a->level == Level::kAttr);
  CHECK(a->attr == "outblob");
  CHECK(SplitTsmPath("/sys/kernel/config/tsm/report/r1/..")->level == Level::kReport);
  CHECK(SplitTsmPath("/sys/kernel/config/tsm/report/./r1//inblob")->attr == "inblob");
  CHECK_FALSE(SplitTsmPath("/sys/kernel/config/tsm/reportx").has_value());
  CHECK_FALSE(SplitTsmPath("/sys/kernel/config/tsm/report/r1/outblob/x").has_value());
  CHECK_FALSE(SplitTsmPath("/sys/kernel/config").has_value());
}

TEST_CASE("entries: mkdir, stat with configfs's modes and sizes, rmdir") {
  test::TempDir d;
  std::unique_ptr<TsmTree> t;
  REQUIRE(TsmTree::Make(d / "root", -1, &t) == 0);
  CHECK(t->Mkdir(P("/r1")) == 0);
  CHECK(t->Mkdir(P("/r1")) == -EEXIST);
  CHECK(t->Mkdir(P("")) == -EEXIST);
  CHECK(t->Mkdir(P("/.sevemu-x")) == -EINVAL);
  CHECK(t->Mkdir(P("/r1/inblob")) == -EEXIST);  // an attribute is there
  CHECK(t->Mkdir(P("/r1/sub")) == -EPERM);      // an entry has no group operations
  CHECK(t->Mkdir(P("/none/sub")) == -ENOENT);
  CHECK(t->Rmdir(P("")) == -EBUSY);
  CHECK(t->Rmdir(P("/r1/outblob")) == -ENOTDIR);

  CHECK(S_ISDIR(t->Stat(P(""))->st_mode));
  const auto entry = t->Stat(P("/r1"));
  REQUIRE(entry.has_value());
  CHECK(entry->st_mode == (S_IFDIR | 0755));
  const auto outblob = t->Stat(P("/r1/outblob"));
  REQUIRE(outblob.has_value());
  CHECK(outblob->st_mode == (S_IFREG | 0444));
  CHECK(outblob->st_size == 0);  // binary attribute
  const auto generation = t->Stat(P("/r1/generation"));
  CHECK(generation->st_size == 4096);  // text attribute: a page
  CHECK(t->Stat(P("/r1/inblob"))->st_mode == (S_IFREG | 0200));
  CHECK_FALSE(t->Stat(P("/r1/nothing")).has_value());
  CHECK(outblob->st_ino != generation->st_ino);

  CHECK(t->Rmdir(P("/r1")) == 0);
  CHECK_FALSE(t->Stat(P("/r1")).has_value());
  CHECK(t->Rmdir(P("/r1")) == -ENOENT);
}

TEST_CASE("pending stores apply once their last descriptor is closed, in the order opened") {
  test::TempDir d;
  std::unique_ptr<TsmTree> t;
  REQUIRE(TsmTree::Make(d / "root", -1, &t) == 0);
  REQUIRE(t->Mkdir(P("/r1")) == 0);
  CHECK(Show(*t, "/r1/provider") == "sev_guest\n");
  CHECK(Show(*t, "/r1/generation") == "0\n");

  const int first = Store(*t, "/r1/privlevel", "2\n");
  const int copy = dup(first);  // one open file description, two descriptors
  const int second = Store(*t, "/r1/inblob", std::string(64, 'x'));
  close(second);
  close(first);
  // The first store is still open through `copy`: neither applies yet (they keep their order).
  CHECK(Show(*t, "/r1/generation") == "0\n");
  close(copy);
  CHECK(Show(*t, "/r1/generation") == "2\n");

  // A bad value is dropped at its close, as the failed write() stores nothing.
  close(Store(*t, "/r1/privlevel", "9"));
  CHECK(Show(*t, "/r1/generation") == "2\n");

  // Read-only and write-only attributes, and attributes that do not exist.
  bool pending = false;
  CHECK(t->OpenAttr(P("/r1/outblob"), O_WRONLY, &pending) == -EACCES);
  CHECK(t->OpenAttr(P("/r1/inblob"), O_RDONLY, &pending) == -EACCES);
  CHECK(t->OpenAttr(P("/r1/made"), O_WRONLY | O_CREAT, &pending) == -EACCES);
  CHECK(t->OpenAttr(P("/gone/inblob"), O_WRONLY, &pending) == -ENOENT);
  // No daemon behind the tree: report_new cannot run.
  CHECK(t->OpenAttr(P("/r1/outblob"), O_RDONLY, &pending) == -EIO);
  // rmdir takes the entry's pending stores with it.
  const int left = Store(*t, "/r1/inblob", "y");
  CHECK(t->Rmdir(P("/r1")) == 0);
  close(left);
  CHECK_FALSE(std::filesystem::exists(d / "root.pending/r1"));
}

TEST_CASE("directory views list what configfs lists") {
  test::TempDir d;
  std::unique_ptr<TsmTree> t;
  REQUIRE(TsmTree::Make(d / "root", -1, &t) == 0);
  REQUIRE(t->Mkdir(P("/a")) == 0);
  REQUIRE(t->Mkdir(P("/b")) == 0);
  std::string view;
  int fd = t->OpenView(P(""), O_RDONLY | O_DIRECTORY, d / "views", &view);
  REQUIRE(fd >= 0);
  close(fd);
  CHECK(List(view) == std::vector<std::string>{"a/", "b/"});
  fd = t->OpenView(P("/a"), O_RDONLY, d / "views", &view);
  REQUIRE(fd >= 0);
  close(fd);
  CHECK(List(view) == std::vector<std::string>{"auxblob", "generation", "inblob", "outblob",
                                               "privlevel", "privlevel_floor", "provider"});
  fd = t->OpenView(*SplitTsmPath("/sys/kernel/config/tsm"), O_RDONLY, d / "views", &view);
  REQUIRE(fd >= 0);
  close(fd);
  CHECK(List(view) == std::vector<std::string>{"report/"});
  CHECK(t->OpenView(P("/none"), O_RDONLY, d / "views", &view) == -ENOENT);
  CHECK(t->OpenView(P(""), O_WRONLY, d / "views", &view) == -EISDIR);
  CHECK(t->OpenView(P("/a/inblob"), O_RDONLY, d / "views", &view) == -ENOTDIR);
}

}  // namespace
}  // namespace sevemu::devices
