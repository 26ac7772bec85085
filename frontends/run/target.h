// The notifying task, seen from the supervisor: its strings and paths (read from its memory,
// resolved against its working directory or a directory descriptor) and its descriptors
// (pidfd_getfd, Linux 5.6). All of it needs ptrace access to the task, which the supervisor
// has as its ancestor under the same credentials.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace sevemu::run {

// The NUL-terminated string at `addr` (at most PATH_MAX bytes), or nullopt when unreadable.
std::optional<std::string> ReadString(pid_t tid, std::uint64_t addr);

// `path` made absolute as the task sees it: relative to its working directory (dirfd
// AT_FDCWD) or to the directory `dirfd` names, "." and ".." left in. nullopt when that cannot
// be known (then the path is not ours to serve).
std::optional<std::string> ResolveAt(pid_t tid, int dirfd, const std::string& path);

// A copy of the task's descriptor `fd` in the supervisor (close-on-exec), or -errno.
int GetTargetFd(pid_t tid, int fd);

}  // namespace sevemu::run
