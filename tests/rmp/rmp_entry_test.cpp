#include "sevemu/rmp/rmp_entry.h"

#include <doctest/doctest.h>

#include <string>

namespace sevemu {

TEST_CASE("RMP entry encoding and page states") {
  using rmp::PageState;
  rmp::RmpEntry e;
  CHECK(e.State() == PageState::kHypervisor);
  e.set_assigned(true);
  e.set_asid(0x3FF);
  e.set_gpa(0x7FFFFFFFFF000ull);
  e.set_validated(true);
  e.set_vmpl_perms(1, rmp::kPermRead | rmp::kPermWrite);
  CHECK(e.State() == PageState::kGuestValid);
  const auto raw = e.Encode();
  CHECK(raw[0] == 0x01);           // ASSIGNED
  CHECK((raw[7] & 0x40) == 0x40);  // VALIDATED (bit 62)
  CHECK(raw[9] == 0x03);           // VMPL1 perms in high qword byte 1
  CHECK(rmp::RmpEntry::Decode(raw) == e);
  CHECK(e.asid() == 0x3FF);
  CHECK(e.gpa() == 0x7FFFFFFFFF000ull);
  e.set_immutable(true);
  CHECK(e.State() == PageState::kPreSwap);
  e.set_validated(false);
  CHECK(e.State() == PageState::kPreGuest);
  e.set_immutable(false);
  CHECK(e.State() == PageState::kGuestInvalid);

  rmp::RmpEntry fw;
  fw.set_assigned(true);
  fw.set_immutable(true);
  CHECK(fw.State() == PageState::kFirmware);
  fw.set_vmsa(true);
  CHECK(fw.State() == PageState::kContext);
  fw.set_vmsa(false);
  fw.set_gpa(0x1000);
  CHECK(fw.State() == PageState::kMetadata);
  fw.set_immutable(false);
  CHECK(fw.State() == PageState::kReclaim);
  CHECK(std::string(rmp::PageStateName(PageState::kReclaim)) == "RECLAIM");
}

}  // namespace sevemu
