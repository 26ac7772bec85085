#include "devices/device_paths.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <filesystem>

namespace sevemu::devices {

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

int CpuCount() {
  const long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<int>(n) : 1;
}

// Misc device minors (include/linux/miscdevice.h): /dev/sev gets a dynamic minor; 124 is what
// the ccp driver usually gets on a host, and sev-guest likewise. MSR devices are major 202
// (arch/x86/kernel/msr.c MSR_MAJOR), minor the CPU.
constexpr unsigned kMiscMajor = 10;
constexpr unsigned kMsrMajor = 202;

struct stat Base(mode_t mode) {
  struct stat st {};
  st.st_mode = mode;
  st.st_nlink = S_ISDIR(mode) ? 2 : 1;
  st.st_uid = getuid();  // the emulated machine lets the user who runs it use its devices
  st.st_gid = getgid();
  st.st_blksize = 4096;
  return st;
}

}  // namespace

DevicePath ClassifyPath(std::string_view raw) {
  DevicePath out;
  if (raw.empty() || raw[0] != '/') return out;
  // Cheap rejection first: every path we serve starts with /dev/ or /sys/.
  if (!StartsWith(raw, "/dev") && !StartsWith(raw, "/sys") && raw.find("..") == raw.npos &&
      raw.find("//") == raw.npos && raw.find("/.") == raw.npos) {
    return out;
  }
  const std::string p = std::filesystem::path(raw).lexically_normal().string();
  std::string_view s = p;
  if (s.size() > 1 && s.back() == '/') s.remove_suffix(1);
  if (s == "/dev/sev") {
    out.kind = PathKind::kSev;
  } else if (s == "/dev/sev-guest") {
    out.kind = PathKind::kSevGuest;
  } else if (s == "/sys/kernel/config/tsm" || StartsWith(s, "/sys/kernel/config/tsm/")) {
    out.kind = PathKind::kTsm;
  } else if (s == "/sys/devices/platform/sev-guest" || s == "/sys/bus/platform/devices/sev-guest") {
    out.kind = PathKind::kSevGuestSysfs;
  } else if (s == "/sys/module/kvm_amd" || s == "/sys/module/kvm_amd/parameters") {
    out.kind = PathKind::kKvmAmdDir;
  } else if (StartsWith(s, "/sys/module/kvm_amd/parameters/")) {
    const std::string_view name =
        s.substr(std::string_view("/sys/module/kvm_amd/parameters/").size());
    if (name == "sev" || name == "sev_es" || name == "sev_snp") {
      out.kind = PathKind::kKvmAmdParam;
      out.param = std::string(name);
    }
  } else if (StartsWith(s, "/dev/cpu/") && s.size() > 13 && s.substr(s.size() - 4) == "/msr") {
    const std::string_view num = s.substr(9, s.size() - 13);
    int cpu = -1;
    const auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), cpu);
    if (ec == std::errc() && end == num.data() + num.size() && cpu >= 0 && cpu < CpuCount() &&
        (num.size() == 1 || num[0] != '0')) {
      out.kind = PathKind::kMsr;
      out.cpu = cpu;
    }
  }
  return out;
}

std::optional<struct stat> StatOf(const DevicePath& p, const Machine& machine) {
  switch (p.kind) {
    case PathKind::kSev: {
      auto st = Base(S_IFCHR | 0600);
      st.st_rdev = makedev(kMiscMajor, 124);
      return st;
    }
    case PathKind::kSevGuest: {
      if (!machine.snp_guest()) return std::nullopt;
      auto st = Base(S_IFCHR | 0600);
      st.st_rdev = makedev(kMiscMajor, 123);
      return st;
    }
    case PathKind::kSevGuestSysfs:
      if (!machine.snp_guest()) return std::nullopt;
      return Base(S_IFDIR | 0755);
    case PathKind::kMsr: {
      auto st = Base(S_IFCHR | 0600);
      st.st_rdev = makedev(kMsrMajor, static_cast<unsigned>(p.cpu));
      return st;
    }
    case PathKind::kKvmAmdDir:
      if (machine.in_guest) return std::nullopt;
      return Base(S_IFDIR | 0755);
    case PathKind::kKvmAmdParam: {
      if (machine.in_guest) return std::nullopt;
      auto st = Base(S_IFREG | 0444);
      st.st_size = 4096;  // sysfs attributes report a page
      return st;
    }
    case PathKind::kTsm:
    case PathKind::kNotOurs:
      return std::nullopt;
  }
  return std::nullopt;
}

struct statx ToStatx(const struct stat& st) {
  struct statx x {};
  x.stx_mask = STATX_BASIC_STATS;
  x.stx_blksize = static_cast<std::uint32_t>(st.st_blksize);
  x.stx_nlink = static_cast<std::uint32_t>(st.st_nlink);
  x.stx_uid = st.st_uid;
  x.stx_gid = st.st_gid;
  x.stx_mode = static_cast<std::uint16_t>(st.st_mode);
  x.stx_ino = st.st_ino;
  x.stx_size = static_cast<std::uint64_t>(st.st_size);
  x.stx_rdev_major = major(st.st_rdev);
  x.stx_rdev_minor = minor(st.st_rdev);
  return x;
}

int AccessOf(const struct stat& st, int mode) {
  const mode_t perm = st.st_mode & 0777;
  // Root overrides read and write permission, and execute where any execute bit is set (Linux
  // fs/namei.c generic_permission, CAP_DAC_OVERRIDE).
  if (geteuid() == 0) {
    return (mode & X_OK) != 0 && (perm & 0111) == 0 && !S_ISDIR(st.st_mode) ? -EACCES : 0;
  }
  if ((mode & X_OK) != 0 && (perm & S_IXUSR) == 0) return -EACCES;
  if ((mode & W_OK) != 0 && (perm & S_IWUSR) == 0) return -EACCES;
  if ((mode & R_OK) != 0 && (perm & S_IRUSR) == 0) return -EACCES;
  return 0;
}

}  // namespace sevemu::devices
