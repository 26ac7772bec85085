// sevemu explain statemachine
#include <iostream>

#include "cli.h"
#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::cli {

int RunExplain(const std::string& name, const Args& args) {
  std::string topic, format;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("topic", po::value(&topic)->required(), "statemachine")
      ("format", po::value(&format)->default_value("text"), "text | dot");
  // clang-format on
  po::positional_options_description pos;
  pos.add("topic", 1);
  int code = 0;
  auto vm = ParseArgs(name, "statemachine [--format text|dot]", desc, args, code, &pos);
  if (!vm) return code;
  if (topic != "statemachine") return UsageError(name, "unknown topic '" + topic + "'");
  if (format != "text" && format != "dot") return UsageError(name, "--format must be text or dot");
  const auto rows = statemachine::SnpPlatformMachine::Table();
  if (format == "dot") {
    std::cout << statemachine::ToDot("snp_platform", rows);
  } else {
    std::cout << "SNP platform state machine\n";
    for (const auto& r : rows)
      std::cout << "  " << r.from << " --" << r.event << "--> " << r.to << "\n";
  }
  return kExitOk;
}

}  // namespace sevemu::cli
