// The daemon's private pieces: the shared state (Impl), one Session per connection, and the
// management operations. One io_context thread touches all of it.
#pragma once

#include <boost/asio.hpp>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "sevemu/daemon/daemon.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::daemon {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

class Session;

struct Daemon::Impl {
  asio::io_context io;
  asio::local::stream_protocol::acceptor acceptor{io};
  asio::signal_set signals{io};
  // Before the platforms: their writers and firmware may emit until they are gone.
  std::shared_ptr<trace::TraceHub> trace;
  std::vector<ServedPlatform> platforms;
  std::set<std::shared_ptr<Session>> sessions;
  LogSink log;
  std::string socket_path;
  std::uint64_t next_session = 1;
  bool stopping = false;
  // Accepting failed (out of descriptors): retried on this timer, logged once per episode.
  asio::steady_timer accept_retry{io};
  bool accept_failing = false;

  void Accept();
  void Log(LogLevel level, const std::string& event, const LogFields& fields) const {
    if (log) log(level, event, fields);
  }
  void Log(bool error, const std::string& event, const LogFields& fields) const {
    Log(error ? LogLevel::kError : LogLevel::kInfo, event, fields);
  }
  // Each firmware observes into its writer only while somebody reads the trace.
  void AttachTrace();
  // Names who the next firmware commands of platform `i` are for.
  void SetCaller(std::size_t i, trace::Caller caller) {
    if (platforms[i].trace) platforms[i].trace->SetCaller(std::move(caller));
  }
  // Writes platform.json and sev-nv.json if a command changed them; logs (does not fail the
  // command) on error.
  void PersistIfChanged(std::size_t platform);
  // Writes both files of every platform (at a clean stop); the last failure.
  Status PersistAll();
  // Writes what `what` names, logging each file; the last failure.
  Status Persist(const ServedPlatform& p, const hypervisor::PersistentChange& what);
  // Logs every fault that fires on the platform (and is where the trace can listen too:
  // hypervisor::FaultSet::AddObserver).
  void WatchFaults(std::size_t platform);
  // A host reboot (ctl reset): persists the platform, boots a new Host from its state
  // directory as a restarted daemon would, carrying the injected faults over. Guests are gone.
  Status Reboot(std::size_t platform);
};

// A connection's requests are not read while more than this many bytes of its replies wait to
// be sent (docs/protocol.md, "Flow control"): a client that sends without reading cannot make
// the daemon queue without limit. Reading resumes as the queue drains.
constexpr std::size_t kReplyQueueLimit = 1u << 20;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Daemon::Impl& d, Socket sock, std::uint64_t id)
      : d_(d), sock_(std::move(sock)), id_(id) {}
  void Start() { ReadHeader(); }
  void Close();
  // Sends a reply frame (queued; frames go out in order).
  void Send(protocol::MsgType type, std::uint32_t request_id, Bytes payload);
  void SendError(std::uint32_t request_id, const std::string& code, const std::string& message);
  bool closed() const { return closed_; }

 private:
  void ReadHeader();
  // Reads the next frame, unless one is being read, the connection is closing or its replies
  // back up (kReplyQueueLimit).
  void ReadNext();
  void OnFrame(const protocol::FrameHeader& h);
  void Dispatch(const protocol::FrameHeader& h);
  void DoWrite();
  void Hello(std::uint32_t id);
  void HostFrame(const protocol::FrameHeader& h);
  // TRACE_SUBSCRIBE: every trace line from now on, as TRACE_EVENT frames.
  void TraceSubscribe(std::uint32_t request_id);
  void GuestFrame(const protocol::FrameHeader& h);

  enum class Role { kNone, kHost, kGuest };
  Daemon::Impl& d_;
  Socket sock_;
  std::uint64_t id_;
  Role role_ = Role::kNone;
  std::size_t platform_ = 0;
  std::string guest_;
  std::uint64_t guest_launch_id_ = 0;  // the guest itself, not just its name
  std::uint64_t guest_boot_ = 0;       // and the host boot it was launched in (ctl reset)
  bool writable_ = false;
  std::string hello_reply_;  // the hello reply body, with "role" and "writable" added
  std::array<std::uint8_t, protocol::kHeaderSize> header_{};
  Bytes payload_;
  std::deque<Bytes> out_;
  std::size_t out_bytes_ = 0;  // the sum of out_'s sizes
  bool reading_ = false;       // a frame's read is outstanding
  bool close_after_write_ = false;
  bool closed_ = false;
  std::uint64_t trace_listener_ = 0;  // the hub's id for this session, 0: not subscribed
  std::uint64_t trace_dropped_ = 0;   // lines not sent while the replies backed up
};

// A management operation (protocol kManage) on one platform. `writable` gates the ones that
// change anything. Returns the reply body, or an error whose message is sent to the client.
Result<protocol::JsonBlob> Manage(ServedPlatform& p, bool writable,
                                  const protocol::JsonBlob& request);
// The same on platform `platform` of `platforms`, with the operations that reach another
// platform of the daemon (guest.migrate); the rest go to the one-platform Manage.
Result<protocol::JsonBlob> Manage(std::vector<ServedPlatform>& platforms, std::size_t platform,
                                  bool writable, const protocol::JsonBlob& request);

// The control operations (ctl.cpp: capabilities, fault.*, platform.*), or nullopt if `request`
// is not one of them (then it is a Manage op).
std::optional<Result<protocol::JsonBlob>> Ctl(Daemon::Impl& d, std::size_t platform, bool writable,
                                              const protocol::JsonBlob& request);

// The ctl ops' names and whether each needs a writable connection, for capabilities.
struct CtlOpInfo {
  const char* op;
  bool writable;
  const char* summary;
};
std::span<const CtlOpInfo> CtlOps();

}  // namespace sevemu::daemon
