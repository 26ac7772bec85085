// The files tools read before they act, to decide whether SEV is there (docs/devices.md
// "Probes"). Each opens as a memfd holding what the file reads on a real machine, so reads,
// preads and seeks on it run in the kernel at full speed with no further help.
#pragma once

#include <cstdint>

#include "devices/device_paths.h"

namespace sevemu::devices {

// MSR numbers and bits (AMD APM vol. 2 15.34.10 and Linux arch/x86/include/asm/msr-index.h).
constexpr std::uint32_t kMsrSevStatus = 0xC0010131;      // MSR_AMD64_SEV
constexpr std::uint32_t kMsrSyscfg = 0xC0010010;         // MSR_AMD64_SYSCFG
constexpr std::uint64_t kSevStatusSev = 1ull << 0;       // MSR_AMD64_SEV_ENABLED
constexpr std::uint64_t kSevStatusEs = 1ull << 1;        // MSR_AMD64_SEV_ES_ENABLED
constexpr std::uint64_t kSevStatusSnp = 1ull << 2;       // MSR_AMD64_SEV_SNP_ENABLED
constexpr std::uint64_t kSyscfgMfdm = 1ull << 19;        // MSR_AMD64_SYSCFG_MFDM
constexpr std::uint64_t kSyscfgMemEncrypt = 1ull << 23;  // MSR_AMD64_SYSCFG_MEM_ENCRYPT
constexpr std::uint64_t kSyscfgSnpEn = 1ull << 24;       // MSR_AMD64_SYSCFG_SNP_EN
constexpr std::uint64_t kSyscfgVmplEn = 1ull << 25;      // MSR_AMD64_SYSCFG_SNP_VMPL_EN

// SEV_STATUS as the guest's kernel reads it: SEV, plus SEV-ES, plus SNP by guest type. The
// SEV_FEATURES bits above SNP (bit 3 on) are not reported: the daemon does not expose them.
std::uint64_t SevStatusOf(const Machine& m);
// SYSCFG on the host: memory encryption, SNP and VMPLs enabled, as SNP_INIT requires; 0 in a
// guest (the hypervisor does not expose the host's).
std::uint64_t SyscfgOf(const Machine& m);

// Opens a probe file (kMsr, kKvmAmdParam): a memfd, or -errno (-ENOENT where the file does not
// exist on `machine`). Other kinds are not probes: -ENOENT.
int OpenProbe(const DevicePath& p, const Machine& m, bool cloexec);

// Writes what a probe file reads into the empty file `fd` (OpenProbe's memfd, or `sevemu run`'s
// stand-in file in its namespace): 0 or -errno.
int WriteProbe(int fd, const DevicePath& p, const Machine& m);

}  // namespace sevemu::devices
