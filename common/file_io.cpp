#include "sevemu/common/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "sevemu/common/file_ops.h"

namespace sevemu {

int FileOps::Open(const char* path, int flags, mode_t mode) {
  return ::open(path, flags, mode);
}
ssize_t FileOps::Write(int fd, const void* data, std::size_t size) {
  return ::write(fd, data, size);
}
int FileOps::Fchmod(int fd, mode_t mode) {
  return ::fchmod(fd, mode);
}
int FileOps::Fsync(int fd) {
  return ::fsync(fd);
}
int FileOps::Close(int fd) {
  return ::close(fd);
}
int FileOps::Link(const char* from, const char* to) {
  return ::link(from, to);
}
int FileOps::Rename(const char* from, const char* to) {
  return ::rename(from, to);
}
int FileOps::Unlink(const char* path) {
  return ::unlink(path);
}
int FileOps::FsyncDir(const char* dir) {
  const int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  errno = err;
  return rc;
}

namespace {

FileOps g_posix;
FileOps* g_ops = &g_posix;

}  // namespace

FileOps* SetFileOpsForTesting(FileOps* ops) {
  FileOps* old = g_ops;
  g_ops = ops != nullptr ? ops : &g_posix;
  return old;
}

namespace {

Error IoError(const std::string& path, const char* what, int err) {
  return Error(ErrorCode::kIo, path + ": " + what + ": " + std::strerror(err));
}

std::string DirName(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteAll(int fd, ByteSpan data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = g_ops->Write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(path, "write", errno);
    }
    if (n == 0) return IoError(path, "write", EIO);  // no progress: never spin
    done += static_cast<std::size_t>(n);
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  if (g_ops->FsyncDir(dir.c_str()) != 0) return IoError(dir, "fsync directory", errno);
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomic(const std::string& path, ByteSpan data, mode_t mode, bool keep_backup) {
  const std::string tmp = path + ".tmp";
  const int fd = g_ops->Open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return IoError(tmp, "create", errno);
  Status st = WriteAll(fd, data, tmp);
  if (st.ok() && g_ops->Fchmod(fd, mode) != 0) st = IoError(tmp, "chmod", errno);
  if (st.ok() && g_ops->Fsync(fd) != 0) st = IoError(tmp, "fsync", errno);
  if (g_ops->Close(fd) != 0 && st.ok()) st = IoError(tmp, "close", errno);
  if (!st.ok()) {
    g_ops->Unlink(tmp.c_str());
    return st;
  }
  if (keep_backup && PathExists(path)) {
    // The backup is a second name for the previous inode, made before the rename replaces it.
    const std::string bak = path + ".bak";
    g_ops->Unlink(bak.c_str());
    if (g_ops->Link(path.c_str(), bak.c_str()) != 0) {
      const int err = errno;
      g_ops->Unlink(tmp.c_str());
      return IoError(bak, "link backup", err);
    }
  }
  if (g_ops->Rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    g_ops->Unlink(tmp.c_str());
    return IoError(path, "rename", err);
  }
  return FsyncDir(DirName(path));
}

Result<Bytes> ReadWholeFile(const std::string& path, std::size_t max_size) {
  // O_NONBLOCK: opening a FIFO (or a device) for reading must not wait for a writer; the type
  // check below then refuses it. It changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return Error(ErrorCode::kNotFound, path + ": file is missing");
    return IoError(path, "open", errno);
  }
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    const int err = errno;
    ::close(fd);
    return IoError(path, "stat", err);
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kCorrupt, path + ": not a regular file");
  }
  if (static_cast<std::size_t>(sb.st_size) > max_size) {
    ::close(fd);
    return Error(ErrorCode::kCorrupt, path + ": file is " + std::to_string(sb.st_size) +
                                          " bytes, more than the " + std::to_string(max_size) +
                                          " expected");
  }
  Bytes out(static_cast<std::size_t>(sb.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError(path, "read", err);
    }
    if (n == 0) break;  // shrank while reading
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

Status MakeDirectories(const std::string& path, mode_t mode) {
  if (path.empty()) return Error(ErrorCode::kInvalidArgument, "empty directory path");
  std::string prefix;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    prefix = path.substr(0, pos);
    if (prefix.empty()) continue;
    if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) {
      return IoError(prefix, "mkdir", errno);
    }
  }
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return IoError(path, "stat", errno);
  if (!S_ISDIR(sb.st_mode)) return Error(ErrorCode::kInvalidArgument, path + ": not a directory");
  return Status::Ok();
}

bool PathExists(const std::string& path) {
  struct stat sb {};
  return ::lstat(path.c_str(), &sb) == 0;
}

Result<DirLock> DirLock::Acquire(const std::string& dir) {
  const std::string path = dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError(path, "open lock file", errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string holder = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      return Error(ErrorCode::kBusy, dir + ": state directory is in use by another sevemu" +
                                         (holder.empty() ? "" : " (pid " + holder + ")"));
    }
    return IoError(path, "flock", err);
  }
  // Informational only. Written over the previous holder's pid, then cut to length: a
  // truncation to zero of a file with unwritten data makes ext4 (auto_da_alloc) flush it
  // first, which cost 12-17 ms of every daemon start.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size())) {
    (void)!::ftruncate(fd, static_cast<off_t>(pid.size()));
  }
  return DirLock(fd);
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace sevemu
