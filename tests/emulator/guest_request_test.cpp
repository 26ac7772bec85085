// SNP_GUEST_REQUEST end to end: a launched guest whose "driver" (this test) takes the VMPCKs
// from its own secrets page, encrypts and sequence-numbers requests as Linux's sev-guest driver
// does, and checks responses and attestation reports with its own verifier.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

#include "firmware_fixture.h"
#include "report_verifier.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/guestmsg/guest_message.h"
#include "test_util.h"

namespace sevemu::emulator {
namespace {

using guestmsg::GuestMsgError;
using guestmsg::GuestMsgHeader;
using guestmsg::GuestMsgType;
using guestmsg::OpenGuestMsg;
using guestmsg::ParseGuestMsgHeader;
using guestmsg::SealGuestMsg;
using guestmsg::SerializeGuestMsgHeader;

constexpr std::uint64_t kGctx = 0x100000, kSecrets = 0x400000, kSecretsGpa = 0x801000;
constexpr std::uint64_t kReq = 0x500000, kRsp = 0x501000;
constexpr std::uint32_t kAsid = 1;

struct Guest {
  test::FirmwareFixture f;
  std::array<Bytes, 4> vmpck;
  std::array<std::uint64_t, 4> seqno{};  // the driver's counters (last number used)

  explicit Guest(Product p = Product::kMilan, std::uint64_t policy = 0x30000)
      : Guest(test::SeededPlatform(p), policy) {}
  explicit Guest(Platform platform, std::uint64_t policy = 0x30000) : f(std::move(platform)) {
    f.InitPlatform();
    f.StartGuest(kGctx, kAsid, policy);
    f.MakePreGuestPage(kSecrets, kSecretsGpa, kAsid, Bytes(4096, 0));
    REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, kSecrets, PageType::kSecrets)) ==
            FwStatus::kSuccess);
    REQUIRE(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
            FwStatus::kSuccess);
    // The guest reads its VMPCKs through its own (decrypted) view of the secrets page.
    Bytes page(4096);
    REQUIRE(f.fw->memory().GuestRead({kAsid, 0, kSecretsGpa, true, false, rmp::kPermRead}, kSecrets,
                                     page) == rmp::RmpViolation::kNone);
    for (int i = 0; i < 4; ++i)
      vmpck[i].assign(page.begin() + 0x20 + 32 * i, page.begin() + 0x40 + 32 * i);
    f.MakeFirmwarePage(kRsp);
  }

  // Writes a request as the driver would, with an explicit sequence number.
  void Post(GuestMsgType type, const Bytes& payload, std::uint8_t vmpck_id, std::uint64_t seq,
            std::uint8_t version = 1) {
    GuestMsgHeader h;
    h.seqno = seq;
    h.type = type;
    h.msg_version = version;
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    h.vmpck = vmpck_id;
    auto ct = SealGuestMsg(h, payload, vmpck[vmpck_id]);
    REQUIRE(ct.ok());
    Bytes page(4096, 0);
    const auto hdr = SerializeGuestMsgHeader(h);
    std::memcpy(page.data(), hdr.data(), hdr.size());
    std::memcpy(page.data() + 0x60, ct->data(), ct->size());
    REQUIRE(f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
  }
  FwStatus Issue() { return f.Run(SnpCmd::kGuestRequest, SnpGuestRequestBuf{kGctx, kReq, kRsp}); }

  // One full exchange with the driver's rules; returns the decrypted response payload.
  Result<Bytes> Exchange(GuestMsgType type, const Bytes& payload, std::uint8_t vmpck_id = 0) {
    const std::uint64_t seq = seqno[vmpck_id] + 1;
    Post(type, payload, vmpck_id, seq);
    const FwStatus st = Issue();
    if (st != FwStatus::kSuccess) {
      return Error(ErrorCode::kRefused, std::string("firmware: ") + FwStatusName(st));
    }
    Bytes page(4096);
    REQUIRE(f.fw->memory().FirmwareRead(kRsp, page).ok());
    auto h = ParseGuestMsgHeader(page);
    REQUIRE(h.ok());
    CHECK(h->seqno == seq + 1);
    CHECK(static_cast<int>(h->type) == static_cast<int>(type) + 1);
    CHECK(h->vmpck == vmpck_id);
    auto plain = OpenGuestMsg(*h, ByteSpan(page).subspan(0x60, h->msg_size), vmpck[vmpck_id]);
    REQUIRE(plain.ok());
    seqno[vmpck_id] += 2;
    return Bytes(plain->data(), plain->data() + plain->size());
  }
};

Bytes ReportReq(std::uint8_t fill, std::uint32_t vmpl = 0, std::uint32_t key_sel = 0) {
  Bytes r(0x60, 0);
  std::memset(r.data(), fill, 64);
  StoreLe32(r.data() + 0x40, vmpl);
  StoreLe32(r.data() + 0x44, key_sel);
  return r;
}

Bytes KeyReq(std::uint64_t gfs, std::uint32_t vmpl = 0, std::uint32_t select = 0,
             std::uint32_t svn = 0, std::uint64_t tcb = 0) {
  Bytes r(0x20, 0);
  StoreLe32(r.data(), select);
  StoreLe64(r.data() + 8, gfs);
  StoreLe32(r.data() + 0x10, vmpl);
  StoreLe32(r.data() + 0x14, svn);
  StoreLe64(r.data() + 0x18, tcb);
  return r;
}

// An independent check of a report against a VCEK certificate, written from the ABI's report
// layout: SHA-384/ECDSA over bytes 0..0x29F with r, s little-endian at 0x2A0 and 0x2E8.
bool VerifyReport(ByteSpan report, const crypto::Certificate& vcek) {
  auto key = vcek.SubjectPublicKey();
  auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(report.subspan(0x2A0, 144));
  return key.ok() && sig.ok() && key->VerifyEcdsaSha384(report.first(0x2A0), *sig).ok();
}

}  // namespace

TEST_CASE("MSG_REPORT_REQ: a signed report with every field in place") {
  Guest g(test::SeededPlatform155(Product::kMilan));  // 1.55.21's version-3 layout
  auto rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(0xAB));
  REQUIRE(rsp.ok());
  REQUIRE(rsp->size() == 0x4C0);
  CHECK(LoadLe32(rsp->data()) == 0);
  CHECK(LoadLe32(rsp->data() + 4) == 0x4A0);
  const ByteSpan report = ByteSpan(*rsp).subspan(0x20, 0x4A0);
  const PlatformState& p = g.f.fw->platform_state();
  CHECK(LoadLe32(report.data()) == 3);               // version on Milan
  CHECK(LoadLe64(report.data() + 0x08) == 0x30000);  // policy
  CHECK(LoadLe32(report.data() + 0x34) == 1);        // ECDSA P-384 / SHA-384
  CHECK(LoadLe64(report.data() + 0x38) == p.current_tcb.raw());
  CHECK(LoadLe64(report.data() + 0x180) == p.reported_tcb.raw());
  CHECK(LoadLe64(report.data() + 0x1E0) == p.committed_tcb.raw());
  CHECK(Bytes(report.begin() + 0x50, report.begin() + 0x90) == Bytes(64, 0xAB));
  CHECK(Bytes(report.begin() + 0x1A0, report.begin() + 0x1E0) == p.chip.chip_id);
  CHECK(report[0x188] == 0x19);                                                     // CPUID family
  CHECK(report[0x189] == 0x01);                                                     // model
  CHECK(report[0x1EA] == 1);                                                        // current major
  CHECK(report[0x1E9] == 55);                                                       // current minor
  CHECK(Bytes(report.begin() + 0x160, report.begin() + 0x180) == Bytes(32, 0xFF));  // no MA
  // Verified with the VCEK certificate the KDS issues for the reported TCB.
  const auto root = test::TestRoot(Product::kMilan);
  const Platform platform = test::SeededPlatform(Product::kMilan);
  auto vcek = Kds(root).Vcek(platform.state.chip, platform.fuses, platform.state.reported_tcb,
                             platform.state.manufactured_at);
  REQUIRE(vcek.ok());
  CHECK(VerifyReport(report, *vcek));
  Bytes tampered(report.begin(), report.end());
  tampered[0x55] ^= 1;
  CHECK_FALSE(VerifyReport(tampered, *vcek));

  // The independent verifier (OpenSSL directly): chain to the simulated ARK, signature, and
  // the VCEK's TCB and hwID extensions against the report.
  const Bytes bytes(report.begin(), report.end());
  const auto check =
      test::VerifyAttestationReport(bytes, *vcek->ToPem(), *root.ask.ToPem(), *root.ark.ToPem(),
                                    platform.state.manufactured_at + 86400);
  CHECK_MESSAGE(check.ok, check.why);
  CHECK_FALSE(test::VerifyAttestationReport(tampered, *vcek->ToPem(), *root.ask.ToPem(),
                                            *root.ark.ToPem(),
                                            platform.state.manufactured_at + 86400)
                  .ok);
  // A VCEK for another TCB does not speak for this report.
  auto other = Kds(root).Vcek(platform.state.chip, platform.fuses,
                              *TcbVersion::FromParts(Product::kMilan, {0, 2, 0, 8, 115}),
                              platform.state.manufactured_at);
  const auto wrong =
      test::VerifyAttestationReport(bytes, *other->ToPem(), *root.ask.ToPem(), *root.ark.ToPem(),
                                    platform.state.manufactured_at + 86400);
  CHECK_FALSE(wrong.ok);
  // The right key but certified for another TCB: caught by the extension check itself.
  auto mislabeled = IssueVcekCertificate(root, platform.state.chip,
                                         *TcbVersion::FromParts(Product::kMilan, {0, 2, 0, 8, 115}),
                                         *vcek->SubjectPublicKey(), platform.state.manufactured_at);
  REQUIRE(mislabeled.ok());
  const auto mis =
      test::VerifyAttestationReport(bytes, *mislabeled->ToPem(), *root.ask.ToPem(),
                                    *root.ark.ToPem(), platform.state.manufactured_at + 86400);
  CHECK_FALSE(mis.ok);
  CHECK(mis.why.find("REPORTED_TCB") != std::string::npos);

  // And the openssl command-line tool, from the report's bytes and the VCEK as files.
  test::TempDir dir;
  test::WriteText(dir / "signed.bin", std::string(report.begin(), report.begin() + 0x2A0));
  auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(report.subspan(0x2A0, 144));
  REQUIRE(sig.ok());
  const Bytes der = *sig->ToDer();
  test::WriteText(dir / "sig.der", std::string(der.begin(), der.end()));
  test::WriteText(dir / "vcek.pem", *vcek->ToPem());
  const std::string cmd = "openssl x509 -in " + (dir / "vcek.pem") + " -pubkey -noout > " +
                          (dir / "pub.pem") + " && openssl dgst -sha384 -verify " +
                          (dir / "pub.pem") + " -signature " + (dir / "sig.der") + " " +
                          (dir / "signed.bin") + " > " + (dir / "out.txt") + " 2>&1";
  CHECK_MESSAGE(std::system(cmd.c_str()) == 0, test::ReadText(dir / "out.txt"));
}

TEST_CASE("report VMPL and key selection rules") {
  Guest g;
  // VMPCK1 belongs to VMPL1: it may ask for VMPL 1..3, not 0.
  auto low = g.Exchange(GuestMsgType::kReportReq, ReportReq(1, 0), 1);
  REQUIRE(low.ok());
  CHECK(LoadLe32(low->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidParam));
  auto ok = g.Exchange(GuestMsgType::kReportReq, ReportReq(1, 2), 1);
  REQUIRE(ok.ok());
  CHECK(LoadLe32(ok->data()) == 0);
  CHECK(LoadLe32(ok->data() + 0x20 + 0x30) == 2);  // the report's VMPL
  // Every VMPCK may ask for its own VMPL and any less privileged one, never a more privileged.
  for (std::uint8_t k = 0; k < 4; ++k) {
    for (std::uint32_t vmpl = 0; vmpl < 4; ++vmpl) {
      CAPTURE(int(k));
      CAPTURE(vmpl);
      auto r = g.Exchange(GuestMsgType::kReportReq, ReportReq(1, vmpl), k);
      REQUIRE(r.ok());
      if (vmpl < k) {
        CHECK(LoadLe32(r->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidParam));
      } else {
        CHECK(LoadLe32(r->data()) == 0);
        CHECK(LoadLe32(r->data() + 0x20 + 0x30) == vmpl);
      }
    }
  }
  auto vlek = g.Exchange(GuestMsgType::kReportReq, ReportReq(1, 0, 2));
  REQUIRE(vlek.ok());
  CHECK(LoadLe32(vlek->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidKey));
  auto reserved = g.Exchange(GuestMsgType::kReportReq, ReportReq(1, 0, 4));
  REQUIRE(reserved.ok());
  CHECK(LoadLe32(reserved->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidParam));
}

TEST_CASE("masked chip ID and chip key") {
  Guest g;
  SnpConfigBuf cfg{};
  cfg.flags = 3;
  REQUIRE(g.f.Run(SnpCmd::kConfig, cfg) == FwStatus::kSuccess);
  auto rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(2));
  REQUIRE(rsp.ok());
  const ByteSpan report = ByteSpan(*rsp).subspan(0x20, 0x4A0);
  CHECK(Bytes(report.begin() + 0x1A0, report.begin() + 0x1E0) == Bytes(64, 0));  // chip ID
  CHECK(((LoadLe32(report.data() + 0x48) >> 2) & 7) == 7);                       // no key
  CHECK((LoadLe32(report.data() + 0x48) & 2) == 2);                              // MASK_CHIP_KEY
  CHECK(Bytes(report.begin() + 0x2A0, report.end()) == Bytes(0x200, 0));         // unsigned
  auto key = g.Exchange(GuestMsgType::kKeyReq, KeyReq(0));
  REQUIRE(key.ok());
  CHECK(LoadLe32(key->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidKey));
}

TEST_CASE("Turin reports are version 5") {
  Guest g(Product::kTurin);
  auto rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(3));
  REQUIRE(rsp.ok());
  CHECK(LoadLe32(rsp->data() + 0x20) == 5);
  CHECK(rsp->at(0x20 + 0x188) == 0x1A);
}

TEST_CASE("sequence numbers: replay, reordering and wrong keys change nothing") {
  Guest g;
  REQUIRE(g.Exchange(GuestMsgType::kReportReq, ReportReq(1)).ok());  // seqno 1 used
  const Bytes before = g.f.fw->StateDigest();
  SUBCASE("replay of seqno 1") {
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 1);
    CHECK(g.Issue() == FwStatus::kAeadOverflow);
  }
  SUBCASE("skipping ahead") {
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 5);
    CHECK(g.Issue() == FwStatus::kAeadOverflow);
  }
  SUBCASE("the response's even number") {
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 2);
    CHECK(g.Issue() == FwStatus::kAeadOverflow);
  }
  SUBCASE("another VMPCK's key under VMPCK0's index") {
    std::swap(g.vmpck[0], g.vmpck[1]);
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 3);
    CHECK(g.Issue() == FwStatus::kInvalidParam);
    std::swap(g.vmpck[0], g.vmpck[1]);
  }
  SUBCASE("a flipped ciphertext bit") {
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 3);
    Bytes page(4096);
    REQUIRE(g.f.fw->memory().HvRead(kReq, page) == rmp::RmpViolation::kNone);
    page[0x70] ^= 1;
    REQUIRE(g.f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
    CHECK(g.Issue() == FwStatus::kInvalidParam);
  }
  SUBCASE("a flipped header (AAD) bit") {
    g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 3);
    Bytes page(4096);
    REQUIRE(g.f.fw->memory().HvRead(kReq, page) == rmp::RmpViolation::kNone);
    page[0x35] = 2;  // message version 2, not what was sealed
    REQUIRE(g.f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
    CHECK(g.Issue() == FwStatus::kInvalidParam);
  }
  CHECK(g.f.fw->StateDigest() == before);
  // The counter did not move: the next expected number still works.
  g.Post(GuestMsgType::kReportReq, ReportReq(1), 0, 3);
  CHECK(g.Issue() == FwStatus::kSuccess);
}

TEST_CASE("malformed headers and unsupported messages are refused") {
  Guest g;
  struct Row {
    const char* what;
    GuestMsgType type;
    std::uint8_t version;
    FwStatus want;
  };
  const Row rows[] = {
      {"message version 0", GuestMsgType::kReportReq, 0, FwStatus::kInvalidParam},
      {"message version 2", GuestMsgType::kReportReq, 2, FwStatus::kInvalidParam},
      {"a response type", GuestMsgType::kReportRsp, 1, FwStatus::kInvalidParam},
      {"type 0", GuestMsgType::kInvalid, 1, FwStatus::kInvalidParam},
      {"type 99", static_cast<GuestMsgType>(99), 1, FwStatus::kInvalidParam},
      {"MSG_CPUID_REQ", GuestMsgType::kCpuidReq, 1, FwStatus::kUnsupported},
      {"MSG_EXPORT_REQ version 2", GuestMsgType::kExportReq, 2, FwStatus::kInvalidParam},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    const Bytes before = g.f.fw->StateDigest();
    g.Post(r.type, Bytes(0x60, 0), 0, g.seqno[0] + 1, r.version);
    CHECK(g.Issue() == r.want);
    CHECK(g.f.fw->StateDigest() == before);
  }
  // Header fields the parser refuses before any key is used.
  Bytes page(4096, 0);
  page[0x30] = 1;
  page[0x31] = 1;
  page[0x32] = 0x60;
  page[0x34] = 5;
  page[0x35] = 1;
  struct Spoil {
    const char* what;
    std::size_t off;
    std::uint8_t value;
    GuestMsgError why;
  };
  const Spoil spoils[] = {
      {"algorithm", 0x30, 2, GuestMsgError::kAlgorithm},
      {"header version", 0x31, 2, GuestMsgError::kHeaderVersion},
      {"header size", 0x32, 0x40, GuestMsgError::kHeaderSize},
      {"unaligned size", 0x36, 0x61, GuestMsgError::kMessageSize},
      {"VMPCK 4", 0x3C, 4, GuestMsgError::kVmpck},
      {"reserved byte", 0x40, 1, GuestMsgError::kReserved},
  };
  for (const Spoil& s : spoils) {
    CAPTURE(s.what);
    Bytes p = page;
    p[0x36] = 0x60;  // a valid size unless spoiled
    p[s.off] = s.value;
    GuestMsgError why{};
    CHECK_FALSE(ParseGuestMsgHeader(p, &why).ok());
    CHECK(why == s.why);
  }
  CHECK_FALSE(ParseGuestMsgHeader(Bytes(0x5F, 0)).ok());
  Bytes big = page;
  StoreLe32(big.data() + 0x36, 0xFB0);  // header + payload past the page
  CHECK_FALSE(ParseGuestMsgHeader(big).ok());
  // A request in the wrong guest state or to a non-firmware response page.
  CHECK(g.f.Run(SnpCmd::kGuestRequest, SnpGuestRequestBuf{kGctx, kReq, 0x600000}) ==
        FwStatus::kInvalidPageState);
}

TEST_CASE("MSG_KEY_REQ: each field select bit changes the key, nothing else does") {
  Guest g(
      test::SeededPlatform155(Product::kMilan));  // bit 6 unknown to 1.55 (1.58: firmware_abi_test)
  auto key_of = [&](const Bytes& req) {
    auto rsp = g.Exchange(GuestMsgType::kKeyReq, req);
    REQUIRE(rsp.ok());
    REQUIRE(LoadLe32(rsp->data()) == 0);
    return Bytes(rsp->begin() + 0x20, rsp->end());
  };
  const Bytes base = key_of(KeyReq(0));
  CHECK(base == key_of(KeyReq(0)));  // deterministic
  CHECK(base != Bytes(32, 0));
  CHECK(key_of(KeyReq(0, 0, 0, 7)) == base);  // SVN not selected: ignored
  for (int bit = 0; bit < 6; ++bit) {
    CAPTURE(bit);
    CHECK(key_of(KeyReq(1ull << bit)) != base);
  }
  CHECK(key_of(KeyReq(0, 1)) != base);     // VMPL is always mixed
  CHECK(key_of(KeyReq(0, 0, 1)) != base);  // VMRK root
  const TcbVersion committed = g.f.fw->platform_state().committed_tcb;
  const TcbVersion lower = *TcbVersion::FromParts(Product::kMilan, {0, 1, 0, 1, 1});
  CHECK(key_of(KeyReq(1u << 5, 0, 0, 0, lower.raw())) !=
        key_of(KeyReq(1u << 5, 0, 0, 0, committed.raw())));
  // Refusals, inside a delivered response.
  auto status_of = [&](const Bytes& req) {
    auto rsp = g.Exchange(GuestMsgType::kKeyReq, req);
    REQUIRE(rsp.ok());
    return static_cast<FwStatus>(LoadLe32(rsp->data()));
  };
  const TcbVersion higher = *TcbVersion::FromParts(Product::kMilan, {0, 3, 0, 9, 115});
  CHECK(status_of(KeyReq(1u << 5, 0, 0, 0, higher.raw())) == FwStatus::kInvalidParam);
  CHECK(status_of(KeyReq(1u << 4, 0, 0, 1)) ==
        FwStatus::kInvalidParam);                                   // SVN above the ID block's
  CHECK(status_of(KeyReq(1u << 6)) == FwStatus::kInvalidParam);     // unknown select bit
  CHECK(status_of(KeyReq(0, 0, 2 << 1)) == FwStatus::kInvalidKey);  // VLEK not loaded
  // VMPCK2 may not derive a VMPL0 key.
  auto low = g.Exchange(GuestMsgType::kKeyReq, KeyReq(0, 0), 2);
  REQUIRE(low.ok());
  CHECK(LoadLe32(low->data()) == static_cast<std::uint32_t>(FwStatus::kInvalidParam));
}

TEST_CASE("MSG_TSC_INFO_REQ") {
  Guest g;
  auto rsp = g.Exchange(GuestMsgType::kTscInfoReq, Bytes(0x80, 0));
  REQUIRE(rsp.ok());
  CHECK(LoadLe32(rsp->data()) == 0);
  CHECK(LoadLe64(rsp->data() + 8) == 1ull << 32);
  CHECK(LoadLe32(rsp->data() + 0x18) == 200);
}

TEST_CASE("SNP_VLEK_LOAD: a KDS-wrapped VLEK signs reports; bad wraps change nothing") {
  Guest g;
  const Platform platform = test::SeededPlatform(Product::kMilan);
  const Kds kds(platform.root);
  const TcbVersion reported = g.f.fw->platform_state().reported_tcb;
  auto issue = kds.Vlek(platform.state.chip, platform.fuses, "CN=csp.example", reported,
                        platform.state.manufactured_at);
  REQUIRE(issue.ok());
  auto load = [&](const Bytes& blob) {
    REQUIRE(g.f.fw->memory().HvWrite(0x600000, blob) == rmp::RmpViolation::kNone);
    return g.f.Run(SnpCmd::kVlekLoad, SnpVlekLoadBuf{16, 0, {}, 0x600000});
  };
  const Bytes before = g.f.fw->StateDigest();
  Bytes tampered = issue->wrapped;
  tampered[0x20] ^= 1;
  CHECK(load(tampered) == FwStatus::kBadMeasurement);
  auto other_tcb = kds.Vlek(platform.state.chip, platform.fuses, "CN=csp.example",
                            *TcbVersion::FromParts(Product::kMilan, {0, 2, 0, 8, 115}),
                            platform.state.manufactured_at);
  CHECK(load(other_tcb->wrapped) == FwStatus::kBadSvn);
  const Platform stranger = test::SeededPlatform(Product::kMilan, 77);
  auto foreign = kds.Vlek(stranger.state.chip, stranger.fuses, "CN=csp.example", reported,
                          stranger.state.manufactured_at);
  CHECK(load(foreign->wrapped) == FwStatus::kBadMeasurement);  // wrapped for another chip
  CHECK(g.f.Run(SnpCmd::kVlekLoad, SnpVlekLoadBuf{12, 0, {}, 0x600000}) == FwStatus::kInvalidParam);
  CHECK(g.f.Run(SnpCmd::kVlekLoad, SnpVlekLoadBuf{16, 1, {}, 0x600000}) == FwStatus::kInvalidParam);
  CHECK(g.f.fw->StateDigest() == before);

  REQUIRE(load(issue->wrapped) == FwStatus::kSuccess);
  auto rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(4));
  REQUIRE(rsp.ok());
  const ByteSpan report = ByteSpan(*rsp).subspan(0x20, 0x4A0);
  CHECK(((LoadLe32(report.data() + 0x48) >> 2) & 7) == 1);  // SIGNING_KEY = VLEK
  CHECK(VerifyReport(report, issue->certificate));
  // KEY_SEL 1 still asks for the VCEK.
  auto vcek_rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(4, 0, 1));
  REQUIRE(vcek_rsp.ok());
  CHECK(((LoadLe32(vcek_rsp->data() + 0x20 + 0x48) >> 2) & 7) == 0);
  CHECK_FALSE(VerifyReport(ByteSpan(*vcek_rsp).subspan(0x20, 0x4A0), issue->certificate));
  // Keys rooted in the VLEK differ from VCEK-rooted ones.
  auto k_vlek = g.Exchange(GuestMsgType::kKeyReq, KeyReq(0, 0, 2 << 1));
  auto k_vcek = g.Exchange(GuestMsgType::kKeyReq, KeyReq(0, 0, 1 << 1));
  REQUIRE(k_vlek.ok());
  REQUIRE(k_vcek.ok());
  CHECK(LoadLe32(k_vlek->data()) == 0);
  CHECK(Bytes(k_vlek->begin() + 0x20, k_vlek->end()) !=
        Bytes(k_vcek->begin() + 0x20, k_vcek->end()));
}

TEST_CASE("MSG_KEY_REQ: derive-down results are cached per TCB and dropped when a TCB changes") {
  // Seeded, so its keys are known answers (computed before the cache existed); on 1.55, so that
  // the firmware update below (to 1.55.30) is not a rollback.
  Guest g(test::SeededPlatform155(Product::kMilan));
  auto key_hex = [&](const Bytes& req) {
    auto rsp = g.Exchange(GuestMsgType::kKeyReq, req);
    REQUIRE(rsp.ok());
    REQUIRE(LoadLe32(rsp->data()) == 0);
    return HexEncode(ByteSpan(*rsp).subspan(0x20, 32));
  };
  const TcbVersion lower = *TcbVersion::FromParts(Product::kMilan, {0, 1, 0, 1, 1});
  const Bytes at_lower = KeyReq(1u << 5, 0, 0, 0, lower.raw());  // TCB_VERSION selected
  const std::string kBase = "4f663c9f7d5bc302e63e6a838072dd02fd8485c721c53c69e2cbf9af2a067087";
  const std::string kLower = "9fca02642275b6d96b0d26811cef109509e01fdadaca499cf9fae366d564d33e";
  if (std::getenv("SEVEMU_PRINT_GOLDEN") != nullptr) {
    MESSAGE(key_hex(KeyReq(0)) << " " << key_hex(at_lower));
  }
  CHECK(g.f.fw->derived_seed_count() == 0);
  CHECK(key_hex(KeyReq(0)) == kBase);
  CHECK(g.f.fw->derived_seed_count() == 1);  // at the reported TCB
  CHECK(key_hex(at_lower) == kLower);
  CHECK(g.f.fw->derived_seed_count() == 2);
  CHECK(key_hex(at_lower) == kLower);  // from the cache: the same key
  CHECK(key_hex(KeyReq(0)) == kBase);
  CHECK(g.f.fw->derived_seed_count() == 2);

  // SNP_CONFIG of the reported TCB drops the cache; the keys stay what they were.
  SnpConfigBuf config{};
  config.reported_tcb = lower.raw();
  REQUIRE(g.f.Run(SnpCmd::kConfig, config) == FwStatus::kSuccess);
  CHECK(g.f.fw->derived_seed_count() == 0);
  CHECK(key_hex(at_lower) == kLower);
  CHECK(g.f.fw->derived_seed_count() == 1);
  // SNP_COMMIT (the reported TCB back to the current one) drops it.
  REQUIRE(g.f.Run(SnpCmd::kCommit, SnpCommitBuf{4}) == FwStatus::kSuccess);
  CHECK(g.f.fw->derived_seed_count() == 0);
  CHECK(key_hex(KeyReq(0)) == kBase);
  CHECK(key_hex(at_lower) == kLower);
  CHECK(g.f.fw->derived_seed_count() == 2);
  // A firmware update drops it: the new sticks (a higher TCB) derive down to the same keys at
  // TCBs both firmwares reach, and to a new key at the new TCB.
  FirmwareImage img;
  img.product = Product::kMilan;
  img.version = {1, 55, 30};
  img.tcb = *TcbVersion::FromParts(Product::kMilan, {0, 3, 0, 9, 115});
  img.body = Bytes(64, 0x90);
  auto image = BuildFirmwareImage(img, test::TestRoot(Product::kMilan).ark_key);
  REQUIRE(image.ok());
  REQUIRE(g.f.fw->memory().HvWrite(0x700000, *image) == rmp::RmpViolation::kNone);
  REQUIRE(g.f.Run(SnpCmd::kDownloadFirmwareEx,
                  SnpDownloadFirmwareExBuf{0x18, 0, 0x700000,
                                           static_cast<std::uint32_t>(image->size()), 1}) ==
          FwStatus::kSuccess);
  CHECK(g.f.fw->derived_seed_count() == 0);
  CHECK(key_hex(at_lower) == kLower);
  CHECK(key_hex(KeyReq(0)) != kBase);  // the reported TCB is the new one
  CHECK(g.f.fw->derived_seed_count() == 2);
  // A guest asking for many TCBs cannot grow it past its bound (64): it starts over.
  for (std::uint8_t ucode = 2; ucode < 2 + 64; ++ucode) {
    (void)key_hex(KeyReq(1u << 5, 0, 0, 0,
                         TcbVersion::FromParts(Product::kMilan, {0, 1, 0, 1, ucode})->raw()));
  }
  CHECK(g.f.fw->derived_seed_count() == 2);  // 2 + 62 filled it, 2 more after it was emptied
  CHECK(key_hex(at_lower) == kLower);
}

TEST_CASE("seeded platforms give reproducible reports (all but the signature)") {
  auto signed_part = [](Guest& g) {
    auto rsp = g.Exchange(GuestMsgType::kReportReq, ReportReq(0x11));
    REQUIRE(rsp.ok());
    return Bytes(rsp->begin() + 0x20, rsp->begin() + 0x20 + 0x2A0);
  };
  // The golden report is 1.55.21's (version 3); the per-ABI layouts are firmware_abi_test's.
  Guest a(test::SeededPlatform155(Product::kMilan)), b(test::SeededPlatform155(Product::kMilan));
  const Bytes ra = signed_part(a);
  CHECK(ra == signed_part(b));
  // Golden bytes: fixtures/kat/report_milan_seed01.hex (see fixtures/README.md).
  const std::string golden = test::ReadText(test::FixturePath("kat/report_milan_seed01.hex"));
  if (std::getenv("SEVEMU_PRINT_GOLDEN") != nullptr) MESSAGE(HexEncode(ra));
  CHECK(HexEncode(ra) == golden.substr(0, golden.find_last_not_of(" \n") + 1));
}

}  // namespace sevemu::emulator
