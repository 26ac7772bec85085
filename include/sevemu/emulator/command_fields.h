// Command buffers decoded by field, for the trace (docs/trace.md). Each command has a table of
// the fields of its ABI struct (snp_abi.h, sev_abi.h): what is listed is all a trace can show,
// so a field that could carry a secret is listed as kRedacted (only its size is shown) and an
// unknown command shows its length only. Command buffers hold addresses, lengths, handles and
// policies; the secrets themselves (wrapped blobs, session keys, secrets) lie in memory the
// buffer points at, which is never read here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/emulator/sev/sev_abi.h"
#include "sevemu/emulator/snp/snp_abi.h"

namespace sevemu::emulator {

struct CommandField {
  enum class Kind {
    kNumber,    // an integer: flags, lengths, handles, ASIDs, policies
    kAddress,   // a system physical address (shown in hex)
    kBytes,     // a public byte string (host data, mnonce, GOSVW)
    kRedacted,  // a field that may carry a secret: its size only
  };
  std::string_view name;
  Kind kind = Kind::kNumber;
  std::uint64_t number = 0;  // kNumber, kAddress; the size for kRedacted
  Bytes bytes;               // kBytes
  bool operator==(const CommandField&) const = default;
};

// The fields of `buffer` as command `cmd` defines them; empty when the command is unknown or
// the buffer is not the command's size. Reserved fields are not shown.
std::vector<CommandField> DecodeSnpCommand(SnpCmd cmd, ByteSpan buffer);
std::vector<CommandField> DecodeSevCommand(SevCmd cmd, ByteSpan buffer);

// The buffer size of `cmd`'s field table (0 for a command without a buffer, such as SNP_INIT);
// nullopt when it has none. Every command the firmware dispatches has one, of the size its
// dispatcher requires (tests/emulator/command_fields_test.cpp).
std::optional<std::size_t> SnpFieldTableSize(SnpCmd cmd);
std::optional<std::size_t> SevFieldTableSize(SevCmd cmd);

}  // namespace sevemu::emulator
