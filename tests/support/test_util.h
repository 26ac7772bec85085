// Helpers shared by the test suites.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "sevemu/common/bytes.h"

namespace sevemu::test {

inline Bytes Hex(std::string_view hex) {
  auto r = HexDecode(hex);
  REQUIRE_MESSAGE(r.ok(), "bad hex in test data");
  return *r;
}

inline std::string FixturePath(const std::string& rel) {
  return std::string(SEVEMU_FIXTURES_DIR) + "/" + rel;
}

inline nlohmann::json LoadJsonFixture(const std::string& rel) {
  std::ifstream in(FixturePath(rel));
  REQUIRE_MESSAGE(in.good(), "missing fixture " << rel);
  return nlohmann::json::parse(in);
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A fresh directory under the system temp dir, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sevemu-test-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

}  // namespace sevemu::test
