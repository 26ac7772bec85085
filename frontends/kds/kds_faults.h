// Faults the simulated KDS can be told to answer with (issue 16), so a verifier's error paths
// can be tested: 404, 429 with Retry-After, 500, a slow answer, a VCEK at a TCB other than the
// one asked for, an expired VCEK, a CRL that lists the VCEK. They are injected over the KDS's
// own control endpoint (kds_routes.h, docs/kds.md "Faults"), since the KDS is its own process.
//
// Counting follows the daemon's faults (sevemu/hypervisor/faults.h, docs/protocol.md "Control
// operations"), re-implemented here so the KDS does not depend on the hypervisor: a fault fires
// the next `count` times it matches, or on one match in `every`, or both, or with neither on
// every match until cleared. An exhausted fault stays listed until cleared. A request is
// matched by the first armed fault (in order of addition) whose kind applies to its endpoint;
// only that fault counts the request.
//
// Thread safety: every member may be called from many threads at once (one mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sevemu/common/result.h"

namespace sevemu::kds {

enum class KdsFaultKind {
  kNotFound,     // 404
  kRateLimited,  // 429 with Retry-After: retry_after seconds
  kServerError,  // 500
  kSlow,         // the normal answer, after delay_ms
  kWrongTcb,     // VCEK requests: the VCEK at another TCB than the query's
  kExpired,      // VCEK requests: a VCEK whose notAfter is in the past
  kRevoked,      // VCEK CRL requests: the CRL lists the VCEKs' serial
};

// Which requests a kind can fire on.
enum class KdsEndpoint { kCertChain, kVcek, kVcekCrl, kVlek, kVlekCrl };

struct KdsFaultKindInfo {
  KdsFaultKind kind;
  const char* name;  // "kds.rate_limited", ... (the wire name)
  const char* summary;
};
std::span<const KdsFaultKindInfo> KdsFaultKinds();
const char* KdsFaultKindName(KdsFaultKind k);
std::optional<KdsFaultKind> ParseKdsFaultKind(std::string_view name);
// Whether a fault of `kind` fires on requests to `endpoint` (kds.wrong_tcb and kds.expired on
// VCEKs, kds.revoked on the VCEK CRL, the others on every endpoint).
bool KdsFaultApplies(KdsFaultKind kind, KdsEndpoint endpoint);

// Bounds on the parameters, so a control request cannot park connections for hours.
inline constexpr std::uint32_t kMaxFaultDelayMs = 120000;
inline constexpr std::uint32_t kMaxRetryAfter = 86400;

struct KdsFaultSpec {
  KdsFaultKind kind = KdsFaultKind::kNotFound;
  std::uint32_t count = 0;        // fire this many times, then stop (0: no limit)
  std::uint32_t every = 0;        // fire on one match in this many (0 or 1: every match)
  std::uint32_t retry_after = 1;  // kRateLimited: the Retry-After seconds
  std::uint32_t delay_ms = 0;     // kSlow: the delay (required, 1..kMaxFaultDelayMs)
};

struct KdsFault {
  std::uint64_t id = 0;
  KdsFaultSpec spec;
  std::uint64_t matched = 0;
  std::uint64_t fired = 0;
  bool exhausted() const { return spec.count != 0 && fired >= spec.count; }
};

class KdsFaultSet {
 public:
  // kInvalidArgument for a slow fault without a delay, or a parameter out of bounds.
  Result<std::uint64_t> Add(const KdsFaultSpec& spec);
  std::vector<KdsFault> List() const;
  bool Clear(std::uint64_t id);  // false if no such id
  std::size_t ClearAll();        // how many were cleared
  // A request to `endpoint` arrived: the fault that fires on it (a copy, `fired` updated), if
  // one does.
  std::optional<KdsFault> Fire(KdsEndpoint endpoint);

 private:
  mutable std::mutex mu_;
  std::vector<KdsFault> faults_;  // GUARDED_BY(mu_)
  std::uint64_t next_id_ = 1;     // GUARDED_BY(mu_)
};

}  // namespace sevemu::kds
