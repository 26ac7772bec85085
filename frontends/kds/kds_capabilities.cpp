#include "kds/kds_capabilities.h"

#include <nlohmann/json.hpp>

#include "kds/kds_faults.h"
#include "kds/kds_routes.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::kds {

namespace {
using nlohmann::json;
constexpr KdsEndpoint kEndpoints[] = {KdsEndpoint::kCertChain, KdsEndpoint::kVcek,
                                      KdsEndpoint::kVcekCrl, KdsEndpoint::kVlek,
                                      KdsEndpoint::kVlekCrl};
}  // namespace

std::string KdsCapabilitiesJson(std::string_view version) {
  json products = json::array();
  for (emulator::Product p :
       {emulator::Product::kMilan, emulator::Product::kGenoa, emulator::Product::kTurin}) {
    products.push_back(
        {{"name", emulator::Info(p).name}, {"tcb_parameters", TcbQueryParameters(p)}});
  }
  json routes = json::array();
  for (const KdsRoute& r : KdsRoutes()) {
    routes.push_back({{"path", r.path},
                      {"methods", {"GET", "HEAD"}},
                      {"endpoint", KdsEndpointName(r.endpoint)},
                      {"content_type", r.content_type},
                      {"serves", r.serves}});
  }
  json kinds = json::array();
  for (const KdsFaultKindInfo& k : KdsFaultKinds()) {
    json fires_on = json::array();
    for (KdsEndpoint e : kEndpoints) {
      if (KdsFaultApplies(k.kind, e)) fires_on.push_back(KdsEndpointName(e));
    }
    json params = {"count", "every"};
    if (k.kind == KdsFaultKind::kRateLimited) params.push_back("retry_after");
    if (k.kind == KdsFaultKind::kSlow) params.push_back("delay_ms");
    kinds.push_back({{"kind", k.name},
                     {"where", "kds"},
                     {"summary", k.summary},
                     {"fires_on", fires_on},
                     {"params", params}});
  }
  const json ctl = {
      {"path", kFaultsPath},
      {"enabled_by", "--ctl-token FILE"},
      {"from", "loopback, with Authorization: Bearer <token>"},
      {"requests",
       {"POST " + std::string(kFaultsPath), "GET " + std::string(kFaultsPath),
        "DELETE " + std::string(kFaultsPath), "DELETE " + std::string(kFaultsPath) + "/{id}"}},
      {"limits", {{"delay_ms", kMaxFaultDelayMs}, {"retry_after", kMaxRetryAfter}}},
      {"client", "sevemu ctl kds inject|list|clear"}};
  const json j = {{"name", "sevemu kds"}, {"version", version}, {"products", products},
                  {"routes", routes},     {"ctl", ctl},         {"fault_kinds", kinds}};
  return j.dump();
}

}  // namespace sevemu::kds
