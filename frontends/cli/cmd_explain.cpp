// sevemu explain statemachine
#include <iostream>
#include <vector>

#include "cli.h"
#include "sevemu/statemachine/sev_guest.h"
#include "sevemu/statemachine/sev_platform.h"
#include "sevemu/statemachine/snp_guest.h"
#include "sevemu/statemachine/snp_migration.h"
#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::cli {

int RunExplain(const std::string& name, const Args& args) {
  std::string topic, format, machine;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("topic", po::value(&topic)->required(), "statemachine")
      ("format", po::value(&format)->default_value("text"), "text | dot")
      ("machine", po::value(&machine)->default_value("all"), "all | snp_platform | snp_guest | snp_migration | sev_platform | sev_guest");
  // clang-format on
  po::positional_options_description pos;
  pos.add("topic", 1);
  int code = 0;
  auto vm =
      ParseArgs(name, "statemachine [--machine NAME] [--format text|dot]", desc, args, code, &pos);
  if (!vm) return code;
  if (topic != "statemachine") return UsageError(name, "unknown topic '" + topic + "'");
  if (format != "text" && format != "dot") return UsageError(name, "--format must be text or dot");
  struct Machine {
    const char* name;
    const char* title;
    std::vector<statemachine::TransitionRow> rows;
  };
  const Machine machines[] = {
      {"snp_platform", "SNP platform state machine", statemachine::SnpPlatformMachine::Table()},
      {"snp_guest", "SNP guest state machine", statemachine::SnpGuestMachine::Table()},
      {"snp_migration", "SNP migration-agent state machine (a context's binding to its agent)",
       statemachine::SnpMigrationMachine::Table()},
      {"sev_platform", "legacy SEV platform state machine",
       statemachine::SevPlatformMachine::Table()},
      {"sev_guest", "legacy SEV guest state machine", statemachine::SevGuestMachine::Table()},
  };
  bool found = false;
  for (const Machine& m : machines) {
    if (machine != "all" && machine != m.name) continue;
    found = true;
    if (format == "dot") {
      std::cout << statemachine::ToDot(m.name, m.rows);
    } else {
      std::cout << m.title << "\n";
      for (const auto& r : m.rows) {
        std::cout << "  " << r.from << " --" << r.event << "--> " << r.to << "\n";
      }
    }
  }
  if (!found)
    return UsageError(
        name,
        "--machine must be all, snp_platform, snp_guest, snp_migration, sev_platform or "
        "sev_guest");
  return kExitOk;
}

}  // namespace sevemu::cli
