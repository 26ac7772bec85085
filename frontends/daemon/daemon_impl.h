// The daemon's private pieces: the shared state (Impl), one Session per connection, and the
// management operations.
//
// Threads (docs/architecture.md, "Threads"): the io_context thread runs the acceptor, the
// signals and every connection's reads and writes; a thread pool runs the platforms' work, one
// strand per platform. A platform's state (its Host, boot count, trace writer's caller, fault
// set) is touched only with its mutex held (Held); a job holds its own platform, and an
// operation that reaches others (guest.migrate, capabilities) holds all it touches, locked in
// ascending index order, so two such operations cannot deadlock.
#pragma once

#include <boost/asio.hpp>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "sevemu/daemon/daemon.h"
#include "sevemu/protocol/wire.h"

namespace sevemu::daemon {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;

class Session;

// Platforms held by one job: their mutexes, locked in ascending index order.
class Held {
 public:
  Held() = default;
  Held(Held&&) = default;
  Held& operator=(Held&&) = default;
  bool Holds(std::size_t i) const;
  const std::vector<std::size_t>& indices() const { return indices_; }

 private:
  friend struct Daemon::Impl;
  std::vector<std::size_t> indices_;
  std::vector<std::unique_lock<std::mutex>> locks_;
};

// One platform's place in the pool: its strand (its jobs run one at a time, in the order they
// were posted) and its mutex (held while anything touches the platform, from its own strand or
// from another platform's cross-platform job).
struct PlatformExec {
  explicit PlatformExec(asio::thread_pool& pool) : strand(asio::make_strand(pool)) {}
  asio::strand<asio::thread_pool::executor_type> strand;
  std::mutex mu;
};

struct Daemon::Impl {
  asio::io_context io;
  asio::local::stream_protocol::acceptor acceptor{io};
  asio::signal_set signals{io};
  // Before the platforms: their writers and firmware may emit until they are gone.
  std::shared_ptr<trace::TraceHub> trace;
  // The vector and each platform's name, state_dir and config are fixed after Create; the rest
  // of a platform (host, boot, trace) only with exec[i]->mu held.
  std::vector<ServedPlatform> platforms;
  // After the platforms, so destroyed (joined) before them. Run joins it before persisting.
  std::unique_ptr<asio::thread_pool> pool;
  std::vector<std::unique_ptr<PlatformExec>> exec;                         // one per platform
  std::function<void(const std::string&, protocol::MsgType)> before_work;  // tests
  // The io thread's alone: sessions, next_session, stopping, accept_retry, accept_failing.
  std::set<std::shared_ptr<Session>> sessions;
  LogSink log;
  mutable std::mutex log_mu;  // one sink call at a time, from any thread
  std::string socket_path;
  std::uint64_t next_session = 1;
  bool stopping = false;
  // Accepting failed (out of descriptors): retried on this timer, logged once per episode.
  asio::steady_timer accept_retry{io};
  bool accept_failing = false;

  void Accept();
  // Any thread. The sink must not call back into the daemon.
  void Log(LogLevel level, const std::string& event, const LogFields& fields) const {
    if (!log) return;
    std::lock_guard<std::mutex> lock(log_mu);
    log(level, event, fields);
  }
  void Log(bool error, const std::string& event, const LogFields& fields) const {
    Log(error ? LogLevel::kError : LogLevel::kInfo, event, fields);
  }
  // Locks the platforms `indices` (duplicates allowed) in ascending order. Blocks while another
  // job holds one of them. REQUIRES: the caller holds none already.
  Held Hold(std::vector<std::size_t> indices);
  // Each firmware observes into its writer only while somebody reads the trace. Platform `i`,
  // held by the caller:
  void AttachTrace(std::size_t i);
  // Every platform, from the io thread: a job on each strand, after whatever is queued there
  // (so a command posted after this call is observed if the trace is read by then).
  void AttachTraceAll();
  // Names who the next firmware commands of platform `i` are for (held by the caller).
  void SetCaller(std::size_t i, trace::Caller caller) {
    if (platforms[i].trace) platforms[i].trace->SetCaller(std::move(caller));
  }
  // Writes platform.json and sev-nv.json if a command changed them; logs (does not fail the
  // command) on error. The platform is held by the caller.
  void PersistIfChanged(std::size_t platform);
  // Writes both files of every platform (at a clean stop, the pool joined); the last failure.
  Status PersistAll();
  // Writes what `what` names, logging each file; the last failure.
  Status Persist(const ServedPlatform& p, const hypervisor::PersistentChange& what);
  // Logs every fault that fires on the platform (and is where the trace can listen too:
  // hypervisor::FaultSet::AddObserver).
  void WatchFaults(std::size_t platform);
  // A host reboot (ctl reset): persists the platform, boots a new Host from its state
  // directory as a restarted daemon would, carrying the injected faults over. Guests are gone.
  // The platform is held by the caller.
  Status Reboot(std::size_t platform);
  // The index of the platform named `name`, or platforms.size().
  std::size_t PlatformIndex(const std::string& name) const;
};

// A connection's requests are not read while more than this many bytes of its replies wait to
// be sent (docs/protocol.md, "Flow control"): a client that sends without reading cannot make
// the daemon queue without limit. Reading resumes as the queue drains.
constexpr std::size_t kReplyQueueLimit = 1u << 20;

// A connection. Its frames are read on the io thread, one at a time; each is carried out by a
// job on its platform's strand (the hello's platform for a hello), whose replies are posted
// back to the io thread and queued; only then is the next frame read. So one connection's
// requests are carried out in order and its replies come in request order.
//
// Two sides: the io side (socket, reply queue, flags, trace subscription) is the io thread's
// alone; the work side (role, platform, guest, payload, pending replies) is touched by the one
// job under way, and by the io thread only between jobs (the posts order the two).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Daemon::Impl& d, Socket sock, std::uint64_t id)
      : d_(d), sock_(std::move(sock)), id_(id) {}
  void Start() { ReadHeader(); }
  // io thread.
  void Close();
  bool closed() const { return closed_; }

 private:
  // What a job leaves for the io thread.
  struct Pending {
    std::vector<Bytes> frames;
    bool close = false;      // close once they are written
    bool subscribe = false;  // TRACE_SUBSCRIBE: the io side subscribes and replies
    std::uint32_t subscribe_id = 0;
  };

  // io side.
  void ReadHeader();
  // Reads the next frame, unless one is being read or carried out, the connection is closing
  // or its replies back up (kReplyQueueLimit).
  void ReadNext();
  void OnFrame(const protocol::FrameHeader& h);
  // Queues a reply frame (frames go out in order).
  void Send(Bytes frame);
  void DoWrite();
  // The job's outcome: frames queued, then the next frame read.
  void Finish(Pending p);
  // TRACE_SUBSCRIBE: every trace line from now on, as TRACE_EVENT frames.
  void TraceSubscribe(std::uint32_t request_id);
  // The platform whose strand carries out `h` (decided between jobs).
  std::size_t TargetPlatform(const protocol::FrameHeader& h) const;

  // Work side: run inside the job, with platform `target` held.
  void Work(const protocol::FrameHeader& h, std::size_t target);
  void Dispatch(const protocol::FrameHeader& h, std::size_t target);
  void Reply(protocol::MsgType type, std::uint32_t request_id, Bytes payload);
  void ReplyError(std::uint32_t request_id, const std::string& code, const std::string& message);
  void Hello(std::uint32_t id, std::size_t target);
  void HostFrame(const protocol::FrameHeader& h, const Held& held);
  void GuestFrame(const protocol::FrameHeader& h);

  enum class Role { kNone, kHost, kGuest };
  Daemon::Impl& d_;
  Socket sock_;
  const std::uint64_t id_;
  // Work side.
  Role role_ = Role::kNone;
  std::size_t platform_ = 0;
  std::string guest_;
  std::uint64_t guest_launch_id_ = 0;  // the guest itself, not just its name
  std::uint64_t guest_boot_ = 0;       // and the host boot it was launched in (ctl reset)
  bool writable_ = false;
  std::string hello_reply_;  // the hello reply body, with "role" and "writable" added
  Bytes payload_;            // read by the io side, then handed to the job
  Pending pending_;
  // io side.
  std::array<std::uint8_t, protocol::kHeaderSize> header_{};
  std::deque<Bytes> out_;
  std::size_t out_bytes_ = 0;  // the sum of out_'s sizes
  bool reading_ = false;       // a frame is being read or carried out
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
// platform of the daemon (guest.migrate); the rest go to the one-platform Manage. Every
// platform it touches must be in `held` (ManagePlatforms), else kInternal and nothing done.
Result<protocol::JsonBlob> Manage(std::vector<ServedPlatform>& platforms, const Held& held,
                                  std::size_t platform, bool writable,
                                  const protocol::JsonBlob& request);
// The platforms a MANAGE request of a connection on `platform` touches, to be held while it
// runs: that one, and guest.migrate's destination, or every platform for capabilities.
std::vector<std::size_t> ManagePlatforms(const Daemon::Impl& d, std::size_t platform,
                                         const protocol::JsonBlob& request);

// The control operations (ctl.cpp: capabilities, fault.*, platform.*), or nullopt if `request`
// is not one of them (then it is a Manage op).
std::optional<Result<protocol::JsonBlob>> Ctl(Daemon::Impl& d, const Held& held,
                                              std::size_t platform, bool writable,
                                              const protocol::JsonBlob& request);

// The ctl ops' names and whether each needs a writable connection, for capabilities.
struct CtlOpInfo {
  const char* op;
  bool writable;
  const char* summary;
};
std::span<const CtlOpInfo> CtlOps();

}  // namespace sevemu::daemon
