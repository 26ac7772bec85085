// The trace (docs/trace.md): the firmware's observer turned into JSON lines. A TraceWriter
// observes one platform's firmware (emulator::FirmwareObserver) and writes one line per
// command, RMP instruction and injected fault, with the caller the daemon names before it
// dispatches a request. The lines go to a TraceHub, which appends them to the --trace file and
// sends them to the live `sevemu trace` clients. The emulator knows nothing of either: the
// layering stays one-way (docs/architecture.md).
//
// Thread safety: a TraceHub may be used from any thread (its lines are one ordered stream: a
// line's "seq", its place in the file and its place in each listener's calls agree). A
// TraceWriter is used by one thread at a time: its platform's (the daemon holds the platform).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sevemu/common/result.h"
#include "sevemu/emulator/firmware_observer.h"

namespace sevemu::trace {

// Who issued what the firmware is doing: the host (a /dev/sev client, or the host kernel at
// boot when session is 0) or a guest's kernel at a VMPL.
struct Caller {
  std::string guest;          // empty: the host
  int vmpl = 0;               // the guest's
  std::uint64_t session = 0;  // the daemon connection (0: the daemon itself)
};

// Where lines go: an optional file and any number of live listeners.
class TraceHub {
 public:
  // Called with the hub locked, in "seq" order: it must not call the hub (the daemon's posts
  // the line to its io thread).
  using Listener = std::function<void(const std::string& line)>;
  // Appends to `path` (created 0600), one write(2) per line. kIo naming the file on failure.
  Status OpenFile(const std::string& path);
  ~TraceHub();
  std::uint64_t AddListener(Listener l);
  void RemoveListener(std::uint64_t id);
  // True when somebody reads the trace (a file or a listener).
  bool active() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fd_ >= 0 || !listeners_.empty();
  }
  // Writes one line (without its newline); numbers it ("seq") first.
  void Emit(std::string line);
  std::uint64_t next_seq() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seq_;
  }

 private:
  mutable std::mutex mu_;  // everything below; held across a line's write and listeners
  int fd_ = -1;
  std::string path_;
  bool file_failed_ = false;
  std::uint64_t seq_ = 0;
  std::uint64_t next_listener_ = 1;
  std::map<std::uint64_t, Listener> listeners_;
};

using FaultFields = std::vector<std::pair<std::string, std::string>>;

class TraceWriter final : public emulator::FirmwareObserver {
 public:
  // REQUIRES: `hub` outlives the writer.
  TraceWriter(std::string platform, TraceHub& hub) : platform_(std::move(platform)), hub_(hub) {}
  void SetCaller(Caller caller);
  const Caller& caller() const { return caller_; }

  void OnCommand(const emulator::CommandEvent& event) override;
  void OnRmpInstruction(const rmp::RmpInstructionEvent& event) override;
  void OnPageState(std::uint64_t spa, const rmp::RmpEntry& before,
                   const rmp::RmpEntry& after) override;
  // An injected fault (sevemu ctl): its kind and public fields only.
  void OnFault(const std::string& kind, const FaultFields& fields);
  // Writes page-state changes no command or instruction claimed (none today).
  void Flush();

 private:
  struct PageRun {
    std::uint64_t spa;
    std::uint64_t count;
    rmp::RmpEntry before, after;
  };
  std::string Header(const char* ev);
  std::string TakePages();

  std::string platform_;
  TraceHub& hub_;
  Caller caller_;
  std::vector<PageRun> pages_;
};

// sevemu trace render: the sequence between host, firmware and guests drawn from trace lines.
enum class RenderFormat { kMermaid, kDot };
// kInvalidArgument naming the line that is not a trace event.
Result<std::string> RenderTrace(const std::string& jsonl, RenderFormat format);

}  // namespace sevemu::trace
