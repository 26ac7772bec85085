#include "devices/tsm_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

#include "devices/daemon_call.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::devices {

namespace {

constexpr std::string_view kTsmDir = "/sys/kernel/config/tsm";
constexpr std::string_view kReportDir = "/sys/kernel/config/tsm/report";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

struct stat Node(mode_t mode, std::string_view path) {
  struct stat st {};
  st.st_mode = mode;
  st.st_nlink = S_ISDIR(mode) ? 2 : 1;
  st.st_uid = getuid();  // as the other emulated files (device_paths.cpp)
  st.st_gid = getgid();
  st.st_blksize = 4096;
  // A stable number per path, so tools that compare inodes see distinct files.
  st.st_ino = static_cast<ino_t>(std::hash<std::string_view>{}(path) | 1);
  return st;
}

int OpenContents(const Bytes& data, int flags) {
  const int fd = memfd_create("sevemu-tsm", (flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
  if (fd < 0) return -errno;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return -EIO;
    }
    done += static_cast<std::size_t>(n);
  }
  ::lseek(fd, 0, SEEK_SET);
  return fd;
}

}  // namespace

std::optional<TsmPath> SplitTsmPath(std::string_view raw) {
  // "." and ".." resolve lexically, as devices::ClassifyPath does; `sevemu run` checks first
  // that each directory a ".." leaves exists (its DotDotError), the shim does not.
  const std::string norm = std::filesystem::path(raw).lexically_normal().string();
  std::string_view p = norm;
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  TsmPath out;
  if (p == kTsmDir) return out;
  out.level = TsmPath::Level::kReport;
  if (p == kReportDir) return out;
  if (p.substr(0, kReportDir.size()) != kReportDir || p.size() < kReportDir.size() + 2 ||
      p[kReportDir.size()] != '/') {
    return std::nullopt;
  }
  p.remove_prefix(kReportDir.size() + 1);
  const auto slash = p.find('/');
  out.entry = std::string(p.substr(0, slash));
  out.level = TsmPath::Level::kEntry;
  if (slash != std::string_view::npos) {
    out.attr = std::string(p.substr(slash + 1));
    if (out.attr.empty() || out.attr.find('/') != std::string::npos) return std::nullopt;
    out.level = TsmPath::Level::kAttr;
  }
  if (out.entry.empty() || out.entry == "." || out.entry == "..") return std::nullopt;
  return out;
}

std::string TsmBackingRoot(const std::string& platform, const std::string& guest) {
  std::string root = Env("SEVEMU_TSM_DIR");
  if (!root.empty()) return root;
  return std::filesystem::path(protocol::DefaultSocketPath()).parent_path().string() + "/tsm/" +
         (platform.empty() ? "default" : platform) + "/" + guest;
}

int SocketTsmProvider::ReportNew(const guest::TsmReportDesc& desc, guest::TsmReportBlobs* out) {
  protocol::TsmReportRequest m{desc.privlevel, desc.inblob};
  auto r = CallOn(fd_, protocol::MsgType::kGuestTsmReport, protocol::EncodeTsmReportRequest(m));
  if (!r.ok() || !r->ok()) return -EIO;  // the daemon or the guest went away
  auto d = protocol::DecodeTsmReportReply(r->payload);
  if (!d.ok()) return -EIO;
  if (d->ret == 0) {
    out->outblob = std::move(d->outblob);
    out->auxblob = std::move(d->auxblob);
  }
  return d->ret;
}

TsmTree::TsmTree(const std::string& root, int conn)
    : pending_root_(root + ".pending"),
      provider_(conn),
      dir_(std::make_unique<guest::TsmReportDir>(root, provider_)) {}

int TsmTree::Make(const std::string& root, int conn, std::unique_ptr<TsmTree>* out) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (!ec) std::filesystem::create_directories(root + ".pending", ec);
  if (ec) return -EIO;
  out->reset(new TsmTree(root, conn));
  return 0;
}

std::string TsmTree::PendingDir(const std::string& entry) const {
  return pending_root_ + "/" + entry;
}

int TsmTree::Mkdir(const TsmPath& p) {
  switch (p.level) {
    case TsmPath::Level::kTsm:
    case TsmPath::Level::kReport:
      return -EEXIST;
    case TsmPath::Level::kAttr:
      // An attribute's name exists (the VFS says EEXIST); any other name in an entry reaches
      // configfs_mkdir, which refuses items without group operations (fs/configfs/dir.c).
      if (!dir_->HasEntry(p.entry)) return -ENOENT;
      return guest::TsmAttrByName(p.attr) ? -EEXIST : -EPERM;
    case TsmPath::Level::kEntry:
      break;
  }
  if (p.entry.rfind(".sevemu-", 0) == 0) return -EINVAL;  // reserved by the backing store
  return dir_->MakeEntry(p.entry);
}

int TsmTree::Rmdir(const TsmPath& p) {
  switch (p.level) {
    case TsmPath::Level::kTsm:
    case TsmPath::Level::kReport:
      return -EBUSY;
    case TsmPath::Level::kAttr:
      return dir_->HasEntry(p.entry) ? -ENOTDIR : -ENOENT;
    case TsmPath::Level::kEntry:
      break;
  }
  const int rc = dir_->RemoveEntry(p.entry);
  if (rc == 0) {
    std::error_code ec;
    std::filesystem::remove_all(PendingDir(p.entry), ec);
  }
  return rc;
}

void TsmTree::ApplyPending(const std::string& entry) {
  const std::string dir = PendingDir(entry);
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return;  // still open for writing: later stores must wait for it
    }
    Bytes data;
    std::uint8_t buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      data.insert(data.end(), buf, buf + n);
      if (data.size() > (64u << 10)) break;  // configfs would have refused it long ago
    }
    const auto attr_name = name.substr(name.rfind('.') + 1);
    if (const auto attr = guest::TsmAttrByName(attr_name)) {
      // A store that fails (a bad privlevel, say) is dropped, as a failed write() stores
      // nothing; its writer could not be told, having gone.
      (void)dir_->WriteAttribute(entry, *attr, data);
    }
    ::unlink(path.c_str());
    ::close(fd);
  }
}

int TsmTree::OpenPending(const std::string& entry, const std::string& attr, int flags) {
  const std::string dir = PendingDir(entry);
  (void)::mkdir(dir.c_str(), 0700);
  static unsigned counter = 0;  // several opens in one nanosecond by one process (`run`)
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  char name[128];
  std::snprintf(name, sizeof name, "/%020llu.%010d.%010u.%s",
                static_cast<unsigned long long>(ts.tv_sec) * 1000000000ull +
                    static_cast<unsigned long long>(ts.tv_nsec),
                static_cast<int>(getpid()), ++counter, attr.c_str());
  const std::string path = dir + name;
  const int acc = (flags & O_ACCMODE) == O_WRONLY ? O_WRONLY : O_RDWR;
  const int fd =
      ::open(path.c_str(), acc | O_CREAT | O_EXCL | (flags & O_CLOEXEC) | (flags & O_APPEND), 0600);
  if (fd < 0) return -errno;
  flock(fd, LOCK_SH);  // held by the open file description, wherever its descriptors go
  return fd;
}

int TsmTree::OpenAttr(const TsmPath& p, int flags, bool* pending) {
  *pending = false;
  const auto attr = guest::TsmAttrByName(p.attr);
  if (!attr) {
    if (!dir_->HasEntry(p.entry)) return -ENOENT;
    return (flags & O_CREAT) ? -EACCES : -ENOENT;  // configfs cannot create files
  }
  if ((flags & O_DIRECTORY) != 0) return dir_->HasEntry(p.entry) ? -ENOTDIR : -ENOENT;
  const int acc = flags & O_ACCMODE;
  if (int rc = dir_->CheckOpen(p.entry, *attr, acc != O_WRONLY, acc != O_RDONLY); rc != 0) {
    return rc;
  }
  ApplyPending(p.entry);
  if (acc != O_RDONLY) {
    const int fd = OpenPending(p.entry, p.attr, flags);
    *pending = fd >= 0;
    return fd;
  }
  Bytes data;
  if (int rc = dir_->ReadAttribute(p.entry, *attr, &data); rc != 0) return rc;
  return OpenContents(data, flags);
}

int TsmTree::OpenView(const TsmPath& p, int flags, const std::string& views_dir,
                      std::string* view) {
  if ((flags & O_ACCMODE) != O_RDONLY) return -EISDIR;
  // What the directory lists: the report directory its entries, an entry its attributes
  // (fs/configfs/dir.c configfs_readdir), /sys/kernel/config/tsm its `report` group.
  std::vector<std::string> dirs, files;
  switch (p.level) {
    case TsmPath::Level::kTsm:
      dirs = {"report"};
      break;
    case TsmPath::Level::kReport:
      dirs = dir_->ListEntries();
      break;
    case TsmPath::Level::kEntry:
      if (!dir_->HasEntry(p.entry)) return -ENOENT;
      for (const auto& a : guest::TsmAttributes()) files.emplace_back(a.name);
      break;
    case TsmPath::Level::kAttr:
      return -ENOTDIR;
  }
  std::error_code ec;
  std::filesystem::create_directories(views_dir, ec);
  std::string tmpl = views_dir + "/view.XXXXXX";
  if (ec || mkdtemp(tmpl.data()) == nullptr) return -EIO;
  for (const auto& d : dirs) (void)::mkdir((tmpl + "/" + d).c_str(), 0755);
  for (const auto& f : files) {
    const int fd = ::open((tmpl + "/" + f).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
  }
  const int fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | (flags & O_CLOEXEC));
  if (fd < 0) {
    std::filesystem::remove_all(tmpl, ec);
    return -EIO;
  }
  *view = tmpl;
  return fd;
}

std::optional<struct stat> TsmTree::Stat(const TsmPath& p) const {
  switch (p.level) {
    case TsmPath::Level::kTsm:
      return Node(S_IFDIR | 0755, kTsmDir);
    case TsmPath::Level::kReport:
      return Node(S_IFDIR | 0755, kReportDir);
    case TsmPath::Level::kEntry:
      if (!dir_->HasEntry(p.entry)) return std::nullopt;
      return Node(S_IFDIR | 0755, "report/" + p.entry);
    case TsmPath::Level::kAttr:
      break;
  }
  const auto attr = guest::TsmAttrByName(p.attr);
  if (!attr || !dir_->HasEntry(p.entry)) return std::nullopt;
  const auto& info = guest::TsmAttrInfoOf(*attr);
  auto st = Node(S_IFREG | info.mode, "report/" + p.entry + "/" + p.attr);
  // configfs sizes a text attribute's inode at a page, a binary one's at 0 (fs/configfs/dir.c
  // configfs_init_file, configfs_init_bin_file).
  st.st_size = info.binary ? 0 : 4096;
  return st;
}

}  // namespace sevemu::devices
