// The ERROR codes: one list (protocol::errc), which the daemon uses and docs/protocol.md shows.
#include "sevemu/protocol/errors.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "test_util.h"

namespace sevemu {
namespace {

std::set<std::string> CodeList() {
  std::set<std::string> codes;
  for (const auto c : protocol::errc::All()) codes.emplace(c);
  return codes;
}

}  // namespace

TEST_CASE("docs/protocol.md's error table names exactly the codes of protocol::errc") {
  const std::string doc = test::ReadText(std::string(SEVEMU_SOURCE_DIR) + "/docs/protocol.md");
  const auto start = doc.find("\n## Errors\n");
  REQUIRE(start != std::string::npos);
  const auto end = doc.find("\n## ", start + 1);
  const std::string section = doc.substr(start, end - start);
  // The first column of each table row: one or more `code`s.
  std::set<std::string> documented;
  const std::regex row(R"(\n\| ([^|]*)\|)");
  const std::regex code("`([a-z_]+)`");
  for (auto r = std::sregex_iterator(section.begin(), section.end(), row);
       r != std::sregex_iterator(); ++r) {
    const std::string cell = (*r)[1];
    for (auto c = std::sregex_iterator(cell.begin(), cell.end(), code); c != std::sregex_iterator();
         ++c) {
      documented.insert((*c)[1]);
    }
  }
  documented.erase("code");  // the header row
  CHECK(documented == CodeList());
}

TEST_CASE("every ErrorCode has its own wire code") {
  std::set<std::string> seen;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kBusy); ++i) {
    const std::string c = protocol::errc::ForErrorCode(static_cast<ErrorCode>(i));
    CAPTURE(i);
    CHECK(CodeList().count(c) == 1);
    CHECK(c != protocol::errc::kInternal);
    CHECK(seen.insert(c).second);
  }
  CHECK(std::string(protocol::errc::ForErrorCode(ErrorCode::kNotFound)) == "not_found");
  CHECK(std::string(protocol::errc::ForErrorCode(ErrorCode::kIo)) == "io");
}

TEST_CASE("the daemon sends no error code that is not in the list") {
  // Every literal code passed to SendError in the daemon's sources.
  const std::regex literal(R"re(SendError\(\s*[^,]+,\s*"([^"]*)")re");
  int files = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(SEVEMU_SOURCE_DIR) + "/frontends/daemon")) {
    if (e.path().extension() != ".cpp") continue;
    ++files;
    const std::string src = test::ReadText(e.path().string());
    for (auto m = std::sregex_iterator(src.begin(), src.end(), literal);
         m != std::sregex_iterator(); ++m) {
      CAPTURE(e.path().string());
      CHECK(CodeList().count((*m)[1]) == 1);
    }
  }
  CHECK(files > 0);
}

}  // namespace sevemu
