// `sevemu run`: starts a program under the notify filter (notify_filter.h) and serves its
// device calls until it exits. One thread: each notification is answered before the next is
// read, so one daemon connection never carries two requests at once, whichever processes share
// it (docs/run.md).
#pragma once

#include <string>
#include <vector>

namespace sevemu::run {

struct RunOptions {
  std::string guest;     // empty: the program runs on the host
  std::string platform;  // empty: the daemon's first
  std::vector<std::string> argv;
};

// Runs argv[0] (searched in PATH) and returns its exit status: its exit code, or 128 + the
// signal that killed it. 1 with a one-line message on stderr when it could not start (`prefix`
// begins the message).
int RunSupervised(const RunOptions& o, const std::string& prefix);

// After `--launch`'s guest is destroyed: its configfs-tsm entries go with it (the backing
// directories devices::TsmBackingRoot names), unless $SEVEMU_TSM_DIR chose them.
void RemoveGuestTsmStore(const RunOptions& o);

}  // namespace sevemu::run
