// The only translation unit that includes Boost.MSM for the SNP platform machine.
#include "sevemu/statemachine/snp_platform.h"

#include <algorithm>
#include <boost/mpl/for_each.hpp>
#include <boost/mpl/vector.hpp>
#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <sstream>
#include <type_traits>

#include "table_reader.h"

namespace sevemu::statemachine {
namespace {

namespace msmf = boost::msm::front;

namespace ev {
struct Init {
  static constexpr const char* kName = "SNP_INIT";
};
struct Shutdown {
  static constexpr const char* kName = "SNP_SHUTDOWN";
};
struct GuestCommand {
  static constexpr const char* kName = "guest/page command";
};
}  // namespace ev

struct Uninit : msmf::state<> {
  static constexpr const char* kName = "UNINIT";
};
struct Initialized : msmf::state<> {
  static constexpr const char* kName = "INIT";
};

struct SnpPlatformDef : msmf::state_machine_def<SnpPlatformDef> {
  using initial_state = Uninit;

  // clang-format off
  struct transition_table : boost::mpl::vector<
    //         from          event              to           action       guard
    msmf::Row< Uninit,       ev::Init,          Initialized, msmf::none,  msmf::none >,
    msmf::Row< Uninit,       ev::Shutdown,      Uninit,      msmf::none,  msmf::none >,  // no-op: already down
    msmf::Row< Initialized,  ev::Shutdown,      Uninit,      msmf::none,  msmf::none >,
    msmf::Row< Initialized,  ev::GuestCommand,  Initialized, msmf::none,  msmf::none >
  > {};
  // clang-format on

  // A command in the wrong state is refused, not an error of the machine: record and go on.
  template <class Fsm, class Event>
  void no_transition(const Event&, Fsm&, int) {
    rejected = true;
  }
  bool rejected = false;
};

using Machine = boost::msm::back::state_machine<SnpPlatformDef>;

}  // namespace

struct SnpPlatformMachine::Impl {
  Machine fsm;
};

SnpPlatformMachine::SnpPlatformMachine() : impl_(std::make_unique<Impl>()) {
  impl_->fsm.start();
}
SnpPlatformMachine::~SnpPlatformMachine() = default;
SnpPlatformMachine::SnpPlatformMachine(const SnpPlatformMachine& other)
    : impl_(std::make_unique<Impl>(*other.impl_)) {}
SnpPlatformMachine& SnpPlatformMachine::operator=(const SnpPlatformMachine& other) {
  if (this != &other) *impl_ = *other.impl_;
  return *this;
}

SnpPlatformState SnpPlatformMachine::state() const {
  return impl_->fsm.current_state()[0] == 0 ? SnpPlatformState::kUninit : SnpPlatformState::kInit;
}

bool SnpPlatformMachine::Accepts(SnpPlatformEvent e) const {
  static const std::vector<TransitionRow> rows = Table();
  return TableAccepts(rows, SnpPlatformStateName(state()), SnpPlatformEventName(e));
}

bool SnpPlatformMachine::Process(SnpPlatformEvent e) {
  impl_->fsm.rejected = false;
  switch (e) {
    case SnpPlatformEvent::kInit:
      impl_->fsm.process_event(ev::Init{});
      break;
    case SnpPlatformEvent::kShutdown:
      impl_->fsm.process_event(ev::Shutdown{});
      break;
    case SnpPlatformEvent::kGuestCommand:
      impl_->fsm.process_event(ev::GuestCommand{});
      break;
  }
  return !impl_->fsm.rejected;
}

std::vector<TransitionRow> SnpPlatformMachine::Table() {
  return ReadTable<SnpPlatformDef::transition_table>();
}

const char* SnpPlatformStateName(SnpPlatformState s) {
  return s == SnpPlatformState::kUninit ? "UNINIT" : "INIT";
}
const char* SnpPlatformEventName(SnpPlatformEvent e) {
  switch (e) {
    case SnpPlatformEvent::kInit:
      return ev::Init::kName;
    case SnpPlatformEvent::kShutdown:
      return ev::Shutdown::kName;
    case SnpPlatformEvent::kGuestCommand:
      return ev::GuestCommand::kName;
  }
  return "?";
}

std::string ToDot(const std::string& name, const std::vector<TransitionRow>& rows) {
  std::ostringstream out;
  out << "digraph " << name << " {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& r : rows) {
    out << "  \"" << r.from << "\" -> \"" << r.to << "\" [label=\"" << r.event << "\"];\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace sevemu::statemachine
