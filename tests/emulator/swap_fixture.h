// A running SNP guest with a few data pages, a metadata page and the hypervisor's side of page
// swapping (AMD-ASPFW snp_mcmd_swap_out / swap_in / page_move / md_init), for swap_test.cpp.
#pragma once

#include <cstring>

#include "firmware_fixture.h"
#include "sevemu/emulator/snp/snp_abi.h"

namespace sevemu::test {

using emulator::SnpMetadataEntry;
using emulator::SnpPageSwapBuf;
using emulator::SwapFlags;
using emulator::SwapPageType;

struct SwapFixture : FirmwareFixture {
  static constexpr std::uint64_t kGctx = 0x100000;
  static constexpr std::uint32_t kAsid = 1;
  static constexpr std::uint64_t kMd = 0x200000;    // guest's metadata page
  static constexpr std::uint64_t kData = 0x400000;  // 4 guest pages, GPA kGpa + i * 4 KiB
  static constexpr std::uint64_t kGpa = 0x10000;
  static constexpr std::uint64_t kOut = 0x600000;  // FIRMWARE pages that receive ciphertext
  static constexpr std::uint64_t kIn = 0x700000;   // fresh pages to swap into
  static constexpr std::uint64_t kBig = 0x800000;  // a 2 MiB guest page at GPA kBigGpa
  static constexpr std::uint64_t kBigGpa = 0x200000;
  static constexpr std::uint64_t kBigOut = 0xA00000;
  static constexpr std::uint64_t kBigIn = 0xC00000;

  // On `platform` (a seeded Milan at its default firmware unless told), the guest launched with
  // `policy`.
  explicit SwapFixture(bool with_big = false,
                       emulator::Platform platform = SeededPlatform(emulator::Product::kMilan),
                       std::uint64_t policy = 0x30000)
      : FirmwareFixture(std::move(platform)) {
    InitPlatform();
    StartGuest(kGctx, kAsid, policy);
    for (std::uint64_t i = 0; i < 4; ++i) {
      MakePreGuestPage(kData + i * rmp::kPageSize, kGpa + i * rmp::kPageSize, kAsid,
                       Pattern(static_cast<std::uint8_t>(i + 1)));
      auto upd = UpdateBuf(kGctx, kData + i * rmp::kPageSize, emulator::PageType::kNormal);
      upd.vmpl_perms = 0x03u << 8;  // VMPL1 read/write: the entry must carry it
      REQUIRE(Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kSuccess);
    }
    if (with_big) {
      Bytes big(rmp::kPageSize2M, 0x5A);
      REQUIRE(fw->memory().HvWrite(kBig, big) == rmp::RmpViolation::kNone);
      REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), kBig, {kBigGpa, true, true, true, kAsid}) ==
              rmp::RmpResult::kSuccess);
      auto upd = UpdateBuf(kGctx, kBig, emulator::PageType::kNormal);
      upd.page_info |= 1;
      REQUIRE(Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kSuccess);
    }
    REQUIRE(Run(SnpCmd::kLaunchFinish, emulator::SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
            FwStatus::kSuccess);
    REQUIRE(MdInit(kGctx, kMd) == FwStatus::kSuccess);
  }

  static Bytes Pattern(std::uint8_t v) {
    Bytes b(rmp::kPageSize);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(v + i * 7);
    return b;
  }

  FwStatus MdInit(std::uint64_t gctx, std::uint64_t page) {
    MakeFirmwarePage(page);
    return Run(SnpCmd::kPageMdInit, emulator::SnpPageMdInitBuf{gctx, page});
  }

  // Host RMPUPDATE that makes a guest page immutable, keeping its owner: GUEST_VALID -> PRE_SWAP.
  void Freeze(std::uint64_t spa, std::uint64_t gpa, bool big = false, std::uint32_t asid = kAsid) {
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {gpa, true, big, true, asid}) ==
            rmp::RmpResult::kSuccess);
  }
  // Host: a page handed to a guest's ASID for the firmware to fill (PRE_GUEST).
  void MakeTarget(std::uint64_t spa, std::uint32_t asid = kAsid, bool big = false) {
    const rmp::RmpEntry e = fw->memory().rmp().Get(spa);
    if (e.State() == rmp::PageState::kPreGuest && e.asid() == asid) return;
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {0, true, big, true, asid}) ==
            rmp::RmpResult::kSuccess);
  }
  // Host: a FIRMWARE page of either size.
  void MakeFirmware(std::uint64_t spa, bool big) {
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {0, true, big, true, 0}) ==
            rmp::RmpResult::kSuccess);
  }

  static SnpPageSwapBuf Buf(std::uint64_t gctx, std::uint64_t src, std::uint64_t dst,
                            std::uint64_t mdata, std::uint64_t flags) {
    return SnpPageSwapBuf{gctx, src, dst, mdata, 0, flags};
  }

  // Swap guest page i out into kOut + i * 4 KiB with its entry in slot i of kMd.
  FwStatus SwapOutData(std::uint64_t i) {
    Freeze(kData + i * rmp::kPageSize, kGpa + i * rmp::kPageSize);
    MakeFirmwarePage(kOut + i * rmp::kPageSize);
    auto b = Buf(kGctx, kData + i * rmp::kPageSize, kOut + i * rmp::kPageSize, kMd + 64 * i,
                 SwapFlags(SwapPageType::kData));
    return Run(SnpCmd::kPageSwapOut, b);
  }
  // Swap page i back from kOut + i * 4 KiB into kIn + i * 4 KiB (a fresh PRE_GUEST page).
  SnpPageSwapBuf SwapInBuf(std::uint64_t i) {
    MakeTarget(kIn + i * rmp::kPageSize);
    return Buf(kGctx, kOut + i * rmp::kPageSize, kIn + i * rmp::kPageSize, kMd + 64 * i,
               SwapFlags(SwapPageType::kData));
  }

  SnpMetadataEntry EntryAt(std::uint64_t spa) {
    SnpMetadataEntry e{};
    REQUIRE(fw->memory().FirmwareRead(spa, {reinterpret_cast<std::uint8_t*>(&e), sizeof e}).ok());
    return e;
  }

  // What the guest reads at `gpa` when its nested page table maps it to `spa`.
  Bytes GuestReads(std::uint64_t gpa, std::uint64_t spa, rmp::RmpViolation* why = nullptr) {
    Bytes out(rmp::kPageSize);
    rmp::GuestAccess a{kAsid, 0, gpa, true, false, rmp::kPermRead};
    const auto v = fw->memory().GuestRead(a, spa, out);
    if (why != nullptr) *why = v;
    return v == rmp::RmpViolation::kNone ? out : Bytes{};
  }

  rmp::PageState StateOf(std::uint64_t spa) { return fw->memory().rmp().Get(spa).State(); }
};

}  // namespace sevemu::test
