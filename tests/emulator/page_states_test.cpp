// The RMP page-state table (emulator/snp/page_states.h, docs/diagrams/rmp_page_states.dot)
// against the code: every row is performed on a live firmware and must land where the table
// says, every transition performed must be a row, and no row may go unperformed.
#include "sevemu/emulator/snp/page_states.h"

#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <tuple>

#include "swap_fixture.h"

namespace sevemu::test {
namespace {

using rmp::PageState;
using F = SwapFixture;
using Row = std::tuple<PageState, PageState, std::string>;

struct Recorder {
  SwapFixture& f;
  std::set<Row> seen;

  // Performs `op` on the page at `spa`, which must be in `from` and must end in `to`.
  void Do(std::uint64_t spa, PageState from, PageState to, const std::string& by,
          const std::function<void()>& op) {
    CAPTURE(by);
    REQUIRE(f.StateOf(spa) == from);
    op();
    CHECK(rmp::PageStateName(f.StateOf(spa)) == std::string(rmp::PageStateName(to)));
    seen.insert({from, to, by});
  }
  void Cmd(SnpCmd cmd, auto buf) { REQUIRE(f.Run(cmd, buf) == FwStatus::kSuccess); }
  void Update(std::uint64_t spa, rmp::RmpUpdateState st) {
    REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), spa, st) == rmp::RmpResult::kSuccess);
  }
  void Pvalidate(std::uint64_t spa, std::uint64_t gpa, bool validate) {
    REQUIRE(rmp::Pvalidate(f.fw->memory().rmp(), {F::kAsid, 0}, gpa, spa, false, validate) ==
            rmp::RmpResult::kSuccess);
  }
};

TEST_CASE("every RMP page transition in the table is what the code does, and no other") {
  SwapFixture f;
  Recorder r{f, {}};
  using S = PageState;
  constexpr std::uint64_t p = 0x1000000, kPg = rmp::kPageSize;
  const std::uint64_t gpa = 0x90000;
  const std::uint64_t g2 = 0x101000;
  const auto data = SwapFlags(SwapPageType::kData);
  const auto meta_root = SwapFlags(SwapPageType::kMetadata, false, true);

  // RMPUPDATE and PVALIDATE.
  r.Do(p, S::kHypervisor, S::kFirmware, "RMPUPDATE assigned, ASID 0, immutable", [&] {
    r.Update(p, {0, true, false, true, 0});
  });
  r.Do(p + kPg, S::kHypervisor, S::kGuestInvalid, "RMPUPDATE assigned, ASID", [&] {
    r.Update(p + kPg, {gpa, true, false, false, F::kAsid});
  });
  r.Do(p + kPg, S::kGuestInvalid, S::kPreGuest, "RMPUPDATE immutable, same owner", [&] {
    r.Update(p + kPg, {gpa, true, false, true, F::kAsid});
  });
  r.Do(p + kPg, S::kPreGuest, S::kGuestInvalid, "SNP_PAGE_RECLAIM",
       [&] { r.Cmd(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{p + kPg}); });
  r.Do(p + kPg, S::kGuestInvalid, S::kGuestValid, "PVALIDATE validate",
       [&] { r.Pvalidate(p + kPg, gpa, true); });
  r.Do(p + kPg, S::kGuestValid, S::kGuestInvalid, "PVALIDATE rescind",
       [&] { r.Pvalidate(p + kPg, gpa, false); });
  r.Pvalidate(p + kPg, gpa, true);
  r.Do(p + kPg, S::kGuestValid, S::kPreSwap, "RMPUPDATE immutable, same owner", [&] {
    r.Update(p + kPg, {gpa, true, false, true, F::kAsid});
  });
  r.Do(p + kPg, S::kPreSwap, S::kGuestValid, "SNP_PAGE_RECLAIM",
       [&] { r.Cmd(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{p + kPg}); });
  r.Do(p + kPg, S::kGuestValid, S::kHypervisor, "RMPUPDATE unassigned",
       [&] { r.Update(p + kPg, {}); });
  r.Update(p + 2 * kPg, {gpa, true, false, false, F::kAsid});
  r.Do(p + 2 * kPg, S::kGuestInvalid, S::kHypervisor, "RMPUPDATE unassigned",
       [&] { r.Update(p + 2 * kPg, {}); });

  // Guest contexts, a second guest's launch, reclaim.
  r.Do(p, S::kFirmware, S::kContext, "SNP_GCTX_CREATE",
       [&] { r.Cmd(SnpCmd::kGctxCreate, emulator::SnpAddrBuf{p}); });
  r.Do(p, S::kContext, S::kFirmware, "SNP_DECOMMISSION",
       [&] { r.Cmd(SnpCmd::kDecommission, emulator::SnpAddrBuf{p}); });
  r.Do(p, S::kFirmware, S::kReclaim, "SNP_PAGE_RECLAIM",
       [&] { r.Cmd(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{p}); });
  r.Do(p, S::kReclaim, S::kHypervisor, "RMPUPDATE unassigned", [&] { r.Update(p, {}); });
  f.StartGuest(g2, 2);
  r.Do(p + 3 * kPg, S::kHypervisor, S::kPreGuest, "RMPUPDATE assigned, ASID, immutable", [&] {
    r.Update(p + 3 * kPg, {gpa, true, false, true, 2});
  });
  r.Do(p + 3 * kPg, S::kPreGuest, S::kGuestValid, "SNP_LAUNCH_UPDATE", [&] {
    r.Cmd(SnpCmd::kLaunchUpdate, f.UpdateBuf(g2, p + 3 * kPg, emulator::PageType::kNormal));
  });

  // Metadata pages, swapping.
  f.MakeFirmwarePage(p + 4 * kPg);
  r.Do(p + 4 * kPg, S::kFirmware, S::kMetadata, "SNP_PAGE_MD_INIT", [&] {
    r.Cmd(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{F::kGctx, p + 4 * kPg});
  });
  r.Do(p + 4 * kPg, S::kMetadata, S::kReclaim, "SNP_PAGE_RECLAIM",
       [&] { r.Cmd(SnpCmd::kPageReclaim, emulator::SnpAddrBuf{p + 4 * kPg}); });
  f.Freeze(F::kData, F::kGpa);
  f.MakeFirmwarePage(p + 5 * kPg);
  r.Do(F::kData, S::kPreSwap, S::kPreGuest, "SNP_PAGE_SWAP_OUT source",
       [&] { r.Cmd(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kData, p + 5 * kPg, F::kMd, data)); });
  f.MakeTarget(p + 6 * kPg);
  r.Do(p + 6 * kPg, S::kPreGuest, S::kPreSwap, "SNP_PAGE_SWAP_IN validated page", [&] {
    r.Cmd(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, p + 5 * kPg, p + 6 * kPg, F::kMd, data));
  });
  f.MakeFirmwarePage(p + 7 * kPg);
  r.Do(F::kMd, S::kMetadata, S::kFirmware, "SNP_PAGE_SWAP_OUT metadata source",
       [&] { r.Cmd(SnpCmd::kPageSwapOut, F::Buf(F::kGctx, F::kMd, p + 7 * kPg, 0, meta_root)); });
  f.MakeFirmwarePage(p + 8 * kPg);
  r.Do(p + 8 * kPg, S::kFirmware, S::kMetadata, "SNP_PAGE_SWAP_IN metadata page", [&] {
    r.Cmd(SnpCmd::kPageSwapIn, F::Buf(F::kGctx, p + 7 * kPg, p + 8 * kPg, 0, meta_root));
  });

  // Moves: a PRE_SWAP page, a PRE_GUEST page, a metadata page.
  f.MakeTarget(p + 9 * kPg);
  const emulator::SnpPageMoveBuf swap_move{F::kGctx, 0, 0, p + 6 * kPg, p + 9 * kPg};
  r.Do(p + 9 * kPg, S::kPreGuest, S::kGuestValid, "SNP_PAGE_MOVE destination of a PRE_SWAP page",
       [&] { r.Cmd(SnpCmd::kPageMove, swap_move); });
  r.seen.insert({S::kPreSwap, S::kGuestInvalid, "SNP_PAGE_MOVE source"});
  CHECK(f.StateOf(p + 6 * kPg) == S::kGuestInvalid);
  r.Pvalidate(F::kData + kPg, F::kGpa + kPg, false);
  f.Freeze(F::kData + kPg, F::kGpa + kPg);
  f.MakeTarget(p + 10 * kPg);
  const emulator::SnpPageMoveBuf guest_move{F::kGctx, 0, 0, F::kData + kPg, p + 10 * kPg};
  r.Do(F::kData + kPg, S::kPreGuest, S::kGuestInvalid, "SNP_PAGE_MOVE source",
       [&] { r.Cmd(SnpCmd::kPageMove, guest_move); });
  r.seen.insert({S::kPreGuest, S::kGuestInvalid, "SNP_PAGE_MOVE destination of a PRE_GUEST page"});
  CHECK(f.StateOf(p + 10 * kPg) == S::kGuestInvalid);
  f.MakeFirmwarePage(p + 11 * kPg);
  const emulator::SnpPageMoveBuf md_move{F::kGctx, 0, 0, p + 8 * kPg, p + 11 * kPg};
  r.Do(p + 11 * kPg, S::kFirmware, S::kMetadata, "SNP_PAGE_MOVE metadata destination",
       [&] { r.Cmd(SnpCmd::kPageMove, md_move); });
  r.seen.insert({S::kMetadata, S::kFirmware, "SNP_PAGE_MOVE metadata source"});
  CHECK(f.StateOf(p + 8 * kPg) == S::kFirmware);

  // HV_FIXED: a range list naming one FIRMWARE page.
  const std::uint64_t fixed = 0x2000000, list = p + 12 * kPg;
  f.MakeFirmwarePage(fixed);
  Bytes l(rmp::kPageSize, 0);
  l[0] = 1;
  StoreLe64(l.data() + 8, fixed);
  l[16] = 1;
  REQUIRE(f.fw->memory().HvWrite(list, l) == rmp::RmpViolation::kNone);
  r.Do(fixed, S::kFirmware, S::kHvFixed, "SNP_PAGE_SET_STATE", [&] {
    r.Cmd(SnpCmd::kPageSetState, emulator::SnpPageSetStateBuf{16, 0, list});
  });

  std::set<Row> table;
  for (const auto& t : emulator::PageTransitions()) table.insert({t.from, t.to, t.by});
  for (const Row& row : r.seen) {
    CAPTURE(std::get<2>(row));
    CHECK(table.count(row) == 1);
  }
  for (const Row& row : table) {
    CAPTURE(std::get<2>(row));
    CHECK(r.seen.count(row) == 1);
  }
  CHECK(table.size() == emulator::PageTransitions().size());  // no duplicate rows
}

}  // namespace
}  // namespace sevemu::test
