#include "devices/sev_forward.h"

#include <cerrno>

#include "devices/daemon_call.h"
#include "sevemu/protocol/wire.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::devices {

int ForwardSevIoctl(int conn, bool writable, unsigned long request, std::uint64_t arg,
                    uapi::UserMemory& caller) {
  // sev_ioctl (drivers/crypto/ccp/sev-dev.c): anything but SEV_ISSUE_CMD is EINVAL before the
  // argument is read.
  if (static_cast<unsigned>(request) != uapi::kSevIssueCmd) return -EINVAL;
  uapi::SevIssueCmdArg a{};
  if (!caller.Read(arg, {reinterpret_cast<std::uint8_t*>(&a), sizeof a})) return -EFAULT;
  protocol::SevIoctlRequest req;
  req.request = request;
  req.writable = writable;
  req.arg = a;
  req.regions = uapi::PlanSevIssueCmdRegions(a, caller);
  auto r = CallOn(conn, protocol::MsgType::kSevIoctl, protocol::EncodeSevIoctlRequest(req));
  if (!r.ok() || !r->ok()) return -EIO;  // the daemon went away or refused the frame
  auto reply = protocol::DecodeSevIoctlReply(r->payload);
  if (!reply.ok()) return -EIO;
  int ret = reply->ret;
  for (const auto& w : reply->written) {
    if (!caller.Write(w.addr, w.bytes) && ret == 0) ret = -EFAULT;
  }
  if (reply->copy_back &&
      !caller.Write(arg, {reinterpret_cast<const std::uint8_t*>(&reply->arg), sizeof a})) {
    return -EFAULT;
  }
  return ret;
}

}  // namespace sevemu::devices
