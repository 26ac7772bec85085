// The only translation unit that includes Boost.MSM for the SNP guest machine.
#include "sevemu/statemachine/snp_guest.h"

#include <algorithm>
#include <boost/mpl/vector.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <string>

#include "table_reader.h"

namespace sevemu::statemachine {
namespace {

namespace msmf = boost::msm::front;

namespace ev {
struct LaunchStart {
  static constexpr const char* kName = "SNP_LAUNCH_START";
};
struct LaunchUpdate {
  static constexpr const char* kName = "SNP_LAUNCH_UPDATE";
};
struct LaunchFinish {
  static constexpr const char* kName = "SNP_LAUNCH_FINISH";
};
struct Activate {
  static constexpr const char* kName = "SNP_ACTIVATE";
};
struct GuestRequest {
  static constexpr const char* kName = "SNP_GUEST_REQUEST";
};
struct PageSwapOut {
  static constexpr const char* kName = "SNP_PAGE_SWAP_OUT";
};
struct PageSwapIn {
  static constexpr const char* kName = "SNP_PAGE_SWAP_IN";
};
struct PageMove {
  static constexpr const char* kName = "SNP_PAGE_MOVE";
};
struct PageMdInit {
  static constexpr const char* kName = "SNP_PAGE_MD_INIT";
};
// Migration-agent messages acting on another guest's context (AMD-ASPFW sev_guest.c
// state_tbl_snp: "VM_IMPORT" INIT -> RUNNING and "VM_ABSORB" LAUNCH -> RUNNING, both under
// SNP_MCMD_ID_GUEST_REQUEST; MSG_EXPORT_REQ needs RUNNING and MSG_VMRK_REQ LAUNCH, per
// snp_mcmd_guest_request).
struct Import {
  static constexpr const char* kName = "MSG_IMPORT_REQ";
};
struct Absorb {
  static constexpr const char* kName = "MSG_ABSORB_REQ";
};
struct Vmrk {
  static constexpr const char* kName = "MSG_VMRK_REQ";
};
struct Export {
  static constexpr const char* kName = "MSG_EXPORT_REQ";
};
}  // namespace ev

struct GInit : msmf::state<> {
  static constexpr const char* kName = "GSTATE_INIT";
};
struct GLaunch : msmf::state<> {
  static constexpr const char* kName = "GSTATE_LAUNCH";
};
struct GRunning : msmf::state<> {
  static constexpr const char* kName = "GSTATE_RUNNING";
};

struct SnpGuestDef : msmf::state_machine_def<SnpGuestDef> {
  using initial_state = GInit;

  // clang-format off
  struct transition_table : boost::mpl::vector<
    //         from       event              to         action       guard
    msmf::Row< GInit,     ev::LaunchStart,   GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::LaunchUpdate,  GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::Activate,      GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::LaunchFinish,  GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::Activate,      GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::GuestRequest,  GRunning,  msmf::none,  msmf::none >,
    // Page swapping and moving: LAUNCH or RUNNING, the state unchanged (AMD-ASPFW sev_mcmd.c
    // snp_mcmd_swap_out / swap_in / page_move / md_init). Then the migration-agent messages; 18 rows of mpl's 20.
    msmf::Row< GLaunch,   ev::PageSwapOut,   GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::PageSwapIn,    GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::PageMove,      GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::PageMdInit,    GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::PageSwapOut,   GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::PageSwapIn,    GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::PageMove,      GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::PageMdInit,    GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GInit,     ev::Import,        GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::Absorb,        GRunning,  msmf::none,  msmf::none >,
    msmf::Row< GLaunch,   ev::Vmrk,          GLaunch,   msmf::none,  msmf::none >,
    msmf::Row< GRunning,  ev::Export,        GRunning,  msmf::none,  msmf::none >
  > {};
  // clang-format on

  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {
    rejected = true;
  }
  bool rejected = false;
};

using Machine = boost::msm::back::state_machine<SnpGuestDef>;

}  // namespace

struct SnpGuestMachine::Impl {
  Machine fsm;
};

SnpGuestMachine::SnpGuestMachine() : impl_(std::make_unique<Impl>()) {
  impl_->fsm.start();
}
SnpGuestMachine::~SnpGuestMachine() = default;
SnpGuestMachine::SnpGuestMachine(const SnpGuestMachine& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
SnpGuestMachine& SnpGuestMachine::operator=(const SnpGuestMachine& other) {
  if (this != &other) *impl_ = *other.impl_;
  return *this;
}

SnpGuestStateId SnpGuestMachine::state() const {
  return static_cast<SnpGuestStateId>(impl_->fsm.current_state()[0]);
}

bool SnpGuestMachine::Accepts(SnpGuestEvent e) const {
  static const std::vector<TransitionRow> rows = Table();
  return TableAccepts(rows, SnpGuestStateName(state()), SnpGuestEventName(e));
}

bool SnpGuestMachine::Process(SnpGuestEvent e) {
  impl_->fsm.rejected = false;
  switch (e) {
    case SnpGuestEvent::kLaunchStart:
      impl_->fsm.process_event(ev::LaunchStart{});
      break;
    case SnpGuestEvent::kLaunchUpdate:
      impl_->fsm.process_event(ev::LaunchUpdate{});
      break;
    case SnpGuestEvent::kLaunchFinish:
      impl_->fsm.process_event(ev::LaunchFinish{});
      break;
    case SnpGuestEvent::kActivate:
      impl_->fsm.process_event(ev::Activate{});
      break;
    case SnpGuestEvent::kGuestRequest:
      impl_->fsm.process_event(ev::GuestRequest{});
      break;
    case SnpGuestEvent::kPageSwapOut:
      impl_->fsm.process_event(ev::PageSwapOut{});
      break;
    case SnpGuestEvent::kPageSwapIn:
      impl_->fsm.process_event(ev::PageSwapIn{});
      break;
    case SnpGuestEvent::kPageMove:
      impl_->fsm.process_event(ev::PageMove{});
      break;
    case SnpGuestEvent::kPageMdInit:
      impl_->fsm.process_event(ev::PageMdInit{});
      break;
    case SnpGuestEvent::kImport:
      impl_->fsm.process_event(ev::Import{});
      break;
    case SnpGuestEvent::kAbsorb:
      impl_->fsm.process_event(ev::Absorb{});
      break;
    case SnpGuestEvent::kVmrk:
      impl_->fsm.process_event(ev::Vmrk{});
      break;
    case SnpGuestEvent::kExport:
      impl_->fsm.process_event(ev::Export{});
      break;
  }
  return !impl_->fsm.rejected;
}

std::vector<TransitionRow> SnpGuestMachine::Table() {
  return ReadTable<SnpGuestDef::transition_table>();
}

const char* SnpGuestStateName(SnpGuestStateId s) {
  switch (s) {
    case SnpGuestStateId::kInit:
      return GInit::kName;
    case SnpGuestStateId::kLaunch:
      return GLaunch::kName;
    case SnpGuestStateId::kRunning:
      return GRunning::kName;
  }
  return "?";
}

const char* SnpGuestEventName(SnpGuestEvent e) {
  switch (e) {
    case SnpGuestEvent::kLaunchStart:
      return ev::LaunchStart::kName;
    case SnpGuestEvent::kLaunchUpdate:
      return ev::LaunchUpdate::kName;
    case SnpGuestEvent::kLaunchFinish:
      return ev::LaunchFinish::kName;
    case SnpGuestEvent::kActivate:
      return ev::Activate::kName;
    case SnpGuestEvent::kGuestRequest:
      return ev::GuestRequest::kName;
    case SnpGuestEvent::kPageSwapOut:
      return ev::PageSwapOut::kName;
    case SnpGuestEvent::kPageSwapIn:
      return ev::PageSwapIn::kName;
    case SnpGuestEvent::kPageMove:
      return ev::PageMove::kName;
    case SnpGuestEvent::kPageMdInit:
      return ev::PageMdInit::kName;
    case SnpGuestEvent::kImport:
      return ev::Import::kName;
    case SnpGuestEvent::kAbsorb:
      return ev::Absorb::kName;
    case SnpGuestEvent::kVmrk:
      return ev::Vmrk::kName;
    case SnpGuestEvent::kExport:
      return ev::Export::kName;
  }
  return "?";
}

}  // namespace sevemu::statemachine
