// The sevemu daemon: simulated platforms behind a Unix socket (protocol/wire.h). Each platform
// is a booted hypervisor::Host over a locked state directory. Connections are bound by their
// hello to a role: a host connection issues /dev/sev ioctls and management operations on its
// platform; a guest connection acts only inside the one guest it named — its memory, its
// guest-request exit, its driver mutex — and can reach nothing else.
//
// One thread (a Boost.Asio io_context) runs every connection's I/O; each platform's firmware
// work runs on that platform's strand of a thread pool, so a platform's commands are serialised
// as its PSP serialises its mailbox while independent platforms use separate cores
// (docs/protocol.md, "Concurrency"). SIGTERM/SIGINT stop it: connections are closed, the work
// under way finishes, every platform's state is persisted, the socket file is removed.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sevemu/common/file_io.h"
#include "sevemu/common/result.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/protocol/wire.h"
#include "sevemu/trace/trace.h"

namespace sevemu::daemon {

using LogFields = std::vector<std::pair<std::string, std::string>>;
// kDebug is per-connection chatter (hellos, each successful ioctl): off unless asked for.
enum class LogLevel { kDebug, kInfo, kError };
// Receives one event per line; fields are public values only (names, ids, statuses).
using LogSink =
    std::function<void(LogLevel level, const std::string& event, const LogFields& fields)>;

struct ServedPlatform {
  std::string name;       // what clients name in their hello ("platform")
  std::string state_dir;  // where its platform.json is persisted
  DirLock lock;           // held for the daemon's life: a second daemon is refused
  // Its trace writer (docs/trace.md); the daemon makes one if there is none. A writer given
  // here was typically the firmware's observer from boot (serve --trace). Declared before
  // `host`, so it outlives the firmware that points at it.
  std::unique_ptr<trace::TraceWriter> trace;
  std::unique_ptr<hypervisor::Host> host;
  // What the host was booted with; a platform reset (ctl reset) boots it again with it.
  emulator::FirmwareConfig config{};
  // Host reboots so far: a guest connection is bound to the boot its guest was launched in.
  std::uint64_t boot = 0;
};

// What this build offers, as JSON (sevemu serve --print-capabilities, MANAGE "capabilities"):
// version, protocol, products, firmware commands and guest messages from the firmware's
// dispatch tables, /dev/sev commands, protocol message types, MANAGE ctl ops, fault kinds and
// front ends (docs/protocol.md, "Capabilities").
std::string CapabilitiesJson();

struct DaemonOptions {
  std::string socket_path;
  mode_t socket_mode = 0600;
  // Where trace lines go: the --trace file and the live `sevemu trace` clients (nullptr: the
  // daemon makes a hub for live clients only). Shared with the platforms' writers.
  std::shared_ptr<trace::TraceHub> trace;
  // Threads running the platforms' work; 0: one per platform, capped at the hardware's
  // threads but at least 2 when there are 2 platforms or more (so one long operation never
  // stalls every other platform, even on one core).
  unsigned threads = 0;
  // Tests only: called on a platform's thread, with that platform held, before each request
  // of a connection bound to it is carried out (a test holds a platform busy with it).
  std::function<void(const std::string& platform, protocol::MsgType type)> before_work;
};

// kBusy if a daemon already answers at `path`, kAlreadyExists if something other than a socket
// is there (checked before anything is provisioned). A socket nobody answers on is free.
Status CheckSocketFree(const std::string& path);

class Daemon {
 public:
  // Binds the socket (refusing a path where a daemon already answers or that is not a socket;
  // replacing a stale socket).
  // The first platform is the default for hellos that name none.
  static Result<std::unique_ptr<Daemon>> Create(const DaemonOptions& options,
                                                std::vector<ServedPlatform> platforms, LogSink log);
  ~Daemon();
  // Serves until SIGTERM or SIGINT (or Stop()), then persists and cleans up. Call with those
  // signals blocked; Run unblocks them for itself. Returns a failed Status if persisting failed.
  Status Run();
  // Thread-safe request to stop (used by tests).
  void Stop();

  struct Impl;  // frontends/daemon/daemon_impl.h

 private:
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sevemu::daemon
