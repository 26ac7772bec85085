// --kernel / --initrd / --append, as QEMU takes them for a measured direct boot, for
// `sevemu guest launch` and `sevemu owner measure`: the files are hashed here (streamed, so a
// large initrd is never held in memory) and only the hashes travel (launch/kernel_hashes.h).
#pragma once

#include <optional>
#include <string>

#include "sevemu/common/result.h"
#include "sevemu/launch/kernel_hashes.h"

namespace sevemu::cli {

struct DirectBootArgs {
  std::string kernel, initrd, append;
  bool append_given = false;  // --append "" is a command line; no --append is none
};

// nullopt without --kernel. kInvalidArgument, with QEMU's words, for --initrd or --append
// without --kernel ("-initrd only allowed with -kernel option"); a file's read error.
Result<std::optional<launch::DirectBoot>> HashDirectBootArgs(const DirectBootArgs& args);

}  // namespace sevemu::cli
