// User memory carried across a process boundary. The shim cannot let the daemon reach into the
// caller's address space, so before forwarding an ioctl it copies the regions the command can
// touch (PlanSevIssueCmdRegions: the data struct and the buffers its pointers name, bounded as
// the kernel bounds them); the simulated driver runs against those copies, and the regions it
// wrote travel back to be copied out. An access outside every staged region faults (EFAULT),
// exactly where the kernel's copy_*_user would have.
#pragma once

#include <cstdint>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::uapi {

struct UserRegion {
  std::uint64_t addr = 0;
  Bytes bytes;
};

class StagedUserMemory final : public UserMemory {
 public:
  explicit StagedUserMemory(std::vector<UserRegion> regions) : regions_(std::move(regions)) {}
  bool Read(std::uint64_t addr, MutableByteSpan out) override;
  bool Write(std::uint64_t addr, ByteSpan data) override;
  // The regions written to, with their final contents, in staging order.
  std::vector<UserRegion> Written() const;

 private:
  UserRegion* Find(std::uint64_t addr, std::size_t len);
  std::vector<UserRegion> regions_;
  std::vector<bool> dirty_;
};

// The regions SEV_ISSUE_CMD can touch for `arg`, read through `caller` (the shim's own address
// space). The data struct of a known command comes first; then each buffer a pointer in it
// names, with the length the struct gives (capped at kSevFwBlobMaxSize; skipped when the
// pointer or length is zero, or when it cannot be read). Unreadable memory is left out, so the
// driver faults on it as the kernel would.
std::vector<UserRegion> PlanSevIssueCmdRegions(const SevIssueCmdArg& arg, UserMemory& caller);

// The regions a /dev/sev-guest ioctl can touch: the 32-byte struct snp_guest_request_ioctl at
// `arg`, then (for the three SNP_GET_* requests) the request struct at req_data and the
// response struct at resp_data with the sizes the driver copies (SEV-ABI-FACTS.md 2), and for
// SNP_GET_EXT_REPORT the certificate buffer its request names (certs_len capped at 16 KiB, as
// the driver refuses more). Unreadable memory is left out, so the driver faults on it where
// the kernel would.
std::vector<UserRegion> PlanSnpGuestIoctlRegions(unsigned long request, std::uint64_t arg,
                                                 UserMemory& caller);

}  // namespace sevemu::uapi
