#include "log.h"

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::cli {

std::string EscapeForLog(const std::string& s) {
  // As the JSON format escapes strings: a client-supplied name or message cannot end the line,
  // start a forged one or send escape sequences to a terminal. The backslash is escaped too, so
  // the escaping is unambiguous.
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

void Logger::Write(const char* level, const std::string& event, const Fields& fields) const {
  const std::string ts = emulator::FormatUtc(static_cast<std::int64_t>(std::time(nullptr)));
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts;
    j["level"] = level;
    j["event"] = event;
    for (const auto& [k, v] : fields) j[k] = v;
    // Bytes that are not UTF-8 become U+FFFD instead of throwing out of the logger.
    std::cerr << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    std::string line = ts + " " + level + " " + EscapeForLog(event);
    for (const auto& [k, v] : fields) line += " " + EscapeForLog(k) + "=" + EscapeForLog(v);
    std::cerr << line + "\n";
  }
}

}  // namespace sevemu::cli
