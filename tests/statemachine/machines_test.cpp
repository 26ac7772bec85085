// Both SNP state machines, table-driven: every event in every state, with Accepts agreeing with
// Process, and the printable table being the one that runs.
#include <doctest/doctest.h>

#include <optional>

#include "sevemu/statemachine/sev_guest.h"
#include "sevemu/statemachine/sev_platform.h"
#include "sevemu/statemachine/snp_guest.h"
#include "sevemu/statemachine/snp_migration.h"
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
  const E events[] = {E::kLaunchStart,  E::kLaunchUpdate, E::kLaunchFinish, E::kActivate,
                      E::kGuestRequest, E::kPageSwapOut,  E::kPageSwapIn,   E::kPageMove,
                      E::kPageMdInit,   E::kImport,       E::kAbsorb,       E::kVmrk,
                      E::kExport};
  constexpr int kEvents = 13;
  // accepted[state][event], and where an accepted event leads (AMD-ASPFW sev_guest.c
  // state_tbl_snp and the state checks of the page commands and of snp_mcmd_guest_request).
  const bool accepted[3][kEvents] = {
      // START UPDATE FINISH ACTIV GREQ | SWAPOUT SWAPIN MOVE MDINIT | IMPORT ABSORB VMRK EXPORT
      {true, false, false, false, false, false, false, false, false, true, false, false, false},
      {false, true, true, true, false, true, true, true, true, false, true, true, false},
      {false, false, false, true, true, true, true, true, true, false, false, false, true},
  };
  auto next = [](S from, E e) {
    if (from == S::kInit && e == E::kLaunchStart) return S::kLaunch;
    if (from == S::kInit && e == E::kImport) return S::kRunning;
    if (from == S::kLaunch && e == E::kLaunchFinish) return S::kRunning;
    if (from == S::kLaunch && e == E::kAbsorb) return S::kRunning;
    return from;
  };
  for (S from : {S::kInit, S::kLaunch, S::kRunning}) {
    for (int i = 0; i < kEvents; ++i) {
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
  CHECK(SnpGuestMachine::Table().size() == 18);
}

TEST_CASE("SNP migration-agent machine: every event in every state") {
  using E = SnpMigrationEvent;
  using S = SnpMigrationState;
  const E events[] = {E::kLaunchStart, E::kLaunchStartMa, E::kImport,     E::kAbsorb,
                      E::kVmrk,        E::kExportKeep,    E::kExportMove, E::kAbsorbNoma};
  // The expected next state, or nothing if refused (GCTX.MA as AMD-ASPFW snp_mcmd_launch_start
  // and snp_mcmd_guest_request set and check it).
  auto expect = [](S from, E e) -> std::optional<S> {
    switch (from) {
      case S::kUnbound:
        if (e == E::kLaunchStart) return S::kNone;
        if (e == E::kLaunchStartMa || e == E::kImport) return S::kBound;
        return std::nullopt;
      case S::kNone:
        if (e == E::kAbsorb) return S::kBound;
        if (e == E::kExportKeep || e == E::kAbsorbNoma) return S::kNone;
        if (e == E::kExportMove) return S::kExported;
        return std::nullopt;
      case S::kBound:
        if (e == E::kAbsorb || e == E::kVmrk || e == E::kExportKeep) return S::kBound;
        if (e == E::kExportMove) return S::kExported;
        return std::nullopt;
      case S::kExported:
        return std::nullopt;
    }
    return std::nullopt;
  };
  auto reach = [](SnpMigrationMachine& m, S s) {
    if (s == S::kNone) REQUIRE(m.Process(E::kLaunchStart));
    if (s == S::kBound) REQUIRE(m.Process(E::kImport));
    if (s == S::kExported) {
      REQUIRE(m.Process(E::kLaunchStartMa));
      REQUIRE(m.Process(E::kExportMove));
    }
    REQUIRE(m.state() == s);
  };
  std::size_t accepted = 0;
  for (S from : {S::kUnbound, S::kNone, S::kBound, S::kExported}) {
    for (E e : events) {
      CAPTURE(SnpMigrationStateName(from));
      CAPTURE(SnpMigrationEventName(e));
      SnpMigrationMachine m;
      reach(m, from);
      const auto to = expect(from, e);
      CHECK(m.Accepts(e) == to.has_value());
      CHECK(m.state() == from);
      CHECK(m.Process(e) == to.has_value());
      CHECK(m.state() == to.value_or(from));
      accepted += to.has_value();
    }
  }
  CHECK(SnpMigrationMachine::Table().size() == accepted);
  CHECK(ToDot("snp_migration", SnpMigrationMachine::Table())
            .find("\"MA_BOUND\" -> \"MA_EXPORTED\" [label=\"MSG_EXPORT_REQ(IMI_EN=0)\"]") !=
        std::string::npos);
}

TEST_CASE("legacy SEV platform machine: every event in every state") {
  using E = SevPlatformEvent;
  using S = SevPlatformState;
  const E events[] = {
      E::kInit,          E::kShutdown,        E::kPlatformReset, E::kDownloadFirmware, E::kPekGen,
      E::kPekCertImport, E::kIdentityCommand, E::kGuestLaunched, E::kLastGuestGone};
  // The expected next state, or nothing if the event is refused (AMD-ASPFW state_tbl_sev and
  // the per-command rules of sev_mcmd.c).
  struct Expect {
    S from;
    E event;
    bool accepted;
    S to;
  };
  const Expect expect[] = {
      {S::kUninit, E::kInit, true, S::kInit},
      {S::kUninit, E::kShutdown, true, S::kUninit},
      {S::kUninit, E::kPlatformReset, true, S::kUninit},
      {S::kUninit, E::kDownloadFirmware, true, S::kUninit},
      {S::kInit, E::kShutdown, true, S::kUninit},
      {S::kInit, E::kPekGen, true, S::kInit},
      {S::kInit, E::kPekCertImport, true, S::kInit},
      {S::kInit, E::kIdentityCommand, true, S::kInit},
      {S::kInit, E::kGuestLaunched, true, S::kWorking},
      {S::kWorking, E::kShutdown, true, S::kUninit},
      {S::kWorking, E::kIdentityCommand, true, S::kWorking},
      {S::kWorking, E::kGuestLaunched, true, S::kWorking},
      {S::kWorking, E::kLastGuestGone, true, S::kInit},
  };
  auto reach = [](SevPlatformMachine& m, S s) {
    if (s != S::kUninit) REQUIRE(m.Process(E::kInit));
    if (s == S::kWorking) REQUIRE(m.Process(E::kGuestLaunched));
    REQUIRE(m.state() == s);
  };
  std::size_t accepted = 0;
  for (S from : {S::kUninit, S::kInit, S::kWorking}) {
    for (E e : events) {
      CAPTURE(SevPlatformStateName(from));
      CAPTURE(SevPlatformEventName(e));
      bool want = false;
      S to = from;
      for (const Expect& x : expect) {
        if (x.from == from && x.event == e) {
          want = x.accepted;
          to = x.to;
        }
      }
      SevPlatformMachine m;
      reach(m, from);
      CHECK(m.Accepts(e) == want);
      CHECK(m.state() == from);
      CHECK(m.Process(e) == want);
      CHECK(m.state() == to);
      accepted += want;
    }
  }
  CHECK(accepted == std::size(expect));
  const auto table = SevPlatformMachine::Table();
  CHECK(table.size() == std::size(expect));
  CHECK(table[0].from == "UNINIT");
  CHECK(table[0].event == "INIT");
  CHECK(table[0].to == "INIT");
  CHECK(ToDot("sev_platform", table).find("\"WORKING\" -> \"INIT\"") != std::string::npos);
}

TEST_CASE("legacy SEV guest machine: every event in every state") {
  using E = SevGuestEvent;
  using S = SevGuestState;
  const E events[] = {E::kLaunchStart,   E::kLaunchUpdate, E::kLaunchMeasure, E::kLaunchSecret,
                      E::kLaunchFinish,  E::kAttestation,  E::kActivate,      E::kDecommission,
                      E::kSendStart,     E::kSendFinish,   E::kSendCancel,    E::kReceiveStart,
                      E::kReceiveFinish, E::kSendUpdate,   E::kReceiveUpdate};
  // AMD-ASPFW sev_guest.c state_tbl_sev and the guest-state rules of sev_mcmd.c.
  struct Expect {
    S from;
    E event;
    S to;
  };
  const Expect expect[] = {
      {S::kUninit, E::kLaunchStart, S::kLupdate},    {S::kUninit, E::kReceiveStart, S::kRupdate},
      {S::kLupdate, E::kLaunchUpdate, S::kLupdate},  {S::kLupdate, E::kLaunchMeasure, S::kLsecret},
      {S::kLsecret, E::kLaunchSecret, S::kLsecret},  {S::kLsecret, E::kLaunchFinish, S::kRunning},
      {S::kRunning, E::kSendStart, S::kSupdate},     {S::kSupdate, E::kSendFinish, S::kSent},
      {S::kSupdate, E::kSendCancel, S::kRunning},    {S::kRupdate, E::kReceiveFinish, S::kRunning},
      {S::kLsecret, E::kAttestation, S::kLsecret},   {S::kRunning, E::kAttestation, S::kRunning},
      {S::kSupdate, E::kAttestation, S::kSupdate},   {S::kSent, E::kAttestation, S::kSent},
      {S::kLupdate, E::kActivate, S::kLupdate},      {S::kLsecret, E::kActivate, S::kLsecret},
      {S::kRunning, E::kActivate, S::kRunning},      {S::kSupdate, E::kActivate, S::kSupdate},
      {S::kRupdate, E::kActivate, S::kRupdate},      {S::kLupdate, E::kDecommission, S::kUninit},
      {S::kLsecret, E::kDecommission, S::kUninit},   {S::kRunning, E::kDecommission, S::kUninit},
      {S::kSupdate, E::kDecommission, S::kUninit},   {S::kRupdate, E::kDecommission, S::kUninit},
      {S::kSent, E::kDecommission, S::kUninit},      {S::kSupdate, E::kSendUpdate, S::kSupdate},
      {S::kRupdate, E::kReceiveUpdate, S::kRupdate},
  };
  // How to reach each state from UNINIT.
  auto reach = [](SevGuestMachine& m, S s) {
    switch (s) {
      case S::kUninit:
        break;
      case S::kLupdate:
        REQUIRE(m.Process(E::kLaunchStart));
        break;
      case S::kLsecret:
        REQUIRE(m.Process(E::kLaunchStart));
        REQUIRE(m.Process(E::kLaunchMeasure));
        break;
      case S::kRunning:
        REQUIRE(m.Process(E::kReceiveStart));
        REQUIRE(m.Process(E::kReceiveFinish));
        break;
      case S::kSupdate:
      case S::kSent:
        REQUIRE(m.Process(E::kReceiveStart));
        REQUIRE(m.Process(E::kReceiveFinish));
        REQUIRE(m.Process(E::kSendStart));
        if (s == S::kSent) REQUIRE(m.Process(E::kSendFinish));
        break;
      case S::kRupdate:
        REQUIRE(m.Process(E::kReceiveStart));
        break;
    }
    REQUIRE(m.state() == s);
  };
  std::size_t accepted = 0;
  for (int v = 0; v <= 6; ++v) {
    const S from = static_cast<S>(v);
    for (E e : events) {
      CAPTURE(SevGuestStateName(from));
      CAPTURE(SevGuestEventName(e));
      bool want = false;
      S to = from;
      for (const Expect& x : expect) {
        if (x.from == from && x.event == e) {
          want = true;
          to = x.to;
        }
      }
      SevGuestMachine m;
      reach(m, from);
      CHECK(m.Accepts(e) == want);
      CHECK(m.state() == from);
      CHECK(m.Process(e) == want);
      CHECK(m.state() == to);
      accepted += want;
    }
  }
  CHECK(accepted == std::size(expect));
  const auto table = SevGuestMachine::Table();
  CHECK(table.size() == std::size(expect));
  CHECK(table[0].from == "UNINIT");
  CHECK(table[0].event == "LAUNCH_START");
  CHECK(table[0].to == "LUPDATE");
  CHECK(ToDot("sev_guest", table).find("\"LSECRET\" -> \"RUNNING\"") != std::string::npos);
}

}  // namespace sevemu::statemachine
