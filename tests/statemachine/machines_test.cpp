// Both SNP state machines, table-driven: every event in every state, with Accepts agreeing with
// Process, and the printable table being the one that runs.
#include <doctest/doctest.h>

#include "sevemu/statemachine/snp_guest.h"
#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::statemachine {

TEST_CASE("SNP platform machine: every event in every state") {
  using E = SnpPlatformEvent;
  using S = SnpPlatformState;
  struct Row {
    S from;
    E event;
    bool accepted;
    S to;
  };
  const Row rows[] = {
      {S::kUninit, E::kInit, true, S::kInit},
      {S::kUninit, E::kShutdown, true, S::kUninit},
      {S::kUninit, E::kGuestCommand, false, S::kUninit},
      {S::kInit, E::kInit, false, S::kInit},
      {S::kInit, E::kShutdown, true, S::kUninit},
      {S::kInit, E::kGuestCommand, true, S::kInit},
  };
  for (const Row& r : rows) {
    CAPTURE(SnpPlatformStateName(r.from));
    CAPTURE(SnpPlatformEventName(r.event));
    SnpPlatformMachine m;
    if (r.from == S::kInit) REQUIRE(m.Process(E::kInit));
    CHECK(m.Accepts(r.event) == r.accepted);
    CHECK(m.state() == r.from);  // asking changes nothing
    CHECK(m.Process(r.event) == r.accepted);
    CHECK(m.state() == r.to);
  }
  const auto table = SnpPlatformMachine::Table();
  REQUIRE(table.size() == 4);
  CHECK(table[0].from == "UNINIT");
  CHECK(table[0].event == "SNP_INIT");
  CHECK(table[0].to == "INIT");
  CHECK(ToDot("snp", table).find("\"INIT\" -> \"UNINIT\" [label=\"SNP_SHUTDOWN\"]") !=
        std::string::npos);
}

TEST_CASE("SNP guest machine: every event in every state") {
  using E = SnpGuestEvent;
  using S = SnpGuestStateId;
  const E events[] = {E::kLaunchStart, E::kLaunchUpdate, E::kLaunchFinish, E::kActivate,
                      E::kGuestRequest};
  // accepted[state][event], and where an accepted event leads.
  const bool accepted[3][5] = {
      {true, false, false, false, false},  // INIT: only LAUNCH_START
      {false, true, true, true, false},    // LAUNCH: UPDATE, FINISH, ACTIVATE
      {false, false, false, true, true},   // RUNNING: ACTIVATE, GUEST_REQUEST
  };
  auto next = [](S from, E e) {
    if (from == S::kInit && e == E::kLaunchStart) return S::kLaunch;
    if (from == S::kLaunch && e == E::kLaunchFinish) return S::kRunning;
    return from;
  };
  for (S from : {S::kInit, S::kLaunch, S::kRunning}) {
    for (int i = 0; i < 5; ++i) {
      CAPTURE(SnpGuestStateName(from));
      CAPTURE(SnpGuestEventName(events[i]));
      SnpGuestMachine m;
      if (from != S::kInit) REQUIRE(m.Process(E::kLaunchStart));
      if (from == S::kRunning) REQUIRE(m.Process(E::kLaunchFinish));
      const bool want = accepted[static_cast<int>(from)][i];
      CHECK(m.Accepts(events[i]) == want);
      CHECK(m.Process(events[i]) == want);
      CHECK(m.state() == (want ? next(from, events[i]) : from));
    }
  }
  CHECK(SnpGuestMachine::Table().size() == 6);
}

}  // namespace sevemu::statemachine
