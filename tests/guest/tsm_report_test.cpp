// configfs-tsm report entries over a backing directory, driven as a shell drives
// /sys/kernel/config/tsm/report/: mkdir, echo > inblob, cat outblob, rmdir — each step as if
// from a separate process (separate TsmReportDir and driver objects over the same directory and
// guest). Semantics from Linux drivers/virt/coco/tsm.c and fs/configfs/file.c.
#include "sevemu/guest/tsm_report.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "guest_fixture.h"
#include "sevemu/guest/sev_guest_driver.h"
#include "test_util.h"

namespace sevemu::guest {
namespace {

using test::TestGuest;

std::string Text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

std::string Show(TsmReportDir& dir, std::string_view entry, TsmAttr attr) {
  Bytes out;
  const int rc = dir.ReadAttribute(entry, attr, &out);
  return rc == 0 ? Text(out) : "errno " + std::to_string(-rc);
}

long Store(TsmReportDir& dir, std::string_view entry, TsmAttr attr, std::string_view text) {
  return dir.WriteAttribute(entry, attr, AsBytes(text));
}

// A "process": its own driver and configfs view over the shared guest and backing directory.
struct Process {
  SevGuestDriver driver;
  TsmReportDir dir;
  Process(TestGuest& g, const std::string& root, unsigned vmpck_id = 0)
      : driver(g, vmpck_id), dir(root, driver) {}
};

}  // namespace

TEST_CASE("attribute table") {
  CHECK(TsmAttributes().size() == 7);
  CHECK(TsmAttrByName("outblob") == TsmAttr::kOutblob);
  CHECK(TsmAttrByName("manifestblob") == std::nullopt);  // SVSM only
  CHECK(TsmAttrByName("service_provider") == std::nullopt);
  CHECK(TsmAttrInfoOf(TsmAttr::kInblob).max_size == 64);
  CHECK(TsmAttrInfoOf(TsmAttr::kInblob).mode == 0200);
  CHECK(TsmAttrInfoOf(TsmAttr::kGeneration).mode == 0444);
  CHECK(TsmAttrInfoOf(TsmAttr::kPrivlevel).mode == 0200);
}

TEST_CASE("a report entry from mkdir to rmdir") {
  TestGuest g;
  test::TempDir tmp;
  const std::string root = tmp / "report";
  Process p(g, root);
  TsmReportDir& dir = p.dir;

  CHECK(dir.ListEntries().empty());
  REQUIRE(dir.MakeEntry("e0") == 0);
  CHECK(dir.MakeEntry("e0") == -EEXIST);
  CHECK(dir.ListEntries() == std::vector<std::string>{"e0"});
  CHECK(Show(dir, "e0", TsmAttr::kProvider) == "sev_guest\n");
  CHECK(Show(dir, "e0", TsmAttr::kPrivlevelFloor) == "0\n");
  CHECK(Show(dir, "e0", TsmAttr::kGeneration) == "0\n");
  // No inblob yet.
  CHECK(Show(dir, "e0", TsmAttr::kOutblob) == "errno " + std::to_string(EINVAL));
  CHECK(Show(dir, "e0", TsmAttr::kAuxblob) == "errno " + std::to_string(EINVAL));
  CHECK(g.firmware_calls == 0);

  const Bytes nonce(64, 0x5A);
  CHECK(dir.WriteAttribute("e0", TsmAttr::kInblob, nonce) == 64);
  CHECK(Show(dir, "e0", TsmAttr::kGeneration) == "1\n");
  Bytes outblob, auxblob;
  REQUIRE(dir.ReadAttribute("e0", TsmAttr::kOutblob, &outblob) == 0);
  CHECK(outblob.size() == 0x4A0);
  CHECK(Bytes(outblob.begin() + 0x50, outblob.begin() + 0x90) == nonce);
  CHECK(LoadLe32(outblob.data() + 0x30) == 0);  // VMPL
  REQUIRE(dir.ReadAttribute("e0", TsmAttr::kAuxblob, &auxblob) == 0);
  CHECK(auxblob == g.cert_table);
  CHECK(guestmsg::ParseCertTable(auxblob).ok());
  CHECK(g.firmware_calls == 1);  // one report for both blobs, cached

  // Another read, the same report; a new write, a new report.
  Bytes again;
  REQUIRE(dir.ReadAttribute("e0", TsmAttr::kOutblob, &again) == 0);
  CHECK(again == outblob);
  CHECK(g.firmware_calls == 1);
  CHECK(Store(dir, "e0", TsmAttr::kPrivlevel, "2\n") == 2);
  CHECK(Show(dir, "e0", TsmAttr::kGeneration) == "2\n");
  REQUIRE(dir.ReadAttribute("e0", TsmAttr::kOutblob, &again) == 0);
  CHECK(g.firmware_calls == 2);
  CHECK(LoadLe32(again.data() + 0x30) == 2);
  CHECK(Bytes(again.begin() + 0x50, again.begin() + 0x90) == nonce);
  CHECK(again != outblob);

  REQUIRE(dir.RemoveEntry("e0") == 0);
  CHECK(dir.RemoveEntry("e0") == -ENOENT);
  CHECK(!dir.HasEntry("e0"));
  CHECK(dir.ListEntries().empty());
  CHECK(Show(dir, "e0", TsmAttr::kGeneration) == "errno " + std::to_string(ENOENT));
  CHECK(dir.WriteAttribute("e0", TsmAttr::kInblob, nonce) == -ENOENT);
  // The same name again starts from zero.
  REQUIRE(dir.MakeEntry("e0") == 0);
  CHECK(Show(dir, "e0", TsmAttr::kGeneration) == "0\n");
  CHECK(Show(dir, "e0", TsmAttr::kOutblob) == "errno " + std::to_string(EINVAL));
}

TEST_CASE("attribute permissions and argument errors") {
  TestGuest g;
  test::TempDir tmp;
  Process p(g, tmp / "report");
  TsmReportDir& dir = p.dir;
  REQUIRE(dir.MakeEntry("e") == 0);

  for (TsmAttr ro : {TsmAttr::kOutblob, TsmAttr::kAuxblob, TsmAttr::kGeneration, TsmAttr::kProvider,
                     TsmAttr::kPrivlevelFloor}) {
    CAPTURE(TsmAttrInfoOf(ro).name);
    CHECK(Store(dir, "e", ro, "1") == -EACCES);
    CHECK(dir.CheckOpen("e", ro, false, true) == -EACCES);
    CHECK(dir.CheckOpen("e", ro, true, false) == 0);
  }
  for (TsmAttr wo : {TsmAttr::kInblob, TsmAttr::kPrivlevel}) {
    CAPTURE(TsmAttrInfoOf(wo).name);
    Bytes out;
    CHECK(dir.ReadAttribute("e", wo, &out) == -EACCES);
    CHECK(dir.CheckOpen("e", wo, true, false) == -EACCES);
    CHECK(dir.CheckOpen("e", wo, true, true) == -EACCES);
    CHECK(dir.CheckOpen("e", wo, false, true) == 0);
  }
  CHECK(dir.CheckOpen("nope", TsmAttr::kGeneration, true, false) == -ENOENT);

  CHECK(dir.WriteAttribute("e", TsmAttr::kInblob, Bytes(65, 1)) == -EFBIG);
  struct Row {
    const char* text;
    long want;
  };
  const Row rows[] = {
      {"0", 1},
      {"3\n", 2},
      {"+1", 2},
      {"0x3", 3},
      {"03", 2},
      {"4", -EINVAL},
      {"-1", -EINVAL},
      {"abc", -EINVAL},
      {"", -EINVAL},
      {"\n", -EINVAL},
      {"1\n\n", -EINVAL},
      {"1 ", -EINVAL},
      {"0x", -EINVAL},
      {"09", -EINVAL},
      {"4294967296", -ERANGE},
      {"99999999999999999999999", -ERANGE},
  };
  for (const Row& r : rows) {
    CAPTURE(r.text);
    CHECK(Store(dir, "e", TsmAttr::kPrivlevel, r.text) == r.want);
  }
  // Only the accepted stores counted.
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "5\n");

  CHECK(dir.MakeEntry("") == -EINVAL);
  CHECK(dir.MakeEntry("a/b") == -EINVAL);
  CHECK(dir.MakeEntry(std::string(256, 'x')) == -ENAMETOOLONG);
}

TEST_CASE("privlevel_floor follows the driver's VMPCK") {
  TestGuest g;
  test::TempDir tmp;
  Process p(g, tmp / "report", 1);
  TsmReportDir& dir = p.dir;
  REQUIRE(dir.MakeEntry("e") == 0);
  CHECK(Show(dir, "e", TsmAttr::kPrivlevelFloor) == "1\n");
  CHECK(Store(dir, "e", TsmAttr::kPrivlevel, "0") == -EINVAL);
  REQUIRE(dir.WriteAttribute("e", TsmAttr::kInblob, Bytes(64, 1)) == 64);
  // privlevel never written is 0, which VMPCK1 may not ask for: report status 0x16 -> EINVAL.
  CHECK(Show(dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(EINVAL));
  CHECK(g.firmware_calls == 1);
  CHECK(Store(dir, "e", TsmAttr::kPrivlevel, "1") == 1);
  Bytes out;
  REQUIRE(dir.ReadAttribute("e", TsmAttr::kOutblob, &out) == 0);
  CHECK(LoadLe32(out.data() + 0x30) == 1);
  // An inblob that is not 64 bytes: sev_report_new refuses it without a request.
  REQUIRE(dir.WriteAttribute("e", TsmAttr::kInblob, Bytes(20, 1)) == 20);
  CHECK(Show(dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(EINVAL));
  CHECK(g.firmware_calls == 2);
}

TEST_CASE("separate processes share an entry through the backing directory") {
  TestGuest g;
  test::TempDir tmp;
  const std::string root = tmp / "report";
  {
    Process mkdir_proc(g, root);
    REQUIRE(mkdir_proc.dir.MakeEntry("shared") == 0);
  }
  {
    Process echo_proc(g, root);
    REQUIRE(echo_proc.dir.WriteAttribute("shared", TsmAttr::kInblob, Bytes(64, 0x77)) == 64);
  }
  Bytes first;
  {
    Process cat_proc(g, root);
    CHECK(Show(cat_proc.dir, "shared", TsmAttr::kGeneration) == "1\n");
    REQUIRE(cat_proc.dir.ReadAttribute("shared", TsmAttr::kOutblob, &first) == 0);
  }
  {
    // The cache is on disk: another process reads the same report without a new request.
    Process cat_proc(g, root);
    Bytes again, aux;
    REQUIRE(cat_proc.dir.ReadAttribute("shared", TsmAttr::kOutblob, &again) == 0);
    REQUIRE(cat_proc.dir.ReadAttribute("shared", TsmAttr::kAuxblob, &aux) == 0);
    CHECK(again == first);
    CHECK(aux == g.cert_table);
    CHECK(g.firmware_calls == 1);
  }
  // Meanwhile the ioctl path and configfs share the sequence numbers.
  CHECK(g.StoredSeqno() == 2);
  {
    Process rmdir_proc(g, root);
    REQUIRE(rmdir_proc.dir.RemoveEntry("shared") == 0);
  }
  Process late(g, root);
  CHECK(!late.dir.HasEntry("shared"));
}

TEST_CASE("open files: binary writes land at close, reads are buffered per open") {
  TestGuest g;
  test::TempDir tmp;
  Process p(g, tmp / "report");
  TsmReportDir& dir = p.dir;
  REQUIRE(dir.MakeEntry("e") == 0);

  std::optional<TsmAttrFile> in;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kInblob, false, true, &in) == 0);
  CHECK(in->Write(Bytes(40, 0xAB)) == 40);
  CHECK(in->Write(Bytes(24, 0xCD)) == 24);
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "0\n");  // not yet
  CHECK(in->Write(Bytes(1, 0)) == -EFBIG);               // 65 bytes
  CHECK(in->Seek(0) == -ESPIPE);
  CHECK(in->Release() == 0);
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "1\n");

  std::optional<TsmAttrFile> out;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kOutblob, true, false, &out) == 0);
  Bytes report;
  std::uint8_t chunk[100];
  for (;;) {
    const long n = out->Read(chunk);
    REQUIRE(n >= 0);
    if (n == 0) break;
    report.insert(report.end(), chunk, chunk + n);
  }
  REQUIRE(report.size() == 0x4A0);
  Bytes expect(40, 0xAB);
  expect.insert(expect.end(), 24, 0xCD);
  CHECK(Bytes(report.begin() + 0x50, report.begin() + 0x90) == expect);
  CHECK(out->Write(Bytes(1, 0)) == -ETXTBSY);
  CHECK(out->Release() == 0);

  // An oversized write still marks the file written: close stores the (empty) buffer, as
  // configfs does, and an empty inblob reads as none.
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kInblob, false, true, &in) == 0);
  CHECK(in->Write(Bytes(65, 1)) == -EFBIG);
  CHECK(in->Release() == 0);
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "2\n");
  CHECK(Show(dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(EINVAL));

  // Text attributes: shown once per open, each write() a store.
  std::optional<TsmAttrFile> gen;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kGeneration, true, false, &gen) == 0);
  std::uint8_t buf[16];
  CHECK(gen->Read(buf) == 2);
  CHECK(std::string(buf, buf + 2) == "2\n");
  CHECK(gen->Read(buf) == 0);
  CHECK(Store(dir, "e", TsmAttr::kPrivlevel, "1") == 1);
  CHECK(gen->Seek(0) == 0);
  CHECK(gen->Read(buf) == 2);  // the page shown at the first read, not re-shown
  CHECK(std::string(buf, buf + 2) == "2\n");
  std::optional<TsmAttrFile> pl;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kPrivlevel, false, true, &pl) == 0);
  CHECK(pl->Write(AsBytes("3\n")) == 2);
  CHECK(pl->Write(AsBytes("9")) == -EINVAL);
  CHECK(pl->Write(ByteSpan{}) == -EFAULT);
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "4\n");
  CHECK(TsmAttrFile::Open(dir, "e", TsmAttr::kPrivlevel, true, false, &pl) == -EACCES);
}

TEST_CASE("open files of a removed entry fail with ENOENT, even after it is re-created") {
  TestGuest g;
  test::TempDir tmp;
  Process p(g, tmp / "report");
  TsmReportDir& dir = p.dir;
  REQUIRE(dir.MakeEntry("e") == 0);
  std::optional<TsmAttrFile> gen, in;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kGeneration, true, false, &gen) == 0);
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kPrivlevel, false, true, &in) == 0);
  REQUIRE(dir.RemoveEntry("e") == 0);
  REQUIRE(dir.MakeEntry("e") == 0);
  std::uint8_t buf[16];
  CHECK(gen->Read(buf) == -ENOENT);
  CHECK(in->Write(AsBytes("1")) == -ENOENT);
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == "0\n");
  CHECK(TsmAttrFile::Open(dir, "gone", TsmAttr::kGeneration, true, false, &gen) == -ENOENT);
}

TEST_CASE("a wiped VMPCK: outblob reads fail with ENOTTY") {
  TestGuest g;
  test::TempDir tmp;
  Process p(g, tmp / "report");
  REQUIRE(p.dir.MakeEntry("e") == 0);
  REQUIRE(p.dir.WriteAttribute("e", TsmAttr::kInblob, Bytes(64, 1)) == 64);
  g.corrupt_next_response = true;
  CHECK(Show(p.dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(EBADMSG));
  CHECK(Show(p.dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(ENOTTY));
  Process other(g, tmp / "report");
  CHECK(Show(other.dir, "e", TsmAttr::kAuxblob) == "errno " + std::to_string(ENOTTY));
}

TEST_CASE("a provider's errors reach the reader, and a failed report is not cached") {
  struct Flaky final : TsmProvider {
    int rc = -ENXIO;
    int calls = 0;
    const char* Name() const override { return "flaky"; }
    std::uint32_t PrivlevelFloor() const override { return 0; }
    int ReportNew(const TsmReportDesc& desc, TsmReportBlobs* out) override {
      ++calls;
      if (rc != 0) return rc;
      out->outblob = desc.inblob;
      return 0;
    }
  } flaky;
  test::TempDir tmp;
  TsmReportDir dir(tmp / "report", flaky);
  REQUIRE(dir.MakeEntry("e") == 0);
  CHECK(Show(dir, "e", TsmAttr::kProvider) == "flaky\n");
  REQUIRE(dir.WriteAttribute("e", TsmAttr::kInblob, Bytes(3, 9)) == 3);
  CHECK(Show(dir, "e", TsmAttr::kOutblob) == "errno " + std::to_string(ENXIO));
  flaky.rc = 0;
  CHECK(Show(dir, "e", TsmAttr::kOutblob) == std::string(3, '\x09'));
  CHECK(Show(dir, "e", TsmAttr::kAuxblob).empty());
  CHECK(flaky.calls == 2);
  // An empty auxblob reads as end of file through an open file.
  std::optional<TsmAttrFile> aux;
  REQUIRE(TsmAttrFile::Open(dir, "e", TsmAttr::kAuxblob, true, false, &aux) == 0);
  std::uint8_t buf[8];
  CHECK(aux->Read(buf) == 0);
}

}  // namespace sevemu::guest

namespace sevemu::guest {

TEST_CASE("concurrent processes: every store counted once (flock on the entry)") {
  struct Echo final : TsmProvider {
    const char* Name() const override { return "echo"; }
    std::uint32_t PrivlevelFloor() const override { return 0; }
    int ReportNew(const TsmReportDesc& desc, TsmReportBlobs* out) override {
      out->outblob = desc.inblob;
      return 0;
    }
  } echo;
  test::TempDir tmp;
  TsmReportDir dir(tmp / "report", echo);
  REQUIRE(dir.MakeEntry("e") == 0);
  constexpr int kChildren = 4, kStores = 25;
  std::vector<pid_t> kids;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      TsmReportDir mine(tmp / "report", echo);
      int bad = 0;
      for (int i = 0; i < kStores; ++i) {
        const Bytes blob(64, static_cast<std::uint8_t>(c));
        if (mine.WriteAttribute("e", TsmAttr::kInblob, blob) != 64) ++bad;
        Bytes out;
        if (mine.ReadAttribute("e", TsmAttr::kOutblob, &out) != 0 || out.size() != 64) ++bad;
      }
      ::_exit(bad == 0 ? 0 : 1);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(Show(dir, "e", TsmAttr::kGeneration) == std::to_string(kChildren * kStores) + "\n");
}

}  // namespace sevemu::guest
