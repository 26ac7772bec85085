// What `sevemu kds serve` offers, as JSON (`sevemu kds serve --print-capabilities`; the KDS's
// counterpart of the daemon's `sevemu serve --print-capabilities`, docs/kds.md
// "Capabilities"), so a test suite can check which fault kinds it may inject before it relies
// on them. Every list is read from the table the server runs on: the routes (KdsRoutes), the
// products and their TCB parameters (ParseTcbQuery's), the fault kinds (KdsFaultKinds) and
// where each fires (KdsFaultApplies).
#pragma once

#include <string>
#include <string_view>

namespace sevemu::kds {

std::string KdsCapabilitiesJson(std::string_view version);

}  // namespace sevemu::kds
