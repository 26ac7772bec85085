// Fuzzes the extended-report certificate table parser; anything it accepts must rebuild to a
// table that parses to the same entries.
#include <cstdint>
#include <cstdlib>

#include "sevemu/guestmsg/cert_table.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto entries = sevemu::guestmsg::ParseCertTable({data, size});
  if (!entries.ok()) return 0;
  auto rebuilt = sevemu::guestmsg::BuildCertTable(*entries);
  if (!rebuilt.ok()) return 0;  // e.g. zero GUIDs or empty entries a lax table may hold
  auto again = sevemu::guestmsg::ParseCertTable(*rebuilt);
  if (!again.ok() || again->size() != entries->size()) std::abort();
  for (std::size_t i = 0; i < entries->size(); ++i) {
    if ((*again)[i].der != (*entries)[i].der || (*again)[i].guid != (*entries)[i].guid)
      std::abort();
  }
  return 0;
}
