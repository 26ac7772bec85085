// SNP_PAGE_SWAP_OUT / SWAP_IN / PAGE_MOVE / MD_INIT: round trips, and what the RMP and the
// metadata entries defend against a hypervisor that holds the swapped-out pages.
#include <doctest/doctest.h>

#include "command_recorder.h"
#include "sevemu/emulator/snp/snp_policy.h"
#include "swap_fixture.h"

namespace sevemu::test {
namespace {

using rmp::PageState;
using F = SwapFixture;

// A refusal: the status, and neither the firmware state nor the guest's memory changed.
void Refused(SwapFixture& f, SnpCmd cmd, SnpPageSwapBuf b, FwStatus want) {
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(cmd, b) == want);
  CHECK(f.fw->StateDigest() == before);
}

TEST_CASE("swap a 4 KiB data page out and back into another page: same plaintext, GPA, VMPL") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  CHECK(f.StateOf(F::kData) == PageState::kPreGuest);  // validated cleared
  const SnpMetadataEntry e = f.EntryAt(F::kMd);
  CHECK((e.entry & emulator::kMdValid) != 0);
  CHECK((e.entry & emulator::kMdPageValidated) != 0);
  CHECK((e.entry & emulator::kMdGpaMask) == F::kGpa);
  CHECK(e.iv == 0);
  CHECK((e.vmpl >> 8 & 0xFF) == 0x03);
  // The ciphertext is not the plaintext (the host can read it: it is its storage).
  Bytes cipher(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(F::kOut, cipher) == rmp::RmpViolation::kNone);
  CHECK(cipher != F::Pattern(1));
  // The host reclaims the old page; the guest can no longer reach its GPA there.
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kData}) == FwStatus::kSuccess);
  rmp::RmpViolation why{};
  CHECK(f.GuestReads(F::kGpa, F::kData, &why).empty());
  CHECK(why == rmp::RmpViolation::kNotValidated);

  REQUIRE(f.Run(SnpCmd::kPageSwapIn, f.SwapInBuf(0)) == FwStatus::kSuccess);
  CHECK(f.StateOf(F::kIn) == PageState::kPreSwap);
  CHECK((f.EntryAt(F::kMd).entry & emulator::kMdValid) == 0);  // used up
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kIn}) == FwStatus::kSuccess);
  CHECK(f.StateOf(F::kIn) == PageState::kGuestValid);
  CHECK(f.fw->memory().rmp().Get(F::kIn).gpa() == F::kGpa);
  CHECK(f.fw->memory().rmp().Get(F::kIn).vmpl_perms(1) == 0x03);
  CHECK(f.GuestReads(F::kGpa, F::kIn) == F::Pattern(1));
}

TEST_CASE("swap in place, with the entry kept as the guest context's root entry") {
  SwapFixture f;
  f.Freeze(F::kData, F::kGpa);
  f.MakeFirmwarePage(F::kOut);
  const auto flags = SwapFlags(SwapPageType::kData, false, true);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kData, F::kOut, 0, flags)) ==
          FwStatus::kSuccess);
  // The host reclaims the guest page, copies the ciphertext into it and hands it back.
  Bytes cipher(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(F::kOut, cipher) == rmp::RmpViolation::kNone);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kData}) == FwStatus::kSuccess);
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), F::kData, {}) == rmp::RmpResult::kSuccess);
  REQUIRE(f.fw->memory().HvWrite(F::kData, cipher) == rmp::RmpViolation::kNone);
  f.MakeTarget(F::kData);
  const auto in_place = SwapFlags(SwapPageType::kData, false, true, true);
  // In place means src == dst.
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kData, 0, in_place),
          FwStatus::kInvalidAddress);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kData, F::kData, 0, in_place)) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kData}) == FwStatus::kSuccess);
  CHECK(f.GuestReads(F::kGpa, F::kData) == F::Pattern(1));
}

TEST_CASE("a 2 MiB page swaps out and in as one, its 512 entries at consecutive GPAs") {
  SwapFixture f(true);
  f.Freeze(F::kBig, F::kBigGpa, true);
  f.MakeFirmware(F::kBigOut, true);
  const auto flags = SwapFlags(SwapPageType::kData, true);
  // A 4 KiB request over a 2 MiB page: INVALID_PAGE_SIZE.
  Refused(f, SnpCmd::kPageSwapOut,
          F::Buf(F::kGctx, F::kBig, F::kBigOut, F::kMd, SwapFlags(SwapPageType::kData)),
          FwStatus::kInvalidPageSize);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kBig, F::kBigOut, F::kMd, flags)) ==
          FwStatus::kSuccess);
  CHECK((f.EntryAt(F::kMd).entry & emulator::kMdPageSize2M) != 0);
  f.MakeTarget(F::kBigIn, F::kAsid, true);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kBigOut, F::kBigIn, F::kMd, flags)) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kBigIn | 1}) == FwStatus::kSuccess);
  const std::uint64_t last = F::kBigIn + rmp::kPageSize2M - rmp::kPageSize;
  CHECK(f.fw->memory().rmp().Get(last).gpa() == F::kBigGpa + rmp::kPageSize2M - rmp::kPageSize);
  CHECK(f.GuestReads(F::kBigGpa + rmp::kPageSize2M - rmp::kPageSize, last) ==
        Bytes(rmp::kPageSize, 0x5A));
}

TEST_CASE("a metadata page swaps out under the root entry, and its entries come back with it") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(1) == FwStatus::kSuccess);
  const std::uint64_t md_out = 0x610000, md_in = 0x202000;
  f.MakeFirmwarePage(md_out);
  const auto md_flags = SwapFlags(SwapPageType::kMetadata, false, true);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, md_out, 0, md_flags)) ==
          FwStatus::kSuccess);
  CHECK(f.StateOf(F::kMd) == PageState::kFirmware);
  // While it is out, its entries cannot be used.
  Refused(f, SnpCmd::kPageSwapIn, f.SwapInBuf(1), FwStatus::kInvalidPageState);
  f.MakeFirmwarePage(md_in);
  // A metadata page comes back only into a FIRMWARE page, never in place.
  Refused(
      f, SnpCmd::kPageSwapIn,
      F::Buf(F::kGctx, md_out, md_out, 0, SwapFlags(SwapPageType::kMetadata, false, true, true)),
      FwStatus::kInvalidParam);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, md_out, md_in, 0, md_flags)) ==
          FwStatus::kSuccess);
  CHECK(f.StateOf(md_in) == PageState::kMetadata);
  auto b = f.SwapInBuf(1);
  b.mdata_paddr = md_in + 64;
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, b) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kIn + rmp::kPageSize}) ==
          FwStatus::kSuccess);
  CHECK(f.GuestReads(F::kGpa + rmp::kPageSize, F::kIn + rmp::kPageSize) == F::Pattern(2));
}

TEST_CASE("a VMSA page: swapped as a VMSA, back only as a 4 KiB VMSA into another page") {
  SwapFixture f;
  // The guest's page 2 stands in for a VMSA: AMD takes the type from the request at SWAP_OUT.
  f.Freeze(F::kData + 2 * rmp::kPageSize, F::kGpa + 2 * rmp::kPageSize);
  f.MakeFirmwarePage(F::kOut);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kData + 2 * rmp::kPageSize, F::kOut,
                                             F::kMd, SwapFlags(SwapPageType::kVmsa))) ==
          FwStatus::kSuccess);
  CHECK((f.EntryAt(F::kMd).entry & emulator::kMdVmsa) != 0);
  f.MakeTarget(F::kIn);
  // The entry says VMSA: asking for a data page is INVALID_MDATA_ENTRY.
  Refused(f, SnpCmd::kPageSwapIn,
          F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd, SwapFlags(SwapPageType::kData)),
          FwStatus::kInvalidMdataEntry);
  Refused(
      f, SnpCmd::kPageSwapIn,
      F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd, SwapFlags(SwapPageType::kVmsa, false, false, true)),
      FwStatus::kInvalidParam);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd,
                                            SwapFlags(SwapPageType::kVmsa))) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(F::kIn).vmsa());
  CHECK(f.StateOf(F::kIn) == PageState::kPreSwap);
}

TEST_CASE("SNP_PAGE_MOVE: contents, GPA and permissions move; the source is no guest memory") {
  SwapFixture f;
  f.Freeze(F::kData, F::kGpa);
  f.MakeTarget(F::kIn);
  emulator::SnpPageMoveBuf mv{F::kGctx, 0, 0, F::kData, F::kIn};
  REQUIRE(f.Run(SnpCmd::kPageMove, mv) == FwStatus::kSuccess);
  CHECK(f.StateOf(F::kIn) == PageState::kGuestValid);
  CHECK(f.StateOf(F::kData) == PageState::kGuestInvalid);
  CHECK(f.fw->memory().rmp().Get(F::kIn).vmpl_perms(1) == 0x03);
  CHECK(f.GuestReads(F::kGpa, F::kIn) == F::Pattern(1));
  rmp::RmpViolation why{};
  CHECK(f.GuestReads(F::kGpa, F::kData, &why).empty());
  CHECK(why == rmp::RmpViolation::kNotValidated);
  // A guest page that is not frozen (GUEST_VALID) cannot be moved.
  f.MakeTarget(F::kIn + rmp::kPageSize);
  const Bytes before = f.fw->StateDigest();
  mv = {F::kGctx, 0, 0, F::kData + rmp::kPageSize, F::kIn + rmp::kPageSize};
  CHECK(f.Run(SnpCmd::kPageMove, mv) == FwStatus::kInvalidPageState);
  CHECK(f.fw->StateDigest() == before);
  // A metadata page moves into a FIRMWARE page and keeps its entries.
  REQUIRE(f.SwapOutData(1) == FwStatus::kSuccess);
  f.MakeFirmwarePage(0x202000);
  REQUIRE(f.Run(SnpCmd::kPageMove, emulator::SnpPageMoveBuf{F::kGctx, 0, 0, F::kMd, 0x202000}) ==
          FwStatus::kSuccess);
  CHECK(f.StateOf(F::kMd) == PageState::kFirmware);
  auto b = f.SwapInBuf(1);
  b.mdata_paddr = 0x202000 + 64;
  CHECK(f.Run(SnpCmd::kPageSwapIn, b) == FwStatus::kSuccess);
}

TEST_CASE("SNP_PAGE_MD_INIT: a FIRMWARE page of a launched guest, zeroed") {
  SwapFixture f;
  const std::uint64_t page = 0x203000;
  f.MakeFirmwarePage(page);
  REQUIRE(f.fw->memory().FirmwareWrite(page, Bytes(64, 0xEE)).ok());
  CHECK(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx, page | 8}) ==
        FwStatus::kInvalidParam);
  CHECK(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx + 0x1000, page}) ==
        FwStatus::kInvalidGuest);
  CHECK(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx, F::kData}) ==
        FwStatus::kInvalidPageState);
  REQUIRE(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx, page}) ==
          FwStatus::kSuccess);
  CHECK(f.StateOf(page) == PageState::kMetadata);
  CHECK(f.EntryAt(page).software_data == 0);
  // A guest that has not started its launch has no metadata pages.
  const std::uint64_t g2 = 0x101000;
  REQUIRE(f.GctxCreate(g2) == FwStatus::kSuccess);
  f.MakeFirmwarePage(0x204000);
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{g2, 0x204000}) ==
        FwStatus::kInvalidGuestState);
  CHECK(f.fw->StateDigest() == before);
}

TEST_CASE("replay: an older copy of a page swapped in again is refused") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  Bytes old_cipher(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(F::kOut, old_cipher) == rmp::RmpViolation::kNone);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, f.SwapInBuf(0)) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kIn}) == FwStatus::kSuccess);
  // The guest writes, the page is swapped out again with a new entry in the same slot.
  rmp::GuestAccess w{F::kAsid, 0, F::kGpa, true, false, rmp::kPermWrite};
  REQUIRE(f.fw->memory().GuestWrite(w, F::kIn, F::Pattern(9)) == rmp::RmpViolation::kNone);
  f.Freeze(F::kIn, F::kGpa);
  f.MakeFirmwarePage(F::kOut + rmp::kPageSize);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kIn, F::kOut + rmp::kPageSize, F::kMd,
                                             SwapFlags(SwapPageType::kData))) ==
          FwStatus::kSuccess);
  CHECK(f.EntryAt(F::kMd).iv == 1);
  // The host offers the old ciphertext (it kept a copy) under the current entry.
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kOut}) == FwStatus::kSuccess);
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), F::kOut, {}) == rmp::RmpResult::kSuccess);
  REQUIRE(f.fw->memory().HvWrite(F::kOut, old_cipher) == rmp::RmpViolation::kNone);
  f.MakeTarget(F::kIn + 2 * rmp::kPageSize);
  Refused(f, SnpCmd::kPageSwapIn,
          F::Buf(F::kGctx, F::kOut, F::kIn + 2 * rmp::kPageSize, F::kMd,
                 SwapFlags(SwapPageType::kData)),
          FwStatus::kBadMeasurement);
  // The current copy still comes back.
  CHECK(f.Run(SnpCmd::kPageSwapIn,
              F::Buf(F::kGctx, F::kOut + rmp::kPageSize, F::kIn + 2 * rmp::kPageSize, F::kMd,
                     SwapFlags(SwapPageType::kData))) == FwStatus::kSuccess);
}

TEST_CASE("replay of a metadata page: an older copy of the page holding the entries") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  const auto md_flags = SwapFlags(SwapPageType::kMetadata, false, true);
  f.MakeFirmwarePage(0x610000);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, 0x610000, 0, md_flags)) ==
          FwStatus::kSuccess);
  Bytes old_md(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(0x610000, old_md) == rmp::RmpViolation::kNone);
  f.MakeFirmwarePage(F::kMd);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, 0x610000, F::kMd, 0, md_flags)) ==
          FwStatus::kSuccess);
  // Page 0 comes back (its entry now invalid), the metadata page goes out again.
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, f.SwapInBuf(0)) == FwStatus::kSuccess);
  f.MakeFirmwarePage(0x611000);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, 0x611000, 0, md_flags)) ==
          FwStatus::kSuccess);
  // The old copy, in which page 0's entry was still valid, does not verify under the root.
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), 0x612000, {}) == rmp::RmpResult::kSuccess);
  REQUIRE(f.fw->memory().HvWrite(0x612000, old_md) == rmp::RmpViolation::kNone);
  f.MakeFirmwarePage(0x205000);
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, 0x612000, 0x205000, 0, md_flags),
          FwStatus::kBadMeasurement);
}

TEST_CASE("twice: a page swapped in once cannot be swapped in again") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, f.SwapInBuf(0)) == FwStatus::kSuccess);
  f.MakeTarget(F::kIn + rmp::kPageSize);
  Refused(
      f, SnpCmd::kPageSwapIn,
      F::Buf(F::kGctx, F::kOut, F::kIn + rmp::kPageSize, F::kMd, SwapFlags(SwapPageType::kData)),
      FwStatus::kInvalidMdataEntry);
}

TEST_CASE("another GPA: the page lands at its entry's GPA, whatever the host named") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), F::kIn, {0x90000, true, false, true, F::kAsid}) ==
          rmp::RmpResult::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd,
                                            SwapFlags(SwapPageType::kData))) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kIn}) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(F::kIn).gpa() == F::kGpa);
  rmp::RmpViolation why{};
  CHECK(f.GuestReads(0x90000, F::kIn, &why).empty());
  CHECK(why == rmp::RmpViolation::kGpaMismatch);
}

TEST_CASE("an entry reused for another page: the tag does not verify") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  REQUIRE(f.SwapOutData(1) == FwStatus::kSuccess);
  f.MakeTarget(F::kIn);
  // Page 1's ciphertext under page 0's entry, and the other way round.
  Refused(
      f, SnpCmd::kPageSwapIn,
      F::Buf(F::kGctx, F::kOut + rmp::kPageSize, F::kIn, F::kMd, SwapFlags(SwapPageType::kData)),
      FwStatus::kBadMeasurement);
  Refused(f, SnpCmd::kPageSwapIn,
          F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd + 64, SwapFlags(SwapPageType::kData)),
          FwStatus::kBadMeasurement);
}

TEST_CASE("another guest: its context, its metadata page, its key") {
  SwapFixture f;
  const std::uint64_t g2 = 0x101000, md2 = 0x201000;
  f.StartGuest(g2, 2);
  REQUIRE(f.MdInit(g2, md2) == FwStatus::kSuccess);
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  f.MakeTarget(F::kIn, 2);
  const auto flags = SwapFlags(SwapPageType::kData);
  // Guest 1's entry named with guest 2's context: the metadata page is not guest 2's.
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(g2, F::kOut, F::kIn, F::kMd, flags),
          FwStatus::kInvalidPageOwner);
  // Guest 2's own (empty) slot and root entry are not valid entries.
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(g2, F::kOut, F::kIn, md2, flags),
          FwStatus::kInvalidMdataEntry);
  Refused(f, SnpCmd::kPageSwapIn,
          F::Buf(g2, F::kOut, F::kIn, 0, SwapFlags(SwapPageType::kData, false, true)),
          FwStatus::kInvalidMdataEntry);
  // Into a page of guest 2's ASID under guest 1's context: the owner check.
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd, flags),
          FwStatus::kInvalidPageOwner);
}

TEST_CASE("a flipped bit in the ciphertext, the tag or the entry") {
  SwapFixture f;
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  Bytes cipher(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(F::kOut, cipher) == rmp::RmpViolation::kNone);
  REQUIRE(f.Run(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{F::kOut}) == FwStatus::kSuccess);
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), F::kOut, {}) == rmp::RmpResult::kSuccess);
  cipher[1234] ^= 0x10;
  REQUIRE(f.fw->memory().HvWrite(F::kOut, cipher) == rmp::RmpViolation::kNone);
  f.MakeTarget(F::kIn);
  const auto flags = SwapFlags(SwapPageType::kData);
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kIn, F::kMd, flags),
          FwStatus::kBadMeasurement);
  CHECK(f.StateOf(F::kIn) == PageState::kPreGuest);
  // The tag and the entry sit in a METADATA page: the host cannot write them...
  CHECK(f.fw->memory().HvWrite(F::kMd + 0x10, Bytes{0xFF}) ==
        rmp::RmpViolation::kHypervisorWriteToAssigned);
  CHECK(f.fw->memory().HvWrite(F::kMd + 0x20, Bytes{0xFF}) ==
        rmp::RmpViolation::kHypervisorWriteToAssigned);
  // ...and when that page is swapped out, a flipped tag or entry bit in its ciphertext fails
  // its own tag.
  f.MakeFirmwarePage(0x610000);
  const auto md_flags = SwapFlags(SwapPageType::kMetadata, false, true);
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, 0x610000, 0, md_flags)) ==
          FwStatus::kSuccess);
  Bytes md_cipher(rmp::kPageSize);
  REQUIRE(f.fw->memory().HvRead(0x610000, md_cipher) == rmp::RmpViolation::kNone);
  for (std::size_t off : {0x10u, 0x20u}) {
    CAPTURE(off);
    Bytes bad = md_cipher;
    bad[off] ^= 1;
    REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), 0x612000, {}) == rmp::RmpResult::kSuccess);
    REQUIRE(f.fw->memory().HvWrite(0x612000, bad) == rmp::RmpViolation::kNone);
    f.MakeFirmwarePage(0x205000);
    Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, 0x612000, 0x205000, 0, md_flags),
            FwStatus::kBadMeasurement);
  }
}

TEST_CASE("a metadata page used as data, and data used as a metadata page") {
  SwapFixture f;
  f.MakeFirmwarePage(F::kOut);
  const auto flags = SwapFlags(SwapPageType::kData);
  // As the source of a data swap-out.
  Refused(f, SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, F::kOut, 0x203000, flags),
          FwStatus::kInvalidPageState);
  // As the page a data swap-in fills.
  REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(F::kGctx, F::kOut, F::kMd + 0x1000, F::kMd, flags),
          FwStatus::kInvalidPageState);
  // As a launch page.
  auto upd = f.UpdateBuf(F::kGctx, F::kMd, emulator::PageType::kNormal);
  CHECK(f.Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kInvalidPageState);
  // By the guest.
  rmp::GuestAccess r{F::kAsid, 0, 0, true, false, rmp::kPermRead};
  Bytes out(64);
  CHECK(f.fw->memory().GuestRead(r, F::kMd, out) == rmp::RmpViolation::kNotAssignedToGuest);
  // A guest data page (or a FIRMWARE page) named as the metadata entry's page.
  f.Freeze(F::kData + rmp::kPageSize, F::kGpa + rmp::kPageSize);
  f.MakeFirmwarePage(F::kOut + rmp::kPageSize);
  Refused(f, SnpCmd::kPageSwapOut,
          F::Buf(F::kGctx, F::kData + rmp::kPageSize, F::kOut + rmp::kPageSize,
                 F::kData + 2 * rmp::kPageSize, flags),
          FwStatus::kInvalidPageState);
  Refused(f, SnpCmd::kPageSwapOut,
          F::Buf(F::kGctx, F::kData + rmp::kPageSize, F::kOut + rmp::kPageSize, F::kOut, flags),
          FwStatus::kInvalidPageState);
}

TEST_CASE("guest states: INIT refused, inactive refused, a decommissioned guest is gone") {
  SwapFixture f;
  const auto root = SwapFlags(SwapPageType::kData, false, true);
  f.MakeFirmwarePage(F::kOut);
  // A guest context that never launched.
  const std::uint64_t g2 = 0x101000;
  REQUIRE(f.GctxCreate(g2) == FwStatus::kSuccess);
  f.Freeze(F::kData, F::kGpa);
  Refused(f, SnpCmd::kPageSwapOut, F::Buf(g2, F::kData, F::kOut, 0, root),
          FwStatus::kInvalidGuestState);
  Refused(f, SnpCmd::kPageSwapIn, F::Buf(g2, F::kOut, F::kData, 0, root),
          FwStatus::kInvalidGuestState);
  Refused(f, SnpCmd::kPageMove, F::Buf(g2, 0, 0, 0, 0), FwStatus::kInvalidLength);
  // Launched but never activated: INACTIVE.
  REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(g2)) == FwStatus::kSuccess);
  Refused(f, SnpCmd::kPageSwapOut, F::Buf(g2, F::kData, F::kOut, 0, root), FwStatus::kInactive);
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kPageMove, emulator::SnpPageMoveBuf{g2, 0, 0, F::kData, F::kIn}) ==
        FwStatus::kInactive);
  CHECK(f.fw->StateDigest() == before);
  // Decommissioned: the context page is no longer CONTEXT.
  REQUIRE(f.Run(SnpCmd::kDecommission, emulator::SnpAddrBuf{F::kGctx}) == FwStatus::kSuccess);
  Refused(f, SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kData, F::kOut, 0, root),
          FwStatus::kInvalidGuest);
}

TEST_CASE("two things wrong at once: AMD's order decides") {
  SwapFixture f;
  f.MakeFirmwarePage(F::kOut);
  f.Freeze(F::kData, F::kGpa);
  const auto flags = SwapFlags(SwapPageType::kData);
  struct Pair {
    const char* what;
    SnpCmd cmd;
    SnpPageSwapBuf buf;
    FwStatus want;
  };
  const std::uint64_t g2 = 0x101000;
  REQUIRE(f.GctxCreate(g2) == FwStatus::kSuccess);  // INIT state, never launched
  const Pair pairs[] = {
      {"reserved flag bit + unknown context", SnpCmd::kPageSwapOut,
       F::Buf(0x150000, F::kData, F::kOut, F::kMd, flags | (1u << 3)), FwStatus::kInvalidParam},
      {"unknown context + misaligned entry", SnpCmd::kPageSwapOut,
       F::Buf(0x150000, F::kData, F::kOut, F::kMd + 8, flags), FwStatus::kInvalidGuest},
      {"misaligned entry + wrong page size", SnpCmd::kPageSwapOut,
       F::Buf(F::kGctx, F::kData, F::kOut, F::kMd + 8, flags | 1), FwStatus::kInvalidParam},
      {"entry overlapping the source + entry page not METADATA", SnpCmd::kPageSwapOut,
       F::Buf(F::kGctx, F::kData, F::kOut, F::kData + 64, flags), FwStatus::kInvalidParam},
      {"wrong page size + guest in INIT", SnpCmd::kPageSwapOut,
       F::Buf(g2, F::kData, F::kOut, 0, flags | 1 | emulator::kSwapRootMdata),
       FwStatus::kInvalidPageSize},
      {"guest in INIT + source not frozen", SnpCmd::kPageSwapOut,
       F::Buf(g2, F::kData + rmp::kPageSize, F::kOut, 0, flags | emulator::kSwapRootMdata),
       FwStatus::kInvalidGuestState},
      {"another guest's metadata page + wrong page size", SnpCmd::kPageSwapOut,
       F::Buf(g2, F::kData, F::kOut, F::kMd, flags | 1), FwStatus::kInvalidPageOwner},
      {"swap-in: invalid entry + destination not PRE_GUEST", SnpCmd::kPageSwapIn,
       F::Buf(F::kGctx, F::kOut, F::kOut, F::kMd, flags), FwStatus::kInvalidMdataEntry},
      {"swap-in: reserved word + invalid entry", SnpCmd::kPageSwapIn,
       SnpPageSwapBuf{F::kGctx, F::kOut, F::kOut, F::kMd, 1, flags}, FwStatus::kInvalidParam},
  };
  for (const Pair& p : pairs) {
    CAPTURE(p.what);
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Run(p.cmd, p.buf) == p.want);
    CHECK(f.fw->StateDigest() == before);
  }
  CHECK(f.GuestReads(F::kGpa + rmp::kPageSize, F::kData + rmp::kPageSize) == F::Pattern(2));
}

// A seeded Milan provisioned with firmware `fw` (docs/firmware-abi.md).
emulator::Platform MilanAt(emulator::FirmwareVersion fw) {
  emulator::ProvisionOptions opts;
  opts.product = emulator::Product::kMilan;
  opts.seed = Bytes{1};
  opts.firmware = fw;
  auto p = emulator::Provision(opts, TestRoot(emulator::Product::kMilan));
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message()));
  return std::move(p).value();
}

TEST_CASE("PAGE_SWAP_DISABLE (policy bit 25, ABI 1.58): SWAP_OUT, SWAP_IN, PAGE_MOVE refused") {
  constexpr std::uint64_t kNoSwap = 0x30000 | emulator::policy::kPageSwapDisable;
  constexpr emulator::FirmwareVersion k157{1, 57, 1}, k158{1, 58, 1};
  SUBCASE("1.58, the bit set: POLICY_FAILURE before any page check; nothing changes") {
    SwapFixture f(false, MilanAt(k158), kNoSwap);  // MD_INIT is not one of the three: it ran
    f.Freeze(F::kData, F::kGpa);
    f.MakeFirmwarePage(F::kOut);
    const rmp::RmpEntry src = f.fw->memory().rmp().Get(F::kData);
    Bytes out_before(rmp::kPageSize);
    REQUIRE(f.fw->memory().FirmwareRead(F::kOut, out_before).ok());
    Refused(f, SnpCmd::kPageSwapOut,
            F::Buf(F::kGctx, F::kData, F::kOut, F::kMd, SwapFlags(SwapPageType::kData)),
            FwStatus::kPolicyFailure);
    // The guest's page is still its own, frozen as it was; no entry, no ciphertext written.
    CHECK(f.fw->memory().rmp().Get(F::kData).Encode() == src.Encode());
    CHECK(f.StateOf(F::kData) == PageState::kPreSwap);
    CHECK((f.EntryAt(F::kMd).entry & emulator::kMdValid) == 0);
    Bytes out_after(rmp::kPageSize);
    REQUIRE(f.fw->memory().FirmwareRead(F::kOut, out_after).ok());
    CHECK(out_after == out_before);
    // A request that is wrong in other ways too: the policy is checked first, after the
    // context (reserved bits and an unknown context keep their statuses).
    Refused(f, SnpCmd::kPageSwapOut,
            F::Buf(F::kGctx, F::kData, F::kOut, F::kMd + 8, SwapFlags(SwapPageType::kData)),
            FwStatus::kPolicyFailure);
    Refused(f, SnpCmd::kPageSwapOut,
            F::Buf(0x150000, F::kData, F::kOut, F::kMd, SwapFlags(SwapPageType::kData)),
            FwStatus::kInvalidGuest);
    Refused(f, SnpCmd::kPageSwapOut,
            F::Buf(F::kGctx, F::kData, F::kOut, F::kMd, SwapFlags(SwapPageType::kData) | 8),
            FwStatus::kInvalidParam);
    // SWAP_IN: refused before its entry (invalid here: INVALID_MDATA_ENTRY otherwise).
    Refused(f, SnpCmd::kPageSwapIn, f.SwapInBuf(0), FwStatus::kPolicyFailure);
    // PAGE_MOVE.
    f.MakeTarget(F::kIn);
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Run(SnpCmd::kPageMove, emulator::SnpPageMoveBuf{F::kGctx, 0, 0, F::kData, F::kIn}) ==
          FwStatus::kPolicyFailure);
    CHECK(f.fw->StateDigest() == before);
    CHECK(f.StateOf(F::kIn) == PageState::kPreGuest);
  }
  SUBCASE("1.58, the bit clear: the same commands work") {
    SwapFixture f(false, MilanAt(k158));
    REQUIRE(f.SwapOutData(0) == FwStatus::kSuccess);
    CHECK(f.Run(SnpCmd::kPageSwapIn, f.SwapInBuf(0)) == FwStatus::kSuccess);
    f.Freeze(F::kData + rmp::kPageSize, F::kGpa + rmp::kPageSize);
    f.MakeTarget(F::kIn + rmp::kPageSize);
    CHECK(f.Run(SnpCmd::kPageMove,
                emulator::SnpPageMoveBuf{F::kGctx, 0, 0, F::kData + rmp::kPageSize,
                                         F::kIn + rmp::kPageSize}) == FwStatus::kSuccess);
  }
  SUBCASE("1.55 and 1.57 do not define the bit: LAUNCH_START refuses it as reserved") {
    for (const emulator::FirmwareVersion fw : {emulator::FirmwareVersion{1, 55, 21}, k157}) {
      CAPTURE(fw.minor);
      FirmwareFixture f(MilanAt(fw));
      f.InitPlatform();
      REQUIRE(f.GctxCreate(F::kGctx) == FwStatus::kSuccess);
      const Bytes before = f.fw->StateDigest();
      CHECK(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(F::kGctx, kNoSwap)) ==
            FwStatus::kPolicyFailure);
      CHECK(f.fw->StateDigest() == before);
    }
  }
}

}  // namespace
}  // namespace sevemu::test

namespace sevemu::test {
namespace {

// The trace's field tables of the four commands (command_fields.cpp), with the buffers a host
// sends: every field by name and value; SWAP_IN's software_data is reserved, so not shown.
TEST_CASE("swap, move and metadata commands reach the trace decoded by field") {
  SwapFixture f;
  CommandRecorder rec;
  f.fw->set_observer(&rec);
  using V = std::vector<std::string_view>;

  f.Freeze(F::kData, F::kGpa);
  f.MakeFirmwarePage(F::kOut);
  auto out = F::Buf(F::kGctx, F::kData, F::kOut, F::kMd, SwapFlags(SwapPageType::kData));
  out.software_data = 0x5EED'0000'0001;
  REQUIRE(f.Run(SnpCmd::kPageSwapOut, out) == FwStatus::kSuccess);
  const auto& so = rec.Last("SNP_PAGE_SWAP_OUT");
  CHECK(so.length == sizeof(SnpPageSwapBuf));
  CHECK(FieldNames(so.in) ==
        V{"gctx_paddr", "src_paddr", "dst_paddr", "mdata_paddr", "software_data", "flags"});
  CHECK(Number(so.in, "gctx_paddr") == F::kGctx);
  CHECK(Number(so.in, "src_paddr") == F::kData);
  CHECK(Number(so.in, "dst_paddr") == F::kOut);
  CHECK(Number(so.in, "mdata_paddr") == F::kMd);
  CHECK(Number(so.in, "software_data") == 0x5EED'0000'0001);
  CHECK(Number(so.in, "flags") == SwapFlags(SwapPageType::kData));
  CHECK(Field(so.in, "src_paddr")->kind == emulator::CommandField::Kind::kAddress);
  CHECK(so.out.empty());

  auto in = f.SwapInBuf(0);
  in.software_data = 0x77;  // reserved in SWAP_IN: not decoded
  in.flags |= emulator::kSwapInPlace;
  in.dst_paddr = in.src_paddr;  // in place needs src == dst; refused anyway (not PRE_GUEST)
  const FwStatus st = f.Run(SnpCmd::kPageSwapIn, in);
  const auto& si = rec.Last("SNP_PAGE_SWAP_IN");
  CHECK(si.status == st);
  CHECK(FieldNames(si.in) == V{"gctx_paddr", "src_paddr", "dst_paddr", "mdata_paddr", "flags"});
  CHECK(Number(si.in, "dst_paddr") == F::kOut);
  CHECK(Number(si.in, "flags") == (SwapFlags(SwapPageType::kData) | emulator::kSwapInPlace));

  f.Freeze(F::kData + rmp::kPageSize, F::kGpa + rmp::kPageSize);
  f.MakeTarget(F::kIn + rmp::kPageSize);
  emulator::SnpPageMoveBuf mv{F::kGctx, 0, 0, F::kData + rmp::kPageSize, F::kIn + rmp::kPageSize};
  REQUIRE(f.Run(SnpCmd::kPageMove, mv) == FwStatus::kSuccess);
  const auto& pm = rec.Last("SNP_PAGE_MOVE");
  CHECK(FieldNames(pm.in) == V{"gctx_paddr", "page_size", "src_paddr", "dst_paddr"});
  CHECK(Number(pm.in, "page_size") == 0);
  CHECK(Number(pm.in, "src_paddr") == F::kData + rmp::kPageSize);
  CHECK(Number(pm.in, "dst_paddr") == F::kIn + rmp::kPageSize);

  f.MakeFirmwarePage(0x203000);
  REQUIRE(f.Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx, 0x203000}) ==
          FwStatus::kSuccess);
  const auto& md = rec.Last("SNP_PAGE_MD_INIT");
  CHECK(FieldNames(md.in) == V{"gctx_paddr", "page_paddr"});
  CHECK(Number(md.in, "page_paddr") == 0x203000);
  f.fw->set_observer(nullptr);
}

}  // namespace
}  // namespace sevemu::test
