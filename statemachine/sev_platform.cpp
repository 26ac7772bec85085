// The only translation unit that includes Boost.MSM for the legacy SEV platform machine.
// Rows: AMD-ASPFW sev_plat.c state_tbl_sev (INIT, SHUTDOWN, PLATFORM_RESET, DECOMMISSION,
// LAUNCH_START, RECEIVE_START) plus the per-command state rules of sev_mcmd.c (PEK_GEN and
// PEK_CERT_IMPORT need INIT; PEK_CSR, PDH_GEN, PDH_CERT_EXPORT need INIT or WORKING;
// DOWNLOAD_FIRMWARE needs UNINIT).
#include "sevemu/statemachine/sev_platform.h"

#include <boost/mpl/vector.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>

#include "table_reader.h"

namespace sevemu::statemachine {
namespace {

namespace msmf = boost::msm::front;

namespace ev {
struct Init {
  static constexpr const char* kName = "INIT";
};
struct Shutdown {
  static constexpr const char* kName = "SHUTDOWN";
};
struct PlatformReset {
  static constexpr const char* kName = "PLATFORM_RESET";
};
struct DownloadFirmware {
  static constexpr const char* kName = "DOWNLOAD_FIRMWARE";
};
struct PekGen {
  static constexpr const char* kName = "PEK_GEN";
};
struct PekCertImport {
  static constexpr const char* kName = "PEK_CERT_IMPORT";
};
struct IdentityCommand {
  static constexpr const char* kName = "PEK_CSR/PDH_GEN/PDH_CERT_EXPORT";
};
struct GuestLaunched {
  static constexpr const char* kName = "LAUNCH_START/RECEIVE_START";
};
struct LastGuestGone {
  static constexpr const char* kName = "DECOMMISSION (last guest)";
};
}  // namespace ev

struct Uninit : msmf::state<> {
  static constexpr const char* kName = "UNINIT";
};
struct Initialized : msmf::state<> {
  static constexpr const char* kName = "INIT";
};
struct Working : msmf::state<> {
  static constexpr const char* kName = "WORKING";
};

struct SevPlatformDef : msmf::state_machine_def<SevPlatformDef> {
  using initial_state = Uninit;

  // clang-format off
  struct transition_table : boost::mpl::vector<
    //         from          event                  to           action       guard
    msmf::Row< Uninit,       ev::Init,              Initialized, msmf::none,  msmf::none >,
    msmf::Row< Uninit,       ev::Shutdown,          Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::Shutdown,          Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Working,      ev::Shutdown,          Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Uninit,       ev::PlatformReset,     Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Uninit,       ev::DownloadFirmware,  Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::PekGen,            Initialized, msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::PekCertImport,     Initialized, msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::IdentityCommand,   Initialized, msmf::none,  msmf::none >,
    msmf::Row< Working,      ev::IdentityCommand,   Working,     msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::GuestLaunched,     Working,     msmf::none,  msmf::none >,
    msmf::Row< Working,      ev::GuestLaunched,     Working,     msmf::none,  msmf::none >,
    msmf::Row< Working,      ev::LastGuestGone,     Initialized, msmf::none,  msmf::none >
  > {};
  // clang-format on

  // A command in the wrong state is refused, not an error of the machine: record and go on.
  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {
    rejected = true;
  }
  bool rejected = false;
};

using Machine = boost::msm::back::state_machine<SevPlatformDef>;

}  // namespace

struct SevPlatformMachine::Impl {
  Machine fsm;
};

SevPlatformMachine::SevPlatformMachine() : impl_(std::make_unique<Impl>()) {
  impl_->fsm.start();
}
SevPlatformMachine::~SevPlatformMachine() = default;
SevPlatformMachine::SevPlatformMachine(const SevPlatformMachine& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
SevPlatformMachine& SevPlatformMachine::operator=(const SevPlatformMachine& other) {
  if (this != &other) *impl_ = *other.impl_;
  return *this;
}

SevPlatformState SevPlatformMachine::state() const {
  // MSM numbers states in order of first appearance in the table: Uninit, Initialized, Working.
  switch (impl_->fsm.current_state()[0]) {
    case 0:
      return SevPlatformState::kUninit;
    case 1:
      return SevPlatformState::kInit;
    default:
      return SevPlatformState::kWorking;
  }
}

bool SevPlatformMachine::Accepts(SevPlatformEvent e) const {
  static const std::vector<TransitionRow> rows = Table();
  return TableAccepts(rows, SevPlatformStateName(state()), SevPlatformEventName(e));
}

bool SevPlatformMachine::Process(SevPlatformEvent e) {
  impl_->fsm.rejected = false;
  switch (e) {
    case SevPlatformEvent::kInit:
      impl_->fsm.process_event(ev::Init{});
      break;
    case SevPlatformEvent::kShutdown:
      impl_->fsm.process_event(ev::Shutdown{});
      break;
    case SevPlatformEvent::kPlatformReset:
      impl_->fsm.process_event(ev::PlatformReset{});
      break;
    case SevPlatformEvent::kDownloadFirmware:
      impl_->fsm.process_event(ev::DownloadFirmware{});
      break;
    case SevPlatformEvent::kPekGen:
      impl_->fsm.process_event(ev::PekGen{});
      break;
    case SevPlatformEvent::kPekCertImport:
      impl_->fsm.process_event(ev::PekCertImport{});
      break;
    case SevPlatformEvent::kIdentityCommand:
      impl_->fsm.process_event(ev::IdentityCommand{});
      break;
    case SevPlatformEvent::kGuestLaunched:
      impl_->fsm.process_event(ev::GuestLaunched{});
      break;
    case SevPlatformEvent::kLastGuestGone:
      impl_->fsm.process_event(ev::LastGuestGone{});
      break;
  }
  return !impl_->fsm.rejected;
}

std::vector<TransitionRow> SevPlatformMachine::Table() {
  return ReadTable<SevPlatformDef::transition_table>();
}

const char* SevPlatformStateName(SevPlatformState s) {
  switch (s) {
    case SevPlatformState::kUninit:
      return Uninit::kName;
    case SevPlatformState::kInit:
      return Initialized::kName;
    case SevPlatformState::kWorking:
      return Working::kName;
  }
  return "?";
}

const char* SevPlatformEventName(SevPlatformEvent e) {
  switch (e) {
    case SevPlatformEvent::kInit:
      return ev::Init::kName;
    case SevPlatformEvent::kShutdown:
      return ev::Shutdown::kName;
    case SevPlatformEvent::kPlatformReset:
      return ev::PlatformReset::kName;
    case SevPlatformEvent::kDownloadFirmware:
      return ev::DownloadFirmware::kName;
    case SevPlatformEvent::kPekGen:
      return ev::PekGen::kName;
    case SevPlatformEvent::kPekCertImport:
      return ev::PekCertImport::kName;
    case SevPlatformEvent::kIdentityCommand:
      return ev::IdentityCommand::kName;
    case SevPlatformEvent::kGuestLaunched:
      return ev::GuestLaunched::kName;
    case SevPlatformEvent::kLastGuestGone:
      return ev::LastGuestGone::kName;
  }
  return "?";
}

}  // namespace sevemu::statemachine
