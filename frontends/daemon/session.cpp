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
    d_.AttachTraceAll();
  }
  boost::system::error_code ec;
  sock_.shutdown(Socket::shutdown_both, ec);
  sock_.close(ec);
  auto self = shared_from_this();
  d_.sessions.erase(self);
}

void Session::Send(Bytes frame) {
  if (closed_) return;
  out_.push_back(std::move(frame));
  out_bytes_ += out_.back().size();
  if (out_.size() == 1) DoWrite();
}

void Session::Reply(MsgType type, std::uint32_t request_id, Bytes payload) {
  pending_.frames.push_back(protocol::EncodeFrame(type, request_id, payload));
}

void Session::ReplyError(std::uint32_t request_id, const std::string& code,
                         const std::string& message) {
  Reply(MsgType::kError, request_id, protocol::EncodeError(code, message));
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
          return Send(protocol::EncodeFrame(
              MsgType::kError, 0,
              protocol::EncodeError(protocol::errc::kBadFrame, h.error().message())));
        }
        payload_.assign(h->payload_length, 0);
        asio::async_read(sock_, asio::buffer(payload_),
                         [this, self, hdr = *h](const boost::system::error_code& ec2, std::size_t) {
                           if (ec2) return Close();
                           OnFrame(hdr);  // reading_ stays set until the job is done
                         });
      });
}

std::size_t Session::TargetPlatform(const protocol::FrameHeader& h) const {
  if (role_ != Role::kNone || h.type != MsgType::kHello) return platform_;
  // A hello runs on the platform it names (Hello checks the rest).
  const auto j = nlohmann::json::parse(payload_.begin(), payload_.end(), nullptr, false);
  if (j.is_object() && j.contains("platform") && j["platform"].is_string()) {
    const std::size_t i = d_.PlatformIndex(j["platform"].get<std::string>());
    if (i < d_.platforms.size()) return i;
  }
  return 0;
}

void Session::OnFrame(const protocol::FrameHeader& h) {
  const std::size_t target = TargetPlatform(h);
  auto self = shared_from_this();
  // The work on the platform's strand; its replies back on the io thread. The post in each
  // direction orders the work side's fields between the two threads.
  asio::post(d_.exec[target]->strand, [this, self, h, target] {
    Work(h, target);
    asio::post(d_.io, [this, self, p = std::move(pending_)]() mutable { Finish(std::move(p)); });
  });
}

void Session::Finish(Pending p) {
  reading_ = false;
  if (p.close) close_after_write_ = true;
  for (Bytes& f : p.frames) Send(std::move(f));
  if (p.subscribe) TraceSubscribe(p.subscribe_id);
  ReadNext();
}

void Session::Work(const protocol::FrameHeader& h, std::size_t target) {
  pending_ = Pending{};
  // Nothing a client sends may take the daemon (and every guest in it) down: a handler that
  // throws — a JSON field of an unexpected type, an allocation failure — answers this one
  // client and closes its connection.
  try {
    Dispatch(h, target);
  } catch (const std::exception& e) {
    d_.Log(true, "request failed", {{"session", std::to_string(id_)}, {"error", e.what()}});
    pending_.close = true;
    ReplyError(h.request_id, protocol::errc::kInternal, std::string("request failed: ") + e.what());
  }
  payload_.clear();
}

void Session::Dispatch(const protocol::FrameHeader& h, std::size_t target) {
  if (role_ == Role::kNone && h.type != MsgType::kHello) {
    pending_.close = true;
    return ReplyError(h.request_id, protocol::errc::kNoHello, "the first frame must be HELLO");
  }
  if (h.type == MsgType::kWhoAmI) {
    return Reply(ReplyType(h.type), h.request_id, Bytes(hello_reply_.begin(), hello_reply_.end()));
  }
  std::vector<std::size_t> touched{target};
  if (role_ == Role::kHost && h.type == MsgType::kManage) {
    auto req = protocol::DecodeJsonBlob(payload_);
    if (req.ok()) touched = ManagePlatforms(d_, target, *req);
  }
  Held held = d_.Hold(std::move(touched));
  if (d_.before_work) d_.before_work(d_.platforms[target].name, h.type);
  if (h.type == MsgType::kHello) return Hello(h.request_id, target);
  if (role_ == Role::kHost) HostFrame(h, held);
  if (role_ == Role::kGuest) GuestFrame(h);
  // What the firmware does next without a client (nothing today) is the daemon's.
  d_.SetCaller(target, trace::Caller{});
}

void Session::Hello(std::uint32_t id, std::size_t target) {
  if (role_ != Role::kNone)
    return ReplyError(id, protocol::errc::kHelloTwice, "already said hello");
  const auto j = nlohmann::json::parse(payload_.begin(), payload_.end(), nullptr, false);
  auto fail = [&](const std::string& msg) {
    pending_.close = true;
    ReplyError(id, protocol::errc::kBadHello, msg);
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
    index = d_.PlatformIndex(platform);
    if (index == d_.platforms.size()) return fail("no platform named '" + platform + "'");
  }
  // TargetPlatform chose the same from the same bytes: this is the platform held.
  if (index != target) return fail("internal: hello carried out on the wrong platform");
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
  Reply(ReplyType(MsgType::kHello), id, Bytes(body.begin(), body.end()));
}

void Session::TraceSubscribe(std::uint32_t request_id) {
  if (closed_) return;
  if (trace_listener_ != 0) {
    return Send(protocol::EncodeFrame(
        MsgType::kError, request_id,
        protocol::EncodeError(protocol::errc::kBadPayload, "already subscribed to the trace")));
  }
  // The hub calls this for every line of every platform, on that platform's thread with the
  // hub locked; the line is posted to the io thread, in the hub's order. A weak pointer,
  // because the hub outlives sessions and Close removes the listener.
  std::weak_ptr<Session> weak = shared_from_this();
  asio::io_context& io = d_.io;
  trace_listener_ = d_.trace->AddListener([weak, request_id, &io](const std::string& line) {
    asio::post(io, [weak, request_id, line] {
      auto self = weak.lock();
      if (!self || self->closed_) return;
      // A client that does not read loses lines rather than growing the daemon's memory; it
      // is told how many before the next one it gets.
      if (self->out_bytes_ > kReplyQueueLimit) {
        ++self->trace_dropped_;
        return;
      }
      if (self->trace_dropped_ != 0) {
        const std::string note =
            "{\"ev\":\"dropped\",\"lines\":" + std::to_string(self->trace_dropped_) + "}";
        self->trace_dropped_ = 0;
        self->Send(protocol::EncodeFrame(MsgType::kTraceEvent, request_id,
                                         Bytes(note.begin(), note.end())));
      }
      self->Send(
          protocol::EncodeFrame(MsgType::kTraceEvent, request_id, Bytes(line.begin(), line.end())));
    });
  });
  // Posted to every strand before the reply can reach the client (a write may go out at once),
  // so a command any client issues after reading the reply is queued behind it and observed.
  d_.AttachTraceAll();
  Send(protocol::EncodeFrame(ReplyType(MsgType::kTraceSubscribe), request_id, {}));
}

void Session::HostFrame(const protocol::FrameHeader& h, const Held& held) {
  ServedPlatform& p = d_.platforms[platform_];
  d_.SetCaller(platform_, trace::Caller{"", 0, id_});
  if (h.type == MsgType::kTraceSubscribe) {
    pending_.subscribe = true;
    pending_.subscribe_id = h.request_id;
    return;
  }
  if (h.type == MsgType::kSevIoctl) {
    auto req = protocol::DecodeSevIoctlRequest(payload_);
    if (!req.ok())
      return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
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
    return Reply(ReplyType(h.type), h.request_id, protocol::EncodeSevIoctlReply(reply));
  }
  if (h.type == MsgType::kManage) {
    auto req = protocol::DecodeJsonBlob(payload_);
    if (!req.ok())
      return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
    std::optional<Result<protocol::JsonBlob>> ctl = Ctl(d_, held, platform_, writable_, *req);
    auto r = ctl ? std::move(*ctl) : Manage(d_.platforms, held, platform_, writable_, *req);
    // An operation may reach another platform too (guest.migrate): every one it held.
    for (std::size_t i : held.indices()) d_.PersistIfChanged(i);
    if (!r.ok()) {
      d_.Log(true, "manage", {{"session", std::to_string(id_)}, {"error", r.error().message()}});
      return ReplyError(h.request_id, CodeString(r.error().code()), r.error().message());
    }
    return Reply(ReplyType(h.type), h.request_id, protocol::EncodeJsonBlob(*r));
  }
  ReplyError(h.request_id, protocol::errc::kNotPermitted,
             std::string(protocol::MsgTypeName(h.type)) + " is not a host operation");
}

void Session::GuestFrame(const protocol::FrameHeader& h) {
  hypervisor::Host& host = *d_.platforms[platform_].host;
  // The guest's kernel runs at VMPL0 (its hello says so).
  d_.SetCaller(platform_, trace::Caller{guest_, 0, id_});
  auto g = host.Guest(guest_);
  if (!g.ok() || g->launch_id != guest_launch_id_ || d_.platforms[platform_].boot != guest_boot_) {
    return ReplyError(h.request_id, protocol::errc::kNotFound,
                      "the guest this connection acts in is gone");
  }
  switch (h.type) {
    case MsgType::kGuestMemRead: {
      auto req = protocol::DecodeGuestMemRead(payload_);
      if (!req.ok())
        return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      auto data = host.ReadGuestMemory(guest_, req->gpa, req->length);
      if (!data.ok()) {
        return ReplyError(h.request_id, CodeString(data.error().code()), data.error().message());
      }
      return Reply(ReplyType(h.type), h.request_id, std::move(data).value());
    }
    case MsgType::kGuestMemWrite: {
      auto req = protocol::DecodeGuestMemWrite(payload_);
      if (!req.ok())
        return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      Status st = host.WriteGuestMemory(guest_, req->gpa, req->data);
      if (!st.ok()) {
        return ReplyError(h.request_id, CodeString(st.error().code()), st.error().message());
      }
      return Reply(ReplyType(h.type), h.request_id, {});
    }
    case MsgType::kGuestRequest: {
      auto req = protocol::DecodeGuestRequest(payload_);
      if (!req.ok())
        return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      auto r = host.GuestRequest(guest_, req->request, req->cert_buffer_len);
      if (!r.ok()) {
        return ReplyError(h.request_id, CodeString(r.error().code()), r.error().message());
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
      return Reply(ReplyType(h.type), h.request_id, protocol::EncodeGuestRequestReply(m));
    }
    case MsgType::kGuestIoctl: {
      auto req = protocol::DecodeGuestIoctlRequest(payload_);
      if (!req.ok())
        return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      if (g->secrets_gpa == 0) {
        // A legacy guest: Linux's sev-guest driver never probes, there is no device.
        return ReplyError(h.request_id, protocol::errc::kNotFound,
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
      return Reply(ReplyType(h.type), h.request_id, protocol::EncodeGuestIoctlReply(reply));
    }
    case MsgType::kGuestTsmReport: {
      auto req = protocol::DecodeTsmReportRequest(payload_);
      if (!req.ok())
        return ReplyError(h.request_id, protocol::errc::kBadPayload, req.error().message());
      protocol::TsmReportReply reply;
      if (g->secrets_gpa == 0) {
        // A legacy guest: no provider registered with configfs-tsm, whose tsm_report_read
        // then answers ENOTTY.
        reply.ret = -ENOTTY;
        return Reply(ReplyType(h.type), h.request_id, protocol::EncodeTsmReportReply(reply));
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
      return Reply(ReplyType(h.type), h.request_id, protocol::EncodeTsmReportReply(reply));
    }
    default:
      return ReplyError(h.request_id, protocol::errc::kNotPermitted,
                        std::string(protocol::MsgTypeName(h.type)) + " is not a guest operation");
  }
}

}  // namespace sevemu::daemon
