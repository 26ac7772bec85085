// The RMP page states (rmp/rmp_entry.h) and every transition between them that the CPU's RMP
// instructions (rmp/rmp_instructions.h) and the SNP firmware commands (emulator/snp/) make, as
// one table: `sevemu explain rmp` prints it and docs/diagrams/rmp_page_states.dot is that
// print. tests/emulator/page_states_test.cpp performs every row on a live firmware and fails
// if a row is not what the code does, or the code makes a transition the table lacks.
#pragma once

#include <vector>

#include "sevemu/rmp/rmp_entry.h"
#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::emulator {

struct PageTransition {
  rmp::PageState from;
  rmp::PageState to;
  const char* by;  // "RMPUPDATE ...", "PVALIDATE ...", or an SNP command name and its role
};

const std::vector<PageTransition>& PageTransitions();

// The table as state-machine rows (PageStateName for the states), for statemachine::ToDot.
std::vector<statemachine::TransitionRow> PageTransitionRows();

}  // namespace sevemu::emulator
