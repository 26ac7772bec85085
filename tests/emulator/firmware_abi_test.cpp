// Firmware ABI versions (docs/firmware-abi.md): per simulated ABI, a table of what each guest
// message version, GUEST_FIELD_SELECT bit, policy bit, report field, SNP_INIT_EX flag,
// SNP_PLATFORM_STATUS bit and SNP_FEATURE_INFO bit does; the virtee/sev default derived-key
// request on 1.55 and 1.58; and a firmware update that changes the ABI of a running platform.
#include "sevemu/emulator/manufacturing/firmware_abi.h"

#include <doctest/doctest.h>

#include <cstring>

#include "firmware_fixture.h"
#include "sevemu/emulator/command_fields.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"
#include "sevemu/emulator/snp/snp_policy.h"
#include "sevemu/guestmsg/guest_message.h"

namespace sevemu::emulator {
namespace {

using guestmsg::GuestMsgHeader;
using guestmsg::GuestMsgType;
using guestmsg::OpenGuestMsg;
using guestmsg::ParseGuestMsgHeader;
using guestmsg::SealGuestMsg;
using guestmsg::SerializeGuestMsgHeader;

constexpr std::uint64_t kGctx = 0x100000, kSecrets = 0x400000, kSecretsGpa = 0x801000;
constexpr std::uint64_t kReq = 0x500000, kRsp = 0x501000, kPage = 0x502000;
constexpr std::uint32_t kAsid = 1;

constexpr FirmwareVersion k155{1, 55, 21}, k157{1, 57, 1}, k158{1, 58, 1};

Platform PlatformAt(Product p, FirmwareVersion fw, std::uint8_t seed = 1) {
  ProvisionOptions opts;
  opts.product = p;
  opts.seed = Bytes{seed};
  opts.firmware = fw;
  auto platform = Provision(opts, test::TestRoot(p));
  REQUIRE_MESSAGE(platform.ok(), (platform.ok() ? "" : platform.error().message()));
  return std::move(platform).value();
}

std::string Name(FirmwareVersion v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.build);
}

// A platform initialised with SNP_INIT_EX `flags` (INIT_RMP always), then DF_FLUSH'd.
FwStatus InitEx(test::FirmwareFixture& f, std::uint32_t flags, std::uint16_t max_snp_asid = 0) {
  SnpInitExBuf ex{};
  ex.flags = 1 | flags;
  ex.max_snp_asid = max_snp_asid;
  const FwStatus st = f.Run(SnpCmd::kInitEx, ex);
  if (st == FwStatus::kSuccess) {
    f.fw->Wbinvd();
    REQUIRE(f.Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  }
  return st;
}
constexpr std::uint32_t kInitRaplDis = 1u << 2, kHiding = 1u << 3;  // SNP_INIT_EX flags

// A launched guest and a driver that numbers and seals requests as Linux's sev-guest does.
struct AbiGuest {
  test::FirmwareFixture f;
  Bytes vmpck0;
  std::uint64_t seqno = 0;

  // SNP_INIT, or SNP_INIT_EX with `init_flags` (MAX_SNP_ASID 100).
  AbiGuest(Product p, FirmwareVersion fw, std::uint64_t policy = 0x30000,
           std::uint32_t init_flags = 0)
      : f(PlatformAt(p, fw)) {
    if (init_flags == 0) {
      f.InitPlatform();
    } else {
      REQUIRE(InitEx(f, init_flags, 100) == FwStatus::kSuccess);
    }
    f.StartGuest(kGctx, kAsid, policy);
    f.MakePreGuestPage(kSecrets, kSecretsGpa, kAsid, Bytes(4096, 0));
    REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, kSecrets, PageType::kSecrets)) ==
            FwStatus::kSuccess);
    REQUIRE(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
            FwStatus::kSuccess);
    Bytes page(4096);
    REQUIRE(f.fw->memory().GuestRead({kAsid, 0, kSecretsGpa, true, false, rmp::kPermRead}, kSecrets,
                                     page) == rmp::RmpViolation::kNone);
    vmpck0.assign(page.begin() + 0x20, page.begin() + 0x40);
    f.MakeFirmwarePage(kRsp);
  }

  // One request; on success the response header's version and the decrypted payload.
  struct Reply {
    FwStatus status;
    std::uint8_t version = 0;
    Bytes payload = {};
  };
  Reply Send(GuestMsgType type, const Bytes& payload, std::uint8_t version) {
    GuestMsgHeader h;
    h.seqno = seqno + 1;
    h.type = type;
    h.msg_version = version;
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    auto ct = SealGuestMsg(h, payload, vmpck0);
    REQUIRE(ct.ok());
    Bytes page(4096, 0);
    const auto hdr = SerializeGuestMsgHeader(h);
    std::memcpy(page.data(), hdr.data(), hdr.size());
    std::memcpy(page.data() + 0x60, ct->data(), ct->size());
    REQUIRE(f.fw->memory().HvWrite(kReq, page) == rmp::RmpViolation::kNone);
    Reply r{f.Run(SnpCmd::kGuestRequest, SnpGuestRequestBuf{kGctx, kReq, kRsp})};
    if (r.status != FwStatus::kSuccess) return r;
    Bytes out(4096);
    REQUIRE(f.fw->memory().FirmwareRead(kRsp, out).ok());
    auto rh = ParseGuestMsgHeader(out);
    REQUIRE(rh.ok());
    CHECK(rh->seqno == seqno + 2);
    auto plain = OpenGuestMsg(*rh, ByteSpan(out).subspan(0x60, rh->msg_size), vmpck0);
    REQUIRE(plain.ok());
    seqno += 2;
    r.version = rh->msg_version;
    r.payload.assign(plain->data(), plain->data() + plain->size());
    return r;
  }
  Bytes Report() {
    auto r = Send(GuestMsgType::kReportReq, Bytes(0x60, 0), 1);
    REQUIRE(r.status == FwStatus::kSuccess);
    REQUIRE(LoadLe32(r.payload.data()) == 0);
    return Bytes(r.payload.begin() + 0x20, r.payload.begin() + 0x20 + 0x4A0);
  }
};

// MSG_KEY_REQ: 32 bytes (version 1, and what Linux sends for any version) or, with the launch
// mitigation vector at 0x20, 48 (payloads are whole AES blocks: MSG_SIZE must be a multiple of
// 16, SEV-ABI-FACTS.md 3.2).
Bytes KeyReq(std::uint64_t gfs, std::optional<std::uint64_t> mit_vector = std::nullopt) {
  Bytes r(mit_vector ? 0x30 : 0x20, 0);
  StoreLe64(r.data() + 8, gfs);
  if (mit_vector) StoreLe64(r.data() + 0x20, *mit_vector);
  return r;
}

}  // namespace

TEST_CASE("the ABI table: lookup, parsing, provisioning") {
  CHECK(AbiOf({1, 55, 21}).minor == 55);
  CHECK(AbiOf({1, 56, 3}).minor == 55);  // between rows: the row below
  CHECK(AbiOf({1, 57, 0}).minor == 57);
  CHECK(AbiOf({1, 58, 9}).minor == 58);
  CHECK(AbiOf({1, 60, 0}).minor == 58);  // newer than the table: its newest
  CHECK(AbiOf({0, 24, 0}).minor == 55);  // older: its oldest
  CHECK(*ParseSimulatedFirmware(Product::kMilan, "1.55") == FirmwareVersion{1, 55, 21});
  CHECK(*ParseSimulatedFirmware(Product::kGenoa, "1.55") == FirmwareVersion{1, 55, 25});
  CHECK(*ParseSimulatedFirmware(Product::kGenoa, "1.58") == FirmwareVersion{1, 58, 1});
  CHECK(*ParseSimulatedFirmware(Product::kTurin, "1.57.4") == FirmwareVersion{1, 57, 4});
  for (const char* bad :
       {"1.56", "1.56.2", "1.58.x", "1.58.256", "1", "1.58.1.2", "", "v1.58", "1..58", "-1.58"}) {
    CAPTURE(bad);
    auto v = ParseSimulatedFirmware(Product::kMilan, bad);
    REQUIRE_FALSE(v.ok());
    CHECK(v.error().code() == ErrorCode::kInvalidArgument);
  }
  CHECK(
      ParseSimulatedFirmware(Product::kMilan, "1.56").error().message().find("1.55, 1.57, 1.58") !=
      std::string::npos);
  // Provisioning records the firmware as current and committed; it survives platform.json.
  const Platform p = PlatformAt(Product::kGenoa, k158);
  CHECK(p.state.current_fw == k158);
  CHECK(p.state.committed_fw == k158);
  auto reloaded = ParsePlatformJson(PlatformJson(p.state), "platform.json");
  REQUIRE(reloaded.ok());
  CHECK(reloaded->current_fw == k158);
  ProvisionOptions opts;
  opts.product = Product::kMilan;
  opts.seed = Bytes{1};
  opts.firmware = FirmwareVersion{1, 56, 0};
  CHECK(Provision(opts, test::TestRoot(Product::kMilan)).error().code() ==
        ErrorCode::kInvalidArgument);
  // Without --firmware: the newest ABI, at the build "1.58" names (DefaultFirmware); the
  // product's own 1.55 build stays what "1.55" names.
  opts.firmware.reset();
  for (Product prod : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    opts.product = prod;
    CHECK(Provision(opts, test::TestRoot(prod))->state.current_fw == k158);
    CHECK(DefaultFirmware(prod) == k158);
  }
}

TEST_CASE("guest message versions per ABI: refused ones fail the command and move nothing") {
  struct Row {
    GuestMsgType type;
    std::uint8_t version;
    FwStatus on155, on157, on158;
  };
  const Bytes report_req(0x60, 0), tsc_req(0x80, 0);
  const Row rows[] = {
      {GuestMsgType::kKeyReq, 1, FwStatus::kSuccess, FwStatus::kSuccess, FwStatus::kSuccess},
      {GuestMsgType::kKeyReq, 2, FwStatus::kInvalidParam, FwStatus::kInvalidParam,
       FwStatus::kSuccess},
      {GuestMsgType::kKeyReq, 3, FwStatus::kInvalidParam, FwStatus::kInvalidParam,
       FwStatus::kInvalidParam},
      {GuestMsgType::kReportReq, 1, FwStatus::kSuccess, FwStatus::kSuccess, FwStatus::kSuccess},
      {GuestMsgType::kReportReq, 2, FwStatus::kInvalidParam, FwStatus::kInvalidParam,
       FwStatus::kInvalidParam},
      {GuestMsgType::kTscInfoReq, 1, FwStatus::kSuccess, FwStatus::kSuccess, FwStatus::kSuccess},
      {GuestMsgType::kTscInfoReq, 2, FwStatus::kInvalidParam, FwStatus::kInvalidParam,
       FwStatus::kInvalidParam},
      {GuestMsgType::kKeyReq, 0, FwStatus::kInvalidParam, FwStatus::kInvalidParam,
       FwStatus::kInvalidParam},
  };
  for (const FirmwareVersion fw : {k155, k157, k158}) {
    for (const Row& row : rows) {
      CAPTURE(Name(fw));
      CAPTURE(static_cast<int>(row.type));
      CAPTURE(int{row.version});
      AbiGuest g(Product::kGenoa, fw);
      const Bytes& payload = row.type == GuestMsgType::kKeyReq      ? KeyReq(0)
                             : row.type == GuestMsgType::kReportReq ? report_req
                                                                    : tsc_req;
      const FwStatus want = fw == k155 ? row.on155 : fw == k157 ? row.on157 : row.on158;
      const Bytes before = g.f.fw->StateDigest();
      auto r = g.Send(row.type, payload, row.version);
      CHECK(r.status == want);
      if (want == FwStatus::kSuccess) {
        CHECK(r.version == row.version);  // answered in the request's version
        CHECK(LoadLe32(r.payload.data()) == 0);
      } else {
        CHECK(g.f.fw->StateDigest() == before);
        // The sequence number did not move: the same number works with version 1.
        CHECK(g.Send(row.type, payload, 1).status == FwStatus::kSuccess);
      }
    }
  }
}

TEST_CASE("virtee/sev's default derived-key request: refused by 1.55, answered by 1.58") {
  // get_derived_key(None, DerivedKey::new(false, GuestFieldSelect(1), 0, 0, 0, Some(0))):
  // MSG_VERSION 2, and the kernel forwards its 32-byte snp_derived_key_req.
  const Bytes req = KeyReq(1);
  AbiGuest old(Product::kMilan, k155);
  const Bytes before = old.f.fw->StateDigest();
  CHECK(old.Send(GuestMsgType::kKeyReq, req, 2).status == FwStatus::kInvalidParam);
  CHECK(old.f.fw->StateDigest() == before);
  AbiGuest now(Product::kMilan, k158);
  auto r = now.Send(GuestMsgType::kKeyReq, req, 2);
  REQUIRE(r.status == FwStatus::kSuccess);
  CHECK(r.version == 2);
  CHECK(LoadLe32(r.payload.data()) == 0);
  // The same request in version 1 gives the same key (no mitigation vector selected), and so
  // does 1.55 in version 1: keys of the older ABI are unchanged on the newer one.
  auto v1 = now.Send(GuestMsgType::kKeyReq, req, 1);
  auto v1_old = old.Send(GuestMsgType::kKeyReq, req, 1);
  REQUIRE(v1.status == FwStatus::kSuccess);
  REQUIRE(v1_old.status == FwStatus::kSuccess);
  CHECK(v1.payload == r.payload);
  CHECK(v1_old.payload == r.payload);
}

TEST_CASE("GUEST_FIELD_SELECT per ABI: LAUNCH_MIT_VECTOR (bit 6) from 1.58") {
  for (const FirmwareVersion fw : {k155, k157, k158}) {
    CAPTURE(Name(fw));
    AbiGuest g(Product::kGenoa, fw);
    const std::uint8_t v = fw == k158 ? 2 : 1;
    auto bit6 = g.Send(GuestMsgType::kKeyReq, KeyReq(1u << 6, 0x5), v);
    REQUIRE(bit6.status == FwStatus::kSuccess);  // the transport delivers; the payload refuses
    CHECK(LoadLe32(bit6.payload.data()) ==
          static_cast<std::uint32_t>(fw == k158 ? FwStatus::kSuccess : FwStatus::kInvalidParam));
    auto bit7 = g.Send(GuestMsgType::kKeyReq, KeyReq(1u << 7), v);
    CHECK(LoadLe32(bit7.payload.data()) == static_cast<std::uint32_t>(FwStatus::kInvalidParam));
  }
  AbiGuest g(Product::kGenoa, k158);
  auto key = [&](std::uint64_t gfs, std::optional<std::uint64_t> vec, std::uint8_t version) {
    auto r = g.Send(GuestMsgType::kKeyReq, KeyReq(gfs, vec), version);
    REQUIRE(r.status == FwStatus::kSuccess);
    REQUIRE(LoadLe32(r.payload.data()) == 0);
    return Bytes(r.payload.begin() + 0x20, r.payload.begin() + 0x40);
  };
  constexpr std::uint64_t kMit = 1u << 6;
  // Selected, the vector changes the key; unselected it does not; a version-1 request (or a
  // 32-byte one) mixes a zero vector.
  CHECK(key(kMit, 5, 2) != key(kMit, 6, 2));
  CHECK(key(0, 5, 2) == key(0, 6, 2));
  CHECK(key(kMit, 0, 2) == key(kMit, std::nullopt, 2));
  CHECK(key(kMit, 7, 1) == key(kMit, 0, 2));
  CHECK(key(kMit, 0, 2) != key(0, 0, 2));
}

TEST_CASE("report version and fields per ABI") {
  struct Row {
    Product product;
    FirmwareVersion fw;
    std::uint32_t version;
  };
  const Row rows[] = {
      {Product::kMilan, k155, 3}, {Product::kMilan, k157, 3}, {Product::kMilan, k158, 5},
      {Product::kGenoa, k155, 3}, {Product::kGenoa, k157, 3}, {Product::kGenoa, k158, 5},
      {Product::kTurin, k155, 5}, {Product::kTurin, k157, 5}, {Product::kTurin, k158, 5},
  };
  for (const Row& row : rows) {
    CAPTURE(Info(row.product).name);
    CAPTURE(Name(row.fw));
    AbiGuest g(row.product, row.fw);
    const Bytes r = g.Report();
    CHECK(LoadLe32(r.data()) == row.version);
    CHECK(r[0x1E8] == row.fw.build);  // CURRENT_BUILD / MINOR / MAJOR
    CHECK(r[0x1E9] == row.fw.minor);
    CHECK(r[0x1EA] == row.fw.major);
    CHECK(r[0x1EE] == row.fw.major);              // COMMITTED_MAJOR
    CHECK(r[0x188] == Info(row.product).family);  // CPUID_FAM_ID (v3+)
    CHECK(r[0x189] == Info(row.product).model);
    // LAUNCH_MIT_VECTOR, CURRENT_MIT_VECTOR (v5): SNP_INIT applied every mitigation 1.58 knows
    // (bits 0-1); older ABIs know none. Version 3 has no such fields (zero there).
    const std::uint64_t mit = row.version == 5 && row.fw == k158 ? 0x3 : 0;
    CHECK(LoadLe64(r.data() + 0x1F8) == mit);
    CHECK(LoadLe64(r.data() + 0x200) == mit);
    CHECK(LoadLe64(r.data() + 0x40) == 1);  // PLATFORM_INFO: SMT_EN only after SNP_INIT
  }
}

namespace {

SnpPlatformStatusPage PlatformStatus(test::FirmwareFixture& f) {
  f.MakeFirmwarePage(kPage);
  REQUIRE(f.Run(SnpCmd::kPlatformStatus, SnpAddrBuf{kPage}) == FwStatus::kSuccess);
  SnpPlatformStatusPage out{};
  REQUIRE(
      f.fw->memory().FirmwareRead(kPage, {reinterpret_cast<std::uint8_t*>(&out), sizeof out}).ok());
  return out;
}

std::uint32_t FeatureInfoEcx(test::FirmwareFixture& f) {
  f.MakeFirmwarePage(kPage);
  REQUIRE(f.Run(SnpCmd::kFeatureInfo, SnpFeatureInfoBuf{sizeof(SnpFeatureInfoBuf), 0, kPage}) ==
          FwStatus::kSuccess);
  std::uint8_t out[16];
  REQUIRE(f.fw->memory().FirmwareRead(kPage, out).ok());
  return LoadLe32(out + 8);
}

}  // namespace

TEST_CASE("guest policy bits 21-26 per ABI and product") {
  using policy::kCiphertextHidingDram, policy::kCxlAllow, policy::kMemAes256Xts,
      policy::kPageSwapDisable, policy::kRaplDis;
  // Status of SNP_LAUNCH_START with 0x30000 | bit, after SNP_INIT_EX with `init` flags.
  struct Row {
    Product product;
    FirmwareVersion fw;
    std::uint64_t bit;
    std::uint32_t init;
    FwStatus want;
  };
  const FwStatus ok = FwStatus::kSuccess, no = FwStatus::kPolicyFailure;
  const Row rows[] = {
      // ABI 1.55: every bit above 20 is reserved, whatever INIT_EX asked for.
      {Product::kGenoa, k155, kCxlAllow, 0, no},
      {Product::kGenoa, k155, kMemAes256Xts, 0, no},
      {Product::kGenoa, k155, kRaplDis, kInitRaplDis, no},
      {Product::kTurin, k155, kCiphertextHidingDram, kHiding, no},
      {Product::kGenoa, k155, kPageSwapDisable, 0, no},
      // ABI 1.57: bits 21-24, each honoured only where the platform can.
      {Product::kMilan, k157, kCxlAllow, 0, ok},
      {Product::kMilan, k157, kMemAes256Xts, 0, no},  // Milan encrypts with AES-128
      {Product::kGenoa, k157, kMemAes256Xts, 0, ok},
      {Product::kGenoa, k157, kRaplDis, 0, no},
      {Product::kGenoa, k157, kRaplDis, kInitRaplDis, ok},
      {Product::kTurin, k157, kCiphertextHidingDram, 0, no},
      {Product::kTurin, k157, kCiphertextHidingDram, kHiding, ok},
      {Product::kGenoa, k157, kCiphertextHidingDram, 0, no},  // Genoa has none
      {Product::kGenoa, k157, kPageSwapDisable, 0, no},       // still reserved
      // ABI 1.58: bit 25 too; 26 and above stay reserved.
      {Product::kGenoa, k158, kPageSwapDisable, 0, ok},
      {Product::kGenoa, k158, kRaplDis, kInitRaplDis, ok},
      {Product::kGenoa, k158, 1ull << 26, 0, no},
      {Product::kMilan, k158, 1ull << 63, 0, no},
  };
  for (const Row& row : rows) {
    CAPTURE(Info(row.product).name);
    CAPTURE(Name(row.fw));
    CAPTURE(row.bit);
    test::FirmwareFixture f(PlatformAt(row.product, row.fw));
    REQUIRE(InitEx(f, row.init, row.init & kHiding ? 100 : 0) == FwStatus::kSuccess);
    REQUIRE(f.GctxCreate(kGctx) == FwStatus::kSuccess);
    CHECK(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx, 0x30000 | row.bit)) == row.want);
  }
  // The rule names, in order after 1.55's rules.
  PolicyContext c;
  c.defined_bits = AbiOf(k158).policy_bits;
  CHECK(CheckSnpPolicy(0x30000 | kMemAes256Xts, c) == PolicyRule::kAes256XtsUnavailable);
  CHECK(CheckSnpPolicy(0x30000 | kRaplDis, c) == PolicyRule::kRaplNotDisabled);
  CHECK(CheckSnpPolicy(0x30000 | kCiphertextHidingDram, c) == PolicyRule::kCiphertextHidingOff);
  CHECK(CheckSnpPolicy(0x30000 | kRaplDis | (1ull << 30), c) == PolicyRule::kReservedBits);
  // PAGE_SWAP_DISABLE, for the page-swap commands: only where the ABI defines it.
  CHECK(PolicyForbidsPageSwap(0x30000 | kPageSwapDisable, k158));
  CHECK_FALSE(PolicyForbidsPageSwap(0x30000, k158));
  CHECK_FALSE(PolicyForbidsPageSwap(0x30000 | kPageSwapDisable, k157));
}

TEST_CASE("SNP_INIT_EX flags, SNP_PLATFORM_STATUS bits, SNP_FEATURE_INFO and PLATFORM_INFO") {
  // 1.55 accepts RAPL_DIS and CIPHERTEXT_HIDING_EN and acts on neither (as before).
  {
    test::FirmwareFixture f(PlatformAt(Product::kTurin, k155));
    REQUIRE(InitEx(f, kInitRaplDis | kHiding) == FwStatus::kSuccess);
    CHECK(PlatformStatus(f).feature_flags == (1u << 3));
    CHECK(FeatureInfoEcx(f) == 0x3);
  }
  // 1.58 on Turin: RAPL disabled, ciphertext hiding capable and enabled.
  {
    test::FirmwareFixture f(PlatformAt(Product::kTurin, k158));
    CHECK(PlatformStatus(f).feature_flags == ((1u << 3) | (1u << 5)));  // before init: capable
    const Bytes before = f.fw->StateDigest();
    CHECK(InitEx(f, kHiding, 0) == FwStatus::kInvalidParam);  // MAX_SNP_ASID missing
    CHECK(InitEx(f, kHiding, static_cast<std::uint16_t>(MinSevAsid(f.fw->platform_state()))) ==
          FwStatus::kInvalidParam);  // beyond the SNP/SEV-ES ASIDs
    CHECK(f.fw->StateDigest() == before);
    REQUIRE(InitEx(f, kInitRaplDis | kHiding, 100) == FwStatus::kSuccess);
    const auto st = PlatformStatus(f);
    CHECK(st.api_minor == 58);
    CHECK(st.feature_flags == ((1u << 3) | (1u << 4) | (1u << 5) | (1u << 6)));
    CHECK(FeatureInfoEcx(f) == (0x3Fu | (1u << 13)));  // 13: SNP_VERIFY_MITIGATION
    // A plain SNP_INIT after shutdown forgets both.
    REQUIRE(f.Run(SnpCmd::kShutdown) == FwStatus::kSuccess);
    f.InitPlatform();
    CHECK(PlatformStatus(f).feature_flags == ((1u << 3) | (1u << 5)));
  }
  // 1.57 on Milan: ciphertext hiding refused (not capable); no AES-256-XTS; RAPL_DIS works.
  {
    test::FirmwareFixture f(PlatformAt(Product::kMilan, k157));
    CHECK(InitEx(f, kHiding, 100) == FwStatus::kInvalidParam);
    REQUIRE(InitEx(f, kInitRaplDis) == FwStatus::kSuccess);
    CHECK(PlatformStatus(f).feature_flags == ((1u << 3) | (1u << 4)));
    CHECK(FeatureInfoEcx(f) == ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 5)));
  }
  // Genoa 1.58: AES-256-XTS, no ciphertext hiding.
  {
    test::FirmwareFixture f(PlatformAt(Product::kGenoa, k158));
    CHECK(FeatureInfoEcx(f) ==
          ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 13)));
  }
  // The report's PLATFORM_INFO carries RAPL_DIS (bit 3) and CIPHERTEXT_HIDING_EN (bit 4) from
  // 1.57; 1.55 reports SMT_EN only, whatever INIT_EX asked.
  const std::uint64_t rapl_policy = 0x30000 | policy::kRaplDis;
  CHECK(LoadLe64(
            AbiGuest(Product::kTurin, k158, rapl_policy, kInitRaplDis | kHiding).Report().data() +
            0x40) == (1u | (1u << 3) | (1u << 4)));
  CHECK(LoadLe64(AbiGuest(Product::kGenoa, k157, 0x30000, kInitRaplDis).Report().data() + 0x40) ==
        (1u | (1u << 3)));
  CHECK(LoadLe64(AbiGuest(Product::kTurin, k155, 0x30000, kInitRaplDis | kHiding).Report().data() +
                 0x40) == 1u);
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {

TEST_CASE("a firmware update changes the ABI of a running platform") {
  AbiGuest g(Product::kMilan, k155);
  CHECK(g.Send(GuestMsgType::kKeyReq, KeyReq(1), 2).status == FwStatus::kInvalidParam);
  FirmwareImage img;
  img.product = Product::kMilan;
  img.version = {1, 58, 3};
  img.tcb = g.f.fw->platform_state().current_tcb;
  img.body = Bytes(64, 0x90);
  auto bytes = BuildFirmwareImage(img, test::TestRoot(Product::kMilan).ark_key);
  REQUIRE(bytes.ok());
  REQUIRE(g.f.fw->memory().HvWrite(0x700000, *bytes) == rmp::RmpViolation::kNone);
  REQUIRE(g.f.Run(SnpCmd::kDownloadFirmwareEx,
                  SnpDownloadFirmwareExBuf{0x18, 0, 0x700000,
                                           static_cast<std::uint32_t>(bytes->size()), 0}) ==
          FwStatus::kSuccess);
  // The running guest now talks to 1.58: version 2 key requests, version 5 reports that name
  // the new firmware as current and the old one as committed.
  CHECK(g.Send(GuestMsgType::kKeyReq, KeyReq(1), 2).status == FwStatus::kSuccess);
  const Bytes r = g.Report();
  CHECK(LoadLe32(r.data()) == 5);
  CHECK(r[0x1E9] == 58);
  CHECK(r[0x1ED] == 55);
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {
namespace {

constexpr std::uint64_t kMitDst = 0x503000;

// The result, copied out of the packed layout (doctest binds references to what it checks).
struct MitDst {
  std::uint64_t mit_verified_vector, mit_supported_vector;
  std::uint32_t mit_failure_status;
};
struct Mit {
  FwStatus status;
  MitDst dst;
};

template <typename T>
ByteSpan AsBytesOf(const T& v) {
  return {reinterpret_cast<const std::uint8_t*>(&v), sizeof v};
}

SnpVerifyMitigationBuf MitBuf(std::uint16_t sub, std::uint64_t vector) {
  SnpVerifyMitigationBuf b{};
  b.length = sizeof b;
  b.subcommand = sub;
  b.vector = vector;
  b.flags = kMitDstPaddrEn;
  b.dst_paddr = kMitDst;
  return b;
}

// SNP_VERIFY_MITIGATION as Linux's snp_verify_mitigation issues it (a firmware page for the
// result, dst_paddr_en); `dst` is what the page holds afterwards (all 0xEE if nothing written).
Mit Verify(test::FirmwareFixture& f, SnpVerifyMitigationBuf b) {
  f.MakeFirmwarePage(kMitDst);
  const Bytes fill(sizeof(SnpVerifyMitigationDst), 0xEE);
  REQUIRE(f.fw->memory().FirmwareWrite(kMitDst, fill).ok());
  const FwStatus st = f.Run(SnpCmd::kVerifyMitigation, b);
  SnpVerifyMitigationDst raw{};
  REQUIRE(f.fw->memory()
              .FirmwareRead(kMitDst, {reinterpret_cast<std::uint8_t*>(&raw), sizeof raw})
              .ok());
  return {st, {raw.mit_verified_vector, raw.mit_supported_vector, raw.mit_failure_status}};
}

// A firmware image of `version` for `f`'s Milan, downloaded (not committed).
void UpdateTo(test::FirmwareFixture& f, FirmwareVersion version) {
  FirmwareImage img;
  img.product = Product::kMilan;
  img.version = version;
  img.tcb = f.fw->platform_state().current_tcb;
  img.body = Bytes(64, 0x90);
  auto bytes = BuildFirmwareImage(img, test::TestRoot(Product::kMilan).ark_key);
  REQUIRE(bytes.ok());
  REQUIRE(f.fw->memory().HvWrite(0x700000, *bytes) == rmp::RmpViolation::kNone);
  REQUIRE(f.Run(SnpCmd::kDownloadFirmwareEx,
                SnpDownloadFirmwareExBuf{0x18, 0, 0x700000,
                                         static_cast<std::uint32_t>(bytes->size()), 0}) ==
          FwStatus::kSuccess);
}

}  // namespace

TEST_CASE("SNP_VERIFY_MITIGATION: INVALID_COMMAND before 1.58, whatever the buffer") {
  for (const FirmwareVersion fw : {k155, k157}) {
    CAPTURE(Name(fw));
    test::FirmwareFixture f(PlatformAt(Product::kMilan, fw));
    f.InitPlatform();
    (void)Verify(f, MitBuf(kMitSubcmdStatus, 0));  // the result page made and filled
    const Bytes before = f.fw->StateDigest();
    const Mit m = Verify(f, MitBuf(kMitSubcmdStatus, 0));
    CHECK(m.status == FwStatus::kInvalidCommand);
    CHECK(m.dst.mit_verified_vector == 0xEEEEEEEEEEEEEEEEull);  // nothing written
    CHECK(f.Run(SnpCmd::kVerifyMitigation, MutableByteSpan{}) == FwStatus::kInvalidCommand);
    CHECK(f.fw->StateDigest() == before);
  }
}

TEST_CASE("SNP_VERIFY_MITIGATION on 1.58: STATUS, VERIFY, a live update from 1.55") {
  SUBCASE("STATUS: SNP_INIT built the RMP and applied both simulated mitigations") {
    test::FirmwareFixture f(PlatformAt(Product::kMilan, k158));
    Mit m = Verify(f, MitBuf(kMitSubcmdStatus, 0));  // before SNP_INIT: any page, none verified
    CHECK(m.status == FwStatus::kSuccess);
    CHECK(m.dst.mit_supported_vector == 0x3);
    CHECK(m.dst.mit_verified_vector == 0);
    CHECK(m.dst.mit_failure_status == 0);
    CHECK(Verify(f, MitBuf(kMitSubcmdVerify, 1)).status == FwStatus::kInvalidPlatformState);
    f.InitPlatform();
    m = Verify(f, MitBuf(kMitSubcmdStatus, 0));
    CHECK(m.dst.mit_verified_vector == 0x3);
    CHECK(m.dst.mit_supported_vector == 0x3);
  }
  SUBCASE("bad buffers: INVALID_PARAM (or the page's status), nothing changes") {
    test::FirmwareFixture f(PlatformAt(Product::kMilan, k158));
    f.InitPlatform();
    f.MakeFirmwarePage(kMitDst);
    struct Bad {
      const char* what;
      SnpVerifyMitigationBuf buf;
      FwStatus want;
    };
    std::vector<Bad> bad;
    auto add = [&bad](const char* what, auto edit, FwStatus want = FwStatus::kInvalidParam) {
      SnpVerifyMitigationBuf b = MitBuf(kMitSubcmdVerify, 1);
      edit(b);
      bad.push_back({what, b, want});
    };
    add("length", [](auto& b) { b.length = 0x20; });
    add("sub-command 2", [](auto& b) { b.subcommand = 2; });
    add("reserved word", [](auto& b) { b.reserved0 = 1; });
    add("src_paddr_en", [](auto& b) { b.flags |= kMitSrcPaddrEn; });
    add("reserved flag", [](auto& b) { b.flags |= 1u << 5; });
    add("reserved tail", [](auto& b) { b.reserved2[23] = 1; });
    add("no bit", [](auto& b) { b.vector = 0; });
    add("two bits", [](auto& b) { b.vector = 0x3; });
    add("STATUS with a vector", [](auto& b) {
      b.subcommand = kMitSubcmdStatus;
      b.vector = 1;
    });
    add("result crosses a page", [](auto& b) { b.dst_paddr = kMitDst + 4090; });
    add(
        "result page not FIRMWARE", [](auto& b) { b.dst_paddr = 0x600000; },
        FwStatus::kInvalidPageState);
    for (const Bad& b : bad) {
      CAPTURE(b.what);
      const Bytes before = f.fw->StateDigest();
      CHECK(f.Run(SnpCmd::kVerifyMitigation, b.buf) == b.want);
      CHECK(f.fw->StateDigest() == before);
    }
    // The trace's view of the buffer: every named field, no reserved one.
    const auto fields =
        DecodeSnpCommand(SnpCmd::kVerifyMitigation, AsBytesOf(MitBuf(kMitSubcmdVerify, 1ull << 1)));
    std::string names;
    for (const auto& fd : fields)
      names += std::string(fd.name) + "=" + std::to_string(fd.number) + " ";
    CHECK(names == "length=64 subcommand=1 vector=2 flags=1 src_paddr=0 dst_paddr=" +
                       std::to_string(kMitDst) + " ");
    // The buffer is 0x40 bytes (sev_cmd_buffer_len).
    CHECK(f.Run(SnpCmd::kVerifyMitigation, SnpAddrBuf{kMitDst}) == FwStatus::kInvalidLength);
  }
  SUBCASE("a live update from 1.55: the new mitigations wait for VERIFY; reports follow") {
    AbiGuest g(Product::kMilan, k155);
    UpdateTo(g.f, {1, 58, 3});
    Mit m = Verify(g.f, MitBuf(kMitSubcmdStatus, 0));
    CHECK(m.dst.mit_supported_vector == 0x3);
    CHECK(m.dst.mit_verified_vector == 0);  // 1.55 applied none; no RMP rebuild since
    Bytes r = g.Report();
    CHECK(LoadLe64(r.data() + 0x1F8) == 0);
    CHECK(LoadLe64(r.data() + 0x200) == 0);
    // A bit the firmware does not know: the command succeeds, the result says why not.
    m = Verify(g.f, MitBuf(kMitSubcmdVerify, 1ull << 7));
    CHECK(m.status == FwStatus::kSuccess);
    CHECK(m.dst.mit_failure_status == kMitFailureUnsupported);
    CHECK(m.dst.mit_verified_vector == 0);
    // The verified vector is firmware state (a REQ_VERIFY without a result page changes it).
    const Bytes before_verify = g.f.fw->StateDigest();
    auto no_result = MitBuf(kMitSubcmdVerify, 1ull << 1);
    no_result.flags = 0;
    CHECK(g.f.Run(SnpCmd::kVerifyMitigation, no_result) == FwStatus::kSuccess);
    CHECK(g.f.fw->StateDigest() != before_verify);
    m = Verify(g.f, MitBuf(kMitSubcmdVerify, 1ull << 1));
    CHECK(m.status == FwStatus::kSuccess);
    CHECK(m.dst.mit_failure_status == 0);
    CHECK(m.dst.mit_verified_vector == 0x2);
    // The running guest's CURRENT_MIT_VECTOR moves; its LAUNCH_MIT_VECTOR stays.
    r = g.Report();
    CHECK(LoadLe64(r.data() + 0x1F8) == 0);
    CHECK(LoadLe64(r.data() + 0x200) == 0x2);
    // Verifying it again changes nothing; without dst_paddr_en nothing is written.
    auto quiet = MitBuf(kMitSubcmdVerify, 1);
    quiet.flags = 0;
    m = Verify(g.f, quiet);
    CHECK(m.status == FwStatus::kSuccess);
    CHECK(m.dst.mit_verified_vector == 0xEEEEEEEEEEEEEEEEull);
    CHECK(Verify(g.f, MitBuf(kMitSubcmdStatus, 0)).dst.mit_verified_vector == 0x3);
  }
}

}  // namespace sevemu::emulator
