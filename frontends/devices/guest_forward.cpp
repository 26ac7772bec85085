#include "devices/guest_forward.h"

#include <cerrno>

#include "devices/daemon_call.h"
#include "sevemu/protocol/wire.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::devices {

int ForwardGuestIoctl(int conn, unsigned long request, std::uint64_t arg,
                      uapi::UserMemory& caller) {
  protocol::GuestIoctlRequest req;
  req.request = request;
  req.arg = arg;
  req.regions = uapi::PlanSnpGuestIoctlRegions(request, req.arg, caller);
  auto r = CallOn(conn, protocol::MsgType::kGuestIoctl, protocol::EncodeGuestIoctlRequest(req));
  if (!r.ok() || !r->ok()) return -EIO;  // the daemon or the guest went away
  auto reply = protocol::DecodeGuestIoctlReply(r->payload);
  if (!reply.ok()) return -EIO;
  int ret = reply->ret;
  for (const auto& w : reply->written) {
    if (!caller.Write(w.addr, w.bytes) && ret == 0) ret = -EFAULT;
  }
  return ret;
}

}  // namespace sevemu::devices
