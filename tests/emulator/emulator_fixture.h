// Platforms for emulator tests, made from the fixed test root so runs are reproducible.
#pragma once

#include <doctest/doctest.h>

#include <cctype>
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

inline emulator::Platform SeededPlatform(emulator::Product p, std::uint8_t seed = 1) {
  emulator::ProvisionOptions opts;
  opts.product = p;
  opts.seed = Bytes{seed};
  auto platform = emulator::Provision(opts, TestRoot(p));
  REQUIRE(platform.ok());
  return std::move(platform).value();
}

}  // namespace sevemu::test
