// A booted SNP firmware over a small simulated machine, and the hypervisor's helpers to hand
// it pages the way a host kernel does (RMPUPDATE to FIRMWARE or PRE_GUEST state).
#pragma once

#include <doctest/doctest.h>

#include "emulator_fixture.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::test {

using emulator::FwStatus;
using emulator::SnpCmd;

struct FirmwareFixture {
  std::unique_ptr<emulator::Firmware> fw;

  explicit FirmwareFixture(emulator::Product p = emulator::Product::kMilan)
      : FirmwareFixture(SeededPlatform(p)) {}
  explicit FirmwareFixture(emulator::Platform platform) {
    emulator::FirmwareConfig cfg;
    cfg.memory_size = 64ull << 20;
    auto booted = emulator::Firmware::Boot(std::move(platform), cfg);
    REQUIRE_MESSAGE(booted.ok(), (booted.ok() ? "" : booted.error().message()));
    fw = std::move(booted).value();
  }

  FwStatus Run(SnpCmd cmd) { return fw->Execute(cmd, MutableByteSpan{}); }
  template <typename Buf>
  FwStatus Run(SnpCmd cmd, Buf buf) {
    return fw->Execute(cmd, buf);
  }

  // A legacy SEV command (Firmware::ExecuteSev).
  FwStatus Sev(emulator::SevCmd cmd) { return fw->ExecuteSev(cmd, MutableByteSpan{}); }
  template <typename Buf>
  FwStatus Sev(emulator::SevCmd cmd, Buf& buf) {
    return fw->ExecuteSev(cmd, buf);
  }
  // Legacy INIT without SEV-ES.
  void Init() {
    emulator::SevInitBuf b{};
    REQUIRE(Sev(emulator::SevCmd::kInit, b) == FwStatus::kSuccess);
  }
  // The SEV certificate the firmware wrote at `spa`, parsed.
  emulator::SevCert CertAt(std::uint64_t spa) {
    Bytes b(emulator::kSevCertSize);
    REQUIRE(fw->memory().FirmwareRead(spa, b).ok());
    auto c = emulator::SevCert::Parse(b);
    REQUIRE_MESSAGE(c.ok(), c.error().message());
    return *c;
  }

  // SNP_INIT, then WBINVD + SNP_DF_FLUSH so ASIDs are clean.
  void InitPlatform() {
    REQUIRE(Run(SnpCmd::kInit) == FwStatus::kSuccess);
    fw->Wbinvd();
    REQUIRE(Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  }

  // Host: RMPUPDATE the page to FIRMWARE (assigned, ASID 0, immutable).
  void MakeFirmwarePage(std::uint64_t spa) {
    if (fw->memory().rmp().Get(spa).State() == rmp::PageState::kFirmware) return;
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {0, true, false, true, 0}) ==
            rmp::RmpResult::kSuccess);
  }
  // Host: writes plaintext while it owns the page, then RMPUPDATE to PRE_GUEST for `asid`.
  void MakePreGuestPage(std::uint64_t spa, std::uint64_t gpa, std::uint32_t asid, ByteSpan data) {
    REQUIRE(fw->memory().HvWrite(spa, data) == rmp::RmpViolation::kNone);
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {gpa, true, false, true, asid}) ==
            rmp::RmpResult::kSuccess);
  }

  FwStatus GctxCreate(std::uint64_t gctx) {
    MakeFirmwarePage(gctx);
    return Run(SnpCmd::kGctxCreate, emulator::SnpAddrBuf{gctx});
  }
  emulator::SnpLaunchStartBuf LaunchStartBuf(std::uint64_t gctx, std::uint64_t policy = 0x30000) {
    emulator::SnpLaunchStartBuf b{};
    b.gctx_paddr = gctx;
    b.policy = policy;
    return b;
  }
  emulator::SnpLaunchUpdateBuf UpdateBuf(std::uint64_t gctx, std::uint64_t spa,
                                         emulator::PageType type) {
    emulator::SnpLaunchUpdateBuf b{};
    b.gctx_paddr = gctx;
    b.address = spa;
    b.page_info = static_cast<std::uint32_t>(type) << 1;
    return b;
  }
  // GCTX_CREATE + LAUNCH_START + ACTIVATE: a guest ready for LAUNCH_UPDATE.
  void StartGuest(std::uint64_t gctx, std::uint32_t asid, std::uint64_t policy = 0x30000) {
    REQUIRE(GctxCreate(gctx) == FwStatus::kSuccess);
    REQUIRE(Run(SnpCmd::kLaunchStart, LaunchStartBuf(gctx, policy)) == FwStatus::kSuccess);
    REQUIRE(Run(SnpCmd::kActivate, emulator::SnpActivateBuf{gctx, asid}) == FwStatus::kSuccess);
  }
  emulator::SnpGuestStatusPage GuestStatus(std::uint64_t gctx, std::uint64_t page) {
    MakeFirmwarePage(page);
    REQUIRE(Run(SnpCmd::kGuestStatus, emulator::SnpGuestStatusBuf{gctx, page}) ==
            FwStatus::kSuccess);
    emulator::SnpGuestStatusPage out{};
    REQUIRE(
        fw->memory().FirmwareRead(page, {reinterpret_cast<std::uint8_t*>(&out), sizeof out}).ok());
    return out;
  }
};

}  // namespace sevemu::test
