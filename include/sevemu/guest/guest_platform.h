// What a guest kernel can reach of the machine it runs on: its own (private, decrypted)
// memory, and the hypervisor's SNP guest-request exit (GHCB MSG_REPORT_REQ / extended request).
// The sev-guest driver (sev_guest_driver.h) is written against this; the preload shim
// implements it over the daemon's socket, tests implement it over an in-process Host.
#pragma once

#include <cstdint>
#include <optional>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::guest {

// The VMM's answer to a guest-request exit.
struct GuestRequestReply {
  std::uint32_t fw_error = 0;      // SNP_GUEST_REQUEST's firmware status
  std::uint32_t vmm_error = 0;     // uapi::kSnpGuestVmmErrInvalidLen / kSnpGuestVmmErrBusy
  Bytes response;                  // the 4 KiB response page, when both errors are 0
  Bytes certs;                     // extended requests: the certificate table
  std::uint32_t certs_needed = 0;  // bytes (whole pages) the table needs (vmm_error INVALID_LEN)
};

class GuestPlatform {
 public:
  virtual ~GuestPlatform() = default;
  virtual Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) = 0;
  virtual Status WriteMemory(std::uint64_t gpa, ByteSpan data) = 0;
  // `request` is the shared request page (header + encrypted payload). `cert_buffer_len` set =
  // an extended request with a certificate buffer of that many bytes.
  virtual Result<GuestRequestReply> GuestRequest(ByteSpan request,
                                                 std::optional<std::uint32_t> cert_buffer_len) = 0;
  // The kernel's snp_cmd_mutex, across every process acting in this guest: held from reading
  // the sequence number to storing the next one.
  virtual Status Lock() = 0;
  virtual void Unlock() = 0;
  // GPA of the secrets page (from the launch; a real guest learns it from its firmware).
  virtual std::uint64_t SecretsGpa() const = 0;
};

}  // namespace sevemu::guest
