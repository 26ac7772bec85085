#include "kds/kds_faults.h"

namespace sevemu::kds {
namespace {

// clang-format off
constexpr KdsFaultKindInfo kKinds[] = {
  {KdsFaultKind::kNotFound,    "kds.not_found",    "every KDS endpoint answers 404"},
  {KdsFaultKind::kRateLimited, "kds.rate_limited", "every KDS endpoint answers 429 with Retry-After: \"retry_after\" seconds"},
  {KdsFaultKind::kServerError, "kds.server_error", "every KDS endpoint answers 500"},
  {KdsFaultKind::kSlow,        "kds.slow",         "every KDS endpoint answers normally after \"delay_ms\" milliseconds"},
  {KdsFaultKind::kWrongTcb,    "kds.wrong_tcb",    "VCEK requests get the VCEK at another TCB than the query's"},
  {KdsFaultKind::kExpired,     "kds.expired",      "VCEK requests get a VCEK whose notAfter has passed"},
  {KdsFaultKind::kRevoked,     "kds.revoked",      "the VCEK CRL lists the VCEKs' serial"},
};
// clang-format on

}  // namespace

bool KdsFaultApplies(KdsFaultKind kind, KdsEndpoint endpoint) {
  switch (kind) {
    case KdsFaultKind::kWrongTcb:
    case KdsFaultKind::kExpired:
      return endpoint == KdsEndpoint::kVcek;
    case KdsFaultKind::kRevoked:
      return endpoint == KdsEndpoint::kVcekCrl;
    default:
      return true;
  }
}

std::span<const KdsFaultKindInfo> KdsFaultKinds() {
  return kKinds;
}

const char* KdsFaultKindName(KdsFaultKind k) {
  for (const auto& i : kKinds) {
    if (i.kind == k) return i.name;
  }
  return "unknown";
}

std::optional<KdsFaultKind> ParseKdsFaultKind(std::string_view name) {
  for (const auto& i : kKinds) {
    if (name == i.name) return i.kind;
  }
  return std::nullopt;
}

Result<std::uint64_t> KdsFaultSet::Add(const KdsFaultSpec& spec) {
  if (spec.kind == KdsFaultKind::kSlow &&
      (spec.delay_ms == 0 || spec.delay_ms > kMaxFaultDelayMs)) {
    return Error(ErrorCode::kInvalidArgument,
                 "kds.slow needs delay_ms 1-" + std::to_string(kMaxFaultDelayMs));
  }
  if (spec.kind == KdsFaultKind::kRateLimited && spec.retry_after > kMaxRetryAfter) {
    return Error(ErrorCode::kInvalidArgument,
                 "retry_after must be 0-" + std::to_string(kMaxRetryAfter) + " seconds");
  }
  std::lock_guard lock(mu_);
  KdsFault f;
  f.id = next_id_++;
  f.spec = spec;
  faults_.push_back(f);
  return f.id;
}

std::vector<KdsFault> KdsFaultSet::List() const {
  std::lock_guard lock(mu_);
  return faults_;
}

bool KdsFaultSet::Clear(std::uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->id == id) {
      faults_.erase(it);
      return true;
    }
  }
  return false;
}

std::size_t KdsFaultSet::ClearAll() {
  std::lock_guard lock(mu_);
  const std::size_t n = faults_.size();
  faults_.clear();
  return n;
}

std::optional<KdsFault> KdsFaultSet::Fire(KdsEndpoint endpoint) {
  std::lock_guard lock(mu_);
  for (KdsFault& f : faults_) {
    if (f.exhausted() || !KdsFaultApplies(f.spec.kind, endpoint)) continue;
    ++f.matched;
    if (f.spec.every > 1 && f.matched % f.spec.every != 0) return std::nullopt;
    ++f.fired;
    return f;
  }
  return std::nullopt;
}

}  // namespace sevemu::kds
