#include "guest_kernel.h"

#include "sevemu/guest/sev_guest_driver.h"

namespace sevemu::daemon {

Result<Bytes> HostGuestPlatform::ReadMemory(std::uint64_t gpa, std::size_t len) {
  return host_.ReadGuestMemory(guest_, gpa, len);
}

Status HostGuestPlatform::WriteMemory(std::uint64_t gpa, ByteSpan data) {
  return host_.WriteGuestMemory(guest_, gpa, data);
}

Result<guest::GuestRequestReply> HostGuestPlatform::GuestRequest(
    ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) {
  auto r = host_.GuestRequest(guest_, request, cert_buffer_len);
  if (!r.ok()) return r.error();
  guest::GuestRequestReply out;
  out.fw_error = static_cast<std::uint32_t>(r->fw_status);
  out.vmm_error = r->vmm_error;
  out.response = std::move(r->response);
  out.certs = std::move(r->certs);
  out.certs_needed = r->certs_needed;
  return out;
}

VirtualClock::VirtualClock() : now_(std::chrono::steady_clock::now()) {}

guest::SevGuestDriverOptions VirtualClock::DriverOptions() {
  guest::SevGuestDriverOptions options;
  options.now = [this] { return now_; };
  options.sleep = [this](std::chrono::milliseconds d) { now_ += d; };
  return options;
}

int GuestIoctl(hypervisor::Host& host, const std::string& guest, std::uint64_t secrets_gpa,
               unsigned long request, std::uint64_t arg, uapi::UserMemory& user) {
  HostGuestPlatform platform(host, guest, secrets_gpa);
  VirtualClock clock;
  guest::SevGuestDriver driver(platform, 0, clock.DriverOptions());
  return driver.Ioctl(request, arg, user);
}

int GuestTsmReport(hypervisor::Host& host, const std::string& guest, std::uint64_t secrets_gpa,
                   const guest::TsmReportDesc& desc, guest::TsmReportBlobs* out) {
  HostGuestPlatform platform(host, guest, secrets_gpa);
  VirtualClock clock;
  guest::SevGuestDriver driver(platform, 0, clock.DriverOptions());
  return driver.ReportNew(desc, out);
}

}  // namespace sevemu::daemon
