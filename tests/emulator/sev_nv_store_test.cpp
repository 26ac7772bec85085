// The legacy SEV persistent store in the state directory (sev-nv.json, sev_nv_store.h): round
// trips, a restart that keeps the identity and an external owner, PLATFORM_RESET emptying it,
// and every kind of damage refused in one line naming the file and the field.
#include "sevemu/emulator/manufacturing/sev_nv_store.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "firmware_fixture.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"
#include "test_util.h"

namespace sevemu::test {
namespace {

using emulator::Platform;
using emulator::Product;
using emulator::SevCert;
using emulator::SevCmd;
using emulator::SevNvStore;
namespace usage = emulator::sev_usage;
namespace algo = emulator::sev_algo;

constexpr std::uint64_t kPage1 = 0x200000;  // firmware-writable buffers (FIRMWARE pages)
constexpr std::uint64_t kPage2 = 0x204000;

// A booted firmware over `platform` with SNP initialised, and the legacy commands it needs.
struct Booted : FirmwareFixture {
  explicit Booted(Platform platform) : FirmwareFixture(std::move(platform)) {
    InitPlatform();
    for (std::uint64_t p = 0; p < 8; ++p) MakeFirmwarePage(kPage1 + p * 4096);
  }
  std::uint32_t OwnerFlag() {
    emulator::SevPlatformStatusBuf s{};
    REQUIRE(Sev(SevCmd::kPlatformStatus, s) == FwStatus::kSuccess);
    return s.platform_flags;
  }
  struct Exported {
    SevCert pdh, pek, oca;
  };
  Exported Export() {
    emulator::SevPdhCertExportBuf b{kPage1, 0x824, 0, kPage2, 0x186C};
    REQUIRE(Sev(SevCmd::kPdhCertExport, b) == FwStatus::kSuccess);
    return {CertAt(kPage1), CertAt(kPage2), CertAt(kPage2 + 0x824)};
  }
  // PEK_CSR, the owner's OCA signs it, PEK_CERT_IMPORT: the platform is externally owned.
  SevCert TakeOwnership(const crypto::PrivateKey& owner) {
    emulator::SevAddrLenBuf csr_buf{kPage1, 0x824};
    REQUIRE(Sev(SevCmd::kPekCsr, csr_buf) == FwStatus::kSuccess);
    SevCert pek = CertAt(kPage1);
    auto oca = SevCert::Create(owner.Public(), usage::kOca, algo::kEcdsaSha256, 0, 0);
    REQUIRE(oca.ok());
    REQUIRE(oca->Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
    REQUIRE(pek.Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
    REQUIRE(fw->memory().FirmwareWrite(kPage1, pek.Encode()).ok());
    REQUIRE(fw->memory().FirmwareWrite(kPage2, oca->Encode()).ok());
    emulator::SevPekCertImportBuf b{kPage1, 0x824, 0, kPage2, 0x824};
    REQUIRE(Sev(SevCmd::kPekCertImport, b) == FwStatus::kSuccess);
    return *oca;
  }
};

crypto::PrivateKey NewEc() {
  auto k = crypto::PrivateKey::GenerateEcP384();
  REQUIRE(k.ok());
  return *k;
}

Platform Loaded(const std::string& dir) {
  auto p = emulator::LoadPlatform(dir);
  REQUIRE_MESSAGE(p.ok(), (p.ok() ? "" : p.error().message()));
  return std::move(p).value();
}

// The identity a seeded platform's first INIT makes (self-owned).
SevNvStore FirstIdentity(std::uint8_t seed = 1) {
  Booted f(SeededPlatform(Product::kMilan, seed));
  f.Init();
  return f.fw->sev_nv_store();
}

std::string Text(const SevNvStore& s) {
  auto text = emulator::SevNvJson(s);
  REQUIRE(text.ok());
  return std::string(text->data(), text->data() + text->size());
}

bool SameKey(const std::optional<crypto::PrivateKey>& a,
             const std::optional<crypto::PrivateKey>& b) {
  return a.has_value() == b.has_value() && (!a || a->Public() == b->Public());
}

}  // namespace

TEST_CASE("sev-nv.json: absent is empty; a store round-trips through the directory, 0600") {
  TempDir dir;
  const std::string state = dir / "platform";
  REQUIRE(emulator::SaveNewPlatform(state, SeededPlatform(Product::kMilan)).ok());
  CHECK_FALSE(std::filesystem::exists(state + "/sev-nv.json"));  // nothing stored yet
  CHECK(Loaded(state).sev_nv.empty());

  const SevNvStore id = FirstIdentity();
  REQUIRE_FALSE(id.empty());
  REQUIRE(emulator::SaveSevNvStore(state, id).ok());
  struct stat st {};
  REQUIRE(::stat((state + "/sev-nv.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const Platform p = Loaded(state);
  CHECK(emulator::SevNvFingerprint(p.sev_nv) == emulator::SevNvFingerprint(id));
  CHECK(SameKey(p.sev_nv.oca, id.oca));
  CHECK(SameKey(p.sev_nv.pek, id.pek));
  CHECK(SameKey(p.sev_nv.pdh, id.pdh));
  CHECK_FALSE(p.sev_nv.ext_owned);
  CHECK(Text(p.sev_nv) == test::ReadText(state + "/sev-nv.json"));  // serialisation is stable

  // An empty store is written as one (PLATFORM_RESET) and reads back empty.
  REQUIRE(emulator::SaveSevNvStore(state, SevNvStore{}).ok());
  const auto empty = nlohmann::json::parse(test::ReadText(state + "/sev-nv.json"));
  CHECK(empty["format"] == "sevemu-sev-nv");
  CHECK_FALSE(empty.contains("pek_cert"));
  CHECK(Loaded(state).sev_nv.empty());

  // Provisioning with a store writes it too.
  Platform with = SeededPlatform(Product::kMilan);
  with.sev_nv = id;
  REQUIRE(emulator::SaveNewPlatform(dir / "other", with).ok());
  CHECK(emulator::SevNvFingerprint(Loaded(dir / "other").sev_nv) == emulator::SevNvFingerprint(id));

  // An inconsistent store never reaches the disk.
  SevNvStore half = id;
  half.pdh.reset();
  auto refused = emulator::SaveSevNvStore(state, half);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("pdh_key is missing") != std::string::npos);
  CHECK(Loaded(state).sev_nv.empty());
}

TEST_CASE("a restart keeps the identity: PDH_GEN's PDH, the same chain after INIT") {
  TempDir dir;
  const std::string state = dir / "platform";
  REQUIRE(emulator::SaveNewPlatform(state, SeededPlatform(Product::kMilan)).ok());
  Booted::Exported before;
  {
    Booted f(Loaded(state));
    CHECK(f.Sev(SevCmd::kPekGen) == FwStatus::kInvalidPlatformState);  // refused: no change
    CHECK_FALSE(f.fw->persistent_state_changed());
    f.Init();
    CHECK(f.fw->persistent_state_changed());  // the first INIT made an identity
    // A seeded platform's first identity is reproducible; PDH_GEN's is not the first one.
    REQUIRE(f.Sev(SevCmd::kPdhGen) == FwStatus::kSuccess);
    before = f.Export();
    REQUIRE(emulator::SaveSevNvStore(state, f.fw->sev_nv_store()).ok());
  }
  Booted g(Loaded(state));
  g.Init();
  CHECK_FALSE(g.fw->persistent_state_changed());  // INIT found a whole identity
  const auto after = g.Export();
  CHECK(after.pdh.Encode() == before.pdh.Encode());
  CHECK(after.pek.Encode() == before.pek.Encode());
  CHECK(after.oca.Encode() == before.oca.Encode());
  CHECK(g.OwnerFlag() == 0);
  CHECK(after.pdh.Encode() != FirstIdentity().pdh_cert.Encode());
}

TEST_CASE("an external owner survives a restart; PLATFORM_RESET then save empties the store") {
  TempDir dir;
  const std::string state = dir / "platform";
  REQUIRE(emulator::SaveNewPlatform(state, SeededPlatform(Product::kMilan)).ok());
  const crypto::PrivateKey owner = NewEc();
  SevCert oca;
  Booted::Exported before;
  {
    Booted f(Loaded(state));
    f.Init();
    oca = f.TakeOwnership(owner);
    CHECK(f.OwnerFlag() == 1);
    before = f.Export();
    REQUIRE(emulator::SaveSevNvStore(state, f.fw->sev_nv_store()).ok());
  }
  const std::string text = test::ReadText(state + "/sev-nv.json");
  const auto j = nlohmann::json::parse(text);
  CHECK(j["ext_owned"] == true);
  CHECK_FALSE(j.contains("oca_key"));  // the owner keeps its OCA key
  CHECK(j.contains("pek_key"));
  CHECK(j.contains("pdh_key"));

  Platform loaded = Loaded(state);
  CHECK(loaded.sev_nv.ext_owned);
  Booted g(std::move(loaded));
  CHECK(g.OwnerFlag() == 0);  // not reported while UNINIT
  g.Init();
  CHECK(g.OwnerFlag() == 1);
  const auto after = g.Export();
  CHECK(after.pek.Encode() == before.pek.Encode());
  CHECK(after.oca.Encode() == before.oca.Encode());
  CHECK(after.oca.Encode() == oca.Encode());
  CHECK(after.pdh.Encode() == before.pdh.Encode());
  CHECK(emulator::ValidateSevCert(after.pek, oca.pubkey).ok());
  // Owned still: a second import is refused.
  emulator::SevPekCertImportBuf again{1ull << 40, 1, 0, 0, 1};
  CHECK(g.Sev(SevCmd::kPekCertImport, again) == FwStatus::kAlreadyOwned);

  REQUIRE(g.Sev(SevCmd::kShutdown) == FwStatus::kSuccess);
  REQUIRE(g.Sev(SevCmd::kPlatformReset) == FwStatus::kSuccess);
  CHECK(g.fw->persistent_state_changed());
  CHECK(g.fw->sev_nv_store().empty());
  REQUIRE(emulator::SaveSevNvStore(state, g.fw->sev_nv_store()).ok());
  CHECK(Loaded(state).sev_nv.empty());
  Booted h(Loaded(state));
  h.Init();
  CHECK(h.OwnerFlag() == 0);
  CHECK(h.Export().oca.Body() != oca.Body());
}

TEST_CASE("Firmware::Boot refuses a store that is inconsistent or another chip's") {
  Platform p = SeededPlatform(Product::kMilan);
  p.sev_nv = FirstIdentity(2);  // made on another chip
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 64ull << 20;
  auto booted = emulator::Firmware::Boot(std::move(p), cfg);
  REQUIRE_FALSE(booted.ok());
  CHECK(booted.error().code() == ErrorCode::kCorrupt);
  CHECK(booted.error().message().find("pek_cert is not signed by this chip's CEK") !=
        std::string::npos);

  Platform q = SeededPlatform(Product::kMilan);
  q.sev_nv = FirstIdentity();
  q.sev_nv.ext_owned = true;  // but the OCA key is there
  auto refused = emulator::Firmware::Boot(std::move(q), cfg);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message().find("oca_key must be absent") != std::string::npos);
}

TEST_CASE("damaged sev-nv.json: one line naming the file and the field, nothing written") {
  using nlohmann::json;
  const SevNvStore mine = FirstIdentity();
  const SevNvStore other = FirstIdentity(2);
  const json good = json::parse(Text(mine));
  const json foreign = json::parse(Text(other));
  // Flips one byte of a certificate field's hex at byte offset `at`.
  auto flip = [](json& j, const char* field, std::size_t at) {
    std::string hex = j[field];
    hex[2 * at] = hex[2 * at] == '0' ? '1' : '0';
    j[field] = hex;
  };
  struct Damage {
    const char* name;
    const char* says;  // what the message says after the file name
    std::function<std::string()> text;
  };
  auto edited = [&good](std::function<void(json&)> edit) {
    return [&good, edit] {
      json j = good;
      edit(j);
      return j.dump(2);
    };
  };
  const Damage damages[] = {
      {"truncated", ": not valid JSON",
       [&] { return good.dump(2).substr(0, good.dump(2).size() / 2); }},
      {"empty", ": not valid JSON", [] { return std::string(); }},
      {"not an object", ": not a JSON object", [] { return std::string("[1, 2]"); }},
      {"wrong format tag", ": format is 'sevemu-fuses'",
       edited([](json& j) { j["format"] = "sevemu-fuses"; })},
      {"unknown version", ": version 2 is not supported",
       edited([](json& j) { j["version"] = 2; })},
      {"owner flag not a boolean", ".ext_owned must be true or false",
       edited([](json& j) { j["ext_owned"] = "no"; })},
      {"bad hex", ".pek_cert must be 4168 hex digits", edited([](json& j) {
         std::string hex = j["pek_cert"];
         hex[10] = 'z';
         j["pek_cert"] = hex;
       })},
      {"short certificate", ".pdh_cert must be 4168 hex digits",
       edited([](json& j) { j["pdh_cert"] = std::string(j["pdh_cert"]).substr(2); })},
      {"malformed certificate", ".oca_cert is not a valid SEV certificate",
       edited([&flip](json& j) { flip(j, "oca_cert", 0); })},  // version 0 or 0x1000001
      {"wrong usage", ".oca_cert has usage 0x1002 (PEK), expected 0x1001 (OCA)",
       edited([](json& j) { std::swap(j["oca_cert"], j["pek_cert"]); })},
      {"a certificate missing", ".pdh_cert is missing",
       edited([](json& j) { j.erase("pdh_cert"); })},
      {"key not matching its certificate", ".pek_key does not match pek_cert",
       edited([](json& j) { std::swap(j["pek_key"], j["pdh_key"]); })},
      {"not a key", ".pdh_key is not a PEM private key",
       edited([](json& j) { j["pdh_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"; })},
      {"self-owned without the OCA key", ".oca_key is missing",
       edited([](json& j) { j.erase("oca_key"); })},
      {"owned with the OCA key", ".oca_key must be absent",
       edited([](json& j) { j["ext_owned"] = true; })},
      {"OCA not self-signed", ".oca_cert is not self-signed",
       edited([&flip](json& j) { flip(j, "oca_cert", 0x41C); })},  // sig 1, byte 0 of r
      {"PEK not signed by the OCA", ".pek_cert is not signed by the OCA",
       edited([&foreign](json& j) {
         j["oca_cert"] = foreign["oca_cert"];
         j["oca_key"] = foreign["oca_key"];
       })},
      {"PDH not signed by the PEK", ".pdh_cert is not signed by the PEK",
       edited([&foreign](json& j) {
         j["pdh_cert"] = foreign["pdh_cert"];
         j["pdh_key"] = foreign["pdh_key"];
       })},
      {"a store from another chip", ".pek_cert is not signed by this chip's CEK",
       [&foreign] { return foreign.dump(2); }},
  };
  for (const Damage& d : damages) {
    SUBCASE(d.name) {
      TempDir dir;
      const std::string state = dir / "platform";
      REQUIRE(emulator::SaveNewPlatform(state, SeededPlatform(Product::kMilan)).ok());
      const std::string path = state + "/sev-nv.json";
      test::WriteText(path, d.text());
      std::filesystem::permissions(
          path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      const std::string before = test::ReadText(path);
      auto loaded = emulator::LoadPlatform(state);
      REQUIRE_FALSE(loaded.ok());
      CHECK(loaded.error().code() == ErrorCode::kCorrupt);
      const std::string msg = loaded.error().message();
      CAPTURE(msg);
      CHECK(msg.find(path + d.says) == 0);
      CHECK(msg.find('\n') == std::string::npos);
      CHECK(msg.find("PRIVATE KEY") == std::string::npos);  // no key text in messages
      CHECK(test::ReadText(path) == before);                // a failed load writes nothing
      // The parser alone (no CEK to check against) refuses all but the other chip's store.
      const bool needs_chip = std::string(d.name) == "a store from another chip";
      CHECK(emulator::ParseSevNvJson(before, "x").ok() == needs_chip);
    }
  }
}

}  // namespace sevemu::test
