// Faults a test injects into a simulated host (issue 16): firmware commands that fail with a
// chosen status, guest-request exits the VMM answers BUSY or INVALID_LEN, a certificate table
// that is missing, truncated or carries the wrong VCEK. Real hardware cannot be made to fail on
// demand; verifiers and attesters are judged by how they behave when it does.
//
// Where they act. A firmware-command fault acts where the host hands commands to the AMD-SP:
// Host's own commands (launches, guest requests, teardown) and SevDevice's (/dev/sev and KVM's
// entry points); the command is not run, so nothing changes, as for any refused command. The
// guest and certificate faults act in Host::GuestRequest, the VMM's side of the exit. No
// firmware handler knows about faults.
//
// Scope and count. A fault is scoped to the platform (every caller) or to one guest (only what
// the host does on that guest's behalf: its launch, its requests, its teardown). It fires the
// next `count` times it matches, or on one match in `every` (the every-th, 2*every-th, ...), or
// both (one in `every`, at most `count` times), or, with neither, on every match until cleared.
// A fault whose count is used up stays listed (exhausted) until cleared, so a test can read how
// often it fired.
//
// Observers (AddObserver) are told of every firing: the daemon logs them, and the trace
// (issue 16 part 3) can record them from the same hook.
//
// Thread safety: none; it belongs to its Host (one caller at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sevemu/common/result.h"
#include "sevemu/emulator/fw_status.h"

namespace sevemu::hypervisor {

enum class FaultKind {
  kCommand,          // a firmware command fails with `status` (not run)
  kGuestBusy,        // the VMM answers the guest-request exit vmm_error BUSY
  kGuestInvalidLen,  // the VMM answers vmm_error INVALID_LEN, needing `size` bytes
  kCertsMissing,     // extended requests get no certificates
  kCertsTruncated,   // extended requests get the table cut to `size` bytes (0: half)
  kCertsWrongVcek,   // the table's VCEK is the chip's VCEK at another TCB
};

struct FaultKindInfo {
  FaultKind kind;
  const char* name;     // "command", "guest.busy", ... (the wire name)
  const char* summary;  // one line for capabilities and help
};
// Every kind, in FaultKind order: the table capabilities and the parser use.
std::span<const FaultKindInfo> FaultKinds();
const char* FaultKindName(FaultKind k);
std::optional<FaultKind> ParseFaultKind(std::string_view name);

struct FaultSpec {
  FaultKind kind = FaultKind::kCommand;
  std::string guest;        // empty: the whole platform
  std::uint32_t count = 0;  // fire this many times, then stop (0: no limit)
  std::uint32_t every = 0;  // fire on one match in this many (0 or 1: every match)
  // kCommand: which command (legacy SEV ids when `legacy`, else SNP ids) and the status.
  bool legacy = false;
  std::uint32_t command = 0;
  emulator::FwStatus status = emulator::FwStatus::kInvalidParam;
  // kGuestInvalidLen: the bytes the VMM says the certificates need; kCertsTruncated: the bytes
  // kept.
  std::uint32_t size = 0;
};

struct Fault {
  std::uint64_t id = 0;
  FaultSpec spec;
  std::uint64_t matched = 0;  // events it matched (fired or not)
  std::uint64_t fired = 0;
  bool exhausted() const { return spec.count != 0 && fired >= spec.count; }
};

// One firing, for observers. `guest` is who the host was acting for ("" = itself).
struct FaultEvent {
  std::uint64_t id = 0;
  FaultKind kind = FaultKind::kCommand;
  std::string guest;
  std::string detail;       // "SNP_LAUNCH_UPDATE -> RESOURCE_LIMIT", "BUSY", "INVALID_LEN 8192"
  std::uint64_t fired = 0;  // this fault's firings so far, this one included
};
using FaultObserver = std::function<void(const FaultEvent&)>;

// "SNP_LAUNCH_UPDATE" / "LAUNCH_UPDATE_DATA" (legacy) / a number ("0x8f", "143") to an id;
// legacy names are tried when no SNP command has the name. kInvalidArgument otherwise.
Status ParseCommand(std::string_view text, bool* legacy, std::uint32_t* id);
// "INVALID_PARAM" or a number to a status (not SUCCESS). kInvalidArgument otherwise.
Result<emulator::FwStatus> ParseFwStatus(std::string_view text);
std::string CommandName(bool legacy, std::uint32_t id);

class FaultSet {
 public:
  // Checks the spec (a command fault names a command; INVALID_LEN needs a size); the new id.
  Result<std::uint64_t> Add(FaultSpec spec);
  const std::vector<Fault>& List() const { return faults_; }
  // Removes one fault (false if no such id), or all.
  bool Clear(std::uint64_t id);
  void ClearAll();
  void AddObserver(FaultObserver observer) { observers_.push_back(std::move(observer)); }

  // Who the host is acting for while this is alive (nested scopes restore the outer one).
  class ActingFor {
   public:
    ActingFor(FaultSet& set, std::string guest) : set_(set), saved_(std::move(set.acting_)) {
      set_.acting_ = std::move(guest);
    }
    ~ActingFor() { set_.acting_ = std::move(saved_); }
    ActingFor(const ActingFor&) = delete;
    ActingFor& operator=(const ActingFor&) = delete;

   private:
    FaultSet& set_;
    std::string saved_;
  };

  // A firmware command about to be issued: the status to fail it with, if a fault fires.
  std::optional<emulator::FwStatus> Command(bool legacy, std::uint32_t id);
  // An event of another kind in `guest`'s context: the fault that fired, if one did (the
  // first armed one in order of addition; only that one counts the event).
  const Fault* Fire(FaultKind kind, const std::string& guest, const std::string& detail);

 private:
  const Fault* Match(FaultKind kind, const std::string& guest,
                     const std::function<bool(const FaultSpec&)>& selects,
                     const std::function<std::string(const FaultSpec&)>& detail);

  std::vector<Fault> faults_;
  std::vector<FaultObserver> observers_;
  std::uint64_t next_id_ = 1;
  std::string acting_;
};

}  // namespace sevemu::hypervisor
