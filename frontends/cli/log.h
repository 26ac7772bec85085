// The front ends' logger: one line per event, plain text or JSON lines, to stderr.
// Callers pass only public values (identities, TCBs, paths); there is no API for key material.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace sevemu::cli {

// `s` with control characters and backslashes escaped as JSON escapes them (\n, \u001b, \\):
// what the text format writes for every event, key and value.
std::string EscapeForLog(const std::string& s);

class Logger {
 public:
  enum class Format { kText, kJson };
  enum class Level { kDebug, kInfo, kError };
  explicit Logger(Format f, Level min = Level::kInfo) : format_(f), min_(min) {}
  using Fields = std::vector<std::pair<std::string, std::string>>;
  void Debug(const std::string& event, const Fields& fields = {}) const {
    if (min_ <= Level::kDebug) Write("debug", event, fields);
  }
  void Info(const std::string& event, const Fields& fields = {}) const {
    if (min_ <= Level::kInfo) Write("info", event, fields);
  }
  void Error(const std::string& event, const Fields& fields = {}) const {
    Write("error", event, fields);
  }

 private:
  void Write(const char* level, const std::string& event, const Fields& fields) const;
  Format format_;
  Level min_;
};

}  // namespace sevemu::cli
