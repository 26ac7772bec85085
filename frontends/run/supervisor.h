// `sevemu run`: starts a program under the notify filter (notify_filter.h) and serves its
// device calls until it exits. One thread: each notification is answered before the next is
// read, so one daemon connection never carries two requests at once, whichever processes share
// it (docs/run.md).
#pragma once

#include <string>
#include <vector>

namespace sevemu::run {

// How path calls are served (docs/run.md "Two modes").
enum class RunMode {
  kAuto,       // kNamespace, except in an SNP guest (configfs-tsm needs kNotify)
  kNamespace,  // stand-ins in a namespace (stand_ins.h): only device ioctls notify; no tsm
  kNotify,     // every open and stat notifies; everything served
};

struct RunOptions {
  std::string guest;     // empty: the program runs on the host
  std::string platform;  // empty: the daemon's first
  RunMode mode = RunMode::kAuto;
  std::vector<std::string> argv;
};

// Runs argv[0] (searched in PATH) and returns its exit status: its exit code, or 128 + the
// signal that killed it. 1 with a one-line message on stderr when it could not start (`prefix`
// begins the message). Where the namespace cannot be made, a one-line notice and kNotify.
int RunSupervised(const RunOptions& o, const std::string& prefix);

// After `--launch`'s guest is destroyed: its configfs-tsm entries go with it (the backing
// directories devices::TsmBackingRoot names), unless $SEVEMU_TSM_DIR chose them.
void RemoveGuestTsmStore(const RunOptions& o);

}  // namespace sevemu::run
