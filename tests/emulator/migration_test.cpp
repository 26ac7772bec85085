// The migration-agent guest messages between two simulated platforms (two Firmware instances,
// of different products and TCBs): an agent guest on each, its guest exported by the source
// agent and imported by the destination agent; what a report says afterwards; and every
// refusal with its status and no state change (docs/migration.md).
#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <optional>

#include "firmware_fixture.h"
#include "report_verifier.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/messages/migration_context.h"
#include "sevemu/emulator/snp/snp_abi.h"
#include "sevemu/emulator/snp/snp_policy.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace sevemu::emulator {
namespace {

using guestmsg::GuestMsgHeader;
using guestmsg::GuestMsgType;
using guestmsg::OpenGuestMsg;
using guestmsg::ParseGuestMsgHeader;
using guestmsg::SealGuestMsg;
using guestmsg::SerializeGuestMsgHeader;

constexpr std::uint64_t kReq = 0x500000, kRsp = 0x501000;
constexpr std::uint64_t kSecretsGpa = 0x801000, kDataGpa = 0x900000;
constexpr std::uint64_t kPolicy = 0x30000;  // SMT allowed, bit 17
constexpr std::uint64_t kMigratable = kPolicy | policy::kMigrateMa;

// A guest as its sev-guest driver sees it: where its context is on the platform it runs on,
// its VMPCKs (read from its secrets page) and the last sequence number used per VMPCK.
struct Driver {
  std::uint64_t gctx = 0;
  std::uint64_t data_spa = 0;  // its data page (LaunchSpec::data_page) on the launch platform
  std::array<Bytes, 4> vmpck;
  std::array<std::uint64_t, 4> seqno{};
};

struct LaunchSpec {
  std::uint64_t gctx = 0;
  std::uint32_t asid = 0;
  std::uint64_t policy = kPolicy;
  std::optional<std::uint64_t> ma;  // MA_EN with this agent context
  bool imi_en = false;
  bool secrets = true;     // a secrets page (not an IMI page)
  bool data_page = false;  // one NORMAL page at kDataGpa, `data_imi` its IMI_PAGE bit
  bool data_imi = false;
  bool finish = true;              // LAUNCH_FINISH
  std::uint64_t finish_flags = 0;  // its flags (bit 2 VCEK_DIS)
  std::uint8_t fill = 0x5A;        // the data page's contents
};

LaunchSpec Spec(std::uint64_t gctx, std::uint32_t asid, std::uint64_t policy = kPolicy,
                std::optional<std::uint64_t> ma = std::nullopt) {
  LaunchSpec l;
  l.gctx = gctx;
  l.asid = asid;
  l.policy = policy;
  l.ma = ma;
  return l;
}

// One simulated platform and its host: pages handed to the firmware, guests launched.
struct Host {
  test::FirmwareFixture f;
  std::uint64_t next_page = 0x300000;  // guest pages, one 4 KiB page each

  Host(Product p, std::uint8_t seed) : f(test::SeededPlatform(p, seed)) {
    f.InitPlatform();
    f.MakeFirmwarePage(kRsp);
  }

  FwStatus Launch(const LaunchSpec& l, Driver* out) {
    if (FwStatus st = f.GctxCreate(l.gctx); st != FwStatus::kSuccess) return st;
    SnpLaunchStartBuf ls = f.LaunchStartBuf(l.gctx, l.policy);
    if (l.ma) {
      ls.flags |= 1;
      ls.ma_gctx_paddr = *l.ma;
    }
    if (l.imi_en) ls.flags |= 2;
    if (FwStatus st = f.Run(SnpCmd::kLaunchStart, ls); st != FwStatus::kSuccess) return st;
    REQUIRE(f.Run(SnpCmd::kActivate, SnpActivateBuf{l.gctx, l.asid}) == FwStatus::kSuccess);
    if (l.data_page) {
      const std::uint64_t spa = next_page;
      next_page += 0x1000;
      if (out != nullptr) out->data_spa = spa;
      f.MakePreGuestPage(spa, kDataGpa, l.asid, Bytes(4096, l.fill));
      auto u = f.UpdateBuf(l.gctx, spa, PageType::kNormal);
      if (l.data_imi) u.page_info |= 1u << 4;
      REQUIRE(f.Run(SnpCmd::kLaunchUpdate, u) == FwStatus::kSuccess);
    }
    std::uint64_t secrets = 0;
    if (l.secrets) {
      secrets = next_page;
      next_page += 0x1000;
      f.MakePreGuestPage(secrets, kSecretsGpa, l.asid, Bytes(4096, 0));
      REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(l.gctx, secrets, PageType::kSecrets)) ==
              FwStatus::kSuccess);
    }
    if (l.finish) {
      REQUIRE(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{l.gctx, 0, 0, l.finish_flags, {}}) ==
              FwStatus::kSuccess);
    }
    if (out != nullptr) {
      out->gctx = l.gctx;
      if (l.secrets) {
        Bytes page(4096);
        REQUIRE(f.fw->memory().GuestRead({l.asid, 0, kSecretsGpa, true, false, rmp::kPermRead},
                                         secrets, page) == rmp::RmpViolation::kNone);
        for (int i = 0; i < 4; ++i)
          out->vmpck[i].assign(page.begin() + 0x20 + 32 * i, page.begin() + 0x40 + 32 * i);
      }
    }
    return FwStatus::kSuccess;
  }

  void Post(const Driver& d, GuestMsgType type, const Bytes& payload, std::uint8_t k,
            std::uint64_t seq) {
    GuestMsgHeader h;
    h.seqno = seq;
    h.type = type;
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    h.vmpck = k;
    auto ct = SealGuestMsg(h, payload, d.vmpck[k]);
    REQUIRE(ct.ok());
    Bytes page(4096, 0);
    const auto hdr = SerializeGuestMsgHeader(h);
    std::memcpy(page.data(), hdr.data(), hdr.size());
    std::memcpy(page.data() + 0x60, ct->data(), ct->size());
    REQUIRE(f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
  }
  FwStatus Issue(const Driver& d) {
    return f.Run(SnpCmd::kGuestRequest, SnpGuestRequestBuf{d.gctx, kReq, kRsp});
  }
  // One exchange by the driver's rules; the decrypted response payload.
  Bytes Exchange(Driver& d, GuestMsgType type, const Bytes& payload, std::uint8_t k = 0) {
    const std::uint64_t seq = d.seqno[k] + 1;
    Post(d, type, payload, k, seq);
    const FwStatus st = Issue(d);
    REQUIRE_MESSAGE(st == FwStatus::kSuccess, FwStatusName(st));
    Bytes page(4096);
    REQUIRE(f.fw->memory().FirmwareRead(kRsp, page).ok());
    auto h = ParseGuestMsgHeader(page);
    REQUIRE(h.ok());
    CHECK(h->seqno == seq + 1);
    CHECK(static_cast<int>(h->type) == static_cast<int>(type) + 1);
    auto plain = OpenGuestMsg(*h, ByteSpan(page).subspan(0x60, h->msg_size), d.vmpck[k]);
    REQUIRE(plain.ok());
    d.seqno[k] += 2;
    return Bytes(plain->data(), plain->data() + plain->size());
  }
  static FwStatus StatusOf(const Bytes& rsp) { return static_cast<FwStatus>(LoadLe32(rsp.data())); }

  Bytes Report(Driver& d, std::uint8_t fill = 0x11, std::uint8_t k = 0) {
    Bytes req(0x60, 0);
    std::memset(req.data(), fill, 64);
    StoreLe32(req.data() + 0x40, k);  // VMPL = the VMPCK's
    const Bytes rsp = Exchange(d, GuestMsgType::kReportReq, req, k);
    REQUIRE(StatusOf(rsp) == FwStatus::kSuccess);
    return Bytes(rsp.begin() + 0x20, rsp.begin() + 0x20 + 0x4A0);
  }
  // The exported context (the status must be SUCCESS).
  Bytes Export(Driver& agent, std::uint64_t target, bool imi_en) {
    const Bytes rsp = Exchange(agent, GuestMsgType::kExportReq, ExportReq(target, imi_en));
    REQUIRE(rsp.size() == kExportRspSize);
    REQUIRE(StatusOf(rsp) == FwStatus::kSuccess);
    CHECK(LoadLe32(rsp.data() + 4) == 0x300);
    CHECK(LoadLe32(rsp.data() + 8) == 3);
    return Bytes(rsp.begin() + kExportRspGctx, rsp.begin() + kExportRspGctx + kGctxExportSize);
  }
  static Bytes ExportReq(std::uint64_t target, bool imi_en) {
    Bytes r(kExportReqSize, 0);
    StoreLe64(r.data(), target);
    StoreLe32(r.data() + 8, imi_en ? 1 : 0);
    return r;
  }
  static Bytes ImportReq(std::uint64_t target, const Bytes& gctx_image) {
    Bytes r(kImportReqSize, 0);
    StoreLe64(r.data(), target);
    StoreLe32(r.data() + 8, kGctxExportSize);
    StoreLe32(r.data() + 12, kGctxExportVersion);
    std::memcpy(r.data() + kImportReqGctx, gctx_image.data(), kGctxExportSize);
    return r;
  }
  FwStatus MsgStatus(Driver& agent, GuestMsgType type, const Bytes& payload, std::uint8_t k = 0) {
    return StatusOf(Exchange(agent, type, payload, k));
  }
  std::optional<SnpGuestStatusPage> Status(std::uint64_t gctx) {
    f.MakeFirmwarePage(0x600000);
    if (f.Run(SnpCmd::kGuestStatus, SnpGuestStatusBuf{gctx, 0x600000}) != FwStatus::kSuccess) {
      return std::nullopt;
    }
    SnpGuestStatusPage out{};
    REQUIRE(f.fw->memory()
                .FirmwareRead(0x600000, {reinterpret_cast<std::uint8_t*>(&out), sizeof out})
                .ok());
    return out;
  }
};

constexpr std::uint64_t kSwapOut = 0x580000, kSwapSrc = 0x590000, kSwapDst = 0x5A0000;

// The host swaps the guest's data page out under its OEK (SNP_PAGE_SWAP_OUT, ROOT_MDATA_EN: the
// entry stays in the guest context, which an export then carries) and keeps the ciphertext.
Bytes SwapOutRoot(Host& h, const Driver& d, std::uint32_t asid) {
  REQUIRE(rmp::RmpUpdate(h.f.fw->memory().rmp(), d.data_spa, {kDataGpa, true, false, true, asid}) ==
          rmp::RmpResult::kSuccess);  // GUEST_VALID -> PRE_SWAP
  h.f.MakeFirmwarePage(kSwapOut);
  REQUIRE(h.f.Run(SnpCmd::kPageSwapOut, SnpPageSwapBuf{d.gctx, d.data_spa, kSwapOut, 0, 0,
                                                       SwapFlags(SwapPageType::kData, false,
                                                                 true)}) == FwStatus::kSuccess);
  Bytes cipher(rmp::kPageSize);
  REQUIRE(h.f.fw->memory().HvRead(kSwapOut, cipher) == rmp::RmpViolation::kNone);
  return cipher;
}

// On the destination: the ciphertext back in through the imported root entry, into a fresh page
// of the guest's ASID; what the guest then reads there.
Bytes SwapInRoot(Host& h, const Driver& d, std::uint32_t asid, const Bytes& cipher) {
  REQUIRE(h.f.fw->memory().HvWrite(kSwapSrc, cipher) == rmp::RmpViolation::kNone);
  REQUIRE(rmp::RmpUpdate(h.f.fw->memory().rmp(), kSwapDst, {0, true, false, true, asid}) ==
          rmp::RmpResult::kSuccess);  // PRE_GUEST
  REQUIRE(h.f.Run(SnpCmd::kPageSwapIn, SnpPageSwapBuf{d.gctx, kSwapSrc, kSwapDst, 0, 0,
                                                      SwapFlags(SwapPageType::kData, false,
                                                                true)}) == FwStatus::kSuccess);
  REQUIRE(h.f.Run(SnpCmd::kPageReclaim, SnpAddrBuf{kSwapDst}) == FwStatus::kSuccess);
  Bytes out(rmp::kPageSize);
  REQUIRE(h.f.fw->memory().GuestRead({asid, 0, kDataGpa, true, false, rmp::kPermRead}, kSwapDst,
                                     out) == rmp::RmpViolation::kNone);
  return out;
}

Bytes Field(const Bytes& b, std::size_t off, std::size_t n) {
  return Bytes(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + n));
}

bool SignedBy(const Bytes& report, const crypto::Certificate& vcek) {
  auto key = vcek.SubjectPublicKey();
  auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(ByteSpan(report).subspan(0x2A0, 144));
  return key.ok() && sig.ok() && key->VerifyEcdsaSha384(ByteSpan(report).first(0x2A0), *sig).ok();
}

crypto::Certificate VcekOf(Product p, std::uint8_t seed) {
  const Platform platform = test::SeededPlatform(p, seed);
  auto vcek = Kds(platform.root)
                  .Vcek(platform.state.chip, platform.fuses, platform.state.reported_tcb,
                        platform.state.manufactured_at);
  REQUIRE(vcek.ok());
  return *vcek;
}

constexpr std::uint64_t kMaCtx = 0x100000, kGuestCtx = 0x101000, kSpareCtx = 0x102000;

// Source A (Milan, seed 1): agent MA_A and its guest G. Destination B (Genoa, seed 2): agent
// MA_B and an empty context for G.
struct Pair {
  Host a{Product::kMilan, 1};
  Host b{Product::kGenoa, 2};
  Driver ma_a, g, ma_b;
  Pair() {
    REQUIRE(a.Launch(Spec(kMaCtx, 1), &ma_a) == FwStatus::kSuccess);
    LaunchSpec gs = Spec(kGuestCtx, 2, kMigratable, kMaCtx);
    gs.data_page = true;
    REQUIRE(a.Launch(gs, &g) == FwStatus::kSuccess);
    REQUIRE(b.Launch(Spec(kMaCtx, 1), &ma_b) == FwStatus::kSuccess);
    REQUIRE(b.f.GctxCreate(kGuestCtx) == FwStatus::kSuccess);
  }
};

}  // namespace

TEST_CASE("migration A -> B: the guest keeps its keys, counters and measurement") {
  Pair p;
  const Bytes report_a = p.a.Report(p.g, 0x21);
  (void)p.a.Report(p.g, 0x22, 1);  // VMPCK1 in use too
  const Bytes vmrk_key_a = p.a.Exchange(p.g, GuestMsgType::kKeyReq, [] {
    Bytes r(0x20, 0);
    StoreLe32(r.data(), 1);  // rooted in the VMRK
    return r;
  }());
  const Bytes ma_a_report = p.a.Report(p.ma_a);
  CHECK(Field(report_a, 0x160, 32) == Field(ma_a_report, 0x140, 32));  // REPORT_ID_MA = MA_A's

  const Bytes cipher = SwapOutRoot(p.a, p.g, 2);
  CHECK(cipher != Bytes(4096, 0x5A));
  Bytes image = p.a.Export(p.ma_a, kGuestCtx, false);
  CHECK((image[gctx::kRootMdValid] & 1) == 1);  // the root entry SWAP_OUT wrote
  CHECK(LoadLe64(image.data() + gctx::kOekIvCount) == 1);
  CHECK(Field(image, gctx::kLd, 48) == Field(report_a, 0x90, 48));
  CHECK(Field(image, gctx::kVmpck0, 32) == p.g.vmpck[0]);
  CHECK(Field(image, gctx::kReportId, 32) == Field(report_a, 0x140, 32));
  CHECK(LoadLe64(image.data() + gctx::kMsgCount0) == p.g.seqno[0]);
  CHECK(LoadLe64(image.data() + gctx::kMsgCount0 + 8) == p.g.seqno[1]);
  CHECK(LoadLe64(image.data() + gctx::kPolicy) == kMigratable);
  CHECK(image[gctx::kState] == 2);
  CHECK(LoadLe64(image.data() + gctx::kLaunchTcb) == LoadLe64(report_a.data() + 0x1F0));
  CHECK(Field(image, gctx::kOek, 32) != Bytes(32, 0));
  // IMI_EN=0: the guest is gone from A, its context page back to FIRMWARE.
  CHECK_FALSE(p.a.Status(kGuestCtx).has_value());
  CHECK(p.a.f.fw->memory().rmp().Get(kGuestCtx).State() == rmp::PageState::kFirmware);

  const Bytes ok =
      p.b.Exchange(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image));
  REQUIRE(ok.size() == kMaStatusRspSize);
  CHECK(Host::StatusOf(ok) == FwStatus::kSuccess);
  auto st = p.b.Status(kGuestCtx);
  REQUIRE(st.has_value());
  CHECK(st->state == 2);  // INIT -> RUNNING
  CHECK(st->policy == kMigratable);
  REQUIRE(p.b.f.Run(SnpCmd::kActivate, SnpActivateBuf{kGuestCtx, 2}) == FwStatus::kSuccess);
  // Its page comes back under the OEK the context brought: the guest reads what it wrote on A.
  p.g.gctx = kGuestCtx;
  CHECK(SwapInRoot(p.b, p.g, 2, cipher) == Bytes(4096, 0x5A));
  // The root entry is used up: the same ciphertext replayed is refused.
  REQUIRE(rmp::RmpUpdate(p.b.f.fw->memory().rmp(), kSwapDst + 0x1000, {0, true, false, true, 2}) ==
          rmp::RmpResult::kSuccess);
  CHECK(
      p.b.f.Run(SnpCmd::kPageSwapIn, SnpPageSwapBuf{kGuestCtx, kSwapSrc, kSwapDst + 0x1000, 0, 0,
                                                    SwapFlags(SwapPageType::kData, false, true)}) ==
      FwStatus::kInvalidMdataEntry);

  // The guest's driver carries on on B with the next sequence numbers of the same VMPCKs.
  p.g.gctx = kGuestCtx;
  const Bytes report_b = p.b.Report(p.g, 0x23);
  (void)p.b.Report(p.g, 0x24, 1);
  const Bytes ma_b_report = p.b.Report(p.ma_b);
  CHECK(Field(report_b, 0x90, 48) == Field(report_a, 0x90, 48));       // MEASUREMENT
  CHECK(Field(report_b, 0x140, 32) != Field(report_a, 0x140, 32));     // a fresh REPORT_ID
  CHECK(Field(report_b, 0x160, 32) == Field(ma_b_report, 0x140, 32));  // REPORT_ID_MA = MA_B's
  CHECK(LoadLe64(report_b.data() + 0x1F0) == LoadLe64(report_a.data() + 0x1F0));  // LAUNCH_TCB
  const PlatformState& pb = p.b.f.fw->platform_state();
  CHECK(LoadLe64(report_b.data() + 0x180) == pb.reported_tcb.raw());
  CHECK(Field(report_b, 0x1A0, 64) == pb.chip.chip_id);
  CHECK(Field(report_b, 0x1A0, 64) != Field(report_a, 0x1A0, 64));
  CHECK(report_b[0x188] == 0x19);  // Genoa: family 19h, model 11h
  CHECK(report_b[0x189] == 0x11);
  const crypto::Certificate vcek_a = VcekOf(Product::kMilan, 1);
  const crypto::Certificate vcek_b = VcekOf(Product::kGenoa, 2);
  CHECK(SignedBy(report_a, vcek_a));
  CHECK(SignedBy(report_b, vcek_b));
  CHECK_FALSE(SignedBy(report_b, vcek_a));
  // The VMRK came along: a VMRK-rooted key is the same on B.
  const Bytes vmrk_key_b = p.b.Exchange(p.g, GuestMsgType::kKeyReq, [] {
    Bytes r(0x20, 0);
    StoreLe32(r.data(), 1);
    return r;
  }());
  CHECK(Host::StatusOf(vmrk_key_b) == FwStatus::kSuccess);
  CHECK(vmrk_key_b == vmrk_key_a);
  // The counters in the context B now holds are the driver's.
  const Bytes again = p.b.Export(p.ma_b, kGuestCtx, true);
  CHECK(LoadLe64(again.data() + gctx::kMsgCount0) == p.g.seqno[0]);
  CHECK(Field(again, gctx::kRootMdEntry, 64) == Bytes(64, 0));  // IMI_EN=1: not exported
  CHECK(p.b.Status(kGuestCtx).has_value());                     // and the guest stays
}

namespace {

Bytes TscReq() {
  return Bytes(0x80, 0);
}

// Twin pairs: two identical runs (seeded platforms are deterministic). A refusal delivered in a
// response still advances the requester's counter and writes the response page; so the twin
// sends a message that changes nothing (MSG_TSC_INFO_REQ) instead, and both then send the same
// one, which leaves the same response page. Equal digests on both platforms then mean the
// refused message changed nothing else.
struct Twins {
  Pair x, y;
  void ExpectNoEffect(bool on_b, Driver Pair::*who) {
    Host& hy = on_b ? y.b : y.a;
    CHECK(Host::StatusOf(hy.Exchange(y.*who, GuestMsgType::kTscInfoReq, TscReq())) ==
          FwStatus::kSuccess);
    Host& hx = on_b ? x.b : x.a;
    (void)hx.Exchange(x.*who, GuestMsgType::kTscInfoReq, TscReq());
    (void)hy.Exchange(y.*who, GuestMsgType::kTscInfoReq, TscReq());
    CHECK(x.a.f.fw->StateDigest() == y.a.f.fw->StateDigest());
    CHECK(x.b.f.fw->StateDigest() == y.b.f.fw->StateDigest());
  }
};

// G's pages swapped out under the root entry, then G exported by MA_A.
Bytes ExportedG(Pair& p) {
  (void)SwapOutRoot(p.a, p.g, 2);
  return p.a.Export(p.ma_a, kGuestCtx, false);
}

}  // namespace

TEST_CASE("export refusals: each with its status, nothing changed") {
  Twins t;
  SUBCASE("a guest whose policy forbids migration has no agent to export it") {
    for (Pair* p : {&t.x, &t.y}) {
      REQUIRE(p->a.Launch(Spec(kSpareCtx, 3), nullptr) == FwStatus::kSuccess);
    }
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq, Host::ExportReq(kSpareCtx, false)) ==
          FwStatus::kInvalidGuest);
    t.ExpectNoEffect(false, &Pair::ma_a);
  }
  SUBCASE("an agent that is not the guest's") {
    Driver other_x, other_y;
    REQUIRE(t.x.a.Launch(Spec(kSpareCtx, 3), &other_x) == FwStatus::kSuccess);
    REQUIRE(t.y.a.Launch(Spec(kSpareCtx, 3), &other_y) == FwStatus::kSuccess);
    CHECK(t.x.a.MsgStatus(other_x, GuestMsgType::kExportReq, Host::ExportReq(kGuestCtx, false)) ==
          FwStatus::kInvalidGuest);
    // The twin's stand-in runs on MA_A; move the other agent's exchange over to it.
    CHECK(t.y.a.MsgStatus(other_y, GuestMsgType::kTscInfoReq, TscReq()) == FwStatus::kSuccess);
    (void)t.x.a.Exchange(other_x, GuestMsgType::kTscInfoReq, TscReq());
    (void)t.y.a.Exchange(other_y, GuestMsgType::kTscInfoReq, TscReq());
    CHECK(t.x.a.f.fw->StateDigest() == t.y.a.f.fw->StateDigest());
  }
  SUBCASE("a bound guest exporting itself") {
    CHECK(t.x.a.MsgStatus(t.x.g, GuestMsgType::kExportReq, Host::ExportReq(kGuestCtx, false)) ==
          FwStatus::kInvalidGuest);
    t.ExpectNoEffect(false, &Pair::g);
  }
  SUBCASE("a guest not RUNNING, a page that is no context, reserved bits") {
    for (Pair* p : {&t.x, &t.y}) {
      LaunchSpec l = Spec(kSpareCtx, 3, kMigratable, kMaCtx);
      l.finish = false;
      REQUIRE(p->a.Launch(l, nullptr) == FwStatus::kSuccess);
    }
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq, Host::ExportReq(kSpareCtx, false)) ==
          FwStatus::kInvalidGuestState);
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq, Host::ExportReq(0x200000, false)) ==
          FwStatus::kInvalidGuest);
    Bytes reserved = Host::ExportReq(kGuestCtx, false);
    reserved[8] = 2;  // IMI_EN's reserved neighbour
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq, reserved) == FwStatus::kInvalidParam);
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq,
                          Host::ExportReq(kGuestCtx | 8, false)) == FwStatus::kInvalidParam);
    // Four refused exchanges on x: four harmless ones on y.
    for (int i = 0; i < 3; ++i) (void)t.y.a.Exchange(t.y.ma_a, GuestMsgType::kTscInfoReq, TscReq());
    t.ExpectNoEffect(false, &Pair::ma_a);
  }
  SUBCASE("self-export under VMPCK1") {
    CHECK(t.x.a.MsgStatus(t.x.ma_a, GuestMsgType::kExportReq, Host::ExportReq(kMaCtx, false), 1) ==
          FwStatus::kInvalidGuest);
    CHECK(t.y.a.MsgStatus(t.y.ma_a, GuestMsgType::kTscInfoReq, TscReq(), 1) == FwStatus::kSuccess);
    (void)t.x.a.Exchange(t.x.ma_a, GuestMsgType::kTscInfoReq, TscReq(), 1);
    (void)t.y.a.Exchange(t.y.ma_a, GuestMsgType::kTscInfoReq, TscReq(), 1);
    CHECK(t.x.a.f.fw->StateDigest() == t.y.a.f.fw->StateDigest());
  }
}

TEST_CASE("launch binding: MA_EN needs MIGRATE_MA and an agent without one") {
  Pair p;
  REQUIRE(p.a.f.GctxCreate(kSpareCtx) == FwStatus::kSuccess);
  const Bytes before = p.a.f.fw->StateDigest();
  auto start = [&](std::uint64_t policy, std::uint64_t ma) {
    SnpLaunchStartBuf ls = p.a.f.LaunchStartBuf(kSpareCtx, policy);
    ls.flags = 1;
    ls.ma_gctx_paddr = ma;
    return p.a.f.Run(SnpCmd::kLaunchStart, ls);
  };
  CHECK(start(kPolicy, kMaCtx) == FwStatus::kPolicyFailure);         // MIGRATE_MA clear
  CHECK(start(kMigratable, kGuestCtx) == FwStatus::kPolicyFailure);  // G is bound: no agent
  CHECK(start(kMigratable, kSpareCtx) == FwStatus::kPolicyFailure);  // itself, never launched
  CHECK(start(kMigratable, 0x200000) == FwStatus::kInvalidGuest);    // not a context
  CHECK(p.a.f.fw->StateDigest() == before);
  CHECK(start(kMigratable, kMaCtx) == FwStatus::kSuccess);
}

TEST_CASE("import refusals: each with its status, nothing changed") {
  Twins t;
  Bytes image_x = ExportedG(t.x), image_y = ExportedG(t.y);
  REQUIRE(image_x == image_y);  // the twins really are twins
  SUBCASE("into a context not in INIT") {
    for (Pair* p : {&t.x, &t.y}) {
      LaunchSpec l = Spec(kSpareCtx, 3);
      l.finish = false;
      REQUIRE(p->b.Launch(l, nullptr) == FwStatus::kSuccess);
    }
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq,
                          Host::ImportReq(kSpareCtx, image_x)) == FwStatus::kInvalidGuestState);
    t.ExpectNoEffect(true, &Pair::ma_b);
  }
  SUBCASE("into a running guest (the agent itself)") {
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kMaCtx, image_x)) ==
          FwStatus::kInvalidGuestState);
    t.ExpectNoEffect(true, &Pair::ma_b);
  }
  SUBCASE("the same context imported twice") {
    for (Pair* p : {&t.x, &t.y}) {
      REQUIRE(p->b.MsgStatus(p->ma_b, GuestMsgType::kImportReq,
                             Host::ImportReq(kGuestCtx, p == &t.x ? image_x : image_y)) ==
              FwStatus::kSuccess);
    }
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq,
                          Host::ImportReq(kGuestCtx, image_x)) == FwStatus::kInvalidGuestState);
    t.ExpectNoEffect(true, &Pair::ma_b);
  }
  SUBCASE("pages not swapped out: no valid root entry") {
    Bytes unswapped = image_x;
    unswapped[gctx::kRootMdValid] &= 0xFE;
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq,
                          Host::ImportReq(kGuestCtx, unswapped)) == FwStatus::kInvalidMdataEntry);
    t.ExpectNoEffect(true, &Pair::ma_b);
  }
  SUBCASE("size, version, reserved bytes, a page that is no context") {
    Bytes req = Host::ImportReq(kGuestCtx, image_x);
    Bytes v2 = req, size = req, reserved = req;
    StoreLe32(v2.data() + 12, 2);
    StoreLe32(size.data() + 8, 0x2FF);
    reserved[0x18] = 1;
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq, v2) == FwStatus::kInvalidParam);
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq, size) == FwStatus::kInvalidParam);
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq, reserved) == FwStatus::kInvalidParam);
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kImportReq, Host::ImportReq(0x200000, image_x)) ==
          FwStatus::kInvalidGuest);
    for (int i = 0; i < 3; ++i) (void)t.y.b.Exchange(t.y.ma_b, GuestMsgType::kTscInfoReq, TscReq());
    t.ExpectNoEffect(true, &Pair::ma_b);
  }
}

TEST_CASE("a tampered context: the host flips a bit of the agent's sealed message") {
  Pair p;
  Bytes image = ExportedG(p);
  // The export response, as the host holds it, hides the context: no key byte in the clear.
  Bytes rsp_page(4096);
  REQUIRE(p.a.f.fw->memory().FirmwareRead(kRsp, rsp_page).ok());
  const Bytes vmpck0 = Field(image, gctx::kVmpck0, 32);
  CHECK(std::search(rsp_page.begin(), rsp_page.end(), vmpck0.begin(), vmpck0.end()) ==
        rsp_page.end());
  // On its way to B's firmware, inside MA_B's request: refused by the transport.
  const Bytes before = p.b.f.fw->StateDigest();
  p.b.Post(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image), 0,
           p.ma_b.seqno[0] + 1);
  Bytes page(4096);
  REQUIRE(p.b.f.fw->memory().HvRead(kReq, page) == rmp::RmpViolation::kNone);
  page[0x60 + 0x20 + gctx::kPolicy] ^= 0x08;  // the context's policy, as ciphertext
  REQUIRE(p.b.f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
  CHECK(p.b.Issue(p.ma_b) == FwStatus::kInvalidParam);
  CHECK(p.b.f.fw->StateDigest() == before);
  // Nothing moved: the untampered message, with the same sequence number, is accepted.
  CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image)) ==
        FwStatus::kSuccess);
}

TEST_CASE("the firmware does not stop a clone: a second fresh context takes the same export") {
  Pair p;
  const Bytes image = ExportedG(p);
  REQUIRE(p.b.f.GctxCreate(kSpareCtx) == FwStatus::kSuccess);
  CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image)) ==
        FwStatus::kSuccess);
  CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kSpareCtx, image)) ==
        FwStatus::kSuccess);
  // Two guests with one measurement and one set of VMPCKs; only their REPORT_IDs differ.
  Driver clone = p.g;
  p.g.gctx = kGuestCtx;
  clone.gctx = kSpareCtx;
  const Bytes r1 = p.b.Report(p.g), r2 = p.b.Report(clone);
  CHECK(Field(r1, 0x90, 48) == Field(r2, 0x90, 48));
  CHECK(Field(r1, 0x160, 32) == Field(r2, 0x160, 32));
  CHECK(Field(r1, 0x140, 32) != Field(r2, 0x140, 32));
}

TEST_CASE("a migrated guest's reports: what a verifier sees") {
  Pair p;
  const Bytes before = p.a.Report(p.g, 0x31);
  const Bytes image = ExportedG(p);
  REQUIRE(p.b.MsgStatus(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image)) ==
          FwStatus::kSuccess);
  p.g.gctx = kGuestCtx;
  const Bytes after = p.b.Report(p.g, 0x31);
  // A verifier of the signature chain, MEASUREMENT, POLICY and REPORT_DATA: both pass.
  const crypto::Certificate vcek_a = VcekOf(Product::kMilan, 1);
  const crypto::Certificate vcek_b = VcekOf(Product::kGenoa, 2);
  auto naive = [](const Bytes& r, const crypto::Certificate& vcek, const Bytes& measurement) {
    return SignedBy(r, vcek) && Field(r, 0x90, 48) == measurement &&
           LoadLe64(r.data() + 0x08) == kMigratable && Field(r, 0x50, 64) == Bytes(64, 0x31);
  };
  const Bytes measurement = Field(before, 0x90, 48);
  CHECK(naive(before, vcek_a, measurement));
  CHECK(naive(after, vcek_b, measurement));
  // What tells them apart: the agent, the launch TCB against the reported one, the chip.
  CHECK(Field(before, 0x160, 32) != Field(after, 0x160, 32));                // REPORT_ID_MA
  CHECK(LoadLe64(after.data() + 0x1F0) == LoadLe64(before.data() + 0x1F0));  // LAUNCH_TCB: A's
  CHECK(LoadLe64(after.data() + 0x1F0) != LoadLe64(after.data() + 0x180));   // not B's
  CHECK(Field(before, 0x1A0, 64) != Field(after, 0x1A0, 64));                // CHIP_ID
}

namespace {

Bytes AbsorbReq(std::uint64_t target, const Bytes& image) {
  return Host::ImportReq(target, image);  // the same layout
}
Bytes VmrkReq(std::uint64_t target, std::uint8_t fill) {
  Bytes r(kVmrkReqSize, 0);
  StoreLe64(r.data(), target);
  std::memset(r.data() + 0x20, fill, 32);
  return r;
}
Bytes VmrkKeyReq() {
  Bytes r(0x20, 0);
  StoreLe32(r.data(), 1);  // ROOT_KEY_SELECT: the VMRK
  return r;
}

}  // namespace

// G on A with one IMI page (its IMD is that page's digest), and the empty guest D on B at
// kSpareCtx: IMI_EN, launched from exactly G's IMI pages, never finished. Returns G's context
// as MA_A exports it with IMI_EN=1, and G's report on A.
Bytes SetUpImi(Pair& p, Bytes& report_a) {
  REQUIRE(p.a.f.Run(SnpCmd::kDecommission, SnpAddrBuf{kGuestCtx}) == FwStatus::kSuccess);
  LaunchSpec gs = Spec(kSpareCtx, 3, kMigratable, kMaCtx);
  gs.data_page = gs.data_imi = true;
  REQUIRE(p.a.Launch(gs, &p.g) == FwStatus::kSuccess);
  report_a = p.a.Report(p.g);
  LaunchSpec ds = Spec(kSpareCtx, 3);
  ds.imi_en = ds.data_page = ds.data_imi = true;
  ds.secrets = ds.finish = false;
  REQUIRE(p.b.Launch(ds, nullptr) == FwStatus::kSuccess);
  return p.a.Export(p.ma_a, kSpareCtx, true);
}

TEST_CASE("IMI: an empty guest on B absorbs a guest that keeps running on A") {
  Pair p;
  Bytes report_a;
  const Bytes image = SetUpImi(p, report_a);
  CHECK(p.b.f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kSpareCtx, 0, 0, 0, {}}) ==
        FwStatus::kInvalidGuestState);       // an IMI guest runs only by being absorbed
  CHECK(p.a.Status(kSpareCtx)->state == 2);  // IMI_EN=1: G still runs on A
  CHECK(Field(image, gctx::kRootMdEntry, 64) == Bytes(64, 0));
  CHECK(Field(image, gctx::kImd, 48) != Bytes(48, 0));

  SUBCASE("absorbed") {
    CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kAbsorbReq, AbsorbReq(kSpareCtx, image)) ==
          FwStatus::kSuccess);
    CHECK(p.b.Status(kSpareCtx)->state == 2);  // LAUNCH -> RUNNING
    Driver on_b = p.g;
    on_b.gctx = kSpareCtx;
    const Bytes report_b = p.b.Report(on_b);
    const Bytes ma_b_report = p.b.Report(p.ma_b);
    CHECK(Field(report_b, 0x90, 48) == Field(report_a, 0x90, 48));
    CHECK(Field(report_b, 0x140, 32) != Field(report_a, 0x140, 32));  // D's own REPORT_ID
    CHECK(Field(report_b, 0x160, 32) == Field(ma_b_report, 0x140, 32));
    // Absorbed once: D is no longer in LAUNCH.
    CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kAbsorbReq, AbsorbReq(kSpareCtx, image)) ==
          FwStatus::kInvalidGuestState);
  }
  SUBCASE("a context from another guest: its IMD is not D's launch digest") {
    Twins t;
    Bytes unused;
    Bytes foreign = SetUpImi(t.x, unused);
    REQUIRE(SetUpImi(t.y, unused) == foreign);
    foreign[gctx::kImd] ^= 1;
    CHECK(t.x.b.MsgStatus(t.x.ma_b, GuestMsgType::kAbsorbReq, AbsorbReq(kSpareCtx, foreign)) ==
          FwStatus::kBadMeasurement);
    t.ExpectNoEffect(true, &Pair::ma_b);
    CHECK(t.x.b.Status(kSpareCtx)->state == 1);  // still LAUNCH
  }
  SUBCASE("into a guest without IMI_EN, or one already running") {
    CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kAbsorbReq, AbsorbReq(kMaCtx, image)) ==
          FwStatus::kInvalidGuestState);
    REQUIRE(p.b.f.GctxCreate(kGuestCtx + 0x10000) == FwStatus::kSuccess);
    CHECK(p.b.MsgStatus(p.ma_b, GuestMsgType::kAbsorbReq, AbsorbReq(kGuestCtx + 0x10000, image)) ==
          FwStatus::kInvalidGuestState);  // INIT
  }
}

TEST_CASE("MSG_VMRK_REQ: the agent installs a guest's VMRK during its launch") {
  Pair p;
  auto launch_unfinished = [&](std::uint64_t gctx, std::uint32_t asid, Driver* d) {
    LaunchSpec l = Spec(gctx, asid, kMigratable, kMaCtx);
    l.finish = false;
    REQUIRE(p.a.Launch(l, d) == FwStatus::kSuccess);
  };
  Driver g2, g3, g4;
  launch_unfinished(0x110000, 4, &g2);
  launch_unfinished(0x111000, 5, &g3);
  launch_unfinished(0x112000, 6, &g4);
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, VmrkReq(0x110000, 0xC3)) ==
        FwStatus::kSuccess);
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, VmrkReq(0x111000, 0xC3)) ==
        FwStatus::kSuccess);
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, VmrkReq(0x112000, 0x3C)) ==
        FwStatus::kSuccess);
  // Refusals: VMPCK1; an agent that is not the guest's; a guest past its launch; reserved.
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, VmrkReq(0x110000, 1), 1) ==
        FwStatus::kInvalidParam);
  Driver other;
  REQUIRE(p.a.Launch(Spec(0x113000, 7), &other) == FwStatus::kSuccess);
  CHECK(p.a.MsgStatus(other, GuestMsgType::kVmrkReq, VmrkReq(0x110000, 1)) ==
        FwStatus::kInvalidGuest);
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, VmrkReq(kGuestCtx, 1)) ==
        FwStatus::kInvalidGuestState);
  Bytes reserved = VmrkReq(0x110000, 1);
  reserved[0x10] = 1;
  CHECK(p.a.MsgStatus(p.ma_a, GuestMsgType::kVmrkReq, reserved) == FwStatus::kInvalidParam);
  for (std::uint64_t gctx : {0x110000, 0x111000, 0x112000}) {
    REQUIRE(p.a.f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{gctx, 0, 0, 0, {}}) ==
            FwStatus::kSuccess);
  }
  // The same VMRK, the same VMRK-rooted key (the launches are alike); another VMRK, another.
  auto key = [&](Driver& d) {
    const Bytes rsp = p.a.Exchange(d, GuestMsgType::kKeyReq, VmrkKeyReq());
    REQUIRE(Host::StatusOf(rsp) == FwStatus::kSuccess);
    return Field(rsp, 0x20, 32);
  };
  const Bytes k2 = key(g2);
  CHECK(k2 == key(g3));
  CHECK(k2 != key(g4));
  CHECK(k2 != key(p.g));  // G's own VMRK, from its LAUNCH_START
}

TEST_CASE("MSG_ABSORB_NOMA_REQ: no agent anywhere") {
  Pair p;
  // S on A: no agent, an IMI data page and an IMI secrets page (IMD = LD).
  Driver src;
  REQUIRE(p.a.f.GctxCreate(kSpareCtx) == FwStatus::kSuccess);
  auto launch_all_imi = [](Host& h, std::uint64_t gctx, std::uint32_t asid, Driver* d) {
    REQUIRE(h.f.Run(SnpCmd::kLaunchStart, h.f.LaunchStartBuf(gctx, kPolicy)) == FwStatus::kSuccess);
    REQUIRE(h.f.Run(SnpCmd::kActivate, SnpActivateBuf{gctx, asid}) == FwStatus::kSuccess);
    const std::uint64_t data = h.next_page, secrets = h.next_page + 0x1000;
    h.next_page += 0x2000;
    h.f.MakePreGuestPage(data, kDataGpa, asid, Bytes(4096, 0x77));
    h.f.MakePreGuestPage(secrets, kSecretsGpa, asid, Bytes(4096, 0));
    auto u = h.f.UpdateBuf(gctx, data, PageType::kNormal);
    u.page_info |= 1u << 4;
    REQUIRE(h.f.Run(SnpCmd::kLaunchUpdate, u) == FwStatus::kSuccess);
    u = h.f.UpdateBuf(gctx, secrets, PageType::kSecrets);
    u.page_info |= 1u << 4;
    REQUIRE(h.f.Run(SnpCmd::kLaunchUpdate, u) == FwStatus::kSuccess);
    REQUIRE(h.f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{gctx, 0, 0, 0, {}}) ==
            FwStatus::kSuccess);
    Bytes page(4096);
    REQUIRE(h.f.fw->memory().GuestRead({asid, 0, kSecretsGpa, true, false, rmp::kPermRead}, secrets,
                                       page) == rmp::RmpViolation::kNone);
    d->gctx = gctx;
    for (int i = 0; i < 4; ++i)
      d->vmpck[i].assign(page.begin() + 0x20 + 32 * i, page.begin() + 0x40 + 32 * i);
  };
  launch_all_imi(p.a, kSpareCtx, 3, &src);
  (void)p.a.Report(src);
  (void)p.a.Report(src, 0x11, 2);
  Driver n;
  REQUIRE(p.b.f.GctxCreate(kSpareCtx) == FwStatus::kSuccess);
  launch_all_imi(p.b, kSpareCtx, 3, &n);
  // S exports itself (VMPCK0 only; MIGRATE_MA is not asked for) and keeps running.
  CHECK(p.a.MsgStatus(src, GuestMsgType::kExportReq, Host::ExportReq(kSpareCtx, true), 1) ==
        FwStatus::kInvalidGuest);
  const Bytes image = p.a.Export(src, kSpareCtx, true);
  CHECK(p.a.Status(kSpareCtx)->state == 2);

  // Refusals first: a guest with an agent; another guest's context; a reserved field.
  Bytes req = AbsorbReq(0, image);
  CHECK(p.a.MsgStatus(p.g, GuestMsgType::kAbsorbNomaReq, req) == FwStatus::kInvalidGuest);
  Bytes foreign = req;
  foreign[kImportReqGctx + gctx::kImd + 5] ^= 1;
  CHECK(p.b.MsgStatus(n, GuestMsgType::kAbsorbNomaReq, foreign) == FwStatus::kBadMeasurement);
  Bytes reserved = req;
  reserved[0] = 1;
  CHECK(p.b.MsgStatus(n, GuestMsgType::kAbsorbNomaReq, reserved) == FwStatus::kInvalidParam);

  // N takes S's context: the answer still comes under N's old VMPCK0 ...
  CHECK(p.b.MsgStatus(n, GuestMsgType::kAbsorbNomaReq, req) == FwStatus::kSuccess);
  // ... and from now on S's driver speaks for it, its counters continuing: VMPCK0's from the
  // export exchange (the context's count, advanced by two for the ABSORB_NOMA exchange, as
  // AMD-ASPFW increments after the copy), VMPCK2's as they were.
  Driver moved = src;
  moved.gctx = kSpareCtx;
  CHECK(LoadLe64(image.data() + gctx::kMsgCount0) + 2 == moved.seqno[0]);
  const Bytes r0 = p.b.Report(moved);
  const Bytes r2 = p.b.Report(moved, 0x12, 2);
  CHECK(Field(r0, 0x140, 32) == Field(r2, 0x140, 32));
  CHECK(LoadLe64(r0.data() + 0x1F0) == p.a.f.fw->platform_state().committed_tcb.raw());
  // N's own keys are gone.
  p.b.Post(n, GuestMsgType::kTscInfoReq, TscReq(), 0, n.seqno[0] + 1);
  CHECK(p.b.Issue(n) == FwStatus::kInvalidParam);
}

TEST_CASE("what an import does not take: VCEK_DIS, and the platform's guest count") {
  Pair p;
  LaunchSpec gs = Spec(0x110000, 4, kMigratable, kMaCtx);
  gs.data_page = true;
  gs.finish_flags = 4;  // VCEK_DIS: this guest's reports are never VCEK-signed on A
  Driver g;
  REQUIRE(p.a.Launch(gs, &g) == FwStatus::kSuccess);
  Bytes req(0x60, 0);
  StoreLe32(req.data() + 0x44, 1);  // KEY_SEL: the VCEK
  CHECK(Host::StatusOf(p.a.Exchange(g, GuestMsgType::kReportReq, req)) == FwStatus::kInvalidKey);
  (void)SwapOutRoot(p.a, g, 4);
  const Bytes image = p.a.Export(p.ma_a, 0x110000, false);
  CHECK((LoadLe32(image.data() + gctx::kFlags) & 4) == 4);  // exported ...
  auto count = [](Host& h) {
    h.f.MakeFirmwarePage(0x610000);
    REQUIRE(h.f.Run(SnpCmd::kPlatformStatus, SnpAddrBuf{0x610000}) == FwStatus::kSuccess);
    SnpPlatformStatusPage st{};
    REQUIRE(h.f.fw->memory()
                .FirmwareRead(0x610000, {reinterpret_cast<std::uint8_t*>(&st), sizeof st})
                .ok());
    return st.guest_count;
  };
  const std::uint32_t before = count(p.b);
  REQUIRE(p.b.MsgStatus(p.ma_b, GuestMsgType::kImportReq, Host::ImportReq(kGuestCtx, image)) ==
          FwStatus::kSuccess);
  CHECK(count(p.b) == before);  // AMD-ASPFW counts launches only
  g.gctx = kGuestCtx;
  const Bytes rsp = p.b.Exchange(g, GuestMsgType::kReportReq, req);
  CHECK(Host::StatusOf(rsp) == FwStatus::kSuccess);  // ... but not imported: VCEK-signed on B
  CHECK(SignedBy(Field(rsp, 0x20, 0x4A0), VcekOf(Product::kGenoa, 2)));
}

}  // namespace sevemu::emulator
