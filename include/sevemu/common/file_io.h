// Files written so that a crash at any instant leaves either the old or the new contents,
// never a mix, and a directory lock so that one process at a time owns a state directory.
//
// Every error message names the file it is about.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu {

// Replaces `path` with `data`: write `path.tmp`, fsync, (optionally) hard-link the previous
// contents to `path.bak`, rename over `path`, fsync the directory. On any failure `path` still
// holds its previous contents and the temporary file is removed.
Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode, bool keep_backup);

// Reads a whole regular file of at most `max_size` bytes. kNotFound if it does not exist,
// kCorrupt if it is larger than `max_size` or not a regular file (a FIFO or device is refused
// without waiting for a writer), kIo for other failures.
Result<Bytes> ReadWholeFile(const std::string& path, std::size_t max_size);

// Creates `path` (and missing parents) with `mode` if it does not exist.
Status MakeDirectories(const std::string& path, mode_t mode);

bool PathExists(const std::string& path);

// An exclusive advisory lock (flock) on `dir/lock`, held for the object's lifetime.
// The lock file records the holder's pid for humans; the kernel lock is the truth, so a
// crashed holder never leaves a stale lock behind.
class DirLock {
 public:
  // kBusy if another process holds the lock (the message names the holder's pid if known).
  static Result<DirLock> Acquire(const std::string& dir);
  DirLock(DirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirLock& operator=(DirLock&&) = delete;
  DirLock(const DirLock&) = delete;
  ~DirLock();

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace sevemu
