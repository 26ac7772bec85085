// configfs-tsm's tree, /sys/kernel/config/tsm/report, for both front ends: the shim calls it in
// the program's own process, `sevemu run`'s supervisor on the program's behalf. Entries live in
// guest::TsmReportDir, whose backing directory every process of a guest shares
// ($SEVEMU_TSM_DIR, else <socket directory>/tsm/<platform>/<guest>), so the shim and `run`
// see the same entries.
//
// Why real files for writers: a shell opens `> inblob` in one process and the program it then
// execs writes through stdio; under `run` writes never leave the kernel at all. So an attribute
// opened for writing is a real "pending" file beside the backing directory, flock(LOCK_SH)'ed
// on its open file description; its store is applied once the last descriptor of it is gone,
// by the next configfs operation of any process (or the shim's interposed close), which finds
// the lock free. Stores apply in the order the files were opened. An attribute opened for
// reading is a memfd holding its contents, generated at open (so a report error such as EINVAL
// for a missing inblob is returned by open() rather than read()).
//
// Directories (the report directory, an entry) open as a "view": a real directory whose
// entries are those configfs would list (entry directories; attribute files), so getdents runs
// in the kernel. Views are snapshots taken at open; the caller removes them when done.
//
// Thread safety: none; one caller at a time per object. Across processes the backing
// directory's locks serialise.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sevemu/guest/tsm_provider.h"
#include "sevemu/guest/tsm_report.h"

namespace sevemu::devices {

// A path under /sys/kernel/config/tsm, split.
struct TsmPath {
  enum class Level { kTsm, kReport, kEntry, kAttr };
  Level level = Level::kTsm;
  std::string entry;  // kEntry, kAttr
  std::string attr;   // kAttr: the name as given (it may not be an attribute)
};

// nullopt when `abs` (absolute; "." and ".." are resolved lexically) is not
// /sys/kernel/config/tsm or below, or names something deeper than an entry's attribute (which
// configfs would not have: ENOENT).
std::optional<TsmPath> SplitTsmPath(std::string_view abs);

// The backing directory of `guest`'s entries on `platform` ("" = the daemon's first):
// $SEVEMU_TSM_DIR if set, else <socket directory>/tsm/<platform or "default">/<guest>.
std::string TsmBackingRoot(const std::string& platform, const std::string& guest);

// configfs-tsm's report provider over a guest connection: report_new runs in the daemon,
// where the guest kernel's driver lives (GUEST_TSM_REPORT).
class SocketTsmProvider final : public guest::TsmProvider {
 public:
  explicit SocketTsmProvider(int fd) : fd_(fd) {}
  const char* Name() const override { return guest::kSevGuestProviderName; }
  std::uint32_t PrivlevelFloor() const override { return 0; }  // vmpck_id 0
  int ReportNew(const guest::TsmReportDesc& desc, guest::TsmReportBlobs* out) override;

 private:
  int fd_;
};

class TsmTree {
 public:
  // Over the guest connection `conn` (not owned; it must outlive the tree). 0 with `*out` set,
  // or -EIO when the backing directories cannot be made.
  static int Make(const std::string& backing_root, int conn, std::unique_ptr<TsmTree>* out);

  // mkdir: an entry (TsmReportDir::MakeEntry); -EEXIST for what exists; -EPERM inside an
  // entry; -ENOENT below a missing one; -EINVAL for names reserved by the backing store.
  int Mkdir(const TsmPath& p);
  // rmdir: an entry (its pending stores go with it); -EBUSY for the directories above.
  int Rmdir(const TsmPath& p);
  // open() of an attribute: a descriptor (see the file comment) or -errno; `*pending` says
  // whether it is a pending store, whose entry is `p.entry`. Directories: OpenView.
  int OpenAttr(const TsmPath& p, int flags, bool* pending);
  // open() of a directory: a descriptor of a view made under `views_dir`, `*view` its path, or
  // -ENOENT (an entry that does not exist), -EISDIR (opened for writing).
  int OpenView(const TsmPath& p, int flags, const std::string& views_dir, std::string* view);
  // Applies, in order, every finished pending store of `entry`.
  void ApplyPending(const std::string& entry);
  // stat(): directories 0755, attributes with configfs's modes; nullopt: ENOENT.
  std::optional<struct stat> Stat(const TsmPath& p) const;

  const std::string& backing_root() const { return dir_->backing_root(); }

 private:
  TsmTree(const std::string& root, int conn);
  std::string PendingDir(const std::string& entry) const;
  int OpenPending(const std::string& entry, const std::string& attr, int flags);

  std::string pending_root_;  // <backing root>.pending/<entry>/<time>.<pid>.<attr>
  SocketTsmProvider provider_;
  std::unique_ptr<guest::TsmReportDir> dir_;
};

}  // namespace sevemu::devices
