// The CLI as a client of a running daemon: connecting as the host, management calls, and the
// /dev/sev ioctl path for host commands (the same path the preload shim takes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sevemu/common/result.h"
#include "sevemu/protocol/client.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::cli {

// Connects as a writable host connection to `platform` ("" = the daemon's default).
Result<protocol::Client> ConnectHost(const std::string& socket, const std::string& platform);

// One management operation; `blob_in` goes with the request, `blob_out` (if given) receives the
// reply's blob. The daemon's refusal comes back as an error with its message.
Result<nlohmann::json> ManageCall(protocol::Client& c, const nlohmann::json& request,
                                  ByteSpan blob_in = {}, Bytes* blob_out = nullptr);

// SEV_ISSUE_CMD `cmd` with `data` as the command's struct (its pointers, if any, naming the
// regions in `extra`): returns the ioctl's result and leaves the firmware status in `fw_error`.
struct HostIoctl {
  int ret = 0;
  std::uint32_t fw_error = 0;
  Bytes data;                             // the struct as the driver left it
  std::vector<uapi::UserRegion> written;  // every region the driver wrote
};
Result<HostIoctl> IssueSevCmd(protocol::Client& c, uapi::SevUserCmd cmd, Bytes data,
                              std::vector<uapi::UserRegion> extra = {});

// "SNP_COMMIT: firmware status INVALID_PARAM (0x16)" / "...: Invalid argument".
std::string DescribeIoctl(uapi::SevUserCmd cmd, const HostIoctl& r);

}  // namespace sevemu::cli
