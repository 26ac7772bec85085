// The only translation unit that includes Boost.MSM for the SNP migration-agent machine.
#include "sevemu/statemachine/snp_migration.h"

#include <boost/mpl/vector.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>

#include "table_reader.h"

namespace sevemu::statemachine {
namespace {

namespace msmf = boost::msm::front;

namespace ev {
struct LaunchStart {
  static constexpr const char* kName = "SNP_LAUNCH_START";
};
struct LaunchStartMa {
  static constexpr const char* kName = "SNP_LAUNCH_START(MA_EN)";
};
struct Import {
  static constexpr const char* kName = "MSG_IMPORT_REQ";
};
struct Absorb {
  static constexpr const char* kName = "MSG_ABSORB_REQ";
};
struct Vmrk {
  static constexpr const char* kName = "MSG_VMRK_REQ";
};
struct ExportKeep {
  static constexpr const char* kName = "MSG_EXPORT_REQ(IMI_EN=1)";
};
struct ExportMove {
  static constexpr const char* kName = "MSG_EXPORT_REQ(IMI_EN=0)";
};
struct AbsorbNoma {
  static constexpr const char* kName = "MSG_ABSORB_NOMA_REQ";
};
}  // namespace ev

struct MUnbound : msmf::state<> {
  static constexpr const char* kName = "MA_UNBOUND";
};
struct MNone : msmf::state<> {
  static constexpr const char* kName = "MA_NONE";
};
struct MBound : msmf::state<> {
  static constexpr const char* kName = "MA_BOUND";
};
struct MExported : msmf::state<> {
  static constexpr const char* kName = "MA_EXPORTED";
};

struct SnpMigrationDef : msmf::state_machine_def<SnpMigrationDef> {
  using initial_state = MUnbound;

  // clang-format off
  struct transition_table : boost::mpl::vector<
    //         from       event              to          action       guard
    msmf::Row< MUnbound,  ev::LaunchStart,   MNone,      msmf::none,  msmf::none >,
    msmf::Row< MUnbound,  ev::LaunchStartMa, MBound,     msmf::none,  msmf::none >,
    msmf::Row< MUnbound,  ev::Import,        MBound,     msmf::none,  msmf::none >,
    msmf::Row< MNone,     ev::Absorb,        MBound,     msmf::none,  msmf::none >,
    msmf::Row< MBound,    ev::Absorb,        MBound,     msmf::none,  msmf::none >,
    msmf::Row< MBound,    ev::Vmrk,          MBound,     msmf::none,  msmf::none >,
    msmf::Row< MNone,     ev::ExportKeep,    MNone,      msmf::none,  msmf::none >,
    msmf::Row< MNone,     ev::ExportMove,    MExported,  msmf::none,  msmf::none >,
    msmf::Row< MBound,    ev::ExportKeep,    MBound,     msmf::none,  msmf::none >,
    msmf::Row< MBound,    ev::ExportMove,    MExported,  msmf::none,  msmf::none >,
    msmf::Row< MNone,     ev::AbsorbNoma,    MNone,      msmf::none,  msmf::none >
  > {};
  // clang-format on

  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {
    rejected = true;
  }
  bool rejected = false;
};

using Machine = boost::msm::back::state_machine<SnpMigrationDef>;

}  // namespace

struct SnpMigrationMachine::Impl {
  Machine fsm;
};

SnpMigrationMachine::SnpMigrationMachine() : impl_(std::make_unique<Impl>()) {
  impl_->fsm.start();
}
SnpMigrationMachine::~SnpMigrationMachine() = default;
SnpMigrationMachine::SnpMigrationMachine(const SnpMigrationMachine& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
SnpMigrationMachine& SnpMigrationMachine::operator=(const SnpMigrationMachine& other) {
  if (this != &other) *impl_ = *other.impl_;
  return *this;
}

SnpMigrationState SnpMigrationMachine::state() const {
  return static_cast<SnpMigrationState>(impl_->fsm.current_state()[0]);
}

bool SnpMigrationMachine::Accepts(SnpMigrationEvent e) const {
  static const std::vector<TransitionRow> rows = Table();
  return TableAccepts(rows, SnpMigrationStateName(state()), SnpMigrationEventName(e));
}

bool SnpMigrationMachine::Process(SnpMigrationEvent e) {
  impl_->fsm.rejected = false;
  switch (e) {
    case SnpMigrationEvent::kLaunchStart:
      impl_->fsm.process_event(ev::LaunchStart{});
      break;
    case SnpMigrationEvent::kLaunchStartMa:
      impl_->fsm.process_event(ev::LaunchStartMa{});
      break;
    case SnpMigrationEvent::kImport:
      impl_->fsm.process_event(ev::Import{});
      break;
    case SnpMigrationEvent::kAbsorb:
      impl_->fsm.process_event(ev::Absorb{});
      break;
    case SnpMigrationEvent::kVmrk:
      impl_->fsm.process_event(ev::Vmrk{});
      break;
    case SnpMigrationEvent::kExportKeep:
      impl_->fsm.process_event(ev::ExportKeep{});
      break;
    case SnpMigrationEvent::kExportMove:
      impl_->fsm.process_event(ev::ExportMove{});
      break;
    case SnpMigrationEvent::kAbsorbNoma:
      impl_->fsm.process_event(ev::AbsorbNoma{});
      break;
  }
  return !impl_->fsm.rejected;
}

std::vector<TransitionRow> SnpMigrationMachine::Table() {
  return ReadTable<SnpMigrationDef::transition_table>();
}

const char* SnpMigrationStateName(SnpMigrationState s) {
  switch (s) {
    case SnpMigrationState::kUnbound:
      return MUnbound::kName;
    case SnpMigrationState::kNone:
      return MNone::kName;
    case SnpMigrationState::kBound:
      return MBound::kName;
    case SnpMigrationState::kExported:
      return MExported::kName;
  }
  return "?";
}

const char* SnpMigrationEventName(SnpMigrationEvent e) {
  switch (e) {
    case SnpMigrationEvent::kLaunchStart:
      return ev::LaunchStart::kName;
    case SnpMigrationEvent::kLaunchStartMa:
      return ev::LaunchStartMa::kName;
    case SnpMigrationEvent::kImport:
      return ev::Import::kName;
    case SnpMigrationEvent::kAbsorb:
      return ev::Absorb::kName;
    case SnpMigrationEvent::kVmrk:
      return ev::Vmrk::kName;
    case SnpMigrationEvent::kExportKeep:
      return ev::ExportKeep::kName;
    case SnpMigrationEvent::kExportMove:
      return ev::ExportMove::kName;
    case SnpMigrationEvent::kAbsorbNoma:
      return ev::AbsorbNoma::kName;
  }
  return "?";
}

}  // namespace sevemu::statemachine
