// A fault-injecting file layer under WriteFileAtomic (common/file_ops.h), after LevelDB's
// FaultInjectionTestEnv: it performs the real calls in a test directory, counts them, and at
// one chosen call either
//   * fails it (a write after writing only `write_bytes` of its bytes, then the disk is full), or
//   * crashes there: that call and every later one do nothing (the process is gone, a write
//     having put down `write_bytes` bytes first), and SimulateCrash() then loses what was not
//     durable: file data written since the file's last fsync, and directory entries (creates,
//     renames, links, unlinks) made since the directory's last fsync, undone newest first.
// fsync itself is modelled, not performed: an unarmed layer is also a fast one for setting up.
// Single-threaded, for tests only.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sevemu/common/file_ops.h"

namespace sevemu::test {

class FaultInjectionFs final : public FileOps {
 public:
  enum class Op { kOpen, kWrite, kFchmod, kFsync, kClose, kLink, kRename, kUnlink, kFsyncDir };
  enum class Mode { kNone, kFail, kCrash };

  // The fault: call number `at` (0-based, over every call), failing or crashing there.
  void Arm(Mode mode, std::size_t at, std::size_t write_bytes = 0) {
    mode_ = mode;
    at_ = at;
    write_bytes_ = write_bytes;
  }
  // The calls made so far, in order (a clean run tells a test where the writes are).
  const std::vector<Op>& calls() const { return calls_; }
  bool crashed() const { return crashed_; }

  int Open(const char* path, int flags, mode_t mode) override {
    if (Enter(Op::kOpen) != Call::kRun) return Fault();
    const bool existed = ::access(path, F_OK) == 0;
    const int fd = ::open(path, flags, mode);
    if (fd < 0) return fd;
    if ((flags & O_CREAT) && !existed) log_.push_back({Entry::kCreate, path, "", ""});
    fd_path_[fd] = path;
    if (flags & O_TRUNC) unsynced_[path] = 0;  // its durable contents: none, until fsync
    return fd;
  }
  ssize_t Write(int fd, const void* data, std::size_t size) override {
    const Call call = Enter(Op::kWrite);
    if (call == Call::kDead) return Fault();
    Track(fd);
    if (call == Call::kFault || disk_full_) {
      const std::size_t n = call == Call::kFault ? std::min(write_bytes_, size) : 0;
      if (n > 0) (void)!::write(fd, data, n);
      if (crashed_) return Fault();
      disk_full_ = true;
      if (n > 0) return static_cast<ssize_t>(n);  // a short write; the next one fails
      errno = ENOSPC;
      return -1;
    }
    return ::write(fd, data, size);
  }
  int Fchmod(int fd, mode_t mode) override {
    if (Enter(Op::kFchmod) != Call::kRun) return Fault();
    return ::fchmod(fd, mode);
  }
  int Fsync(int fd) override {
    if (Enter(Op::kFsync) != Call::kRun) return Fault();
    // Durability is modelled here, not asked of the disk (which would only make tests slow).
    unsynced_.erase(fd_path_[fd]);
    return 0;
  }
  int Close(int fd) override {
    if (Enter(Op::kClose) != Call::kRun) {
      ::close(fd);  // the descriptor is gone either way (POSIX close)
      fd_path_.erase(fd);
      return Fault();
    }
    fd_path_.erase(fd);
    return ::close(fd);
  }
  int Link(const char* from, const char* to) override {
    if (Enter(Op::kLink) != Call::kRun) return Fault();
    const int rc = ::link(from, to);
    if (rc == 0) log_.push_back({Entry::kLink, to, "", ""});
    return rc;
  }
  int Rename(const char* from, const char* to) override {
    if (Enter(Op::kRename) != Call::kRun) return Fault();
    std::string saved;
    if (::access(to, F_OK) == 0) {
      saved = Saved(to);
      if (::link(to, saved.c_str()) != 0) return -1;
    }
    const int rc = ::rename(from, to);
    if (rc == 0) {
      log_.push_back({Entry::kRename, from, to, saved});
      if (auto it = unsynced_.find(from); it != unsynced_.end()) {
        unsynced_[to] = it->second;
        unsynced_.erase(it);
      }
    } else if (!saved.empty()) {
      ::unlink(saved.c_str());
    }
    return rc;
  }
  int Unlink(const char* path) override {
    if (Enter(Op::kUnlink) != Call::kRun) return Fault();
    if (::access(path, F_OK) != 0) return ::unlink(path);  // fails as the real call does
    const std::string saved = Saved(path);
    if (::link(path, saved.c_str()) != 0) return -1;
    const int rc = ::unlink(path);
    if (rc == 0) {
      log_.push_back({Entry::kUnlink, path, "", saved});
    } else {
      ::unlink(saved.c_str());
    }
    return rc;
  }
  int FsyncDir(const char* dir) override {
    if (Enter(Op::kFsyncDir) != Call::kRun) return Fault();
    const int rc = ::access(dir, F_OK);
    if (rc == 0) {
      // Every entry made so far is durable (the tests use one directory).
      for (const Entry& e : log_) {
        if (!e.saved.empty()) ::unlink(e.saved.c_str());
      }
      log_.clear();
    }
    return rc;
  }

  // What a power cut at this point leaves: unsynced file data lost, then unsynced directory
  // entries undone, newest first.
  void SimulateCrash() {
    for (const auto& [path, durable] : unsynced_) (void)!::truncate(path.c_str(), durable);
    unsynced_.clear();
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      switch (it->kind) {
        case Entry::kCreate:
        case Entry::kLink:
          ::unlink(it->a.c_str());
          break;
        case Entry::kRename:
          ::rename(it->b.c_str(), it->a.c_str());
          if (!it->saved.empty()) ::rename(it->saved.c_str(), it->b.c_str());
          break;
        case Entry::kUnlink:
          ::rename(it->saved.c_str(), it->a.c_str());
          break;
      }
    }
    log_.clear();
  }

 private:
  struct Entry {
    enum Kind { kCreate, kLink, kRename, kUnlink } kind;
    std::string a, b, saved;
  };

  // kRun: do it; kFault: the armed call (a crash starts here); kDead: after a crash.
  enum class Call { kRun, kFault, kDead };
  Call Enter(Op op) {
    calls_.push_back(op);
    if (crashed_) return Call::kDead;
    if (mode_ == Mode::kNone || calls_.size() - 1 != at_) return Call::kRun;
    if (mode_ == Mode::kCrash) crashed_ = true;
    return Call::kFault;
  }
  int Fault() {
    errno = EIO;
    return -1;
  }
  void Track(int fd) {
    auto it = fd_path_.find(fd);
    if (it == fd_path_.end() || unsynced_.count(it->second)) return;
    struct stat st {};
    if (::fstat(fd, &st) == 0) unsynced_[it->second] = st.st_size;
  }
  std::string Saved(const std::string& path) {
    return path + ".fault-saved-" + std::to_string(saved_++);
  }

  Mode mode_ = Mode::kNone;
  std::size_t at_ = std::numeric_limits<std::size_t>::max();
  std::size_t write_bytes_ = 0;
  bool crashed_ = false;
  bool disk_full_ = false;
  std::vector<Op> calls_;
  std::map<int, std::string> fd_path_;
  std::map<std::string, off_t> unsynced_;  // path → its durable size
  std::vector<Entry> log_;
  std::size_t saved_ = 0;
};

// Installs `fs` under file_io for the scope.
class ScopedFileOps {
 public:
  explicit ScopedFileOps(FileOps* ops) : old_(SetFileOpsForTesting(ops)) {}
  ~ScopedFileOps() { SetFileOpsForTesting(old_); }

 private:
  FileOps* old_;
};

}  // namespace sevemu::test
