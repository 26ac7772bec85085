// configfs-tsm's report interface (Linux drivers/virt/coco/tsm.c, fs/configfs/file.c,
// Documentation/ABI/testing/configfs-tsm-report; SEV-ABI-FACTS.md 2.4), with each entry's state
// kept in a real directory on disk so that the separate processes of a shell session (`mkdir`,
// `echo > inblob`, `cat outblob`, `rmdir`) share it, as they share the kernel's.
//
// Two layers, mirroring configfs:
//  * TsmReportDir is the item and its attributes (tsm.c): create/remove entries, one `store`
//    or `show`/`read` of an attribute at a time, the generation counter and the report cache.
//  * TsmAttrFile is one open file description of an attribute (configfs_buffer in
//    fs/configfs/file.c): the permission check at open, text attributes shown once per open and
//    stored per write(), binary attributes read whole on the first read and written whole at
//    close. The preload shim does not use it (its stores must survive exec; see
//    docs/devices.md) but tests and in-process users do.
//
// Backing store: `<root>/<entry>/` per entry, holding `id` (a token unique to this creation
// of the entry), `state` (text: write_generation,
// read_generation, privlevel, whether a report is cached), `inblob`, and the cached `outblob`
// and `auxblob`. Missing files mean the kernel's zero-initialised state. Every operation holds
// flock() on the entry directory (shared to show, exclusive to store or to generate a report)
// and re-checks, under the lock, that the directory is still the one named `<entry>`, so a
// concurrent rmdir (or rmdir and mkdir of the same name) turns later operations into ENOENT
// as configfs's dead fragments do. An entry is created under a temporary name and renamed into
// place, so it never appears half made. Names starting with ".sevemu-" are reserved for these
// temporaries.
//
// Errors are negative errnos, the values the corresponding syscalls return on Linux.
//
// Thread safety: objects hold no mutable state of their own apart from a TsmAttrFile's buffer;
// a TsmAttrFile must not be used from two threads at once (the kernel serialises on its mutex).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/guest/tsm_provider.h"

namespace sevemu::guest {

// The attributes a report entry shows when the provider is sev-guest at VMPL 0
// (sev_report_attr_visible / sev_report_bin_attr_visible: no SVSM service attributes, no
// manifestblob).
enum class TsmAttr {
  kInblob,          // WO binary, at most 64 bytes (TSM_INBLOB_MAX)
  kOutblob,         // RO binary, at most 32 KiB (TSM_OUTBLOB_MAX): the report
  kAuxblob,         // RO binary, at most 32 KiB: the certificate table
  kGeneration,      // RO text: write counter, "%lu\n"
  kProvider,        // RO text: "sev_guest\n"
  kPrivlevel,       // WO text: 0..3, at least privlevel_floor
  kPrivlevelFloor,  // RO text: "%u\n"
};

struct TsmAttrInfo {
  TsmAttr attr;
  const char* name;
  bool binary;
  mode_t mode;           // the file mode configfs gives it: 0200 (WO) or 0444 (RO)
  std::size_t max_size;  // cb_max_size for binary attributes, 0 for text
};

constexpr std::size_t kTsmInblobMax = 64;
constexpr std::size_t kTsmOutblobMax = 32 * 1024;
constexpr std::uint32_t kTsmPrivlevelMax = 3;

// All attributes of an entry, in tsm.c's order (text ones, then binary ones).
std::span<const TsmAttrInfo> TsmAttributes();
const TsmAttrInfo& TsmAttrInfoOf(TsmAttr attr);
// nullopt for a name that is not an attribute of an entry (a lookup would fail with ENOENT).
std::optional<TsmAttr> TsmAttrByName(std::string_view name);

class TsmReportDir {
 public:
  // `backing_root` stands for /sys/kernel/config/tsm/report; it is created (0700) on first use.
  // REQUIRES: `provider` outlives this object.
  TsmReportDir(std::string backing_root, TsmProvider& provider);

  const std::string& backing_root() const { return root_; }

  // mkdir: 0; -EEXIST if the entry exists; -EINVAL for an empty name or one with '/', or "."
  // or ".." (which the VFS resolves before configfs sees them); -ENAMETOOLONG past 255 bytes;
  // -EIO if the backing store fails.
  int MakeEntry(std::string_view name);
  // rmdir: 0, or -ENOENT. Files still open on the entry fail with ENOENT from then on.
  int RemoveEntry(std::string_view name);
  bool HasEntry(std::string_view name) const;
  // readdir of the report directory: the entries' names (unsorted, without "." and "..").
  std::vector<std::string> ListEntries() const;

  // open() of `<entry>/<attr>` (configfs __configfs_open_file): 0, -ENOENT if the entry does
  // not exist, -EACCES if the attribute is not readable (`read`) or not writable (`write`).
  int CheckOpen(std::string_view entry, TsmAttr attr, bool read, bool write) const;

  // One `store` of an attribute: for text attributes what one write() call delivers (at most
  // 4095 bytes are used, the rest is left unwritten), for inblob the whole buffer configfs
  // hands over at close. Returns the bytes consumed or a negative errno:
  //   -EACCES  a read-only attribute
  //   -EFBIG   an inblob over 64 bytes (configfs refuses it at write())
  //   -EINVAL  privlevel not a number (kstrtouint, base auto-detected, one trailing newline
  //            allowed), below privlevel_floor or above 3;  -ERANGE  beyond 32 bits
  //   -EBUSY   2^64 - 1 writes without a read in between (try_advance_write_generation)
  //   -ENOENT  the entry does not exist (any longer)
  // Each successful store of inblob or privlevel increments `generation`.
  long WriteAttribute(std::string_view entry, TsmAttr attr, ByteSpan data);

  // One `show` (text) or `read` (binary) of an attribute: 0 with `out` the whole contents, or
  // -EACCES (a write-only attribute), -ENOENT, or for outblob/auxblob: -EINVAL without an
  // inblob, else whatever the provider's report_new returns (sev-guest: -EINVAL for an inblob
  // that is not 64 bytes or a report status 0x16/0x27, -ENXIO for other statuses, the ioctl
  // path's errnos such as -ENOTTY once the VMPCK is wiped). A report is generated on the first
  // read after a store and cached (on disk) until the next store.
  int ReadAttribute(std::string_view entry, TsmAttr attr, Bytes* out);

 private:
  friend class TsmAttrFile;
  // A directory's inode number is reused once it is removed, so an entry is also named by a
  // token written into it at creation (`<entry>/id`).
  struct EntryId {
    dev_t dev = 0;
    ino_t ino = 0;
    std::string token;
  };
  // The entry's identity now, or nullopt if it does not exist.
  std::optional<EntryId> Identify(std::string_view entry) const;
  long Write(std::string_view entry, const std::optional<EntryId>& id, TsmAttr attr, ByteSpan data);
  int Read(std::string_view entry, const std::optional<EntryId>& id, TsmAttr attr, Bytes* out);
  std::string EntryPath(std::string_view entry) const;

  std::string root_;
  TsmProvider& provider_;
};

// One open file description of an attribute, as configfs keeps it (struct configfs_buffer).
// Its operations act on the entry that existed when it was opened; once that entry is removed
// they fail with -ENOENT, even if an entry of the same name is created again.
class TsmAttrFile {
 public:
  // open(): 0 with `*out` set, or CheckOpen's errors.
  static int Open(TsmReportDir& dir, std::string_view entry, TsmAttr attr, bool read, bool write,
                  std::optional<TsmAttrFile>* out);

  // read(): bytes copied into `out` from the file position (0 at the end), or a negative errno.
  // Text attributes are shown on the first read (and again after a write on this file);
  // binary ones are read whole on the first read, then served from this file's buffer:
  //   -ETXTBSY  a binary attribute already written through this file
  //   -EFBIG    a binary attribute larger than its maximum
  //   -EFAULT   `out` is empty while data remains (copy_to_iter copied nothing)
  // plus ReadAttribute's errors.
  long Read(MutableByteSpan out);

  // write(): bytes accepted or a negative errno. Text attributes store right away
  // (WriteAttribute). Binary ones accumulate at the file position until Release():
  //   -ETXTBSY  a binary attribute already read through this file
  //   -EFBIG    the data would end past the attribute's maximum (64 bytes for inblob)
  //   -EFAULT   an empty write (configfs's copy returns 0); for a binary attribute it still
  //             marks the file written, so Release() stores an empty inblob
  long Write(ByteSpan data);

  // lseek(SEEK_SET) for text attributes (generic_file_llseek); -ESPIPE for binary ones, which
  // configfs makes unseekable; -EINVAL for a negative offset.
  long Seek(long offset);

  // close(): a binary attribute written through this file is stored now; the result of that
  // store is ignored, as configfs ignores it, so this always returns 0.
  int Release();

  TsmAttr attr() const { return attr_; }

 private:
  TsmAttrFile(TsmReportDir& dir, std::string entry, TsmReportDir::EntryId id, TsmAttr attr)
      : dir_(&dir), entry_(std::move(entry)), id_(std::move(id)), attr_(attr) {}

  TsmReportDir* dir_;
  std::string entry_;
  TsmReportDir::EntryId id_;
  TsmAttr attr_;
  std::size_t pos_ = 0;
  bool needs_read_fill_ = true;
  bool read_in_progress_ = false;
  bool write_in_progress_ = false;
  bool released_ = false;
  Bytes buffer_;  // text: the shown page; binary: the read or written blob
};

}  // namespace sevemu::guest
