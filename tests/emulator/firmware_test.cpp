// The SNP firmware model through its command interface: every command in every state, the
// platform life cycle, a complete launch, and refusals that must change nothing.
#include "sevemu/emulator/firmware.h"

#include <doctest/doctest.h>

#include <cstring>

#include "firmware_fixture.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/emulator/firmware_keys.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"
#include "sevemu/emulator/snp/launch_digest.h"
#include "sevemu/emulator/snp/snp_policy.h"

namespace sevemu::emulator {
using test::FirmwareFixture;

namespace {
constexpr std::uint64_t kGctx = 0x100000;
constexpr std::uint64_t kStatusPage = 0x101000;
constexpr std::uint32_t kAsid = 1;

SnpPlatformStatusPage PlatformStatus(FirmwareFixture& f, std::uint64_t page = 0x200000) {
  f.MakeFirmwarePage(page);
  REQUIRE(f.Run(SnpCmd::kPlatformStatus, SnpAddrBuf{page}) == FwStatus::kSuccess);
  SnpPlatformStatusPage out{};
  REQUIRE(
      f.fw->memory().FirmwareRead(page, {reinterpret_cast<std::uint8_t*>(&out), sizeof out}).ok());
  return out;
}

Bytes Pattern(std::uint8_t seed) {
  Bytes page(4096);
  for (std::size_t i = 0; i < page.size(); ++i) page[i] = static_cast<std::uint8_t>(seed + i * 7);
  return page;
}
}  // namespace

TEST_CASE("platform life cycle: INIT, status, DF_FLUSH discipline, SHUTDOWN") {
  FirmwareFixture f(test::SeededPlatform155(Product::kMilan));  // 1.55.21's status bytes
  CHECK(f.fw->snp_state() == statemachine::SnpPlatformState::kUninit);
  auto st = PlatformStatus(f);
  CHECK(st.state == 0);
  CHECK(st.api_major == 1);
  CHECK(st.api_minor == 55);
  CHECK(st.build_id == 21);
  CHECK(st.current_tcb == f.fw->platform_state().current_tcb.raw());
  CHECK(st.reported_tcb == f.fw->platform_state().reported_tcb.raw());

  REQUIRE(f.Run(SnpCmd::kInit) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kInit) == FwStatus::kInvalidPlatformState);
  st = PlatformStatus(f);
  CHECK(st.state == 1);
  CHECK(st.is_rmp_initialized == 1);
  // Every ASID is dirty after SNP_INIT: SHUTDOWN needs WBINVD + DF_FLUSH first.
  CHECK(f.Run(SnpCmd::kShutdown) == FwStatus::kDfFlushRequired);
  CHECK(f.Run(SnpCmd::kDfFlush) == FwStatus::kWbinvdRequired);
  f.fw->Wbinvd();
  REQUIRE(f.Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kShutdown) == FwStatus::kSuccess);
  CHECK(f.fw->snp_state() == statemachine::SnpPlatformState::kUninit);
  CHECK(f.Run(SnpCmd::kShutdown) == FwStatus::kSuccess);  // already down: nothing to do

  // The RMP survives SNP_SHUTDOWN, so SNP_INIT_EX may resume without rebuilding it.
  SnpInitExBuf ex{};
  REQUIRE(f.Run(SnpCmd::kInitEx, ex) == FwStatus::kSuccess);
  f.fw->Wbinvd();
  REQUIRE(f.Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  SnpShutdownExBuf down{sizeof(SnpShutdownExBuf), 1};  // with the IOMMU: the RMP goes too
  REQUIRE(f.Run(SnpCmd::kShutdownEx, down) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kInitEx, ex) == FwStatus::kRmpInitRequired);
  ex.flags = 1;  // init_rmp
  CHECK(f.Run(SnpCmd::kInitEx, ex) == FwStatus::kSuccess);
}

TEST_CASE("malformed platform command buffers are refused and change nothing") {
  FirmwareFixture f;
  f.InitPlatform();
  const Bytes before = f.fw->StateDigest();
  SnpInitExBuf ex{};
  ex.reserved1[3] = 1;
  SnpShutdownExBuf bad_len{7, 0};
  SnpShutdownExBuf x86_only{8, 2};
  SnpConfigBuf cfg{};
  cfg.reserved[0] = 1;
  SnpConfigBuf cfg_flags{};
  cfg_flags.flags = 4;
  struct Row {
    const char* what;
    FwStatus got;
    FwStatus want;
  };
  const Row rows[] = {
      {"unknown command", f.fw->Execute(static_cast<SnpCmd>(0x7F), MutableByteSpan{}),
       FwStatus::kInvalidCommand},
      {"wrong buffer size", f.fw->Execute(SnpCmd::kGctxCreate, MutableByteSpan{}),
       FwStatus::kInvalidLength},
      {"INIT_EX reserved bytes", f.Run(SnpCmd::kInitEx, ex), FwStatus::kInvalidParam},
      {"SHUTDOWN_EX length", f.Run(SnpCmd::kShutdownEx, bad_len), FwStatus::kInvalidParam},
      {"SHUTDOWN_EX x86 without IOMMU", f.Run(SnpCmd::kShutdownEx, x86_only),
       FwStatus::kInvalidParam},
      {"CONFIG reserved", f.Run(SnpCmd::kConfig, cfg), FwStatus::kInvalidParam},
      {"CONFIG flags", f.Run(SnpCmd::kConfig, cfg_flags), FwStatus::kInvalidParam},
      {"COMMIT length", f.Run(SnpCmd::kCommit, SnpCommitBuf{8}), FwStatus::kInvalidParam},
      {"PLATFORM_STATUS crossing a page", f.Run(SnpCmd::kPlatformStatus, SnpAddrBuf{0x200FF0}),
       FwStatus::kInvalidParam},
      {"PLATFORM_STATUS to a hypervisor page", f.Run(SnpCmd::kPlatformStatus, SnpAddrBuf{0x300000}),
       FwStatus::kInvalidPageState},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    CHECK(r.got == r.want);
  }
  CHECK(f.fw->StateDigest() == before);
}

TEST_CASE("SNP_CONFIG and SNP_COMMIT: reported TCB, masks, rollback floor") {
  FirmwareFixture f;
  f.InitPlatform();
  const TcbVersion committed = f.fw->platform_state().committed_tcb;
  SnpConfigBuf cfg{};
  cfg.reported_tcb = TcbVersion::FromParts(Product::kMilan, {0, 3, 0, 9, 115})->raw();  // snp+1
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kConfig, cfg) == FwStatus::kInvalidParam);
  CHECK(f.fw->StateDigest() == before);

  cfg.reported_tcb = TcbVersion::FromParts(Product::kMilan, {0, 2, 0, 8, 100})->raw();
  cfg.flags = 3;
  REQUIRE(f.Run(SnpCmd::kConfig, cfg) == FwStatus::kSuccess);
  CHECK(f.fw->persistent_state_changed());
  auto st = PlatformStatus(f);
  CHECK(st.reported_tcb == cfg.reported_tcb);
  CHECK(st.feature_flags == 0xB);  // mask_chip_id, mask_chip_key, feature_info
  CHECK(f.fw->platform_state().committed_tcb == committed);

  cfg = {};  // reported_tcb 0 means the committed TCB
  REQUIRE(f.Run(SnpCmd::kConfig, cfg) == FwStatus::kSuccess);
  CHECK(PlatformStatus(f).reported_tcb == committed.raw());

  REQUIRE(f.Run(SnpCmd::kCommit, SnpCommitBuf{4}) == FwStatus::kSuccess);
  CHECK(f.fw->platform_state().committed_tcb == f.fw->platform_state().current_tcb);
}

TEST_CASE("Boot with BootKeys derived once: the same firmware; another chip's or TCB's refused") {
  FirmwareConfig cfg;
  cfg.memory_size = 64ull << 20;
  const Platform p = test::SeededPlatform(Product::kMilan, 1);
  auto keys = BootKeys::Derive(p);
  REQUIRE(keys.ok());
  auto plain = Firmware::Boot(p, cfg);
  auto fast = Firmware::Boot(p, cfg, *keys);
  REQUIRE(plain.ok());
  REQUIRE(fast.ok());
  for (auto* fw : {plain->get(), fast->get()}) {
    REQUIRE(fw->Execute(SnpCmd::kInit, MutableByteSpan{}) == FwStatus::kSuccess);
  }
  CHECK((*fast)->StateDigest() == (*plain)->StateDigest());

  // Another chip: its fuses' hash-stick root differs.
  auto other = Firmware::Boot(test::SeededPlatform(Product::kMilan, 2), cfg, *keys);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code() == ErrorCode::kInvalidArgument);
  // The same chip at another reported TCB (after SNP_CONFIG): its VCEK differs.
  Platform lower = p;
  lower.state.reported_tcb = *TcbVersion::FromParts(Product::kMilan, {0, 2, 0, 8, 100});
  REQUIRE(lower.state.Validate().ok());
  auto stale = Firmware::Boot(lower, cfg, *keys);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code() == ErrorCode::kInvalidArgument);
  CHECK(Firmware::Boot(lower, cfg).ok());
}

TEST_CASE("every guest command in UNINIT is INVALID_PLATFORM_STATE and changes nothing") {
  FirmwareFixture f;
  const Bytes before = f.fw->StateDigest();
  SnpLaunchUpdateBuf upd{};
  upd.gctx_paddr = kGctx;
  upd.address = 0x300000;
  upd.page_info = 1u << 1;
  struct Row {
    SnpCmd cmd;
    FwStatus got;
  };
  const Row rows[] = {
      {SnpCmd::kGctxCreate, f.Run(SnpCmd::kGctxCreate, SnpAddrBuf{kGctx})},
      {SnpCmd::kDecommission, f.Run(SnpCmd::kDecommission, SnpAddrBuf{kGctx})},
      {SnpCmd::kActivate, f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 1})},
      {SnpCmd::kGuestStatus, f.Run(SnpCmd::kGuestStatus, SnpGuestStatusBuf{kGctx, kStatusPage})},
      {SnpCmd::kLaunchStart, f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx))},
      {SnpCmd::kLaunchUpdate, f.Run(SnpCmd::kLaunchUpdate, upd)},
      {SnpCmd::kLaunchFinish, f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}})},
      {SnpCmd::kPageReclaim, f.Run(SnpCmd::kPageReclaim, SnpAddrBuf{0x300000})},
  };
  for (const Row& r : rows) {
    CAPTURE(SnpCmdName(r.cmd));
    CHECK(r.got == FwStatus::kInvalidPlatformState);
  }
  CHECK(f.fw->StateDigest() == before);
}

TEST_CASE("every guest-state command in every guest state") {
  // Rows: the state the guest is brought to, the command, the expected status and new state.
  enum class At { kInit, kLaunchInactive, kLaunchActive, kRunning };
  struct Row {
    At at;
    SnpCmd cmd;
    FwStatus want;
    std::uint8_t state_after;
  };
  const Row rows[] = {
      {At::kInit, SnpCmd::kLaunchStart, FwStatus::kSuccess, 1},
      {At::kInit, SnpCmd::kLaunchUpdate, FwStatus::kInvalidGuestState, 0},
      {At::kInit, SnpCmd::kLaunchFinish, FwStatus::kInvalidGuestState, 0},
      {At::kInit, SnpCmd::kActivate, FwStatus::kInvalidGuestState, 0},
      {At::kLaunchInactive, SnpCmd::kLaunchStart, FwStatus::kInvalidGuestState, 1},
      {At::kLaunchInactive, SnpCmd::kLaunchUpdate, FwStatus::kInactive, 1},
      {At::kLaunchInactive, SnpCmd::kLaunchFinish, FwStatus::kInactive, 1},
      {At::kLaunchInactive, SnpCmd::kActivate, FwStatus::kSuccess, 1},
      {At::kLaunchActive, SnpCmd::kLaunchStart, FwStatus::kInvalidGuestState, 1},
      {At::kLaunchActive, SnpCmd::kLaunchUpdate, FwStatus::kSuccess, 1},
      {At::kLaunchActive, SnpCmd::kLaunchFinish, FwStatus::kSuccess, 2},
      {At::kLaunchActive, SnpCmd::kActivate, FwStatus::kActive, 1},
      {At::kRunning, SnpCmd::kLaunchStart, FwStatus::kInvalidGuestState, 2},
      {At::kRunning, SnpCmd::kLaunchUpdate, FwStatus::kInvalidGuestState, 2},
      {At::kRunning, SnpCmd::kLaunchFinish, FwStatus::kInvalidGuestState, 2},
      {At::kRunning, SnpCmd::kActivate, FwStatus::kActive, 2},
  };
  for (const Row& r : rows) {
    CAPTURE(static_cast<int>(r.at));
    CAPTURE(SnpCmdName(r.cmd));
    FirmwareFixture f;
    f.InitPlatform();
    REQUIRE(f.GctxCreate(kGctx) == FwStatus::kSuccess);
    if (r.at != At::kInit) {
      REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx)) == FwStatus::kSuccess);
    }
    if (r.at == At::kLaunchActive || r.at == At::kRunning) {
      REQUIRE(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, kAsid}) == FwStatus::kSuccess);
    }
    if (r.at == At::kRunning) {
      REQUIRE(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
              FwStatus::kSuccess);
    }
    if (r.cmd == SnpCmd::kLaunchUpdate) f.MakePreGuestPage(0x300000, 0x1000, kAsid, Pattern(1));
    f.MakeFirmwarePage(kStatusPage);
    const Bytes before = f.fw->StateDigest();
    FwStatus got = FwStatus::kSuccess;
    switch (r.cmd) {
      case SnpCmd::kLaunchStart:
        got = f.Run(r.cmd, f.LaunchStartBuf(kGctx));
        break;
      case SnpCmd::kLaunchUpdate:
        got = f.Run(r.cmd, f.UpdateBuf(kGctx, 0x300000, PageType::kNormal));
        break;
      case SnpCmd::kLaunchFinish:
        got = f.Run(r.cmd, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}});
        break;
      default:
        got = f.Run(r.cmd, SnpActivateBuf{kGctx, kAsid});
        break;
    }
    CHECK(got == r.want);
    if (r.want != FwStatus::kSuccess) CHECK(f.fw->StateDigest() == before);
    CHECK(f.GuestStatus(kGctx, kStatusPage).state == r.state_after);
  }
}

TEST_CASE("SNP_LAUNCH_START enforces each policy rule and changes nothing when it refuses") {
  struct Row {
    const char* rule;
    std::uint64_t policy;
  };
  const Row rows[] = {
      {"bit 17 clear", 0x10000},
      {"SMT clear with SMT on", 0x20000},
      {"ABI major too new", 0x30000 | (2ull << 8)},
      {"ABI minor too new", 0x30000 | (1ull << 8) | 56},
      {"reserved bit 21", 0x30000 | (1ull << 21)},
      {"reserved bit 63", 0x30000 | (1ull << 63)},
  };
  for (const Row& r : rows) {
    CAPTURE(r.rule);
    FirmwareFixture f(test::SeededPlatform155(Product::kMilan));  // bit 21 reserved in 1.55
    f.InitPlatform();
    REQUIRE(f.GctxCreate(kGctx) == FwStatus::kSuccess);
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx, r.policy)) ==
          FwStatus::kPolicyFailure);
    CHECK(f.fw->StateDigest() == before);
  }
  // The named rules, one by one, as the pure check sees them.
  PolicyContext ctx;
  ctx.firmware = {1, 55, 21};
  CHECK(CheckSnpPolicy(0x30000, ctx) == std::nullopt);
  CHECK(CheckSnpPolicy(0x30000 | (1ull << 8) | 55, ctx) == std::nullopt);  // ABI 1.55 == firmware
  CHECK(CheckSnpPolicy(0x10000, ctx) == PolicyRule::kMustBeOneClear);
  CHECK(CheckSnpPolicy(0x20000, ctx) == PolicyRule::kSmtNotAllowed);
  ctx.smt_enabled = false;
  CHECK(CheckSnpPolicy(0x20000, ctx) == std::nullopt);
  ctx.ma_en = true;
  CHECK(CheckSnpPolicy(0x30000, ctx) == PolicyRule::kMaNotAllowed);
  CHECK(CheckSnpPolicy(0x30000 | policy::kMigrateMa | policy::kSingleSocket, ctx) ==
        PolicyRule::kMaNotSingleSocket);
  ctx.ma_has_ma = true;
  CHECK(CheckSnpPolicy(0x30000 | policy::kMigrateMa, ctx) == PolicyRule::kMaHasMa);
}

TEST_CASE("a complete launch: digest, secrets page, ID block, encrypted memory") {
  FirmwareFixture f;
  f.InitPlatform();
  f.StartGuest(kGctx, kAsid);
  const std::uint64_t kCode = 0x400000, kZero = 0x401000, kSecrets = 0x402000, kVmsa = 0x403000;
  f.MakePreGuestPage(kCode, 0xFFFFF000, kAsid, Pattern(3));
  f.MakePreGuestPage(kZero, 0x800000, kAsid, Pattern(9));  // garbage the firmware must zero
  f.MakePreGuestPage(kSecrets, 0x801000, kAsid, Bytes(4096, 0));
  Bytes vmsa = Pattern(5);
  f.MakePreGuestPage(kVmsa, 0xFFFFFFFFF000ull, kAsid, vmsa);
  auto vmsa_upd = f.UpdateBuf(kGctx, kVmsa, PageType::kVmsa);
  vmsa_upd.vmpl_perms = 0x0F << 8;
  REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, kCode, PageType::kNormal)) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, kZero, PageType::kZero)) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, kSecrets, PageType::kSecrets)) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchUpdate, vmsa_upd) == FwStatus::kSuccess);

  // The digest, recomputed from the PAGE_INFO definition page by page.
  LaunchDigest ld{};
  ld = *ExtendLaunchDigest(ld, Pattern(3), {PageType::kNormal, false, 0, 0, 0, 0xFFFFF000});
  ld = *ExtendLaunchDigest(ld, Bytes(4096, 0), {PageType::kZero, false, 0, 0, 0, 0x800000});
  ld = *ExtendLaunchDigest(ld, Bytes(4096, 0), {PageType::kSecrets, false, 0, 0, 0, 0x801000});
  ld = *ExtendLaunchDigest(ld, vmsa, {PageType::kVmsa, false, 0x0F, 0, 0, 0xFFFFFFFFF000ull});

  // Pages are now GUEST_VALID, owned by the guest, with the VMSA marked and its VMPL1 rights.
  for (std::uint64_t spa : {kCode, kZero, kSecrets, kVmsa}) {
    CHECK(f.fw->memory().rmp().Get(spa).State() == rmp::PageState::kGuestValid);
  }
  CHECK(f.fw->memory().rmp().Get(kVmsa).vmsa());
  CHECK(f.fw->memory().rmp().Get(kVmsa).vmpl_perms(1) == 0x0F);

  // Guest view: plaintext; hypervisor view: ciphertext.
  rmp::GuestAccess code{kAsid, 0, 0xFFFFF000, true, false, rmp::kPermRead};
  Bytes seen(4096), hv(4096);
  REQUIRE(f.fw->memory().GuestRead(code, kCode, seen) == rmp::RmpViolation::kNone);
  CHECK(seen == Pattern(3));
  REQUIRE(f.fw->memory().HvRead(kCode, hv) == rmp::RmpViolation::kNone);
  CHECK(hv != Pattern(3));
  rmp::GuestAccess zero{kAsid, 0, 0x800000, true, false, rmp::kPermRead};
  REQUIRE(f.fw->memory().GuestRead(zero, kZero, seen) == rmp::RmpViolation::kNone);
  CHECK(seen == Bytes(4096, 0));
  rmp::GuestAccess secrets{kAsid, 0, 0x801000, true, false, rmp::kPermRead};
  REQUIRE(f.fw->memory().GuestRead(secrets, kSecrets, seen) == rmp::RmpViolation::kNone);
  CHECK(LoadLe32(seen.data()) == 3);  // version
  CHECK(LoadLe32(seen.data() + 8) == f.fw->platform_state().chip.cpuid_fms());
  CHECK(Bytes(seen.begin() + 0x20, seen.begin() + 0x40) != Bytes(32, 0));  // VMPCK0 installed
  CHECK(Bytes(seen.begin() + 0x20, seen.begin() + 0x40) !=
        Bytes(seen.begin() + 0x40, seen.begin() + 0x60));  // VMPCK0 != VMPCK1
  CHECK(LoadLe32(seen.data() + 0x160) == 200);

  // LAUNCH_FINISH with an ID block signed by an ID key, itself signed by an author key.
  auto id_key = crypto::PrivateKey::GenerateEcP384();
  auto author = crypto::PrivateKey::GenerateEcP384();
  Bytes id_block(0x60, 0);
  std::memcpy(id_block.data(), ld.data(), 48);
  std::memset(id_block.data() + 0x30, 0xF1, 16);  // family ID
  std::memset(id_block.data() + 0x40, 0x1D, 16);  // image ID
  StoreLe32(id_block.data() + 0x50, 1);
  StoreLe64(id_block.data() + 0x58, 0x30000);
  Bytes auth(4096, 0);
  StoreLe32(auth.data(), 1);
  StoreLe32(auth.data() + 4, 1);
  const Bytes id_pub = *EncodeFwPublicKey(id_key->Public());
  const Bytes author_pub = *EncodeFwPublicKey(author->Public());
  auto put = [&auth](std::size_t off, const Bytes& b) {
    std::memcpy(auth.data() + off, b.data(), b.size());
  };
  put(0x040, EncodeFwSignature(*id_key->SignEcdsaSha384(id_block)));
  put(0x240, id_pub);
  put(0x680, EncodeFwSignature(*author->SignEcdsaSha384(id_pub)));
  put(0x880, author_pub);
  REQUIRE(f.fw->memory().HvWrite(0x500000, id_block) == rmp::RmpViolation::kNone);
  REQUIRE(f.fw->memory().HvWrite(0x501000, auth) == rmp::RmpViolation::kNone);
  SnpLaunchFinishBuf fin{kGctx, 0x500000, 0x501000, 3, {}};
  std::memset(fin.host_data, 0xAB, 32);

  SUBCASE("accepted") {
    REQUIRE(f.Run(SnpCmd::kLaunchFinish, fin) == FwStatus::kSuccess);
    auto status = f.GuestStatus(kGctx, kStatusPage);
    CHECK(status.state == 2);
    CHECK(status.asid == kAsid);
    CHECK(status.policy == 0x30000);
  }
  struct Spoil {
    const char* what;
    std::size_t offset;  // into the ID auth page (or 0x10000 + offset into the ID block)
    FwStatus want;
  };
  const Spoil spoils[] = {
      {"launch digest differs", 0x10000 + 5, FwStatus::kBadMeasurement},
      {"policy differs", 0x10000 + 0x58, FwStatus::kPolicyFailure},
      {"ID key algorithm", 0x000, FwStatus::kInvalidParam},
      {"author key algorithm", 0x004, FwStatus::kInvalidParam},
      {"ID block signature", 0x040 + 3, FwStatus::kBadSignature},
      {"ID key curve", 0x240, FwStatus::kBadSignature},
      {"ID key point", 0x240 + 10, FwStatus::kBadSignature},
      {"author's signature over the ID key", 0x680 + 3, FwStatus::kBadSignature},
      {"author key point", 0x880 + 10, FwStatus::kBadSignature},
  };
  for (const Spoil& s : spoils) {
    SUBCASE(s.what) {
      if (s.offset >= 0x10000) {
        Bytes bad = id_block;
        bad[s.offset - 0x10000] ^= 1;
        REQUIRE(f.fw->memory().HvWrite(0x500000, bad) == rmp::RmpViolation::kNone);
      } else {
        Bytes bad = auth;
        bad[s.offset] ^= 1;
        REQUIRE(f.fw->memory().HvWrite(0x501000, bad) == rmp::RmpViolation::kNone);
      }
      const Bytes before = f.fw->StateDigest();
      CHECK(f.Run(SnpCmd::kLaunchFinish, fin) == s.want);
      CHECK(f.fw->StateDigest() == before);
    }
  }
}

TEST_CASE("SNP_LAUNCH_UPDATE refuses bad pages and changes nothing") {
  FirmwareFixture f;
  f.InitPlatform();
  f.StartGuest(kGctx, kAsid);
  f.MakePreGuestPage(0x400000, 0x1000, kAsid, Pattern(1));
  f.MakePreGuestPage(0x402000, 0x2000, kAsid + 1, Pattern(1));  // another ASID's page
  REQUIRE(f.fw->memory().HvWrite(0x403000, Pattern(2)) == rmp::RmpViolation::kNone);
  Bytes cpuid(4096, 0);
  StoreLe32(cpuid.data(), 65);  // more than 64 entries
  f.MakePreGuestPage(0x404000, 0x4000, kAsid, cpuid);
  auto upd = [&](std::uint64_t spa, PageType t) { return f.UpdateBuf(kGctx, spa, t); };
  auto reserved = upd(0x400000, PageType::kNormal);
  reserved.reserved1 = 1;
  auto type0 = upd(0x400000, PageType::kNormal);
  type0.page_info = 0;
  auto big = upd(0x400000, PageType::kNormal);
  big.page_info |= 1;
  struct Row {
    const char* what;
    SnpLaunchUpdateBuf buf;
    FwStatus want;
  };
  const Row rows[] = {
      {"reserved field", reserved, FwStatus::kInvalidParam},
      {"page type 0", type0, FwStatus::kInvalidParam},
      {"hypervisor page", upd(0x403000, PageType::kNormal), FwStatus::kInvalidPageState},
      {"the context page", upd(kGctx, PageType::kNormal), FwStatus::kInvalidPageState},
      {"size mismatch", big, FwStatus::kInvalidPageSize},
      {"another guest's page", upd(0x402000, PageType::kNormal), FwStatus::kInvalidPageOwner},
      {"not a context page", f.UpdateBuf(0x400000, 0x400000, PageType::kNormal),
       FwStatus::kInvalidGuest},
      {"CPUID page with 65 entries", upd(0x404000, PageType::kCpuid), FwStatus::kInvalidParam},
      {"unaligned address", upd(0x400010, PageType::kNormal), FwStatus::kInvalidParam},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    const Bytes before = f.fw->StateDigest();
    CHECK(f.Run(SnpCmd::kLaunchUpdate, r.buf) == r.want);
    CHECK(f.fw->StateDigest() == before);
  }
}

TEST_CASE("ACTIVATE: ASID rules") {
  FirmwareFixture f;
  REQUIRE(f.Run(SnpCmd::kInit) == FwStatus::kSuccess);
  REQUIRE(f.GctxCreate(kGctx) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx)) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 1}) == FwStatus::kDfFlushRequired);
  f.fw->Wbinvd();
  REQUIRE(f.Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 0}) == FwStatus::kInvalidAsid);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 2048}) == FwStatus::kInvalidAsid);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 509}) ==
        FwStatus::kInvalidAsid);  // SEV range
  REQUIRE(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx, 7}) == FwStatus::kSuccess);
  const std::uint64_t other = 0x110000;
  REQUIRE(f.GctxCreate(other) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(other)) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{other, 7}) == FwStatus::kAsidOwned);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{kGctx + 0x1000, 7}) == FwStatus::kInvalidGuest);

  // Decommission frees the ASID but leaves it dirty until WBINVD + DF_FLUSH.
  REQUIRE(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
          FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kDecommission, SnpAddrBuf{kGctx}) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(kGctx).State() == rmp::PageState::kFirmware);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{other, 7}) == FwStatus::kDfFlushRequired);
  f.fw->Wbinvd();
  REQUIRE(f.Run(SnpCmd::kDfFlush) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{other, 7}) == FwStatus::kSuccess);
  CHECK(f.Run(SnpCmd::kDecommission, SnpAddrBuf{kGctx}) == FwStatus::kInvalidGuest);
  // An ASID that still owns pages in the RMP cannot be given to another guest.
  const std::uint64_t third = 0x120000;
  REQUIRE(f.GctxCreate(third) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(third)) == FwStatus::kSuccess);
  f.MakePreGuestPage(0x300000, 0x1000, 9, Pattern(1));
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{third, 9}) == FwStatus::kInvalidConfig);
  CHECK(f.fw->StateDigest() == before);
  CHECK(f.Run(SnpCmd::kActivate, SnpActivateBuf{third, 10}) == FwStatus::kSuccess);
  // The old context page can now be reclaimed and handed back to the hypervisor.
  REQUIRE(f.Run(SnpCmd::kPageReclaim, SnpAddrBuf{kGctx}) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(kGctx).State() == rmp::PageState::kReclaim);
  CHECK(rmp::RmpUpdate(f.fw->memory().rmp(), kGctx, {}) == rmp::RmpResult::kSuccess);
  CHECK(f.Run(SnpCmd::kPageReclaim, SnpAddrBuf{other}) == FwStatus::kInvalidPageState);  // CONTEXT
}

TEST_CASE("SNP_DBG_DECRYPT / ENCRYPT only with the DEBUG policy bit") {
  for (bool debug : {false, true}) {
    CAPTURE(debug);
    FirmwareFixture f;
    f.InitPlatform();
    f.StartGuest(kGctx, kAsid, 0x30000 | (debug ? policy::kDebug : 0));
    f.MakePreGuestPage(0x400000, 0x1000, kAsid, Pattern(4));
    REQUIRE(f.Run(SnpCmd::kLaunchUpdate, f.UpdateBuf(kGctx, 0x400000, PageType::kNormal)) ==
            FwStatus::kSuccess);
    f.MakeFirmwarePage(0x500000);
    const Bytes before = f.fw->StateDigest();
    const FwStatus dec = f.Run(SnpCmd::kDbgDecrypt, SnpDbgBuf{kGctx, 0x400000, 0x500000});
    if (!debug) {
      CHECK(dec == FwStatus::kPolicyFailure);
      CHECK(f.fw->StateDigest() == before);
      f.MakePreGuestPage(0x402000, 0x3000, kAsid, Bytes(4096, 0));
      REQUIRE(f.fw->memory().HvWrite(0x403000, Pattern(8)) == rmp::RmpViolation::kNone);
      CHECK(f.Run(SnpCmd::kDbgEncrypt, SnpDbgBuf{kGctx, 0x403000, 0x402000}) ==
            FwStatus::kPolicyFailure);
      continue;
    }
    REQUIRE(dec == FwStatus::kSuccess);
    Bytes out(4096);
    REQUIRE(f.fw->memory().FirmwareRead(0x500000, out).ok());
    CHECK(out == Pattern(4));  // the plaintext, though memory holds ciphertext
    // Wrong page states and owners.
    CHECK(f.Run(SnpCmd::kDbgDecrypt, SnpDbgBuf{kGctx, 0x400000, 0x600000}) ==
          FwStatus::kInvalidPageState);  // destination not FIRMWARE
    CHECK(f.Run(SnpCmd::kDbgDecrypt, SnpDbgBuf{kGctx, 0x600000, 0x500000}) ==
          FwStatus::kInvalidPageState);  // source not a guest page
    CHECK(f.Run(SnpCmd::kDbgDecrypt, SnpDbgBuf{kGctx, 0x400008, 0x500000}) ==
          FwStatus::kInvalidParam);
    // ENCRYPT into a PRE_GUEST page of the guest, then launch it and read it as the guest.
    f.MakePreGuestPage(0x402000, 0x3000, kAsid, Bytes(4096, 0));
    REQUIRE(f.fw->memory().HvWrite(0x403000, Pattern(8)) == rmp::RmpViolation::kNone);
    REQUIRE(f.Run(SnpCmd::kDbgEncrypt, SnpDbgBuf{kGctx, 0x403000, 0x402000}) == FwStatus::kSuccess);
    Bytes guest_view(4096);
    REQUIRE(f.fw->memory().FirmwareReadGuest(kAsid, 0x402000, guest_view) ==
            rmp::RmpViolation::kNone);
    CHECK(guest_view == Pattern(8));
    CHECK(f.Run(SnpCmd::kDbgEncrypt, SnpDbgBuf{kGctx, 0x403000, 0x400000}) ==
          FwStatus::kInvalidPageState);  // GUEST_VALID is not a DBG_ENCRYPT target
  }
}

TEST_CASE("2 MiB launch pages are measured as 512 consecutive 4 KiB pages") {
  FirmwareFixture f;
  f.InitPlatform();
  f.StartGuest(kGctx, kAsid);
  const std::uint64_t spa = 0x800000, gpa = 0x200000;
  Bytes data(rmp::kPageSize2M);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i / 4096);
  REQUIRE(f.fw->memory().HvWrite(spa, data) == rmp::RmpViolation::kNone);
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), spa, {gpa, true, true, true, kAsid}) ==
          rmp::RmpResult::kSuccess);
  auto upd = f.UpdateBuf(kGctx, spa, PageType::kNormal);
  auto vmsa_2m = f.UpdateBuf(kGctx, spa, PageType::kVmsa);
  vmsa_2m.page_info |= 1;
  CHECK(f.Run(SnpCmd::kLaunchUpdate, vmsa_2m) == FwStatus::kInvalidPageSize);
  CHECK(f.Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kInvalidPageSize);  // says 4 KiB
  upd.page_info |= 1;
  REQUIRE(f.Run(SnpCmd::kLaunchUpdate, upd) == FwStatus::kSuccess);
  LaunchDigest ld{};
  for (std::uint64_t i = 0; i < rmp::kPagesPer2M; ++i) {
    ld = *ExtendLaunchDigest(ld, ByteSpan(data).subspan(i * 4096, 4096),
                             {PageType::kNormal, false, 0, 0, 0, gpa + i * 4096});
  }
  // The ID block check compares against the firmware's digest: a match proves they agree.
  Bytes id_block(0x60, 0);
  std::memcpy(id_block.data(), ld.data(), 48);
  StoreLe64(id_block.data() + 0x58, 0x30000);
  Bytes auth(4096, 0);
  StoreLe32(auth.data(), 1);
  auto id_key = crypto::PrivateKey::GenerateEcP384();
  const Bytes sig = EncodeFwSignature(*id_key->SignEcdsaSha384(id_block));
  const Bytes pub = *EncodeFwPublicKey(id_key->Public());
  std::memcpy(auth.data() + 0x40, sig.data(), sig.size());
  std::memcpy(auth.data() + 0x240, pub.data(), pub.size());
  REQUIRE(f.fw->memory().HvWrite(0x500000, id_block) == rmp::RmpViolation::kNone);
  REQUIRE(f.fw->memory().HvWrite(0x501000, auth) == rmp::RmpViolation::kNone);
  CHECK(f.Run(SnpCmd::kLaunchFinish, SnpLaunchFinishBuf{kGctx, 0x500000, 0x501000, 1, {}}) ==
        FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(spa + 100 * 4096).State() == rmp::PageState::kGuestValid);
}

TEST_CASE("SNP_PAGE_UNSMASH and SNP_PAGE_SET_STATE") {
  FirmwareFixture f;
  f.InitPlatform();
  const std::uint64_t spa = 0xA00000;
  for (std::uint64_t i = 0; i < rmp::kPagesPer2M; ++i) {
    REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), spa + i * 4096,
                           {0x400000 + i * 4096, true, false, true, kAsid}) ==
            rmp::RmpResult::kSuccess);
  }
  CHECK(f.Run(SnpCmd::kPageUnsmash, SnpAddrBuf{spa + 0x1000}) == FwStatus::kInvalidParam);
  REQUIRE(f.Run(SnpCmd::kPageUnsmash, SnpAddrBuf{spa}) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(spa + 77 * 4096).page_size_2m());
  // Not 512 matching pages: refused.
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), 0xC00000, {0, true, false, true, kAsid}) ==
          rmp::RmpResult::kSuccess);
  CHECK(f.Run(SnpCmd::kPageUnsmash, SnpAddrBuf{0xC00000}) == FwStatus::kInvalidPageState);

  // SET_STATE: FIRMWARE pages of a 2 MiB range become HV_FIXED.
  for (std::uint64_t i = 0; i < 4; ++i) f.MakeFirmwarePage(0xE00000 + i * 4096);
  Bytes list(4096, 0);
  StoreLe32(list.data(), 1);
  StoreLe64(list.data() + 8, 0xE00000);
  StoreLe32(list.data() + 16, 4);
  REQUIRE(f.fw->memory().HvWrite(0x600000, list) == rmp::RmpViolation::kNone);
  CHECK(f.Run(SnpCmd::kPageSetState, SnpPageSetStateBuf{8, 0, 0x600000}) ==
        FwStatus::kInvalidLength);
  StoreLe32(list.data() + 16, 5);  // the fifth page is not FIRMWARE
  REQUIRE(f.fw->memory().HvWrite(0x600000, list) == rmp::RmpViolation::kNone);
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kPageSetState, SnpPageSetStateBuf{16, 0, 0x600000}) ==
        FwStatus::kInvalidPageState);
  CHECK(f.fw->StateDigest() == before);
  StoreLe32(list.data() + 16, 4);
  REQUIRE(f.fw->memory().HvWrite(0x600000, list) == rmp::RmpViolation::kNone);
  REQUIRE(f.Run(SnpCmd::kPageSetState, SnpPageSetStateBuf{16, 0, 0x600000}) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(0xE03000).State() == rmp::PageState::kHvFixed);
  CHECK(rmp::RmpUpdate(f.fw->memory().rmp(), 0xE03000, {}) == rmp::RmpResult::kFailPermission);
}

TEST_CASE("SNP_ACTIVATE_EX") {
  FirmwareFixture f;
  f.InitPlatform();
  REQUIRE(f.GctxCreate(kGctx) == FwStatus::kSuccess);
  REQUIRE(f.Run(SnpCmd::kLaunchStart, f.LaunchStartBuf(kGctx)) == FwStatus::kSuccess);
  REQUIRE(f.fw->memory().HvWrite(0x600000, Bytes{0, 0, 0, 0, 1, 0, 0, 0}) ==
          rmp::RmpViolation::kNone);
  CHECK(f.Run(SnpCmd::kActivateEx, SnpActivateExBuf{0x18, 0, kGctx, 3, 2, 0x600000}) ==
        FwStatus::kInvalidParam);
  CHECK(f.Run(SnpCmd::kActivateEx, SnpActivateExBuf{0x20, 0, kGctx, 3, 0, 0x600000}) ==
        FwStatus::kInvalidParam);
  REQUIRE(f.Run(SnpCmd::kActivateEx, SnpActivateExBuf{0x20, 0, kGctx, 3, 2, 0x600000}) ==
          FwStatus::kSuccess);
  CHECK(f.GuestStatus(kGctx, kStatusPage).asid == 3);
}

TEST_CASE("SNP_DOWNLOAD_FIRMWARE_EX: signed images raise the TCB; rollback is refused") {
  FirmwareFixture f(test::SeededPlatform155(Product::kMilan));  // from 1.55.21 to 1.56.3
  f.InitPlatform();
  const auto root = test::TestRoot(Product::kMilan);
  auto image_at = [&](TcbParts parts, FirmwareVersion v) {
    FirmwareImage img;
    img.product = Product::kMilan;
    img.version = v;
    img.tcb = *TcbVersion::FromParts(Product::kMilan, parts);
    img.body = Bytes(1000, 0xC3);
    auto bytes = BuildFirmwareImage(img, root.ark_key);
    REQUIRE(bytes.ok());
    return *bytes;
  };
  auto load = [&](const Bytes& image, std::uint32_t flags, std::uint64_t at = 0x700000) {
    REQUIRE(f.fw->memory().HvWrite(at, image) == rmp::RmpViolation::kNone);
    return f.Run(
        SnpCmd::kDownloadFirmwareEx,
        SnpDownloadFirmwareExBuf{0x18, 0, at, static_cast<std::uint32_t>(image.size()), flags});
  };
  const TcbVersion old_reported = f.fw->platform_state().reported_tcb;
  const Bytes newer = image_at({0, 3, 0, 9, 115}, {1, 56, 3});
  Bytes tampered = newer;
  tampered[0x50] ^= 1;
  const Bytes before = f.fw->StateDigest();
  CHECK(load(tampered, 0) == FwStatus::kBadSignature);
  CHECK(load(newer, 0, 0x700010) == FwStatus::kInvalidAddress);
  CHECK(f.Run(SnpCmd::kDownloadFirmwareEx, SnpDownloadFirmwareExBuf{0x18, 1, 0x700000, 10, 0}) ==
        FwStatus::kInvalidParam);
  // (Memory the hypervisor owns is outside the digest; the firmware state is unchanged.)
  CHECK(f.fw->StateDigest() == before);

  REQUIRE(load(newer, 0) == FwStatus::kSuccess);
  CHECK(f.fw->platform_state().current_tcb.parts().snp == 9);
  CHECK(f.fw->platform_state().current_fw == FirmwareVersion{1, 56, 3});
  CHECK(f.fw->platform_state().reported_tcb == old_reported);  // until committed
  CHECK(f.fw->platform_state().committed_tcb == old_reported);
  // Not committed: going back to the committed level is allowed, below it is not.
  CHECK(load(image_at({0, 3, 0, 8, 115}, {1, 55, 21}), 0) == FwStatus::kSuccess);
  CHECK(load(image_at({0, 3, 0, 7, 115}, {1, 55, 21}), 0) == FwStatus::kInvalidConfig);
  CHECK(load(image_at({0, 3, 0, 8, 115}, {1, 55, 20}), 0) == FwStatus::kInvalidConfig);
  // With commit, the new image becomes the floor.
  REQUIRE(load(newer, 1) == FwStatus::kSuccess);
  CHECK(f.fw->platform_state().committed_tcb.parts().snp == 9);
  CHECK(f.fw->platform_state().reported_tcb.parts().snp == 9);
  CHECK(load(image_at({0, 3, 0, 8, 115}, {1, 56, 3}), 0) == FwStatus::kInvalidConfig);
  CHECK(f.fw->persistent_state_changed());
  // Another product's image is not this firmware's.
  FirmwareImage genoa;
  genoa.product = Product::kGenoa;
  genoa.version = {1, 57, 0};
  genoa.tcb = DefaultTcb(Product::kGenoa);
  CHECK(load(*BuildFirmwareImage(genoa, test::TestRoot(Product::kGenoa).ark_key), 0) ==
        FwStatus::kBadSignature);
}

TEST_CASE("SNP_INIT rebuilds the RMP; SNP_INIT_EX's range list becomes HV_FIXED") {
  FirmwareFixture f;
  REQUIRE(rmp::RmpUpdate(f.fw->memory().rmp(), 0x300000, {0x1000, true, false, false, 5}) ==
          rmp::RmpResult::kSuccess);
  Bytes list(4096, 0);
  StoreLe32(list.data(), 2);
  StoreLe64(list.data() + 8, 0x400000);
  StoreLe32(list.data() + 16, 2);
  StoreLe64(list.data() + 24, 0x600000);
  StoreLe32(list.data() + 32, 0);  // empty ranges are ignored
  REQUIRE(f.fw->memory().HvWrite(0x200000, list) == rmp::RmpViolation::kNone);
  SnpInitExBuf ex{};
  ex.flags = 3;  // init_rmp, list_paddr_en
  ex.list_paddr = 0x200000;
  Bytes bad = list;
  StoreLe64(bad.data() + 8, 0x401000);  // not 2 MiB aligned
  REQUIRE(f.fw->memory().HvWrite(0x210000, bad) == rmp::RmpViolation::kNone);
  SnpInitExBuf bad_ex = ex;
  bad_ex.list_paddr = 0x210000;
  const Bytes before = f.fw->StateDigest();
  CHECK(f.Run(SnpCmd::kInitEx, bad_ex) == FwStatus::kInvalidParam);
  bad_ex.list_paddr = 0x210008;
  CHECK(f.Run(SnpCmd::kInitEx, bad_ex) == FwStatus::kInvalidParam);
  CHECK(f.fw->StateDigest() == before);
  REQUIRE(f.Run(SnpCmd::kInitEx, ex) == FwStatus::kSuccess);
  CHECK(f.fw->memory().rmp().Get(0x300000).State() == rmp::PageState::kHypervisor);  // rebuilt
  CHECK(f.fw->memory().rmp().Get(0x401000).State() == rmp::PageState::kHvFixed);
  CHECK(f.fw->memory().rmp().Get(0x402000).State() == rmp::PageState::kHypervisor);
  CHECK(f.fw->memory().rmp().Get(0x600000).State() == rmp::PageState::kHypervisor);
}

TEST_CASE("every SNP command in both platform states: status and resulting state") {
  using statemachine::SnpPlatformState;
  // Buffers that are well formed but point at nothing in particular: the platform state is the
  // first rule they meet (or the only one), which is what this table is about.
  struct Row {
    SnpCmd cmd;
    FwStatus in_uninit;
    SnpPlatformState after_uninit;
    FwStatus in_init;
    SnpPlatformState after_init;
  };
  const auto U = SnpPlatformState::kUninit, I = SnpPlatformState::kInit;
  const Row rows[] = {
      {SnpCmd::kInit, FwStatus::kSuccess, I, FwStatus::kInvalidPlatformState, I},
      {SnpCmd::kInitEx, FwStatus::kSuccess, I, FwStatus::kInvalidPlatformState, I},
      {SnpCmd::kShutdown, FwStatus::kSuccess, U, FwStatus::kSuccess, U},
      {SnpCmd::kShutdownEx, FwStatus::kSuccess, U, FwStatus::kSuccess, U},
      {SnpCmd::kPlatformStatus, FwStatus::kSuccess, U, FwStatus::kSuccess, I},
      {SnpCmd::kDfFlush, FwStatus::kWbinvdRequired, U, FwStatus::kSuccess, I},  // WBINVD done
      {SnpCmd::kConfig, FwStatus::kSuccess, U, FwStatus::kSuccess, I},
      {SnpCmd::kCommit, FwStatus::kSuccess, U, FwStatus::kSuccess, I},
      {SnpCmd::kGctxCreate, FwStatus::kInvalidPlatformState, U, FwStatus::kSuccess, I},
      {SnpCmd::kLaunchStart, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kLaunchUpdate, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kLaunchFinish, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kActivate, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kActivateEx, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kGuestStatus, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kDecommission, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kDbgDecrypt, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kDbgEncrypt, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kPageReclaim, FwStatus::kInvalidPlatformState, U, FwStatus::kSuccess, I},
      {SnpCmd::kPageUnsmash, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidPageState, I},
      {SnpCmd::kPageSetState, FwStatus::kInvalidPlatformState, U, FwStatus::kSuccess, I},
      {SnpCmd::kDownloadFirmwareEx, FwStatus::kBadSignature, U, FwStatus::kBadSignature, I},
      {SnpCmd::kGuestRequest, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kVlekLoad, FwStatus::kBadSvn, U, FwStatus::kBadSvn, I},  // no state rule
      {SnpCmd::kFeatureInfo, FwStatus::kSuccess, U, FwStatus::kSuccess, I},
      {SnpCmd::kPageSwapOut, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kPageSwapIn, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kPageMove, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
      {SnpCmd::kPageMdInit, FwStatus::kInvalidPlatformState, U, FwStatus::kInvalidGuest, I},
  };
  auto buffer = [](SnpCmd cmd) -> Bytes {
    switch (cmd) {
      case SnpCmd::kInit:
      case SnpCmd::kShutdown:
      case SnpCmd::kDfFlush:
        return {};
      case SnpCmd::kInitEx: {
        Bytes b(sizeof(SnpInitExBuf), 0);
        b[0] = 1;
        return b;
      }
      case SnpCmd::kShutdownEx: {
        Bytes b(8, 0);
        b[0] = 8;
        return b;
      }
      case SnpCmd::kPlatformStatus:
      case SnpCmd::kGctxCreate: {
        Bytes b(8, 0);
        StoreLe64(b.data(), 0x200000);
        return b;
      }
      case SnpCmd::kConfig:
        return Bytes(sizeof(SnpConfigBuf), 0);
      case SnpCmd::kCommit:
        return Bytes{4, 0, 0, 0};
      case SnpCmd::kLaunchStart: {
        Bytes b(sizeof(SnpLaunchStartBuf), 0);
        StoreLe64(b.data(), kGctx);
        StoreLe64(b.data() + 8, 0x30000);
        return b;
      }
      case SnpCmd::kLaunchUpdate: {
        Bytes b(sizeof(SnpLaunchUpdateBuf), 0);
        StoreLe64(b.data(), kGctx);
        b[8] = 2;
        StoreLe64(b.data() + 0x10, 0x300000);
        return b;
      }
      case SnpCmd::kLaunchFinish: {
        Bytes b(sizeof(SnpLaunchFinishBuf), 0);
        StoreLe64(b.data(), kGctx);
        return b;
      }
      case SnpCmd::kActivate: {
        Bytes b(sizeof(SnpActivateBuf), 0);
        StoreLe64(b.data(), kGctx);
        b[8] = 1;
        return b;
      }
      case SnpCmd::kActivateEx: {
        Bytes b(sizeof(SnpActivateExBuf), 0);
        b[0] = 0x20;
        StoreLe64(b.data() + 8, kGctx);
        b[0x10] = 1;
        b[0x14] = 1;
        return b;
      }
      case SnpCmd::kGuestStatus: {
        Bytes b(16, 0);
        StoreLe64(b.data(), kGctx);
        StoreLe64(b.data() + 8, 0x200000);
        return b;
      }
      case SnpCmd::kDecommission: {
        Bytes b(8, 0);
        StoreLe64(b.data(), kGctx);
        return b;
      }
      case SnpCmd::kGuestRequest:
      case SnpCmd::kDbgDecrypt:
      case SnpCmd::kDbgEncrypt: {
        Bytes b(24, 0);
        StoreLe64(b.data(), kGctx);
        StoreLe64(b.data() + 8, 0x300000);
        StoreLe64(b.data() + 16, 0x200000);
        return b;
      }
      case SnpCmd::kFeatureInfo: {
        Bytes b(16, 0);
        b[0] = 16;
        StoreLe64(b.data() + 8, 0x200000);
        return b;
      }
      case SnpCmd::kVlekLoad: {
        Bytes b(16, 0);
        b[0] = 16;
        StoreLe64(b.data() + 8, 0x200000);
        return b;
      }
      case SnpCmd::kPageReclaim: {
        Bytes b(8, 0);
        StoreLe64(b.data(), 0x200000);
        return b;
      }
      case SnpCmd::kPageUnsmash: {
        Bytes b(8, 0);
        StoreLe64(b.data(), 0x400000);
        return b;
      }
      case SnpCmd::kPageSetState: {
        Bytes b(16, 0);
        b[0] = 16;
        StoreLe64(b.data() + 8, 0x500000);
        return b;
      }
      case SnpCmd::kPageSwapOut:
      case SnpCmd::kPageSwapIn: {
        Bytes b(sizeof(SnpPageSwapBuf), 0);
        StoreLe64(b.data(), kGctx);
        return b;
      }
      case SnpCmd::kPageMove: {
        Bytes b(sizeof(SnpPageMoveBuf), 0);
        StoreLe64(b.data(), kGctx);
        return b;
      }
      case SnpCmd::kPageMdInit: {
        Bytes b(sizeof(SnpPageMdInitBuf), 0);
        StoreLe64(b.data(), kGctx);
        StoreLe64(b.data() + 8, 0x200000);
        return b;
      }
      case SnpCmd::kDownloadFirmwareEx: {
        Bytes b(0x18, 0);
        b[0] = 0x18;
        StoreLe64(b.data() + 8, 0x600000);
        b[0x10] = 0x40;
        return b;
      }
      default:
        return Bytes(8, 0);
    }
  };
  for (const Row& r : rows) {
    const std::string name = SnpCmdName(r.cmd);
    CAPTURE(name);
    for (bool init : {false, true}) {
      CAPTURE(init);
      FirmwareFixture f;
      if (init) f.InitPlatform();
      f.MakeFirmwarePage(0x200000);
      Bytes buf = buffer(r.cmd);
      const Bytes before = f.fw->StateDigest();
      const FwStatus got = f.fw->Execute(r.cmd, buf);
      CHECK(got == (init ? r.in_init : r.in_uninit));
      CHECK(f.fw->snp_state() == (init ? r.after_init : r.after_uninit));
      if (got != FwStatus::kSuccess) CHECK(f.fw->StateDigest() == before);
    }
  }
}

TEST_CASE("SNP_FEATURE_INFO") {
  FirmwareFixture f(
      test::SeededPlatform155(Product::kMilan));  // 1.55's leaf 0 (1.58: firmware_abi_test)
  f.InitPlatform();
  f.MakeFirmwarePage(0x200000);
  auto leaf = [&](std::uint32_t ecx) {
    REQUIRE(f.Run(SnpCmd::kFeatureInfo, SnpFeatureInfoBuf{16, ecx, 0x200000}) ==
            FwStatus::kSuccess);
    Bytes out(16);
    REQUIRE(f.fw->memory().FirmwareRead(0x200000, out).ok());
    return out;
  };
  const Bytes l0 = leaf(0);
  CHECK(LoadLe32(l0.data()) == 1);
  CHECK(LoadLe32(l0.data() + 8) == 3);       // VLEK, X86_SNP_SHUTDOWN
  CHECK(LoadLe32(leaf(1).data()) == 0x1FE);  // every message type but CPUID
  CHECK(leaf(7) == Bytes(16, 0));
  CHECK(f.Run(SnpCmd::kFeatureInfo, SnpFeatureInfoBuf{8, 0, 0x200000}) == FwStatus::kInvalidParam);
  CHECK(f.Run(SnpCmd::kFeatureInfo, SnpFeatureInfoBuf{16, 0, 0x300000}) ==
        FwStatus::kInvalidPageState);
}

}  // namespace sevemu::emulator
