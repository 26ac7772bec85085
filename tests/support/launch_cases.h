// Reading the known-answer launch cases of fixtures/launch/digests.json.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sevemu/launch/kernel_hashes.h"
#include "sevemu/launch/vmsa.h"
#include "test_util.h"

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

// A fixtures/launch/direct_boot.json case's hashes, from its files ("fixtures/..." paths) and
// command line, or nullopt for a case without --kernel.
inline std::optional<launch::DirectBoot> CaseDirectBoot(const nlohmann::json& c) {
  if (!c.contains("kernel")) return std::nullopt;
  auto read = [&c](const char* key) {
    if (!c.contains(key)) return Bytes{};
    const std::string rel = c[key].get<std::string>().substr(std::string("fixtures/").size());
    const std::string text = ReadText(FixturePath(rel));
    REQUIRE_MESSAGE(!text.empty(), "missing fixture " << rel);
    return Bytes(text.begin(), text.end());
  };
  auto boot = launch::HashDirectBoot(read("kernel"), read("initrd"), c.value("append", ""));
  REQUIRE(boot.ok());
  return *boot;
}

}  // namespace sevemu::test
