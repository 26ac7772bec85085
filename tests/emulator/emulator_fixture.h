// Platforms for emulator tests, made from the fixed test root so runs are reproducible.
#pragma once

#include <doctest/doctest.h>

#include <cctype>
#include <optional>
#include <string>

#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"

namespace sevemu::test {

inline emulator::AmdRoot TestRoot(emulator::Product p) {
  std::string name = emulator::Info(p).name;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto root = emulator::AmdRoot::FromFiles(fixtures::TestRootFiles(name), "test root " + name);
  REQUIRE_MESSAGE(root.ok(), (root.ok() ? "" : root.error().message()));
  return std::move(root).value();
}

// At the default firmware (the newest ABI, 1.58) unless `fw` is given.
inline emulator::Platform SeededPlatform(emulator::Product p, std::uint8_t seed = 1,
                                         std::optional<emulator::FirmwareVersion> fw = {}) {
  emulator::ProvisionOptions opts;
  opts.product = p;
  opts.seed = Bytes{seed};
  opts.firmware = fw;
  auto platform = emulator::Provision(opts, TestRoot(p));
  REQUIRE(platform.ok());
  return std::move(platform).value();
}

// The product's own 1.55 build (1.55.21 on Milan, .25 Genoa, .40 Turin), which every platform
// ran before the default became 1.58; tests that assert 1.55 behaviour (report version 3 and
// its bytes, message version 1 only, reserved policy bits 21-63, FEATURE_INFO and
// PLATFORM_STATUS without 1.57's bits, golden reports) provision it explicitly.
inline emulator::FirmwareVersion Firmware155(emulator::Product p) {
  const emulator::ProductInfo& i = emulator::Info(p);
  return {i.api_major, i.api_minor, i.build};
}
inline emulator::Platform SeededPlatform155(emulator::Product p, std::uint8_t seed = 1) {
  return SeededPlatform(p, seed, Firmware155(p));
}

}  // namespace sevemu::test
