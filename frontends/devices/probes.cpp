#include "devices/probes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace sevemu::devices {

std::uint64_t SevStatusOf(const Machine& m) {
  if (!m.in_guest) return 0;
  if (m.guest_type == "snp") return kSevStatusSev | kSevStatusEs | kSevStatusSnp;
  if (m.guest_type == "sev-es") return kSevStatusSev | kSevStatusEs;
  if (m.guest_type == "sev") return kSevStatusSev;
  return 0;
}

std::uint64_t SyscfgOf(const Machine& m) {
  if (m.in_guest) return 0;
  return kSyscfgMfdm | kSyscfgMemEncrypt | kSyscfgSnpEn | kSyscfgVmplEn;
}

namespace {

bool PutAt(int fd, std::uint64_t off, const void* data, std::size_t len) {
  return pwrite(fd, data, len, static_cast<off_t>(off)) == static_cast<ssize_t>(len);
}

}  // namespace

int WriteProbe(int fd, const DevicePath& p, const Machine& m) {
  bool ok = true;
  if (p.kind == PathKind::kMsr) {
    // arch/x86/kernel/msr.c: the file offset is the MSR number, each read is 8 bytes. The file
    // is sparse: two 8-byte values at their MSR offsets, zeroes elsewhere.
    const std::uint64_t status = SevStatusOf(m), syscfg = SyscfgOf(m);
    ok = PutAt(fd, kMsrSevStatus, &status, sizeof status) &&
         PutAt(fd, kMsrSyscfg, &syscfg, sizeof syscfg);
  } else if (p.kind == PathKind::kKvmAmdParam) {
    // module_param_named(sev, ..., bool, 0444) in arch/x86/kvm/svm/sev.c: bools read "Y"/"N".
    const std::string v = "Y\n";
    ok = PutAt(fd, 0, v.data(), v.size());
  } else {
    return -ENOENT;
  }
  return ok ? 0 : -errno;
}

int OpenProbe(const DevicePath& p, const Machine& m, bool cloexec) {
  if (p.kind != PathKind::kMsr && p.kind != PathKind::kKvmAmdParam) return -ENOENT;
  if (p.kind == PathKind::kKvmAmdParam && m.in_guest) return -ENOENT;
  const int fd = memfd_create("sevemu-probe", cloexec ? MFD_CLOEXEC : 0);
  if (fd < 0) return -errno;
  if (const int rc = WriteProbe(fd, p, m); rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

}  // namespace sevemu::devices
