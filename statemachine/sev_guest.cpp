// The only translation unit that includes Boost.MSM for the legacy SEV guest machine.
// Rows: AMD-ASPFW sev_guest.c state_tbl_sev (DECOMMISSION, LAUNCH_START, LAUNCH_MEASURE,
// LAUNCH_FINISH, SEND_START/FINISH/CANCEL, RECEIVE_START/FINISH) plus the per-command guest-state
// rules of sev_mcmd.c: LAUNCH_UPDATE_DATA/VMSA need LUPDATE (launch_update_common),
// LAUNCH_SECRET needs LSECRET, SEND_UPDATE_* SUPDATE and RECEIVE_UPDATE_* RUPDATE
// (sev_mcmd_send_update, sev_mcmd_receive_update), ATTESTATION LSECRET/RUNNING/SUPDATE/SENT
// (sev_mcmd_attestation), ACTIVATE anything but SENT (activate_common).
#include "sevemu/statemachine/sev_guest.h"

#include <boost/mpl/vector/vector30.hpp>  // 27 rows: past mpl::vector's 20
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>

#include "table_reader.h"

namespace sevemu::statemachine {
namespace {

namespace msmf = boost::msm::front;

namespace ev {
struct LaunchStart {
  static constexpr const char* kName = "LAUNCH_START";
};
struct LaunchUpdate {
  static constexpr const char* kName = "LAUNCH_UPDATE_DATA/VMSA";
};
struct LaunchMeasure {
  static constexpr const char* kName = "LAUNCH_MEASURE";
};
struct LaunchSecret {
  static constexpr const char* kName = "LAUNCH_SECRET";
};
struct LaunchFinish {
  static constexpr const char* kName = "LAUNCH_FINISH";
};
struct Attestation {
  static constexpr const char* kName = "ATTESTATION";
};
struct Activate {
  static constexpr const char* kName = "ACTIVATE";
};
struct Decommission {
  static constexpr const char* kName = "DECOMMISSION";
};
struct SendStart {
  static constexpr const char* kName = "SEND_START";
};
struct SendFinish {
  static constexpr const char* kName = "SEND_FINISH";
};
struct SendCancel {
  static constexpr const char* kName = "SEND_CANCEL";
};
struct ReceiveStart {
  static constexpr const char* kName = "RECEIVE_START";
};
struct ReceiveFinish {
  static constexpr const char* kName = "RECEIVE_FINISH";
};
struct SendUpdate {
  static constexpr const char* kName = "SEND_UPDATE_DATA/VMSA";
};
struct ReceiveUpdate {
  static constexpr const char* kName = "RECEIVE_UPDATE_DATA/VMSA";
};
}  // namespace ev

struct Uninit : msmf::state<> {
  static constexpr const char* kName = "UNINIT";
};
struct Lupdate : msmf::state<> {
  static constexpr const char* kName = "LUPDATE";
};
struct Lsecret : msmf::state<> {
  static constexpr const char* kName = "LSECRET";
};
struct Running : msmf::state<> {
  static constexpr const char* kName = "RUNNING";
};
struct Supdate : msmf::state<> {
  static constexpr const char* kName = "SUPDATE";
};
struct Rupdate : msmf::state<> {
  static constexpr const char* kName = "RUPDATE";
};
struct Sent : msmf::state<> {
  static constexpr const char* kName = "SENT";
};

struct SevGuestDef : msmf::state_machine_def<SevGuestDef> {
  using initial_state = Uninit;

  // The first seven rows introduce the states in the order of their ABI values (MSM numbers
  // states by first appearance), so state() is the MSM id.
  // clang-format off
  struct transition_table : boost::mpl::vector27<
    //         from      event              to        action       guard
    msmf::Row< Uninit,   ev::LaunchStart,   Lupdate,  msmf::none,  msmf::none >,
    msmf::Row< Lupdate,  ev::LaunchMeasure, Lsecret,  msmf::none,  msmf::none >,
    msmf::Row< Lsecret,  ev::LaunchFinish,  Running,  msmf::none,  msmf::none >,
    msmf::Row< Running,  ev::SendStart,     Supdate,  msmf::none,  msmf::none >,
    msmf::Row< Uninit,   ev::ReceiveStart,  Rupdate,  msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::SendFinish,    Sent,     msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::SendCancel,    Running,  msmf::none,  msmf::none >,
    msmf::Row< Rupdate,  ev::ReceiveFinish, Running,  msmf::none,  msmf::none >,
    msmf::Row< Lupdate,  ev::LaunchUpdate,  Lupdate,  msmf::none,  msmf::none >,
    msmf::Row< Lsecret,  ev::LaunchSecret,  Lsecret,  msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::SendUpdate,    Supdate,  msmf::none,  msmf::none >,
    msmf::Row< Rupdate,  ev::ReceiveUpdate, Rupdate,  msmf::none,  msmf::none >,
    msmf::Row< Lsecret,  ev::Attestation,   Lsecret,  msmf::none,  msmf::none >,
    msmf::Row< Running,  ev::Attestation,   Running,  msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::Attestation,   Supdate,  msmf::none,  msmf::none >,
    msmf::Row< Sent,     ev::Attestation,   Sent,     msmf::none,  msmf::none >,
    msmf::Row< Lupdate,  ev::Activate,      Lupdate,  msmf::none,  msmf::none >,
    msmf::Row< Lsecret,  ev::Activate,      Lsecret,  msmf::none,  msmf::none >,
    msmf::Row< Running,  ev::Activate,      Running,  msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::Activate,      Supdate,  msmf::none,  msmf::none >,
    msmf::Row< Rupdate,  ev::Activate,      Rupdate,  msmf::none,  msmf::none >,
    msmf::Row< Lupdate,  ev::Decommission,  Uninit,   msmf::none,  msmf::none >,
    msmf::Row< Lsecret,  ev::Decommission,  Uninit,   msmf::none,  msmf::none >,
    msmf::Row< Running,  ev::Decommission,  Uninit,   msmf::none,  msmf::none >,
    msmf::Row< Supdate,  ev::Decommission,  Uninit,   msmf::none,  msmf::none >,
    msmf::Row< Rupdate,  ev::Decommission,  Uninit,   msmf::none,  msmf::none >,
    msmf::Row< Sent,     ev::Decommission,  Uninit,   msmf::none,  msmf::none >
  > {};
  // clang-format on

  // A command in the wrong state is refused, not an error of the machine: record and go on.
  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {
    rejected = true;
  }
  bool rejected = false;
};

using Machine = boost::msm::back::state_machine<SevGuestDef>;

template <class Event>
bool Fire(Machine& fsm) {
  fsm.rejected = false;
  fsm.process_event(Event{});
  return !fsm.rejected;
}

}  // namespace

struct SevGuestMachine::Impl {
  Machine fsm;
};

SevGuestMachine::SevGuestMachine() : impl_(std::make_unique<Impl>()) {
  impl_->fsm.start();
}
SevGuestMachine::~SevGuestMachine() = default;
SevGuestMachine::SevGuestMachine(const SevGuestMachine& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
SevGuestMachine& SevGuestMachine::operator=(const SevGuestMachine& other) {
  if (this != &other) *impl_ = *other.impl_;
  return *this;
}

SevGuestState SevGuestMachine::state() const {
  return static_cast<SevGuestState>(impl_->fsm.current_state()[0]);
}

bool SevGuestMachine::Accepts(SevGuestEvent e) const {
  static const std::vector<TransitionRow> rows = Table();
  return TableAccepts(rows, SevGuestStateName(state()), SevGuestEventName(e));
}

bool SevGuestMachine::Process(SevGuestEvent e) {
  Machine& m = impl_->fsm;
  switch (e) {
    case SevGuestEvent::kLaunchStart:
      return Fire<ev::LaunchStart>(m);
    case SevGuestEvent::kLaunchUpdate:
      return Fire<ev::LaunchUpdate>(m);
    case SevGuestEvent::kLaunchMeasure:
      return Fire<ev::LaunchMeasure>(m);
    case SevGuestEvent::kLaunchSecret:
      return Fire<ev::LaunchSecret>(m);
    case SevGuestEvent::kLaunchFinish:
      return Fire<ev::LaunchFinish>(m);
    case SevGuestEvent::kAttestation:
      return Fire<ev::Attestation>(m);
    case SevGuestEvent::kActivate:
      return Fire<ev::Activate>(m);
    case SevGuestEvent::kDecommission:
      return Fire<ev::Decommission>(m);
    case SevGuestEvent::kSendStart:
      return Fire<ev::SendStart>(m);
    case SevGuestEvent::kSendFinish:
      return Fire<ev::SendFinish>(m);
    case SevGuestEvent::kSendCancel:
      return Fire<ev::SendCancel>(m);
    case SevGuestEvent::kReceiveStart:
      return Fire<ev::ReceiveStart>(m);
    case SevGuestEvent::kReceiveFinish:
      return Fire<ev::ReceiveFinish>(m);
    case SevGuestEvent::kSendUpdate:
      return Fire<ev::SendUpdate>(m);
    case SevGuestEvent::kReceiveUpdate:
      return Fire<ev::ReceiveUpdate>(m);
  }
  return false;
}

std::vector<TransitionRow> SevGuestMachine::Table() {
  return ReadTable<SevGuestDef::transition_table>();
}

const char* SevGuestStateName(SevGuestState s) {
  switch (s) {
    case SevGuestState::kUninit:
      return Uninit::kName;
    case SevGuestState::kLupdate:
      return Lupdate::kName;
    case SevGuestState::kLsecret:
      return Lsecret::kName;
    case SevGuestState::kRunning:
      return Running::kName;
    case SevGuestState::kSupdate:
      return Supdate::kName;
    case SevGuestState::kRupdate:
      return Rupdate::kName;
    case SevGuestState::kSent:
      return Sent::kName;
  }
  return "?";
}

const char* SevGuestEventName(SevGuestEvent e) {
  switch (e) {
    case SevGuestEvent::kLaunchStart:
      return ev::LaunchStart::kName;
    case SevGuestEvent::kLaunchUpdate:
      return ev::LaunchUpdate::kName;
    case SevGuestEvent::kLaunchMeasure:
      return ev::LaunchMeasure::kName;
    case SevGuestEvent::kLaunchSecret:
      return ev::LaunchSecret::kName;
    case SevGuestEvent::kLaunchFinish:
      return ev::LaunchFinish::kName;
    case SevGuestEvent::kAttestation:
      return ev::Attestation::kName;
    case SevGuestEvent::kActivate:
      return ev::Activate::kName;
    case SevGuestEvent::kDecommission:
      return ev::Decommission::kName;
    case SevGuestEvent::kSendStart:
      return ev::SendStart::kName;
    case SevGuestEvent::kSendFinish:
      return ev::SendFinish::kName;
    case SevGuestEvent::kSendCancel:
      return ev::SendCancel::kName;
    case SevGuestEvent::kReceiveStart:
      return ev::ReceiveStart::kName;
    case SevGuestEvent::kReceiveFinish:
      return ev::ReceiveFinish::kName;
    case SevGuestEvent::kSendUpdate:
      return ev::SendUpdate::kName;
    case SevGuestEvent::kReceiveUpdate:
      return ev::ReceiveUpdate::kName;
  }
  return "?";
}

}  // namespace sevemu::statemachine
