// What configfs-tsm asks of the driver that registered with it (Linux struct tsm_ops,
// include/linux/tsm.h): a name for the `provider` attribute, the lowest privilege level a report
// may be requested for, and `report_new`, which turns an entry's inblob and privlevel into the
// blobs user space reads back. SevGuestDriver is the one provider sevemu has (sev_report_new in
// drivers/virt/coco/sev-guest/sev-guest.c); tests may substitute their own.
#pragma once

#include <cstdint>

#include "sevemu/common/bytes.h"

namespace sevemu::guest {

// struct tsm_desc, without the SVSM service fields (visible only when the guest runs at a
// VMPL other than 0, which sevemu does not model).
struct TsmReportDesc {
  Bytes inblob;                 // at most 64 bytes (TSM_INBLOB_MAX)
  std::uint32_t privlevel = 0;  // 0..3 (TSM_PRIVLEVEL_MAX), at least the provider's floor
};

// The blobs report_new fills in. `outblob` is never empty on success; `auxblob` may be.
struct TsmReportBlobs {
  Bytes outblob;
  Bytes auxblob;
};

// The name configfs-tsm's `provider` attribute shows for the sev-guest driver (KBUILD_MODNAME):
// SevGuestDriver's, and that of the front ends' provider that forwards to it in the daemon.
inline constexpr const char* kSevGuestProviderName = "sev_guest";

class TsmProvider {
 public:
  virtual ~TsmProvider() = default;
  // tsm_ops.name: what the `provider` attribute shows (before its "\n").
  virtual const char* Name() const = 0;
  // tsm_ops.privlevel_floor.
  virtual std::uint32_t PrivlevelFloor() const = 0;
  // tsm_ops.report_new: 0 with `out` filled, or a negative errno that the read of outblob or
  // auxblob returns to user space unchanged.
  virtual int ReportNew(const TsmReportDesc& desc, TsmReportBlobs* out) = 0;
};

}  // namespace sevemu::guest
