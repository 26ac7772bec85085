// configfs-tsm's report directory, /sys/kernel/config/tsm/report, served inside the guest named
// by SEVEMU_GUEST over guest::TsmReportDir, whose backing directory every process of the guest
// shares ($SEVEMU_TSM_DIR, else <socket directory>/tsm/<platform>/<guest>).
//
// Why real files: a shell opens `> inblob` in one process and the program it then execs
// writes through stdio, whose writes and closes glibc makes internally (not through any
// interposable symbol). So an attribute opened for writing is a real "pending" file beside the
// backing directory, flock(LOCK_SH)'ed on its open file description; the store is applied when
// the last descriptor of it is gone — at an interposed close(), or, for writers that exited or
// closed inside libc, by the next configfs operation of any process, which finds the lock free.
// Stores apply in the order the files were opened. An attribute opened for reading is a memfd
// holding its contents, generated at open (so a report error such as EINVAL for a missing
// inblob is returned by open() rather than read()).
//
// Thread safety: one operation at a time per process; across processes the backing
// directory's locks serialise.
#pragma once

namespace sevemu::shim {

// Each returns kNotOurs (device_fds.h) when the path or descriptor is not configfs-tsm's.
int TsmMkdir(const char* path);
int TsmRmdir(const char* path);
int TsmOpen(const char* path, int flags);  // the descriptor or -errno
// After the real close of `fd`: applies its pending store if it was one. kNotOurs or 0/-errno.
int TsmAfterClose(int fd);
bool TsmIsPending(int fd);

}  // namespace sevemu::shim
