// The guest kernel's half of /dev/sev-guest and configfs-tsm, run inside the daemon.
//
// On Linux, snp_guest_ioctl runs to completion in the kernel: the process that issued it may
// die, but the request is sealed, sent, checked and the message counter stored as one step.
// sevemu keeps that property by running guest::SevGuestDriver here, against the caller's
// staged memory, in one handler of the daemon's single thread: a client that disconnects (or is
// killed) mid-request cannot leave the sequence number in the secrets page behind the
// firmware's, and no lock is ever held across a client's lifetime. The VMPCK never leaves the
// daemon.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "sevemu/guest/guest_platform.h"
#include "sevemu/guest/sev_guest_driver.h"
#include "sevemu/guest/tsm_provider.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::daemon {

// One guest of a Host as its kernel reaches it: its private memory and the guest-request exit.
// Lock/Unlock do nothing: the daemon's one thread runs each request to its end.
class HostGuestPlatform final : public guest::GuestPlatform {
 public:
  // REQUIRES: `host` outlives this object.
  HostGuestPlatform(hypervisor::Host& host, std::string guest, std::uint64_t secrets_gpa)
      : host_(host), guest_(std::move(guest)), secrets_gpa_(secrets_gpa) {}
  Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) override;
  Status WriteMemory(std::uint64_t gpa, ByteSpan data) override;
  Result<guest::GuestRequestReply> GuestRequest(
      ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) override;
  Status Lock() override { return Status::Ok(); }
  void Unlock() override {}
  std::uint64_t SecretsGpa() const override { return secrets_gpa_; }

 private:
  hypervisor::Host& host_;
  std::string guest_;
  std::uint64_t secrets_gpa_;
};

// The driver's clock while it runs in the daemon. Linux's driver sleeps 2 s between retries of
// a request the VMM answers BUSY, for up to 60 s (SevGuestDriverOptions); on the daemon's one
// thread that sleep would stop every other client. So each request runs on its own virtual
// clock that a "sleep" advances at once: the retry loop runs its exits back to back and ends
// as Linux's does (success once the VMM stops being busy, -ETIMEDOUT once 60 s of virtual
// time have passed), with the same result, exitinfo2 and message counter; only the wall-clock
// wait is gone.
class VirtualClock {
 public:
  VirtualClock();
  // Options whose now/sleep use this clock. REQUIRES: the clock outlives the driver.
  guest::SevGuestDriverOptions DriverOptions();

 private:
  std::chrono::steady_clock::time_point now_;
};

// snp_guest_ioctl for `guest`, against `user` (the caller's staged memory). 0 or -errno.
int GuestIoctl(hypervisor::Host& host, const std::string& guest, std::uint64_t secrets_gpa,
               unsigned long request, std::uint64_t arg, uapi::UserMemory& user);

// sev_report_new for `guest`. 0 with `out` filled, or -errno.
int GuestTsmReport(hypervisor::Host& host, const std::string& guest, std::uint64_t secrets_gpa,
                   const guest::TsmReportDesc& desc, guest::TsmReportBlobs* out);

}  // namespace sevemu::daemon
