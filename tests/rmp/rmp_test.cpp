// The RMP as the CPU enforces it: instruction semantics, access checks, and the attacks the
// checks stop (aliasing, remapping, replay, hypervisor writes), plus sparse memory costs.
#include <doctest/doctest.h>

#include <cstring>

#include "sevemu/crypto/random.h"
#include "sevemu/rmp/memory_controller.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::rmp {
namespace {

constexpr std::uint64_t kTiB = 1ull << 40;
constexpr std::uint32_t kAsid = 5;

struct Machine {
  MemoryController mem{64ull << 20};  // 64 MiB
  Machine() {
    auto key = crypto::RandomSecret(32);
    REQUIRE(mem.SetGuestKey(kAsid, *key).ok());
  }
  // Hypervisor gives the guest the page at `spa` for `gpa`; the guest validates it.
  void GivePage(std::uint64_t spa, std::uint64_t gpa, bool validate = true) {
    REQUIRE(RmpUpdate(mem.rmp(), spa, {gpa, true, false, false, kAsid}) == RmpResult::kSuccess);
    if (validate) {
      REQUIRE(Pvalidate(mem.rmp(), {kAsid, 0}, gpa, spa, false, true) == RmpResult::kSuccess);
    }
  }
};

GuestAccess Private(std::uint64_t gpa, std::uint8_t need = kPermRead | kPermWrite, int vmpl = 0) {
  GuestAccess a;
  a.asid = kAsid;
  a.vmpl = vmpl;
  a.gpa = gpa;
  a.need = need;
  return a;
}

Bytes Text(const char* s) {
  return Bytes(s, s + std::strlen(s));
}

}  // namespace

TEST_CASE("sparse memory: a 1 TiB host costs what is touched") {
  PhysicalMemory mem(kTiB);
  Bytes buf(16, 0xAA);
  REQUIRE(mem.Read(kTiB - 16, buf).ok());
  CHECK(buf == Bytes(16, 0));                                 // never written: zero
  REQUIRE(mem.Write(kTiB - 4096 - 8, Bytes(16, 0x5A)).ok());  // crosses a page boundary
  CHECK(mem.touched_pages() == 2);
  CHECK_FALSE(mem.Write(kTiB - 8, Bytes(16, 1)).ok());  // runs past the end
  CHECK_FALSE(mem.Read(~0ull - 4, buf).ok());           // wraps
  CHECK(mem.touched_pages() == 2);

  RmpTable rmp(kTiB);
  CHECK(rmp.Get(kTiB - 4096).State() == PageState::kHypervisor);
  RmpEntry e;
  e.set_assigned(true);
  e.set_asid(1);
  rmp.Set(kTiB - 4096, e);
  rmp.Set(0, RmpEntry{});  // setting a default entry allocates nothing
  CHECK(rmp.regions() == 1);
  // 16 bytes per tracked page: the 512 pages of the one touched 2 MiB region.
  CHECK(rmp.entry_bytes() == 512 * 16);
}

TEST_CASE("private guest memory is encrypted, bound to its physical address") {
  Machine m;
  m.GivePage(0x10000, 0x1000);
  const Bytes secret = Text("guest secret: the quick brown fox");
  REQUIRE(m.mem.GuestWrite(Private(0x1000 + 100), 0x10000 + 100, secret) == RmpViolation::kNone);
  Bytes back(secret.size());
  REQUIRE(m.mem.GuestRead(Private(0x1000 + 100, kPermRead), 0x10000 + 100, back) ==
          RmpViolation::kNone);
  CHECK(back == secret);

  // The hypervisor reads ciphertext, and cannot write.
  Bytes hv(secret.size());
  REQUIRE(m.mem.HvRead(0x10000 + 100, hv) == RmpViolation::kNone);
  CHECK(hv != secret);
  CHECK(m.mem.HvWrite(0x10000, Bytes(8, 0)) == RmpViolation::kHypervisorWriteToAssigned);

  // The same ciphertext at another address decrypts to garbage (copied by a reclaim + re-give).
  Bytes page(kPageSize);
  REQUIRE(m.mem.HvRead(0x10000, page) == RmpViolation::kNone);
  REQUIRE(m.mem.HvWrite(0x20000, page) == RmpViolation::kNone);
  m.GivePage(0x20000, 0x2000);
  Bytes moved(secret.size());
  REQUIRE(m.mem.GuestRead(Private(0x2000 + 100, kPermRead), 0x20000 + 100, moved) ==
          RmpViolation::kNone);
  CHECK(moved != secret);
}

TEST_CASE("the RMP stops aliasing, remapping, replay and unvalidated pages") {
  Machine m;
  m.GivePage(0x10000, 0x1000);
  m.GivePage(0x11000, 0x2000);

  SUBCASE("aliasing: a second GPA mapped onto a page the RMP ties to another GPA") {
    CHECK(m.mem.Check(Private(0x5000), 0x10000) == RmpViolation::kGpaMismatch);
  }
  SUBCASE("remapping: the hypervisor swaps the SPAs behind two GPAs") {
    CHECK(m.mem.Check(Private(0x1000), 0x11000) == RmpViolation::kGpaMismatch);
    CHECK(m.mem.Check(Private(0x2000), 0x10000) == RmpViolation::kGpaMismatch);
  }
  SUBCASE("remapping to a fresh page assigned at the right GPA: not validated") {
    REQUIRE(RmpUpdate(m.mem.rmp(), 0x12000, {0x1000, true, false, false, kAsid}) ==
            RmpResult::kSuccess);
    CHECK(m.mem.Check(Private(0x1000), 0x12000) == RmpViolation::kNotValidated);
  }
  SUBCASE("replay: an old page's bytes put back by reclaim and re-assignment") {
    REQUIRE(m.mem.GuestWrite(Private(0x1000), 0x10000, Text("balance=100")) == RmpViolation::kNone);
    Bytes old(kPageSize);
    REQUIRE(m.mem.HvRead(0x10000, old) == RmpViolation::kNone);
    REQUIRE(m.mem.GuestWrite(Private(0x1000), 0x10000, Text("balance=000")) == RmpViolation::kNone);
    REQUIRE(RmpUpdate(m.mem.rmp(), 0x10000, {}) == RmpResult::kSuccess);  // take it back
    REQUIRE(m.mem.HvWrite(0x10000, old) == RmpViolation::kNone);
    REQUIRE(RmpUpdate(m.mem.rmp(), 0x10000, {0x1000, true, false, false, kAsid}) ==
            RmpResult::kSuccess);
    // RMPUPDATE cleared VALIDATED: the guest's next access faults instead of reading old data.
    Bytes out(11);
    CHECK(m.mem.GuestRead(Private(0x1000, kPermRead), 0x10000, out) == RmpViolation::kNotValidated);
  }
  SUBCASE("hypervisor-owned memory is not private guest memory") {
    CHECK(m.mem.Check(Private(0x3000), 0x13000) == RmpViolation::kNotAssignedToGuest);
    GuestAccess shared = Private(0x3000);
    shared.private_ = false;
    CHECK(m.mem.Check(shared, 0x13000) == RmpViolation::kNone);
    CHECK(m.mem.Check(shared, 0x10000) == RmpViolation::kSharedAccessToAssigned);
  }
  SUBCASE("another guest's page") {
    GuestAccess other = Private(0x1000);
    other.asid = kAsid + 1;
    CHECK(m.mem.Check(other, 0x10000) == RmpViolation::kNotAssignedToGuest);
  }
  SUBCASE("a refused multi-page write changes nothing") {
    Bytes before(2 * kPageSize);
    REQUIRE(m.mem.HvRead(0x10000, before) == RmpViolation::kNone);
    // GPA 0x1000..0x2FFF maps to SPA 0x10000..0x11FFF: the second page is at GPA 0x2000, fine;
    // shift the SPA so the second page is unassigned.
    CHECK(m.mem.GuestWrite(Private(0x1000), 0x10000 + kPageSize * 0, Bytes(2 * kPageSize, 7)) ==
          RmpViolation::kNone);
    Bytes mid(2 * kPageSize);
    REQUIRE(m.mem.HvRead(0x10000, mid) == RmpViolation::kNone);
    CHECK(m.mem.GuestWrite(Private(0x2000), 0x11000, Bytes(2 * kPageSize, 9)) ==
          RmpViolation::kNotAssignedToGuest);
    Bytes after(2 * kPageSize);
    REQUIRE(m.mem.HvRead(0x10000, after) == RmpViolation::kNone);
    CHECK(after == mid);
  }
}

TEST_CASE("VMPL permissions and RMPADJUST") {
  Machine m;
  m.GivePage(0x10000, 0x1000);
  CHECK(m.mem.Check(Private(0x1000, kPermRead, 1), 0x10000) == RmpViolation::kVmplPermission);
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, 1, kPermRead, false) ==
        RmpResult::kSuccess);
  CHECK(m.mem.Check(Private(0x1000, kPermRead, 1), 0x10000) == RmpViolation::kNone);
  CHECK(m.mem.Check(Private(0x1000, kPermWrite, 1), 0x10000) == RmpViolation::kVmplPermission);
  // VMPL1 may not raise itself or a more privileged level, nor grant what it lacks.
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 1}, 0x1000, 0x10000, false, 1, kPermAll, false) ==
        RmpResult::kFailPermission);
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 1}, 0x1000, 0x10000, false, 2, kPermWrite, false) ==
        RmpResult::kFailPermission);
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 1}, 0x1000, 0x10000, false, 2, kPermRead, false) ==
        RmpResult::kSuccess);
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 1}, 0x1000, 0x10000, false, 2, kPermRead, true) ==
        RmpResult::kFailPermission);  // only VMPL0 marks VMSAs
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, 1, kPermRead, true) ==
        RmpResult::kSuccess);
  CHECK(m.mem.rmp().Get(0x10000).vmsa());
  CHECK(RmpAdjust(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, 4, kPermRead, false) ==
        RmpResult::kFailInput);
}

TEST_CASE("PVALIDATE") {
  Machine m;
  m.GivePage(0x10000, 0x1000, false);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 1}, 0x1000, 0x10000, false, true) ==
        RmpResult::kFailPermission);  // VMPL0 only
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, 0x1800, 0x10000, false, true) == RmpResult::kFailInput);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, 0x2000, 0x10000, false, true) == RmpResult::kFailInput);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid + 1, 0}, 0x1000, 0x10000, false, true) ==
        RmpResult::kFailInput);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, true) == RmpResult::kSuccess);
  CHECK(m.mem.rmp().Get(0x10000).State() == PageState::kGuestValid);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, true) == RmpResult::kNoChange);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, 0x1000, 0x10000, false, false) == RmpResult::kSuccess);
  CHECK(m.mem.rmp().Get(0x10000).State() == PageState::kGuestInvalid);
}

TEST_CASE("2 MiB pages: RMPUPDATE overlap, PSMASH, size mismatches") {
  Machine m;
  const std::uint64_t spa = 0x200000, gpa = 0x400000;
  REQUIRE(RmpUpdate(m.mem.rmp(), spa + kPageSize, {gpa, true, false, false, kAsid}) ==
          RmpResult::kSuccess);
  CHECK(RmpUpdate(m.mem.rmp(), spa, {gpa, true, true, false, kAsid}) == RmpResult::kFailOverlap);
  REQUIRE(RmpUpdate(m.mem.rmp(), spa + kPageSize, {}) == RmpResult::kSuccess);
  CHECK(RmpUpdate(m.mem.rmp(), spa + kPageSize, {gpa, true, true, false, kAsid}) ==
        RmpResult::kFailInput);  // misaligned 2 MiB
  REQUIRE(RmpUpdate(m.mem.rmp(), spa, {gpa, true, true, false, kAsid}) == RmpResult::kSuccess);
  CHECK(RmpUpdate(m.mem.rmp(), spa + kPageSize, {gpa, true, false, false, kAsid}) ==
        RmpResult::kFailOverlap);
  CHECK(Pvalidate(m.mem.rmp(), {kAsid, 0}, gpa, spa, false, true) == RmpResult::kFailSizeMismatch);
  REQUIRE(Pvalidate(m.mem.rmp(), {kAsid, 0}, gpa, spa, true, true) == RmpResult::kSuccess);
  GuestAccess big = Private(gpa + 5 * kPageSize);
  big.mapped_2m = true;
  CHECK(m.mem.Check(big, spa + 5 * kPageSize) == RmpViolation::kNone);

  CHECK(Psmash(m.mem.rmp(), spa + kPageSize) == RmpResult::kFailInput);
  REQUIRE(Psmash(m.mem.rmp(), spa) == RmpResult::kSuccess);
  const RmpEntry fifth = m.mem.rmp().Get(spa + 5 * kPageSize);
  CHECK_FALSE(fifth.page_size_2m());
  CHECK(fifth.gpa() == gpa + 5 * kPageSize);
  CHECK(fifth.validated());
  CHECK(m.mem.Check(big, spa + 5 * kPageSize) == RmpViolation::kPageSizeMismatch);
  big.mapped_2m = false;
  CHECK(m.mem.Check(big, spa + 5 * kPageSize) == RmpViolation::kNone);
  CHECK(Psmash(m.mem.rmp(), spa) == RmpResult::kFailInput);  // already 4 KiB
}

TEST_CASE("firmware-owned (immutable) entries resist the hypervisor") {
  Machine m;
  RmpEntry fw;
  fw.set_assigned(true);
  fw.set_immutable(true);
  m.mem.rmp().Set(0x30000, fw);
  CHECK(m.mem.rmp().Get(0x30000).State() == PageState::kFirmware);
  CHECK(RmpUpdate(m.mem.rmp(), 0x30000, {}) == RmpResult::kFailPermission);
  CHECK(m.mem.HvWrite(0x30000, Bytes(1, 0)) == RmpViolation::kHypervisorWriteToAssigned);
  CHECK(RmpUpdate(m.mem.rmp(), 0x200000 * 2, {0, true, true, false, kAsid}) == RmpResult::kSuccess);
  CHECK(RmpUpdate(m.mem.rmp(), 64ull << 20, {}) == RmpResult::kFailInput);  // past memory
}

TEST_CASE("memory keys") {
  MemoryController mem(2ull << 20);
  CHECK_FALSE(mem.SetGuestKey(0, SecretBytes(32)).ok());
  CHECK_FALSE(mem.SetGuestKey(1, SecretBytes(16)).ok());
  Bytes out(4);
  CHECK(mem.FirmwareReadGuest(1, 0, out) == RmpViolation::kNoKey);
}

}  // namespace sevemu::rmp
