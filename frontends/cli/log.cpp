#include "log.h"

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sevemu/emulator/manufacturing/platform_state.h"

namespace sevemu::cli {

void Logger::Write(const char* level, const std::string& event, const Fields& fields) const {
  const std::string ts = emulator::FormatUtc(static_cast<std::int64_t>(std::time(nullptr)));
  if (format_ == Format::kJson) {
    nlohmann::ordered_json j;
    j["ts"] = ts;
    j["level"] = level;
    j["event"] = event;
    for (const auto& [k, v] : fields) j[k] = v;
    std::cerr << j.dump() << "\n";
  } else {
    std::cerr << ts << " " << level << " " << event;
    for (const auto& [k, v] : fields) std::cerr << " " << k << "=" << v;
    std::cerr << "\n";
  }
}

}  // namespace sevemu::cli
