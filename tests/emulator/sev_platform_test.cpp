// The legacy SEV platform commands (Firmware::ExecuteSev; docs/sev-commands.md): the state
// rules of every command (refusals change nothing, proved with StateDigest), the INIT(_EX)
// checks, length probing, PLATFORM_STATUS, and ownership both ways with the firmware's statuses.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "firmware_fixture.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::test {
namespace {

using emulator::SevCert;
using emulator::SevCmd;
using statemachine::SevPlatformState;
namespace usage = emulator::sev_usage;
namespace algo = emulator::sev_algo;

constexpr std::uint64_t kPage1 = 0x200000;  // firmware-writable buffers (FIRMWARE pages)
constexpr std::uint64_t kPage2 = 0x204000;
constexpr std::uint64_t kHvPage = 0x300000;  // stays a hypervisor page

struct SevFixture : FirmwareFixture {
  explicit SevFixture(bool snp = true) {
    if (snp) InitPlatform();
    for (std::uint64_t p = 0; p < 8; ++p) {
      if (snp) MakeFirmwarePage(kPage1 + p * 4096);
    }
  }
  emulator::SevPlatformStatusBuf Status() {
    emulator::SevPlatformStatusBuf s{};
    REQUIRE(Sev(SevCmd::kPlatformStatus, s) == FwStatus::kSuccess);
    return s;
  }
  // PDH_CERT_EXPORT into kPage1 (PDH) and kPage2 (PEK, OCA, CEK).
  struct Exported {
    SevCert pdh, pek, oca, cek;
  };
  Exported Export() {
    emulator::SevPdhCertExportBuf b{kPage1, 0x824, 0, kPage2, 0x186C};
    REQUIRE(Sev(SevCmd::kPdhCertExport, b) == FwStatus::kSuccess);
    return {CertAt(kPage1), CertAt(kPage2), CertAt(kPage2 + 0x824), CertAt(kPage2 + 0x1048)};
  }
  void Put(std::uint64_t spa, ByteSpan bytes) {
    REQUIRE(fw->memory().FirmwareWrite(spa, bytes).ok());
  }
};

crypto::PrivateKey NewEc() {
  auto k = crypto::PrivateKey::GenerateEcP384();
  REQUIRE(k.ok());
  return *k;
}

}  // namespace

TEST_CASE("legacy dispatch: ids, buffer sizes") {
  SevFixture f;
  CHECK(f.fw->ExecuteSev(static_cast<SevCmd>(0x0E), MutableByteSpan{}) ==
        FwStatus::kInvalidCommand);  // NOP is not implemented
  CHECK(f.fw->ExecuteSev(static_cast<SevCmd>(0x45), MutableByteSpan{}) ==
        FwStatus::kInvalidCommand);  // past SEND_CANCEL
  CHECK(f.fw->ExecuteSev(SevCmd::kSendStart, MutableByteSpan{}) == FwStatus::kInvalidLength);
  CHECK(std::string(emulator::SevCmdName(SevCmd::kReceiveFinish)) == "RECEIVE_FINISH");
  Bytes eleven(11);
  CHECK(f.fw->ExecuteSev(SevCmd::kPlatformStatus, eleven) == FwStatus::kInvalidLength);
  Bytes one(1);
  CHECK(f.fw->ExecuteSev(SevCmd::kPekGen, one) == FwStatus::kInvalidLength);
  CHECK(std::string(emulator::SevCmdName(SevCmd::kPdhCertExport)) == "PDH_CERT_EXPORT");
}

TEST_CASE("legacy commands in the wrong state: INVALID_PLATFORM_STATE, nothing changed") {
  struct Row {
    const char* rule;
    bool init_first;  // INIT before (else UNINIT)
    std::function<FwStatus(SevFixture&)> run;
  };
  const Row rows[] = {
      {"PEK_GEN in UNINIT", false, [](SevFixture& f) { return f.Sev(SevCmd::kPekGen); }},
      {"PDH_GEN in UNINIT", false, [](SevFixture& f) { return f.Sev(SevCmd::kPdhGen); }},
      {"PEK_CSR in UNINIT", false,
       [](SevFixture& f) {
         emulator::SevAddrLenBuf b{kPage1, 0x824};
         return f.Sev(SevCmd::kPekCsr, b);
       }},
      {"PEK_CSR probe in UNINIT (state before length)", false,
       [](SevFixture& f) {
         emulator::SevAddrLenBuf b{0, 0};
         return f.Sev(SevCmd::kPekCsr, b);
       }},
      {"PDH_CERT_EXPORT in UNINIT", false,
       [](SevFixture& f) {
         emulator::SevPdhCertExportBuf b{kPage1, 0x824, 0, kPage2, 0x186C};
         return f.Sev(SevCmd::kPdhCertExport, b);
       }},
      {"PEK_CERT_IMPORT in UNINIT", false,
       [](SevFixture& f) {
         emulator::SevPekCertImportBuf b{kPage1, 0x824, 0, kPage2, 0x824};
         return f.Sev(SevCmd::kPekCertImport, b);
       }},
      {"INIT in INIT", true,
       [](SevFixture& f) {
         emulator::SevInitBuf b{};
         return f.Sev(SevCmd::kInit, b);
       }},
      {"INIT_EX in INIT", true,
       [](SevFixture& f) {
         emulator::SevInitExBuf b{};
         b.length = 0x24;
         return f.Sev(SevCmd::kInitEx, b);
       }},
      {"PLATFORM_RESET in INIT", true, [](SevFixture& f) { return f.Sev(SevCmd::kPlatformReset); }},
      {"DOWNLOAD_FIRMWARE in INIT", true,
       [](SevFixture& f) {
         emulator::SevDownloadFirmwareBuf b{kPage1, 4096};
         return f.Sev(SevCmd::kDownloadFirmware, b);
       }},
      {"DOWNLOAD_FIRMWARE with SNP initialised", false,
       [](SevFixture& f) {
         emulator::SevDownloadFirmwareBuf b{kPage1, 4096};
         return f.Sev(SevCmd::kDownloadFirmware, b);
       }},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      SevFixture f;
      if (r.init_first) f.Init();
      const auto state = f.fw->sev_state();
      const Bytes digest = f.fw->StateDigest();
      CHECK(r.run(f) == FwStatus::kInvalidPlatformState);
      CHECK(f.fw->sev_state() == state);
      CHECK(f.fw->StateDigest() == digest);
    }
  }
}

TEST_CASE("INIT and INIT_EX: checks in AMD's order, nothing changed on refusal") {
  SUBCASE("SNPEn without the RMP built: INVALID_PLATFORM_STATE") {
    SevFixture f(false);
    const Bytes digest = f.fw->StateDigest();
    emulator::SevInitBuf b{};
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kInvalidPlatformState);
    CHECK(f.fw->StateDigest() == digest);
  }
  SUBCASE("a host without SNP: INIT works with SNP never initialised") {
    emulator::FirmwareConfig cfg;
    cfg.memory_size = 64ull << 20;
    cfg.snp_enabled = false;
    auto fw = emulator::Firmware::Boot(SeededPlatform(emulator::Product::kMilan), cfg);
    REQUIRE(fw.ok());
    emulator::SevInitBuf b{};
    CHECK((*fw)->ExecuteSev(SevCmd::kInit, b) == FwStatus::kSuccess);
    CHECK((*fw)->sev_state() == SevPlatformState::kInit);
  }
  struct Row {
    const char* rule;
    std::function<void(emulator::SevInitExBuf&)> spoil;
    FwStatus want;
  };
  const Row rows[] = {
      {"unknown flag", [](auto& b) { b.flags = 2; }, FwStatus::kInvalidConfig},
      {"reserved1", [](auto& b) { b.reserved1[1] = 1; }, FwStatus::kInvalidConfig},
      {"reserved2", [](auto& b) { b.reserved2 = 1; }, FwStatus::kInvalidConfig},
      {"length", [](auto& b) { b.length = 0x20; }, FwStatus::kInvalidLength},
      {"NV area misaligned",
       [](auto& b) {
         b.nv_paddr = kPage1 + 8;
         b.nv_length = 0x8000;
       },
       FwStatus::kInvalidAddress},
      {"NV area outside memory",
       [](auto& b) {
         b.nv_paddr = 1ull << 40;
         b.nv_length = 0x8000;
       },
       FwStatus::kInvalidAddress},
      {"NV length",
       [](auto& b) {
         b.nv_paddr = kPage1;
         b.nv_length = 0x4000;
       },
       FwStatus::kInvalidLength},
      {"NV area not firmware-writable under SNP",
       [](auto& b) {
         b.nv_paddr = kHvPage;
         b.nv_length = 0x8000;
       },
       FwStatus::kInvalidPageState},
      {"ES TMR not firmware-writable",
       [](auto& b) {
         b.flags = 1;
         b.tmr_paddr = kHvPage;
         b.tmr_length = 0x200000;
       },
       FwStatus::kInvalidPageState},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      SevFixture f;
      emulator::SevInitExBuf b{};
      b.length = 0x24;
      r.spoil(b);
      const Bytes digest = f.fw->StateDigest();
      CHECK(f.Sev(SevCmd::kInitEx, b) == r.want);
      CHECK(f.fw->sev_state() == SevPlatformState::kUninit);
      CHECK(f.fw->StateDigest() == digest);
    }
  }
  SUBCASE("INIT: flags and reserved bytes are INVALID_CONFIG") {
    SevFixture f;
    const Bytes digest = f.fw->StateDigest();
    emulator::SevInitBuf b{};
    b.reserved[0] = 1;  // Linux's flags bits 16..23
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kInvalidConfig);
    b = {};
    b.flags = 0x8000;
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kInvalidConfig);
    CHECK(f.fw->StateDigest() == digest);
  }
  SUBCASE("SEV-ES: a 2 MiB TMR (RMP built), aligned; the status shows ES") {
    SevFixture f;
    emulator::SevInitBuf b{};
    b.flags = 1;
    b.tmr_paddr = 0x400000 + 0x100000;  // 1 MiB aligned only
    b.tmr_length = 0x200000;
    for (std::uint64_t p = 0; p < 1024; ++p) f.MakeFirmwarePage(0x400000 + p * 4096);
    const Bytes digest = f.fw->StateDigest();
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kInvalidAddress);
    b.tmr_paddr = 0x400000;
    b.tmr_length = 0x100000;
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kInvalidLength);
    CHECK(f.fw->StateDigest() == digest);
    b.tmr_length = 0x200000;
    CHECK(f.Sev(SevCmd::kInit, b) == FwStatus::kSuccess);
    const auto st = f.Status();
    CHECK(st.config_flags == 1);
    std::uint32_t linux_flags = 0;
    std::memcpy(&linux_flags, reinterpret_cast<const std::uint8_t*>(&st) + 3, 4);
    CHECK(linux_flags == 0x100);  // SEV_STATUS_FLAGS_CONFIG_ES
  }
  SUBCASE("INIT_EX with an NV area in firmware pages") {
    SevFixture f;
    emulator::SevInitExBuf b{};
    b.length = 0x24;
    b.nv_paddr = kPage1;
    b.nv_length = 0x8000;
    CHECK(f.Sev(SevCmd::kInitEx, b) == FwStatus::kSuccess);
    CHECK(f.fw->sev_state() == SevPlatformState::kInit);
  }
}

TEST_CASE("PLATFORM_STATUS, SHUTDOWN, PLATFORM_RESET and what survives them") {
  SevFixture f;
  auto st = f.Status();
  CHECK(st.state == 0);
  CHECK(st.api_major == f.fw->platform_state().current_fw.major);
  CHECK(st.api_minor == f.fw->platform_state().current_fw.minor);
  CHECK(st.build == f.fw->platform_state().current_fw.build);
  CHECK(st.platform_flags == 0);
  f.Init();
  st = f.Status();
  CHECK(st.state == 1);
  CHECK(st.platform_flags == 0);  // self-owned
  const auto first = f.Export();
  // SHUTDOWN keeps the persistent identity: the same PDH, PEK and OCA after the next INIT.
  CHECK(f.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);
  CHECK(f.Status().state == 0);
  CHECK(f.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);  // UNINIT -> UNINIT
  f.Init();
  const auto again = f.Export();
  CHECK(again.pdh.Encode() == first.pdh.Encode());
  CHECK(again.oca.Encode() == first.oca.Encode());
  // PLATFORM_RESET (UNINIT) erases it: a new OCA, PEK, PDH at the next INIT.
  CHECK(f.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);
  CHECK(f.Sev(SevCmd::kPlatformReset) == FwStatus::kSuccess);
  f.Init();
  const auto fresh = f.Export();
  CHECK(fresh.oca.Body() != first.oca.Body());
  CHECK(fresh.pek.Body() != first.pek.Body());
  // PDH_GEN: a new PDH only; PEK_GEN: new OCA, PEK and PDH.
  CHECK(f.Sev(SevCmd::kPdhGen) == FwStatus::kSuccess);
  const auto pdh_gen = f.Export();
  CHECK(pdh_gen.pdh.Body() != fresh.pdh.Body());
  CHECK(pdh_gen.pek.Encode() == fresh.pek.Encode());
  CHECK(f.Sev(SevCmd::kPekGen) == FwStatus::kSuccess);
  const auto pek_gen = f.Export();
  CHECK(pek_gen.oca.Body() != fresh.oca.Body());
  CHECK(pek_gen.pek.Body() != fresh.pek.Body());
}

TEST_CASE("the exported chain: PEK || OCA || unsigned CEK, verifiable to the ARK") {
  SevFixture f;
  f.Init();
  const auto e = f.Export();
  CHECK(e.pdh.pubkey.usage == usage::kPdh);
  CHECK(e.pdh.pubkey.algo == algo::kEcdhSha256);
  CHECK(e.pek.pubkey.usage == usage::kPek);
  CHECK(e.pek.sigs[0].usage == usage::kOca);
  CHECK(e.pek.sigs[1].usage == usage::kCek);
  CHECK(e.oca.sigs[0].usage == usage::kOca);
  CHECK(e.cek.pubkey.usage == usage::kCek);
  CHECK(e.cek.sigs[0].empty());
  CHECK(e.pdh.api_major == f.fw->platform_state().current_fw.major);
  const emulator::Platform p = SeededPlatform(emulator::Product::kMilan);
  auto cek = emulator::DeriveCek(p.fuses.chip_unique_key);
  REQUIRE(cek.ok());
  auto signed_cek = emulator::MakeSignedCekCert(*cek, p.root, e.cek.api_major, e.cek.api_minor);
  REQUIRE(signed_cek.ok());
  CHECK(signed_cek->Body() == e.cek.Body());
  auto st = emulator::VerifySevChain(e.pdh, e.pek, e.oca, *signed_cek,
                                     *emulator::MakeAmdAsk(p.root), *emulator::MakeAmdArk(p.root));
  CHECK_MESSAGE(st.ok(), st.error().message());
}

TEST_CASE("length probing: PEK_CSR, PDH_CERT_EXPORT, GET_ID") {
  SevFixture f;
  f.Init();
  const Bytes digest = f.fw->StateDigest();
  emulator::SevAddrLenBuf csr{0, 0x823};
  CHECK(f.Sev(SevCmd::kPekCsr, csr) == FwStatus::kInvalidLength);
  CHECK(csr.length == 0x824);
  emulator::SevPdhCertExportBuf exp{kPage1, 0x824, 0, kPage2, 0x186B};
  CHECK(f.Sev(SevCmd::kPdhCertExport, exp) == FwStatus::kInvalidLength);
  CHECK(exp.pdh_cert_len == 0x824);
  CHECK(exp.cert_chain_len == 0x186C);
  emulator::SevAddrLenBuf id{kPage1, 63};
  CHECK(f.Sev(SevCmd::kGetId, id) == FwStatus::kInvalidLength);
  CHECK(id.length == 64);
  CHECK(f.fw->StateDigest() == digest);
  // Destinations must be firmware-writable once SNP is initialised.
  emulator::SevAddrLenBuf hv{kHvPage, 0x824};
  CHECK(f.Sev(SevCmd::kPekCsr, hv) == FwStatus::kInvalidPageState);
  emulator::SevPdhCertExportBuf hv2{kPage1, 0x824, 0, kHvPage, 0x186C};
  CHECK(f.Sev(SevCmd::kPdhCertExport, hv2) == FwStatus::kInvalidPageState);
  emulator::SevAddrLenBuf hv3{kHvPage, 64};
  CHECK(f.Sev(SevCmd::kGetId, hv3) == FwStatus::kInvalidPageState);
  CHECK(f.fw->StateDigest() == digest);
  // Success writes the lengths used.
  csr = {kPage1, 0x1000};
  CHECK(f.Sev(SevCmd::kPekCsr, csr) == FwStatus::kSuccess);
  CHECK(csr.length == 0x824);
  id = {kPage1, 128};
  CHECK(f.Sev(SevCmd::kGetId, id) == FwStatus::kSuccess);
  CHECK(id.length == 64);
  Bytes chip(64);
  REQUIRE(f.fw->memory().FirmwareRead(kPage1, chip).ok());
  CHECK(chip == f.fw->platform_state().chip.chip_id);
}

TEST_CASE("ownership: PEK_CSR, the owner's OCA signs, PEK_CERT_IMPORT; refusals change nothing") {
  SevFixture f;
  f.Init();
  emulator::SevAddrLenBuf csr_buf{kPage1, 0x824};
  REQUIRE(f.Sev(SevCmd::kPekCsr, csr_buf) == FwStatus::kSuccess);
  const SevCert csr = f.CertAt(kPage1);
  const auto self = f.Export();
  CHECK(csr.Body() == self.pek.Body());

  const crypto::PrivateKey owner = NewEc();
  auto oca = SevCert::Create(owner.Public(), usage::kOca, algo::kEcdsaSha256, 0, 0);
  REQUIRE(oca.ok());
  // Leftovers after the key, as virtee/sev 6.0's `sevctl generate` leaves them: AMD's firmware
  // does not look there, so the import below must succeed with them.
  oca->pubkey.key[0x94] = 0x5A;
  oca->pubkey.key[0x200] = 0xA5;
  REQUIRE(oca->Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
  SevCert pek = csr;
  REQUIRE(pek.Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());

  // Puts (pek, oca) at kPage1 / kPage2, records the digest, runs PEK_CERT_IMPORT.
  Bytes before;
  auto import = [&f, &before](const SevCert& p, const SevCert& o, std::uint32_t plen = 0x824,
                              std::uint32_t olen = 0x824) {
    f.Put(kPage1, p.Encode());
    f.Put(kPage2, o.Encode());
    before = f.fw->StateDigest();
    emulator::SevPekCertImportBuf b{kPage1, plen, 0, kPage2, olen};
    return f.Sev(SevCmd::kPekCertImport, b);
  };

  struct Row {
    const char* rule;
    std::function<FwStatus()> run;
    FwStatus want;
  };
  const crypto::PrivateKey stranger = NewEc();
  const Row rows[] = {
      {"PEK length", [&] { return import(pek, *oca, 0x823); }, FwStatus::kInvalidLength},
      {"OCA length", [&] { return import(pek, *oca, 0x824, 0x1000); }, FwStatus::kInvalidLength},
      {"OCA not self-signed",
       [&] {
         SevCert o = *oca;
         o.sigs = {};
         REQUIRE(o.Sign(stranger, usage::kOca, algo::kEcdsaSha256).ok());
         return import(pek, o);
       },
       FwStatus::kBadSignature},
      {"OCA without a signature",
       [&] {
         SevCert o = *oca;
         o.sigs = {};
         return import(pek, o);
       },
       FwStatus::kInvalidCertificate},
      {"OCA with a broken key",
       [&] {
         SevCert o = *oca;
         o.pubkey.key[0] = 9;  // curve
         return import(pek, o);
       },
       FwStatus::kInvalidCertificate},
      {"PEK signed by another OCA",
       [&] {
         SevCert p = csr;
         REQUIRE(p.Sign(stranger, usage::kOca, algo::kEcdsaSha256).ok());
         return import(p, *oca);
       },
       FwStatus::kBadSignature},
      {"PEK unsigned", [&] { return import(csr, *oca); }, FwStatus::kInvalidCertificate},
      {"PEK not this platform's",
       [&] {
         auto p = SevCert::Create(stranger.Public(), usage::kPek, algo::kEcdsaSha256, csr.api_major,
                                  csr.api_minor);
         REQUIRE(p.ok());
         REQUIRE(p->Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
         return import(*p, *oca);
       },
       FwStatus::kInvalidCertificate},
      {"PEK with no free slot for the CEK signature",
       [&] {
         SevCert p = pek;
         REQUIRE(p.Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
         return import(p, *oca);
       },
       FwStatus::kInvalidCertificate},
      {"PEK malformed slot",
       [&] {
         SevCert p = pek;
         p.sigs[1].usage = usage::kCek;  // algorithm left 0
         return import(p, *oca);
       },
       FwStatus::kBadSignature},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      CHECK(r.run() == r.want);
      CHECK(f.fw->StateDigest() == before);
      CHECK(f.Status().platform_flags == 0);
    }
  }

  SUBCASE("imported: owner flag, chain to the owner's OCA, PDH regenerated") {
    REQUIRE(import(pek, *oca) == FwStatus::kSuccess);
    CHECK(f.Status().platform_flags == 1);
    const auto e = f.Export();
    CHECK(e.oca.Encode() == oca->Encode());
    CHECK(e.pek.sigs[0].usage == usage::kOca);
    CHECK(e.pek.sigs[1].usage == usage::kCek);
    CHECK(e.pdh.Body() != self.pdh.Body());
    CHECK(emulator::ValidateSevCert(e.pek, oca->pubkey).ok());
    CHECK(emulator::ValidateSevCert(e.pek, self.cek.pubkey).ok());
    CHECK(emulator::ValidateSevCert(e.pdh, e.pek.pubkey).ok());
    // A second import: ALREADY_OWNED, before anything is read.
    const Bytes digest = f.fw->StateDigest();
    emulator::SevPekCertImportBuf b{1ull << 40, 1, 0, 0, 1};
    CHECK(f.Sev(SevCmd::kPekCertImport, b) == FwStatus::kAlreadyOwned);
    CHECK(f.fw->StateDigest() == digest);
    // Ownership survives SHUTDOWN/INIT, and PEK_GEN makes the platform its own owner again.
    REQUIRE(f.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);
    CHECK(f.Status().platform_flags == 0);  // not reported while UNINIT
    f.Init();
    CHECK(f.Status().platform_flags == 1);
    REQUIRE(f.Sev(SevCmd::kPekGen) == FwStatus::kSuccess);
    CHECK(f.Status().platform_flags == 0);
    CHECK(f.Export().oca.Body() != oca->Body());
  }
  SUBCASE("imported, then PLATFORM_RESET: self-owned with a new identity") {
    REQUIRE(import(pek, *oca) == FwStatus::kSuccess);
    REQUIRE(f.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);
    REQUIRE(f.Sev(SevCmd::kPlatformReset) == FwStatus::kSuccess);
    f.Init();
    CHECK(f.Status().platform_flags == 0);
    const auto e = f.Export();
    CHECK(e.oca.Body() != oca->Body());
    CHECK(emulator::ValidateSevCert(e.oca, e.oca.pubkey).ok());
    CHECK(emulator::ValidateSevCert(e.pek, e.oca.pubkey).ok());
  }
}

TEST_CASE("a seeded platform's legacy identity is reproducible") {
  SevFixture a, b;
  a.Init();
  b.Init();
  CHECK(a.Export().pdh.Body() == b.Export().pdh.Body());
  CHECK(a.Export().oca.Body() == b.Export().oca.Body());
}

TEST_CASE("DF_FLUSH (legacy) needs WBINVD, as SNP_DF_FLUSH") {
  SevFixture f(false);
  CHECK(f.Sev(SevCmd::kDfFlush) == FwStatus::kWbinvdRequired);
  f.fw->Wbinvd();
  CHECK(f.Sev(SevCmd::kDfFlush) == FwStatus::kSuccess);
}

}  // namespace sevemu::test
