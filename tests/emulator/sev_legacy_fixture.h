// The legacy SEV / SEV-ES test machine: a booted firmware INIT for SEV (and SEV-ES), with the
// host's buffers at fixed addresses and the guest owner's steps (owner/launch_session.h) to
// launch a guest up to a chosen point. Shared by sev_guest_test.cpp (launch) and
// sev_migrate_test.cpp (SEND_*/RECEIVE_* between two such machines).
#pragma once

#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "emulator_fixture.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/rmp/rmp_instructions.h"
#include "sevemu/statemachine/sev_guest.h"

namespace sevemu::test {

using emulator::FwStatus;
using emulator::SevCmd;
namespace pol = emulator::sev_policy;

constexpr std::uint32_t kMinSevAsid = 100;  // ES guests 1..99, SEV guests 100..max
constexpr std::uint32_t kEsAsid = 5;
constexpr std::uint32_t kSevAsid = 120;

// Host buffers the firmware reads or writes (FIRMWARE pages once SNP is up, as Linux's
// bounce pages are), and guest memory.
constexpr std::uint64_t kPdh = 0x200000;
constexpr std::uint64_t kChain = 0x202000;  // 3 x 0x824: two pages
constexpr std::uint64_t kSession = 0x205000;
constexpr std::uint64_t kGodh = 0x206000;
constexpr std::uint64_t kMeasure = 0x208000;
constexpr std::uint64_t kSecretHdr = 0x209000;
constexpr std::uint64_t kSecretTrans = 0x20A000;
constexpr std::uint64_t kReport = 0x20B000;
constexpr std::uint64_t kDbg = 0x20C000;
constexpr std::uint64_t kGuest = 0x400000;  // guest pages, then the VMSA, then the secret
constexpr int kGuestPages = 3;
constexpr std::uint64_t kVmsa = kGuest + kGuestPages * 0x1000;
constexpr std::uint64_t kSecretGpa = kVmsa + 0x1000;
constexpr std::uint64_t kHvPage = 0x600000;  // stays a hypervisor page
// Migration buffers (sev_migrate_test.cpp): AMD's ASK ‖ ARK, a transport packet's header and
// its ciphertext (one page).
constexpr std::uint64_t kAmdCerts = 0x20D000;
constexpr std::uint64_t kPacketHdr = 0x20E000;
constexpr std::uint64_t kPacketTrans = 0x20F000;

inline Bytes Pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return b;
}

struct LegacyFixture {
  std::unique_ptr<emulator::Firmware> fw;
  bool snp;
  std::optional<emulator::AmdRoot> root;  // the AMD root that made the chip
  std::optional<crypto::PrivateKey> cek;  // its CEK, for the KDS-signed certificate

  // A legacy platform, INIT (with SEV-ES and its TMR if `es`), ASIDs clean. With `snp` the host
  // initialised SNP first, as Linux does, and every buffer page is FIRMWARE.
  // `seed` makes another chip of `product` (two fixtures with different seeds are two
  // machines: the migration tests).
  explicit LegacyFixture(bool es = true, bool with_snp = false, std::uint8_t seed = 1,
                         emulator::Product product = emulator::Product::kMilan)
      : snp(with_snp) {
    emulator::FirmwareConfig cfg;
    cfg.memory_size = 64ull << 20;
    cfg.min_sev_asid = kMinSevAsid;
    cfg.snp_enabled = snp;
    emulator::Platform platform = SeededPlatform(product, seed);
    root = platform.root;
    cek = emulator::DeriveCek(platform.fuses.chip_unique_key).value();
    auto booted = emulator::Firmware::Boot(std::move(platform), cfg);
    REQUIRE(booted.ok());
    fw = std::move(booted).value();
    emulator::SevInitBuf init{};
    if (snp) {
      REQUIRE(fw->Execute(emulator::SnpCmd::kInit, MutableByteSpan{}) == FwStatus::kSuccess);
      for (std::uint64_t p = kPdh; p <= kPacketTrans; p += 0x1000) MakeFirmware(p);
      for (std::uint64_t p = kGuest; p <= kSecretGpa; p += 0x1000) MakeFirmware(p);
    }
    if (es) {
      init.flags = emulator::sev_flags::kConfigEs;
      init.tmr_paddr = 0x1000000;
      init.tmr_length = snp ? emulator::kSevEsTmrSizeSnp : emulator::kSevEsTmrSize;
      if (snp) {
        for (std::uint64_t p = 0; p < init.tmr_length; p += 0x1000) MakeFirmware(0x1000000 + p);
      }
    }
    REQUIRE(Sev(SevCmd::kInit, init) == FwStatus::kSuccess);
    fw->Wbinvd();
    REQUIRE(fw->ExecuteSev(SevCmd::kDfFlush, MutableByteSpan{}) == FwStatus::kSuccess);
  }

  void MakeFirmware(std::uint64_t spa) {
    REQUIRE(rmp::RmpUpdate(fw->memory().rmp(), spa, {0, true, false, true, 0}) ==
            rmp::RmpResult::kSuccess);
  }
  template <typename Buf>
  FwStatus Sev(SevCmd cmd, Buf& buf) {
    return fw->ExecuteSev(cmd, buf);
  }
  void Put(std::uint64_t spa, ByteSpan bytes) {
    REQUIRE(fw->memory().FirmwareWrite(spa, bytes).ok());
  }
  Bytes Get(std::uint64_t spa, std::size_t n) {
    Bytes b(n);
    REQUIRE(fw->memory().FirmwareRead(spa, b).ok());
    return b;
  }
  // The guest's view of its memory (decrypted with its key).
  Bytes GuestView(std::uint32_t asid, std::uint64_t spa, std::size_t n) {
    Bytes b(n);
    REQUIRE(fw->memory().FirmwareReadGuest(asid, spa, b) == rmp::RmpViolation::kNone);
    return b;
  }

  emulator::SevApiVersion Api() {
    emulator::SevPlatformStatusBuf st{};
    REQUIRE(Sev(SevCmd::kPlatformStatus, st) == FwStatus::kSuccess);
    return {st.api_major, st.api_minor, st.build};
  }
  // PDH_CERT_EXPORT: the PDH and the PEK, as a guest owner receives them from the host.
  struct Chain {
    crypto::PublicKey pdh, pek;
  };
  Chain Export() {
    emulator::SevPdhCertExportBuf b{kPdh, 0x824, 0, kChain, 0x186C};
    REQUIRE(Sev(SevCmd::kPdhCertExport, b) == FwStatus::kSuccess);
    auto pdh = emulator::SevCert::Parse(Get(kPdh, emulator::kSevCertSize));
    auto pek = emulator::SevCert::Parse(Get(kChain, emulator::kSevCertSize));
    REQUIRE(pdh.ok());
    REQUIRE(pek.ok());
    CHECK(pek->pubkey.usage == emulator::sev_usage::kPek);
    auto pdh_key = pdh->pubkey.ToCrypto();
    auto pek_key = pek->pubkey.ToCrypto();
    REQUIRE(pdh_key.ok());
    REQUIRE(pek_key.ok());
    return {*pdh_key, *pek_key};
  }
  owner::LaunchSession Session(std::uint32_t policy) {
    auto ls = owner::MakeLaunchSession(Export().pdh, policy);
    REQUIRE_MESSAGE(ls.ok(), ls.error().message());
    return std::move(ls).value();
  }
  // Puts the owner's GODH certificate and session where LAUNCH_START reads them.
  emulator::SevLaunchStartBuf StartBuf(const owner::LaunchSession& ls) {
    Put(kGodh, ls.godh_cert);
    Put(kSession, ls.SessionBytes());
    return {0, ls.policy, kGodh, 0x824, 0, kSession, 0x80};
  }
  std::uint32_t Start(const owner::LaunchSession& ls) {
    auto b = StartBuf(ls);
    REQUIRE(Sev(SevCmd::kLaunchStart, b) == FwStatus::kSuccess);
    CHECK(b.handle != 0);
    return b.handle;
  }
  FwStatus Activate(std::uint32_t handle, std::uint32_t asid) {
    emulator::SevActivateBuf b{handle, asid};
    return Sev(SevCmd::kActivate, b);
  }
  FwStatus Handle(SevCmd cmd, std::uint32_t handle) {
    emulator::SevHandleBuf b{handle};
    return Sev(cmd, b);
  }
  emulator::SevGuestStatusBuf Status(std::uint32_t handle) {
    emulator::SevGuestStatusBuf b{handle, 0, 0, 0};
    REQUIRE(Sev(SevCmd::kGuestStatus, b) == FwStatus::kSuccess);
    return b;
  }
  FwStatus Update(SevCmd cmd, std::uint32_t handle, std::uint64_t spa, std::uint32_t len) {
    emulator::SevLaunchUpdateBuf b{handle, 0, spa, len};
    return Sev(cmd, b);
  }
  // LAUNCH_MEASURE into kMeasure.
  emulator::SevMeasureOut Measure(std::uint32_t handle) {
    emulator::SevLaunchMeasureBuf b{handle, 0, kMeasure, 0x30};
    REQUIRE(Sev(SevCmd::kLaunchMeasure, b) == FwStatus::kSuccess);
    auto out = emulator::ParseSevMeasureOut(Get(kMeasure, 0x30));
    REQUIRE(out.ok());
    return *out;
  }
  emulator::SevLaunchSecretBuf SecretBuf(std::uint32_t handle, const owner::LaunchSecretPacket& p) {
    Put(kSecretHdr, p.HeaderBytes());
    Put(kSecretTrans, p.ciphertext);
    const auto n = static_cast<std::uint32_t>(p.ciphertext.size());
    return {handle, 0, kSecretHdr, 0x34, 0, kSecretGpa, n, 0, kSecretTrans, n};
  }
};

// A guest launched up to a chosen point, with what its owner knows.
struct Launched {
  Launched() = default;
  explicit Launched(owner::LaunchSession s) : ls(std::move(s)) {}
  owner::LaunchSession ls;
  std::uint32_t handle = 0;
  std::uint32_t asid = 0;
  std::vector<Bytes> measured;  // plaintext passed to UPDATE_DATA / UPDATE_VMSA, in order
  emulator::SevDigest digest{};
  emulator::SevMeasureOut measure;
};

// LAUNCH_START, ACTIVATE, UPDATE_DATA of kGuestPages pages (and UPDATE_VMSA for ES); measured
// unless `stop_before_measure`.
inline Launched LaunchUpTo(LegacyFixture& f, std::uint32_t policy,
                           bool stop_before_measure = false) {
  Launched l{f.Session(policy)};
  l.handle = f.Start(l.ls);
  const bool es = policy & pol::kEs;
  l.asid = es ? kEsAsid : kSevAsid;
  REQUIRE(f.Activate(l.handle, l.asid) == FwStatus::kSuccess);
  for (int i = 0; i < kGuestPages; ++i) {
    const Bytes page = Pattern(0x1000, static_cast<std::uint8_t>(i + 1));
    f.Put(kGuest + i * 0x1000, page);
    REQUIRE(f.Update(SevCmd::kLaunchUpdateData, l.handle, kGuest + i * 0x1000, 0x1000) ==
            FwStatus::kSuccess);
    l.measured.push_back(page);
  }
  if (es) {
    const Bytes vmsa = Pattern(0x1000, 0xA5);
    f.Put(kVmsa, vmsa);
    REQUIRE(f.Update(SevCmd::kLaunchUpdateVmsa, l.handle, kVmsa, 0x1000) == FwStatus::kSuccess);
    l.measured.push_back(vmsa);
  }
  std::vector<ByteSpan> spans(l.measured.begin(), l.measured.end());
  auto digest = owner::LegacyLaunchDigest(spans);
  REQUIRE(digest.ok());
  l.digest = *digest;
  if (!stop_before_measure) l.measure = f.Measure(l.handle);
  return l;
}

}  // namespace sevemu::test
