// The system calls WriteFileAtomic makes, behind one interface, so that a test can put a
// fault-injecting layer under it (as LevelDB's FaultInjectionTestEnv sits under its Env):
// tests/common/fault_injection_fs.h fails or cuts short any one call and simulates a crash that
// loses whatever was not yet made durable. Production code never replaces the POSIX layer.
#pragma once

#include <sys/types.h>

#include <cstddef>

namespace sevemu {

class FileOps {
 public:
  virtual ~FileOps() = default;
  // As the POSIX calls: -1 with errno set on failure.
  virtual int Open(const char* path, int flags, mode_t mode);
  virtual ssize_t Write(int fd, const void* data, std::size_t size);
  virtual int Fchmod(int fd, mode_t mode);
  virtual int Fsync(int fd);
  virtual int Close(int fd);
  virtual int Link(const char* from, const char* to);
  virtual int Rename(const char* from, const char* to);
  virtual int Unlink(const char* path);
  // open(dir, O_DIRECTORY) + fsync + close: makes the directory's entries durable.
  virtual int FsyncDir(const char* dir);
};

// The layer file_io.cpp calls (the POSIX one unless a test installed another). Returns the
// previous one. Not thread-safe: tests install a layer before any writer runs.
FileOps* SetFileOpsForTesting(FileOps* ops);

}  // namespace sevemu
