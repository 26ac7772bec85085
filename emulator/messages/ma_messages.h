// Private to emulator/: the migration-agent guest messages SNP_GUEST_REQUEST dispatches to
// (docs/migration.md). Unlike the other guest messages they change firmware state, and not
// only the requester's: each handler checks in AMD-ASPFW's order and returns the response
// payload; its effect, if it succeeded, is left in `commit`, which SNP_GUEST_REQUEST runs only
// after the response is sealed (so that a failed transport still changes nothing).
#pragma once

#include <functional>

#include "firmware_state.h"

namespace sevemu::emulator {

struct MaContext {
  FirmwareState& s;
  SnpGuest& requester;
  std::uint64_t requester_gctx;  // the requester's context page
  std::uint8_t vmpck;            // the VMPCK the request came under
};
using MaCommit = std::function<void()>;

Bytes HandleExportReq(const MaContext& c, ByteSpan req, MaCommit& commit);
Bytes HandleImportReq(const MaContext& c, ByteSpan req, MaCommit& commit);
Bytes HandleAbsorbReq(const MaContext& c, ByteSpan req, MaCommit& commit);
Bytes HandleVmrkReq(const MaContext& c, ByteSpan req, MaCommit& commit);
Bytes HandleAbsorbNomaReq(const MaContext& c, ByteSpan req, MaCommit& commit);

}  // namespace sevemu::emulator
