// `sevemu run`'s namespace mode (docs/run.md "Two modes"): the program runs in a mount
// namespace of its own (inside a user namespace unless it is root) in which the paths sevemu
// serves exist as real files, so open, stat, access and getdents of every path resolve in the
// kernel and only type-'S' ioctls notify. The device nodes are bind mounts of /dev/null, each
// its own mount: the supervisor recognises a descriptor of one by its mount id.
#pragma once

#include <cstdint>

#include "devices/device_paths.h"
#include "sevemu/common/result.h"

namespace sevemu::run {

struct StandIns {
  std::uint64_t sev_mnt = 0;    // mount id of /dev/sev
  std::uint64_t guest_mnt = 0;  // of /dev/sev-guest (0: none, not an SNP guest)
};

// In the child, before the filter and exec: unshares the namespaces (only a mount namespace
// for root; a user namespace mapping the caller's own uid and gid otherwise) and makes, for
// `machine`, /dev/sev, /dev/sev-guest, /dev/cpu/N/msr, /sys/module/kvm_amd/parameters/* and
// /sys/devices/platform/sev-guest. Each directory that gains an entry becomes a tmpfs holding
// the original's entries (bind mounts, symlinks copied) plus ours. An error says why; the
// directories already replaced show what they showed before.
Result<StandIns> EnterStandInNamespace(const devices::Machine& machine);

}  // namespace sevemu::run
