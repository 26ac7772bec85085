// One client connection: frames in, replies out, bound to its role by the hello.
#include <cerrno>
#include <nlohmann/json.hpp>

#include "daemon_impl.h"
#include "guest_kernel.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/protocol/errors.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::daemon {

using protocol::MsgType;

namespace {

const char* CodeString(ErrorCode c) {
  return protocol::errc::ForErrorCode(c);
}

MsgType ReplyType(MsgType t) {
  return static_cast<MsgType>(static_cast<std::uint16_t>(t) | protocol::kReplyBit);
}

}  // namespace

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  if (trace_listener_ != 0) {
    d_.trace->RemoveListener(trace_listener_);
    trace_listener_ = 0;
    d_.AttachTrace();
  }
  boost::system::error_code ec;
  sock_.shutdown(Socket::shutdown_both, ec);
  sock_.close(ec);
  auto self = shared_from_this();
  d_.sessions.erase(self);
}

void Session::Send(MsgType type, std::uint32_t request_id, Bytes payload) {
  if (closed_) return;
  out_.push_back(protocol::EncodeFrame(type, request_id, payload));
  out_bytes_ += out_.back().size();
  if (out_.size() == 1) DoWrite();
}

void Session::SendError(std::uint32_t request_id, const std::string& code,
                        const std::string& message) {
  Send(MsgType::kError, request_id, protocol::EncodeError(code, message));
}

void Session::DoWrite() {
  auto self = shared_from_this();
  asio::async_write(sock_, asio::buffer(out_.front()),
                    [this, self](const boost::system::error_code& ec, std::size_t) {
                      if (ec) return Close();
                      out_bytes_ -= out_.front().size();
                      out_.pop_front();
                      if (!out_.empty()) {
                        DoWrite();
                      } else if (close_after_write_) {
                        return Close();
                      }
                      ReadNext();  // resumes a connection whose replies had backed up
                    });
}

void Session::ReadNext() {
  if (closed_ || close_after_write_ || reading_ || out_bytes_ > kReplyQueueLimit) return;
  ReadHeader();
}

void Session::ReadHeader() {
  reading_ = true;
  auto self = shared_from_this();
  asio::async_read(
      sock_, asio::buffer(header_), [this, self](const boost::system::error_code& ec, std::size_t) {
        if (ec) return Close();  // EOF or reset: the client went away, maybe mid-request
        auto h = protocol::DecodeHeader(header_);
        if (!h.ok()) {
          d_.Log(true, "bad frame",
                 {{"session", std::to_string(id_)}, {"error", h.error().message()}});
          close_after_write_ = true;
          return SendError(0, protocol::errc::kBadFrame, h.error().message());
        }
        payload_.assign(h->payload_length, 0);
        asio::async_read(sock_, asio::buffer(payload_),
                         [this, self, hdr = *h](const boost::system::error_code& ec2, std::size_t) {
                           if (ec2) return Close();
                           reading_ = false;
                           OnFrame(hdr);
                           ReadNext();
                         });
      });
}

void Session::OnFrame(const protocol::FrameHeader& h) {
  // Nothing a client sends may take the daemon (and every guest in it) down: a handler that
  // throws — a JSON field of an unexpected type, an allocation failure — answers this one
  // client and closes its connection.
  try {
    Dispatch(h);
    // What the firmware does next without a client (nothing today) is the daemon's.
    if (role_ != Role::kNone) d_.SetCaller(platform_, trace::Caller{});
  } catch (const std::exception& e) {
    d_.Log(true, "request failed", {{"session", std::to_string(id_)}, {"error", e.what()}});
    close_after_write_ = true;
    SendError(h.request_id, protocol::errc::kInternal, std::string("request failed: ") + e.what());
  }
}

void Session::Dispatch(const protocol::FrameHeader& h) {
  if (h.type == MsgType::kHello) return Hello(h.request_id);
  if (h.type == MsgType::kWhoAmI && role_ != Role::kNone) {
    return Send(ReplyType(h.type), h.request_id, Bytes(hello_reply_.begin(), hello_reply_.end()));
  }
  switch (role_) {
    case Role::kNone:
      close_after_write_ = true;
      return SendError(h.request_id, protocol::errc::kNoHello, "the first frame must be HELLO");
    case Role::kHost:
      return HostFrame(h);
    case Role::kGuest:
      return GuestFrame(h);
  }
}

void Session::Hello(std::uint32_t id) {
  if (role_ != Role::kNone) return SendError(id, protocol::errc::kHelloTwice, "already said hello");
  const auto j = nlohmann::json::parse(payload_.begin(), payload_.end(), nullptr, false);
  auto fail = [&](const std::string& msg) {
    close_after_write_ = true;
    SendError(id, protocol::errc::kBadHello, msg);
  };
  if (!j.is_object() || !j.contains("role") || !j["role"].is_string()) {
    return fail("hello must be a JSON object with a \"role\"");
  }
  const std::string role = j["role"];
  std::string platform;
  if (j.contains("platform")) {
    if (!j["platform"].is_string()) return fail("\"platform\" must be a string");
    platform = j["platform"];
  }
  std::size_t index = 0;
  if (!platform.empty()) {
    index = d_.platforms.size();
    for (std::size_t i = 0; i < d_.platforms.size(); ++i) {
      if (d_.platforms[i].name == platform) index = i;
    }
    if (index == d_.platforms.size()) return fail("no platform named '" + platform + "'");
  }
  ServedPlatform& p = d_.platforms[index];
  nlohmann::json reply = {{"protocol", protocol::kVersion},
                          {"platform", p.name},
                          {"product", emulator::Info(p.host->platform().state.chip.product).name}};
  if (role == "host") {
    role_ = Role::kHost;
    if (j.contains("writable") && !j["writable"].is_boolean()) {
      return fail("\"writable\" must be true or false");
    }
    writable_ = j.value("writable", false);
  } else if (role == "guest") {
    if (!j.contains("guest") || !j["guest"].is_string()) return fail("a guest hello names a guest");
    auto g = p.host->Guest(j["guest"].get<std::string>());
    if (!g.ok()) return fail(g.error().message());
    role_ = Role::kGuest;
    guest_ = g->name;
    guest_launch_id_ = g->launch_id;
    guest_boot_ = p.boot;
    reply["guest"] = {{"name", g->name},
                      {"type", hypervisor::GuestTypeName(g->type)},
                      {"asid", g->asid},
                      {"secrets_gpa", g->secrets_gpa},
                      {"vmpl", 0}};
  } else {
    return fail("role must be \"host\" or \"guest\"");
  }
  platform_ = index;
  d_.Log(
      LogLevel::kDebug, "hello",
      {{"session", std::to_string(id_)}, {"role", role}, {"platform", p.name}, {"guest", guest_}});
  const std::string body = reply.dump();
  reply["role"] = role;
  reply["writable"] = writable_;
  hello_reply_ = reply.dump();
  Send(ReplyType(MsgType::kHello), id, Bytes(body.begin(), body.end()));
}

void Session::TraceSubscribe(std::uint32_t request_id) {
  if (trace_listener_ != 0) {
    return SendError(request_id, protocol::errc::kBadPayload, "already subscribed to the trace");
  }
  Send(ReplyType(MsgType::kTraceSubscribe), request_id, {});
  // The hub calls this for every line of every platform; a weak pointer, because the hub
  // outlives sessions and Close removes the listener.
  std::weak_ptr<Session> weak = shared_from_this();
  trace_listener_ = d_.trace->AddListener([weak, request_id](const std::string& line) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    // A client that does not read loses lines rather than growing the daemon's memory; it is
    // told how many before the next one it gets.
    if (self->out_bytes_ > kReplyQueueLimit) {
      ++self->trace_dropped_;
      return;
    }
    if (self->trace_dropped_ != 0) {
      const std::string note =
          "{\"ev\":\"dropped\",\"lines\":" + std::to_string(self->trace_dropped_) + "}";
      self->trace_dropped_ = 0;
      self->Send(MsgType::kTraceEvent, request_id, Bytes(note.begin(), note.end()));
    }
    self->Send(MsgType::kTraceEvent, request_id, Bytes(line.begin(), line.end()));
  });
  d_.AttachTrace();
}

void Session::HostFrame(const protocol::FrameHeader& h) {
  ServedPlatform& p = d_.platforms[platform_];
  d_.SetCaller(platform_, trace::Caller{"", 0, id_});
  if (h.type == MsgType::kTraceSubscribe) return TraceSubscribe(h.request_id);
  if (h.type == MsgType::kSevIoctl) {
    auto req = protocol::DecodeSevIoctlRequest(payload_);
    if (!req.ok())
      return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
    uapi::StagedUserMemory mem(std::move(req->regions));
    // The ABI struct is packed; an aligned copy keeps its fields naturally aligned for the
    // driver (it sits at an odd offset inside the decoded request).
    alignas(8) uapi::SevIssueCmdArg arg = req->arg;
    // The kernel's ioctl number is an unsigned int: high bits a 64-bit caller set are dropped.
    const auto r =
        p.host->sev_device().Ioctl(static_cast<std::uint32_t>(req->request), arg, mem, writable_);
    req->arg = arg;
    d_.Log(r.ret != 0 ? LogLevel::kError : LogLevel::kDebug, "ioctl",
           {{"session", std::to_string(id_)},
            {"cmd", uapi::SevUserCmdName(req->arg.cmd)},
            {"ret", std::to_string(r.ret)},
            {"fw_error", std::to_string(req->arg.error)}});
    d_.PersistIfChanged(platform_);
    protocol::SevIoctlReply reply;
    reply.ret = r.ret;
    reply.copy_back = r.copy_back;
    reply.arg = req->arg;
    reply.written = mem.Written();
    return Send(ReplyType(h.type), h.request_id, protocol::EncodeSevIoctlReply(reply));
  }
  if (h.type == MsgType::kManage) {
    auto req = protocol::DecodeJsonBlob(payload_);
    if (!req.ok())
      return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
    std::optional<Result<protocol::JsonBlob>> ctl = Ctl(d_, platform_, writable_, *req);
    auto r = ctl ? std::move(*ctl) : Manage(d_.platforms, platform_, writable_, *req);
    // An operation may reach another platform too (guest.migrate).
    for (std::size_t i = 0; i < d_.platforms.size(); ++i) d_.PersistIfChanged(i);
    if (!r.ok()) {
      d_.Log(true, "manage", {{"session", std::to_string(id_)}, {"error", r.error().message()}});
      return SendError(h.request_id, CodeString(r.error().code()), r.error().message());
    }
    return Send(ReplyType(h.type), h.request_id, protocol::EncodeJsonBlob(*r));
  }
  SendError(h.request_id, protocol::errc::kNotPermitted,
            std::string(protocol::MsgTypeName(h.type)) + " is not a host operation");
}

void Session::GuestFrame(const protocol::FrameHeader& h) {
  hypervisor::Host& host = *d_.platforms[platform_].host;
  // The guest's kernel runs at VMPL0 (its hello says so).
  d_.SetCaller(platform_, trace::Caller{guest_, 0, id_});
  auto g = host.Guest(guest_);
  if (!g.ok() || g->launch_id != guest_launch_id_ || d_.platforms[platform_].boot != guest_boot_) {
    return SendError(h.request_id, protocol::errc::kNotFound,
                     "the guest this connection acts in is gone");
  }
  switch (h.type) {
    case MsgType::kGuestMemRead: {
      auto req = protocol::DecodeGuestMemRead(payload_);
      if (!req.ok())
        return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      auto data = host.ReadGuestMemory(guest_, req->gpa, req->length);
      if (!data.ok()) {
        return SendError(h.request_id, CodeString(data.error().code()), data.error().message());
      }
      return Send(ReplyType(h.type), h.request_id, std::move(data).value());
    }
    case MsgType::kGuestMemWrite: {
      auto req = protocol::DecodeGuestMemWrite(payload_);
      if (!req.ok())
        return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      Status st = host.WriteGuestMemory(guest_, req->gpa, req->data);
      if (!st.ok()) {
        return SendError(h.request_id, CodeString(st.error().code()), st.error().message());
      }
      return Send(ReplyType(h.type), h.request_id, {});
    }
    case MsgType::kGuestRequest: {
      auto req = protocol::DecodeGuestRequest(payload_);
      if (!req.ok())
        return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      auto r = host.GuestRequest(guest_, req->request, req->cert_buffer_len);
      if (!r.ok()) {
        return SendError(h.request_id, CodeString(r.error().code()), r.error().message());
      }
      d_.Log(r->fw_status != emulator::FwStatus::kSuccess || r->vmm_error != 0 ? LogLevel::kError
                                                                               : LogLevel::kDebug,
             "guest request",
             {{"session", std::to_string(id_)},
              {"guest", guest_},
              {"extended", req->cert_buffer_len ? "yes" : "no"},
              {"fw_error", emulator::FwStatusName(r->fw_status)},
              {"vmm_error", std::to_string(r->vmm_error)}});
      protocol::GuestRequestReplyMsg m;
      m.fw_error = static_cast<std::uint32_t>(r->fw_status);
      m.vmm_error = r->vmm_error;
      m.certs_needed = r->certs_needed;
      m.response = std::move(r->response);
      m.certs = std::move(r->certs);
      return Send(ReplyType(h.type), h.request_id, protocol::EncodeGuestRequestReply(m));
    }
    case MsgType::kGuestIoctl: {
      auto req = protocol::DecodeGuestIoctlRequest(payload_);
      if (!req.ok())
        return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      if (g->secrets_gpa == 0) {
        // A legacy guest: Linux's sev-guest driver never probes, there is no device.
        return SendError(h.request_id, protocol::errc::kNotFound,
                         "this guest has no /dev/sev-guest");
      }
      uapi::StagedUserMemory mem(std::move(req->regions));
      const int ret = GuestIoctl(host, guest_, g->secrets_gpa, req->request, req->arg, mem);
      d_.Log(ret != 0 ? LogLevel::kError : LogLevel::kDebug, "guest ioctl",
             {{"session", std::to_string(id_)},
              {"guest", guest_},
              {"request", uapi::SnpGuestIoctlName(req->request)},
              {"ret", std::to_string(ret)}});
      protocol::GuestIoctlReply reply;
      reply.ret = ret;
      reply.written = mem.Written();
      return Send(ReplyType(h.type), h.request_id, protocol::EncodeGuestIoctlReply(reply));
    }
    case MsgType::kGuestTsmReport: {
      auto req = protocol::DecodeTsmReportRequest(payload_);
      if (!req.ok())
        return SendError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      protocol::TsmReportReply reply;
      if (g->secrets_gpa == 0) {
        // A legacy guest: no provider registered with configfs-tsm, whose tsm_report_read
        // then answers ENOTTY.
        reply.ret = -ENOTTY;
        return Send(ReplyType(h.type), h.request_id, protocol::EncodeTsmReportReply(reply));
      }
      guest::TsmReportDesc desc;
      desc.inblob = std::move(req->inblob);
      desc.privlevel = req->privlevel;
      guest::TsmReportBlobs blobs;
      reply.ret = GuestTsmReport(host, guest_, g->secrets_gpa, desc, &blobs);
      d_.Log(reply.ret != 0 ? LogLevel::kError : LogLevel::kDebug, "tsm report",
             {{"session", std::to_string(id_)},
              {"guest", guest_},
              {"ret", std::to_string(reply.ret)}});
      if (reply.ret == 0) {
        reply.outblob = std::move(blobs.outblob);
        reply.auxblob = std::move(blobs.auxblob);
      }
      return Send(ReplyType(h.type), h.request_id, protocol::EncodeTsmReportReply(reply));
    }
    default:
      return SendError(h.request_id, protocol::errc::kNotPermitted,
                       std::string(protocol::MsgTypeName(h.type)) + " is not a guest operation");
  }
}

}  // namespace sevemu::daemon
