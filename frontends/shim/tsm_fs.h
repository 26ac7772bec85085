// configfs-tsm's report directory, /sys/kernel/config/tsm/report, served inside the guest named
// by SEVEMU_GUEST over devices::TsmTree (shared with `sevemu run`; its comment says why writers
// get real "pending" files and readers memfds). Here a pending store is also applied at the
// interposed close() of its last descriptor in this process.
//
// Thread safety: one operation at a time per process; across processes the backing
// directory's locks serialise.
#pragma once

#include <sys/stat.h>

#include <optional>

namespace sevemu::shim {

// Each returns kNotOurs (device_fds.h) when the path or descriptor is not configfs-tsm's.
int TsmMkdir(const char* path);
int TsmRmdir(const char* path);
int TsmOpen(const char* path, int flags);  // the descriptor or -errno
// After the real close of `fd`: applies its pending store if it was one. kNotOurs or 0/-errno.
int TsmAfterClose(int fd);
bool TsmIsPending(int fd);
// opendir() of /sys/kernel/config/tsm and below: a descriptor of a view (devices::TsmTree::
// OpenView: a real directory listing what configfs lists, under <backing root>.views/shim-PID),
// kNotOurs, or -errno. TsmCloseDir after the real closedir of a view's descriptor removes it.
int TsmOpenDir(const char* path);
void TsmCloseDir(int fd);
// stat() of the report directory and below: nullopt with *err 0 when not ours, else with
// *err -errno (-ENOENT outside a guest or for what does not exist).
std::optional<struct stat> TsmStat(const char* path, int* err);

}  // namespace sevemu::shim
