// Which absolute paths the front ends serve, and what a process sees there. The shim and
// `sevemu run` classify paths here so they serve the same files (docs/devices.md "Probes").
#pragma once

#include <sys/stat.h>

#include <optional>
#include <string>
#include <string_view>

namespace sevemu::devices {

enum class PathKind {
  kNotOurs,
  kSev,            // /dev/sev
  kSevGuest,       // /dev/sev-guest
  kTsm,            // /sys/kernel/config/tsm and below
  kSevGuestSysfs,  // /sys/devices/platform/sev-guest, /sys/bus/platform/devices/sev-guest
  kMsr,            // /dev/cpu/N/msr
  kKvmAmdDir,      // /sys/module/kvm_amd, .../parameters
  kKvmAmdParam,    // /sys/module/kvm_amd/parameters/{sev,sev_es,sev_snp}
};

struct DevicePath {
  PathKind kind = PathKind::kNotOurs;
  int cpu = -1;       // kMsr
  std::string param;  // kKvmAmdParam
};

// `path` must be absolute; "." and ".." segments and repeated slashes are resolved lexically.
DevicePath ClassifyPath(std::string_view path);

// What the process is: on the host (no guest), or inside a guest of type "snp", "sev-es" or
// "sev" (docs/protocol.md's hello reply).
struct Machine {
  bool in_guest = false;
  std::string guest_type;
  bool snp_guest() const { return in_guest && guest_type == "snp"; }
};

// stat() of one of our paths, or nullopt when it does not exist on `machine` (ENOENT). kTsm is
// left to the configfs code (nullopt here).
std::optional<struct stat> StatOf(const DevicePath& p, const Machine& machine);

// statx() of a file that stat() describes as `st` (every basic field known, so all reported).
struct statx ToStatx(const struct stat& st);

// access()/faccessat() of a file of ours: our files belong to the user who runs the emulated
// machine (StatOf), so only a permission bit the mode lacks refuses, as the kernel's check does
// (root overriding it): 0 or -EACCES.
int AccessOf(const struct stat& st, int mode);

}  // namespace sevemu::devices
