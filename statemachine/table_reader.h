// Private to statemachine/: reads an MSM transition table into printable rows, so diagrams and
// Accepts() queries come from the table the machine runs. Include only from machine .cpp files.
#pragma once

#include <boost/mpl/for_each.hpp>
#include <type_traits>
#include <vector>

#include "sevemu/statemachine/snp_platform.h"

namespace sevemu::statemachine {

template <class Table>
std::vector<TransitionRow> ReadTable() {
  std::vector<TransitionRow> rows;
  // Rows are visited as null pointers so that no Row object is ever constructed.
  boost::mpl::for_each<Table, std::add_pointer<boost::mpl::_1>>([&rows](auto* row) {
    using Row = std::remove_pointer_t<decltype(row)>;
    rows.push_back({Row::Source::kName, Row::Evt::kName, Row::Target::kName});
  });
  return rows;
}

// True iff `rows` has a row leaving state `from` on `event`.
inline bool TableAccepts(const std::vector<TransitionRow>& rows, const char* from,
                         const char* event) {
  for (const auto& r : rows) {
    if (r.from == from && r.event == event) return true;
  }
  return false;
}

}  // namespace sevemu::statemachine
