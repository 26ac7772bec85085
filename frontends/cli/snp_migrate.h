// SNP live migration from the command line (docs/migration.md): the reference migration agent
// (`sevemu ma-agent`, a program inside its agent guest, cmd_ma_agent.cpp) and the host's side
// of `sevemu guest migrate` for SNP guests (snp_migrate.cpp), which pauses the guest, runs one
// agent on each platform, carries their frames and finishes or cancels.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/protocol/client.h"

namespace sevemu::cli {

struct SnpMigrateOptions {
  std::string socket, platform, guest, to;
  std::string agent, to_agent;         // "" = the daemon's defaults
  std::vector<std::string> trust_ark;  // PEM files handed to both agents
  std::string record;                  // directory for what the host carried; "" = none
  bool json = false;
};
int MigrateSnpGuest(const std::string& name, protocol::Client& host, const SnpMigrateOptions& o);

// `sevemu ma-agent export|import ...`.
int RunMaAgent(const std::string& name, const Args& args);

// The frames the agents exchange through the host: u32 little-endian length, then the bytes
// (at most 64 KiB). The first byte of a frame is its kind.
constexpr std::size_t kMaxMaFrame = 64u << 10;
Status WriteMaFrame(int fd, ByteSpan frame);
Result<Bytes> ReadMaFrame(int fd);
constexpr std::uint8_t kFrameHello = 'H';   // public key, report, certificate table
constexpr std::uint8_t kFrameSealed = 'C';  // the exported context, sealed for the peer
constexpr std::uint8_t kFrameDone = 'D';    // the import succeeded
constexpr std::uint8_t kFrameError = 'E';   // a one-line reason

}  // namespace sevemu::cli
