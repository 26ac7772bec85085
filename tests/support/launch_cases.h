// Reading the known-answer launch cases of fixtures/launch/digests.json.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "sevemu/launch/vmsa.h"

namespace sevemu::test {

// The vCPU signature a case was measured with: its "vcpu_type" (a QEMU CPU model) or its
// "vcpu_sig" (hex), as the tool's --vcpu-type or --vcpu-sig.
inline std::uint32_t CaseVcpuSignature(const nlohmann::json& c) {
  if (c.contains("vcpu_sig")) {
    return static_cast<std::uint32_t>(
        std::strtoul(c["vcpu_sig"].get<std::string>().c_str(), nullptr, 16));
  }
  auto sig = launch::VcpuSignatureOf(c["vcpu_type"].get<std::string>());
  REQUIRE(sig.ok());
  return *sig;
}

// The case's SEV_FEATURES (the tool's --guest-features).
inline std::uint64_t CaseGuestFeatures(const nlohmann::json& c) {
  return std::strtoull(c["guest_features"].get<std::string>().c_str(), nullptr, 0);
}

}  // namespace sevemu::test
