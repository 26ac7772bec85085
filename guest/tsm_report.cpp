// configfs-tsm report entries over a backing directory. Semantics from Linux
// drivers/virt/coco/tsm.c (attributes, generations, the report cache) and fs/configfs/file.c
// (open checks, text vs binary attribute buffering); see tsm_report.h.
#include "sevemu/guest/tsm_report.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

#include "sevemu/common/file_io.h"

namespace sevemu::guest {
namespace {

constexpr std::size_t kSimpleAttrSize = 4096;  // SIMPLE_ATTR_SIZE: a text store sees < 4096
constexpr std::string_view kReservedPrefix = ".sevemu-";

// tsm.c: CONFIGFS_ATTR_WO / _RO give 0200 / 0444; binary ones carry their cb_max_size.
constexpr std::array<TsmAttrInfo, 7> kAttrs = {{
    {TsmAttr::kGeneration, "generation", false, 0444, 0},
    {TsmAttr::kProvider, "provider", false, 0444, 0},
    {TsmAttr::kPrivlevel, "privlevel", false, 0200, 0},
    {TsmAttr::kPrivlevelFloor, "privlevel_floor", false, 0444, 0},
    {TsmAttr::kInblob, "inblob", true, 0200, kTsmInblobMax},
    {TsmAttr::kOutblob, "outblob", true, 0444, kTsmOutblobMax},
    {TsmAttr::kAuxblob, "auxblob", true, 0444, kTsmOutblobMax},
}};

bool Readable(const TsmAttrInfo& a) {
  return (a.mode & 0444) != 0;
}
bool Writable(const TsmAttrInfo& a) {
  return (a.mode & 0222) != 0;
}

bool ValidEntryName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos && name.size() <= 255 &&
         name.substr(0, kReservedPrefix.size()) != kReservedPrefix;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);  // closing drops the flock too
    fd_ = -1;
  }
  int fd_;
};

// Reads a whole small file: 0 with `out`, -ENOENT if it does not exist, -EIO otherwise.
int ReadSmallFile(const std::string& path, Bytes* out) {
  auto r = ReadWholeFile(path, 1 << 20);
  if (!r.ok()) return r.error().code() == ErrorCode::kNotFound ? -ENOENT : -EIO;
  *out = std::move(r).value();
  return 0;
}

// Replaces `dir/name` by writing a temporary and renaming it over (no fsync: the kernel's
// configfs state does not survive a reboot either). REQUIRES: the entry's lock is held
// exclusively, so the temporary's name is ours.
int ReplaceFile(const std::string& dir, const char* name, ByteSpan data) {
  const std::string tmp = dir + "/.tmp-" + name;
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.ok()) return -EIO;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::unlink(tmp.c_str());
      return -EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    ::unlink(tmp.c_str());
    return -EIO;
  }
  return 0;
}

void RemoveFile(const std::string& dir, const char* name) {
  ::unlink((dir + "/" + name).c_str());
}

// struct tsm_report_state, as stored in `<entry>/state`.
struct EntryState {
  std::uint64_t write_generation = 0;
  std::uint64_t read_generation = 0;
  std::uint32_t privlevel = 0;
  bool cached = false;  // report->outblob != NULL
};

int LoadState(const std::string& dir, EntryState* s) {
  Bytes raw;
  const int rc = ReadSmallFile(dir + "/state", &raw);
  if (rc == -ENOENT) {
    *s = EntryState{};  // a fresh entry: kzalloc'd
    return 0;
  }
  if (rc != 0) return rc;
  const std::string text(raw.begin(), raw.end());
  unsigned long long wg = 0, rg = 0;
  unsigned pl = 0, cached = 0;
  if (std::sscanf(text.c_str(),
                  "write_generation=%llu\nread_generation=%llu\nprivlevel=%u\ncached=%u\n", &wg,
                  &rg, &pl, &cached) != 4) {
    return -EIO;
  }
  s->write_generation = wg;
  s->read_generation = rg;
  s->privlevel = pl;
  s->cached = cached != 0;
  return 0;
}

int SaveState(const std::string& dir, const EntryState& s) {
  char text[160];
  const int n = std::snprintf(
      text, sizeof text, "write_generation=%llu\nread_generation=%llu\nprivlevel=%u\ncached=%u\n",
      static_cast<unsigned long long>(s.write_generation),
      static_cast<unsigned long long>(s.read_generation), s.privlevel, s.cached ? 1u : 0u);
  return ReplaceFile(
      dir, "state",
      ByteSpan(reinterpret_cast<const std::uint8_t*>(text), static_cast<std::size_t>(n)));
}

// try_advance_write_generation: refuse once the write counter would catch up with the read
// counter modulo 2^64 without a read in between.
int TryAdvanceWriteGeneration(EntryState& s) {
  if (s.write_generation == s.read_generation - 1) return -EBUSY;
  ++s.write_generation;
  return 0;
}

// kstrtouint(buf, 0, &val) (lib/kstrtox.c): optional '+', radix from the prefix ("0x" hex,
// "0" octal, else decimal), at least one digit, at most one trailing newline, and the text
// ends at the first NUL as the kernel's C string does.
int KstrToUint(ByteSpan data, std::uint32_t* val) {
  std::string s(data.begin(), data.end());
  s = s.substr(0, s.find('\0'));
  std::size_t i = 0;
  if (i < s.size() && s[i] == '+') ++i;
  unsigned base = 10;
  auto lower = [](char c) { return static_cast<char>(c | 0x20); };
  if (i < s.size() && s[i] == '0') {
    base = 8;
    if (i + 2 < s.size() && lower(s[i + 1]) == 'x' &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      base = 16;
      i += 2;
    }
  }
  std::uint64_t v = 0;
  bool overflow = false;
  std::size_t digits = 0;
  for (; i < s.size(); ++i, ++digits) {
    const char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (lower(c) >= 'a' && lower(c) <= 'f') {
      d = static_cast<unsigned>(lower(c) - 'a' + 10);
    } else {
      break;
    }
    if (d >= base) break;
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / base) overflow = true;
    v = v * base + d;
  }
  if (overflow) return -ERANGE;
  if (digits == 0) return -EINVAL;
  if (i < s.size() && s[i] == '\n') ++i;
  if (i != s.size()) return -EINVAL;
  if (v > std::numeric_limits<std::uint32_t>::max()) return -ERANGE;
  *val = static_cast<std::uint32_t>(v);
  return 0;
}

Bytes TextBytes(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

std::atomic<unsigned> g_dead_counter{0};

// Unique across processes and time: pid, a per-process counter and 64 random bits.
std::string NewToken() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  const std::uint64_t r = (std::uint64_t{rd()} << 32) | rd();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d-%u-%016llx", static_cast<int>(::getpid()), counter++,
                static_cast<unsigned long long>(r));
  return buf;
}

}  // namespace

std::span<const TsmAttrInfo> TsmAttributes() {
  return kAttrs;
}

const TsmAttrInfo& TsmAttrInfoOf(TsmAttr attr) {
  for (const auto& a : kAttrs) {
    if (a.attr == attr) return a;
  }
  return kAttrs[0];  // unreachable: every enumerator is in the table
}

std::optional<TsmAttr> TsmAttrByName(std::string_view name) {
  for (const auto& a : kAttrs) {
    if (name == a.name) return a.attr;
  }
  return std::nullopt;
}

// ---- the entry lock ----

namespace {

// The entry directory, open and flock()ed, verified (under the lock) to still be the directory
// named `path` and, when `expected` is given, the same one as then.
struct LockedEntry {
  Fd fd;
};

std::string ReadToken(const std::string& dir) {
  Bytes raw;
  if (ReadSmallFile(dir + "/id", &raw) != 0) return {};
  return std::string(raw.begin(), raw.end());
}

template <typename Id>
int LockEntry(const std::string& path, bool exclusive, const std::optional<Id>& expected,
              LockedEntry* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.ok()) return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? -ENOENT : -EIO;
  while (::flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0) {
    if (errno != EINTR) return -EIO;
  }
  struct stat held {};
  struct stat now {};
  if (::fstat(fd.get(), &held) != 0) return -EIO;
  if (::lstat(path.c_str(), &now) != 0 || now.st_dev != held.st_dev || now.st_ino != held.st_ino) {
    return -ENOENT;  // removed (and perhaps re-created) while we waited
  }
  if (expected && (expected->dev != held.st_dev || expected->ino != held.st_ino ||
                   expected->token != ReadToken(path))) {
    return -ENOENT;  // the entry an open file refers to is gone; this is a new one
  }
  out->fd = std::move(fd);
  return 0;
}

}  // namespace

// ---- TsmReportDir ----

TsmReportDir::TsmReportDir(std::string backing_root, TsmProvider& provider)
    : root_(std::move(backing_root)), provider_(provider) {}

std::string TsmReportDir::EntryPath(std::string_view entry) const {
  return root_ + "/" + std::string(entry);
}

int TsmReportDir::MakeEntry(std::string_view name) {
  if (name.size() > 255) return -ENAMETOOLONG;
  if (!ValidEntryName(name)) return -EINVAL;
  if (!MakeDirectories(root_, 0700).ok()) return -EIO;
  const std::string path = EntryPath(name);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) return -EEXIST;
  // Made under a temporary name with its token, then renamed into place: rename() fails if
  // another process's (non-empty) entry got there first.
  const std::string token = NewToken();
  const std::string tmp = root_ + "/" + std::string(kReservedPrefix) + "new-" + token;
  if (::mkdir(tmp.c_str(), 0700) != 0) return -EIO;
  if (ReplaceFile(tmp, "id", AsBytes(token)) != 0) {
    ::rmdir(tmp.c_str());
    return -EIO;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink((tmp + "/id").c_str());
    ::rmdir(tmp.c_str());
    return err == EEXIST || err == ENOTEMPTY ? -EEXIST : -EIO;
  }
  return 0;  // no state file yet: the kernel's zeroed tsm_report_state
}

int TsmReportDir::RemoveEntry(std::string_view name) {
  if (!ValidEntryName(name)) return -ENOENT;
  const std::string path = EntryPath(name);
  LockedEntry locked;
  if (const int rc = LockEntry<EntryId>(path, true, std::nullopt, &locked); rc != 0) return rc;
  // Renaming first frees the name at once; anyone waiting for the lock then finds the name
  // gone (or another directory under it) and fails with ENOENT.
  const std::string dead = root_ + "/" + std::string(kReservedPrefix) + "dead-" +
                           std::to_string(::getpid()) + "-" + std::to_string(g_dead_counter++);
  if (::rename(path.c_str(), dead.c_str()) != 0) return -EIO;
  if (DIR* d = ::opendir(dead.c_str())) {
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) ::unlink((dead + "/" + n).c_str());
  }
  ::rmdir(dead.c_str());
  return 0;
}

std::optional<TsmReportDir::EntryId> TsmReportDir::Identify(std::string_view entry) const {
  if (!ValidEntryName(entry)) return std::nullopt;
  struct stat st {};
  const std::string path = EntryPath(entry);
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
  return EntryId{st.st_dev, st.st_ino, ReadToken(path)};
}

bool TsmReportDir::HasEntry(std::string_view name) const {
  return Identify(name).has_value();
}

std::vector<std::string> TsmReportDir::ListEntries() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string n = e->d_name;
    if (ValidEntryName(n) && HasEntry(n)) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

int TsmReportDir::CheckOpen(std::string_view entry, TsmAttr attr, bool read, bool write) const {
  if (!Identify(entry)) return -ENOENT;
  const TsmAttrInfo& info = TsmAttrInfoOf(attr);
  if (write && !Writable(info)) return -EACCES;
  if (read && !Readable(info)) return -EACCES;
  return 0;
}

long TsmReportDir::WriteAttribute(std::string_view entry, TsmAttr attr, ByteSpan data) {
  return Write(entry, std::nullopt, attr, data);
}

int TsmReportDir::ReadAttribute(std::string_view entry, TsmAttr attr, Bytes* out) {
  return Read(entry, std::nullopt, attr, out);
}

long TsmReportDir::Write(std::string_view entry, const std::optional<EntryId>& id, TsmAttr attr,
                         ByteSpan data) {
  if (!ValidEntryName(entry)) return -ENOENT;
  const TsmAttrInfo& info = TsmAttrInfoOf(attr);
  if (!Writable(info)) return -EACCES;
  const std::string dir = EntryPath(entry);

  if (attr == TsmAttr::kPrivlevel) {
    // tsm_report_privlevel_store: parse and range-check before taking the lock.
    data = data.first(std::min(data.size(), kSimpleAttrSize - 1));
    std::uint32_t val = 0;
    if (const int rc = KstrToUint(data, &val); rc != 0) return rc;
    if (provider_.PrivlevelFloor() > val || val > kTsmPrivlevelMax) return -EINVAL;
    LockedEntry locked;
    if (const int rc = LockEntry(dir, true, id, &locked); rc != 0) return rc;
    EntryState s;
    if (const int rc = LoadState(dir, &s); rc != 0) return rc;
    if (const int rc = TryAdvanceWriteGeneration(s); rc != 0) return rc;
    s.privlevel = val;
    if (const int rc = SaveState(dir, s); rc != 0) return rc;
    return static_cast<long>(data.size());
  }

  // tsm_report_inblob_write (configfs refuses oversized data at write() with EFBIG).
  if (data.size() > kTsmInblobMax) return -EFBIG;
  LockedEntry locked;
  if (const int rc = LockEntry(dir, true, id, &locked); rc != 0) return rc;
  EntryState s;
  if (const int rc = LoadState(dir, &s); rc != 0) return rc;
  if (const int rc = TryAdvanceWriteGeneration(s); rc != 0) return rc;
  if (const int rc = ReplaceFile(dir, "inblob", data); rc != 0) return rc;
  if (const int rc = SaveState(dir, s); rc != 0) return rc;
  return static_cast<long>(data.size());
}

int TsmReportDir::Read(std::string_view entry, const std::optional<EntryId>& id, TsmAttr attr,
                       Bytes* out) {
  if (!ValidEntryName(entry)) return -ENOENT;
  const TsmAttrInfo& info = TsmAttrInfoOf(attr);
  if (!Readable(info)) return -EACCES;
  const std::string dir = EntryPath(entry);
  const bool blob = attr == TsmAttr::kOutblob || attr == TsmAttr::kAuxblob;

  // Text attributes only look; reading a blob may (re)generate the report, which the kernel
  // does under its write lock.
  LockedEntry locked;
  if (const int rc = LockEntry(dir, blob, id, &locked); rc != 0) return rc;
  EntryState s;
  if (const int rc = LoadState(dir, &s); rc != 0) return rc;
  switch (attr) {
    case TsmAttr::kGeneration:
      *out = TextBytes(std::to_string(s.write_generation) + "\n");
      return 0;
    case TsmAttr::kProvider:
      *out = TextBytes(std::string(provider_.Name()) + "\n");
      return 0;
    case TsmAttr::kPrivlevelFloor:
      *out = TextBytes(std::to_string(provider_.PrivlevelFloor()) + "\n");
      return 0;
    default:
      break;
  }

  // tsm_report_read.
  Bytes inblob;
  if (const int rc = ReadSmallFile(dir + "/inblob", &inblob); rc != 0 && rc != -ENOENT) return rc;
  if (inblob.empty()) return -EINVAL;
  const char* file = attr == TsmAttr::kOutblob ? "outblob" : "auxblob";
  if (s.cached && s.read_generation == s.write_generation) {
    const int rc = ReadSmallFile(dir + "/" + file, out);
    if (rc == -ENOENT) {
      out->clear();  // an empty auxblob is not stored
      return 0;
    }
    return rc;
  }
  // Stale or never made: drop the old blobs, then ask the provider.
  RemoveFile(dir, "outblob");
  RemoveFile(dir, "auxblob");
  if (s.cached) {
    s.cached = false;
    if (const int rc = SaveState(dir, s); rc != 0) return rc;
  }
  TsmReportBlobs blobs;
  if (const int rc = provider_.ReportNew(TsmReportDesc{inblob, s.privlevel}, &blobs); rc < 0) {
    return rc;
  }
  if (const int rc = ReplaceFile(dir, "outblob", blobs.outblob); rc != 0) return rc;
  if (!blobs.auxblob.empty()) {
    if (const int rc = ReplaceFile(dir, "auxblob", blobs.auxblob); rc != 0) return rc;
  }
  s.cached = true;
  s.read_generation = s.write_generation;
  if (const int rc = SaveState(dir, s); rc != 0) return rc;
  *out = attr == TsmAttr::kOutblob ? std::move(blobs.outblob) : std::move(blobs.auxblob);
  return 0;
}

// ---- TsmAttrFile ----

int TsmAttrFile::Open(TsmReportDir& dir, std::string_view entry, TsmAttr attr, bool read,
                      bool write, std::optional<TsmAttrFile>* out) {
  const auto id = dir.Identify(entry);
  if (!id) return -ENOENT;
  if (const int rc = dir.CheckOpen(entry, attr, read, write); rc != 0) return rc;
  out->emplace(TsmAttrFile(dir, std::string(entry), std::move(*id), attr));
  return 0;
}

long TsmAttrFile::Read(MutableByteSpan out) {
  const TsmAttrInfo& info = TsmAttrInfoOf(attr_);
  if (info.binary) {
    // configfs_bin_read_iter.
    if (write_in_progress_) return -ETXTBSY;
    read_in_progress_ = true;
    if (needs_read_fill_) {
      Bytes blob;
      if (const int rc = dir_->Read(entry_, id_, attr_, &blob); rc < 0) return rc;
      if (blob.empty()) return 0;
      if (info.max_size != 0 && blob.size() > info.max_size) return -EFBIG;
      buffer_ = std::move(blob);
      needs_read_fill_ = false;
    }
  } else if (needs_read_fill_) {
    // configfs_read_iter / fill_read_buffer.
    Bytes page;
    if (const int rc = dir_->Read(entry_, id_, attr_, &page); rc < 0) return rc;
    buffer_ = std::move(page);
    needs_read_fill_ = false;
  }
  if (pos_ >= buffer_.size()) return 0;
  const std::size_t n = std::min(out.size(), buffer_.size() - pos_);
  if (n == 0) return -EFAULT;
  std::copy_n(buffer_.begin() + static_cast<long>(pos_), n, out.begin());
  pos_ += n;
  return static_cast<long>(n);
}

long TsmAttrFile::Write(ByteSpan data) {
  const TsmAttrInfo& info = TsmAttrInfoOf(attr_);
  if (!info.binary) {
    // configfs_write_iter: each write() is one store of what it copied (< SIMPLE_ATTR_SIZE).
    const std::size_t copied = std::min(data.size(), kSimpleAttrSize - 1);
    needs_read_fill_ = true;
    if (copied == 0) return -EFAULT;
    const long rc = dir_->Write(entry_, id_, attr_, data.first(copied));
    if (rc > 0) pos_ += static_cast<std::size_t>(rc);
    return rc;
  }
  // configfs_bin_write_iter: accumulate; the store happens at close.
  if (read_in_progress_) return -ETXTBSY;
  write_in_progress_ = true;
  const std::size_t end = pos_ + data.size();
  if (end > buffer_.size()) {
    if (info.max_size != 0 && end > info.max_size) return -EFBIG;
    buffer_.resize(end, 0);
  }
  std::copy(data.begin(), data.end(), buffer_.begin() + static_cast<long>(pos_));
  pos_ += data.size();
  return data.empty() ? -EFAULT : static_cast<long>(data.size());
}

long TsmAttrFile::Seek(long offset) {
  if (TsmAttrInfoOf(attr_).binary) return -ESPIPE;
  if (offset < 0) return -EINVAL;
  pos_ = static_cast<std::size_t>(offset);
  return offset;
}

int TsmAttrFile::Release() {
  if (released_) return 0;
  released_ = true;
  if (TsmAttrInfoOf(attr_).binary && write_in_progress_) {
    (void)dir_->Write(entry_, id_, attr_, buffer_);  // configfs ignores the result
  }
  return 0;
}

}  // namespace sevemu::guest
