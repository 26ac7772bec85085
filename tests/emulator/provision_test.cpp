// Simulated manufacturing and the state directory: determinism, validation, and that bad or
// damaged state is reported by file and never overwrites what was good.
#include "sevemu/emulator/manufacturing/provision.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "emulator_fixture.h"
#include "sevemu/common/file_io.h"
#include "test_util.h"

namespace sevemu::emulator {

TEST_CASE("same seed, same chip: identity, fuses and keys; another seed, another chip") {
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    CAPTURE(Info(p).name);
    const Platform a = test::SeededPlatform(p, 0x42);
    const Platform b = test::SeededPlatform(p, 0x42);
    const Platform c = test::SeededPlatform(p, 0x43);
    CHECK(a.state.chip.chip_id == b.state.chip.chip_id);
    CHECK(a.fuses.hash_stick_root == b.fuses.hash_stick_root);
    CHECK(a.fuses.chip_unique_key == b.fuses.chip_unique_key);
    CHECK(PlatformJson(a.state) == PlatformJson(b.state));
    CHECK(FirmwareVcek(a)->Public() == FirmwareVcek(b)->Public());
    CHECK(DeriveCek(a.fuses.chip_unique_key)->Public() ==
          DeriveCek(b.fuses.chip_unique_key)->Public());
    CHECK_FALSE(a.state.chip.chip_id == c.state.chip.chip_id);
    CHECK_FALSE(FirmwareVcek(a)->Public() == FirmwareVcek(c)->Public());
    CHECK(a.state.deterministic);
    CHECK(a.state.manufactured_at == kSeededManufactureTime);
  }
}

TEST_CASE("provisioned platforms carry the product's identity and initial firmware") {
  const Platform milan = test::SeededPlatform(Product::kMilan);
  CHECK(milan.state.chip.cpuid_fms() == 0x00A00F10u);  // family 19h model 01h stepping 0
  CHECK(milan.state.current_tcb == DefaultTcb(Product::kMilan));
  CHECK(milan.state.committed_tcb == milan.state.current_tcb);
  CHECK(milan.state.reported_tcb == milan.state.current_tcb);
  CHECK(milan.state.current_fw == FirmwareVersion{1, 58, 1});  // the newest ABI (firmware_abi.h)
  CHECK(milan.state.committed_fw == milan.state.current_fw);
  CHECK(milan.state.current_tcb.raw() == 0x7308000000000003ull);  // ucode@7, snp@6, bl@0

  const Platform genoa = test::SeededPlatform(Product::kGenoa);
  CHECK(genoa.state.chip.cpuid_fms() == 0x00A10F11u);

  const Platform turin = test::SeededPlatform(Product::kTurin);
  CHECK(turin.state.chip.cpuid_fms() == 0x00B00F21u);  // family 1Ah model 02h
  // Turin: an 8-byte ID in the 64-byte field.
  CHECK(std::all_of(turin.state.chip.chip_id.begin() + 8, turin.state.chip.chip_id.end(),
                    [](std::uint8_t b) { return b == 0; }));
  CHECK(turin.state.current_tcb.raw() == 0x0900000002010101ull);  // fmc@0 bl@1 tee@2 snp@3
}

TEST_CASE("provisioning refuses bad options") {
  ProvisionOptions opts;
  opts.seed = Bytes{};
  CHECK(Provision(opts, test::TestRoot(Product::kMilan)).error().code() ==
        ErrorCode::kInvalidArgument);
  opts.seed = Bytes(65, 1);
  CHECK(Provision(opts, test::TestRoot(Product::kMilan)).error().code() ==
        ErrorCode::kInvalidArgument);
  opts.seed = Bytes{1};
  CHECK(Provision(opts, test::TestRoot(Product::kGenoa)).error().code() ==
        ErrorCode::kInvalidArgument);  // root of another product
  opts.stepping = 16;
  CHECK(Provision(opts, test::TestRoot(Product::kMilan)).error().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("TCB parsing and encoding") {
  auto t = ParseTcb(Product::kMilan, "bl=3,tee=0,snp=8,ucode=115");
  REQUIRE(t.ok());
  CHECK(t->raw() == 0x7308000000000003ull);
  CHECK(t->ToString() == "bl=3 tee=0 snp=8 ucode=115");
  CHECK(ParseTcb(Product::kTurin, "fmc=1,bl=2,tee=3,snp=4,ucode=5")->raw() ==
        0x0500000004030201ull);
  const char* bad[] = {"bl=3,tee=0,snp=8",
                       "bl=3,tee=0,snp=8,ucode=256",
                       "bl=x,tee=0,snp=8,ucode=1",
                       "bl=3,tee=0,snp=8,ucode=1,fmc=1",
                       "bl=3,bl=3,tee=0,snp=8,ucode=1",
                       "bl=200,tee=0,snp=8,ucode=1",
                       "foo=1"};
  for (const char* text : bad) {
    CAPTURE(text);
    CHECK(ParseTcb(Product::kMilan, text).error().code() == ErrorCode::kInvalidArgument);
  }
  CHECK(ParseTcb(Product::kTurin, "bl=3,tee=0,snp=8,ucode=1").error().code() ==
        ErrorCode::kInvalidArgument);  // Turin needs fmc
  CHECK(TcbVersion::FromRaw(Product::kMilan, 0x0000000100000000ull).error().code() ==
        ErrorCode::kInvalidArgument);  // a reserved byte set
}

TEST_CASE("state directory: save, load, refuse to overwrite, keep a backup") {
  test::TempDir dir;
  const std::string state = dir / "platform";
  Platform p = test::SeededPlatform(Product::kMilan);
  REQUIRE(SaveNewPlatform(state, p).ok());
  auto loaded = LoadPlatform(state);
  REQUIRE(loaded.ok());
  CHECK(PlatformJson(loaded->state) == PlatformJson(p.state));
  CHECK(loaded->fuses.hash_stick_root == p.fuses.hash_stick_root);
  CHECK(CheckPlatform(*loaded).ok());
  CHECK((std::filesystem::status(state + "/fuses.json").permissions() &
         std::filesystem::perms::others_read) == std::filesystem::perms::none);

  auto again = SaveNewPlatform(state, test::SeededPlatform(Product::kMilan, 9));
  CHECK(again.error().code() == ErrorCode::kAlreadyExists);
  CHECK(PlatformJson(LoadPlatform(state)->state) == PlatformJson(p.state));  // untouched

  p.state.mask_chip_id = true;
  REQUIRE(SavePlatformState(state, p.state).ok());
  CHECK(LoadPlatform(state)->state.mask_chip_id);
  CHECK(test::ReadText(state + "/platform.json.bak").find("\"mask_chip_id\": false") !=
        std::string::npos);

  // An inconsistent state is refused before it reaches the disk.
  PlatformState bad = p.state;
  bad.reported_tcb = *TcbVersion::FromParts(Product::kMilan, {0, 9, 0, 8, 115});
  CHECK_FALSE(SavePlatformState(state, bad).ok());
  CHECK(LoadPlatform(state)->state.mask_chip_id);
}

TEST_CASE("damaged state files: a one-line error naming the file, nothing changed") {
  struct Damage {
    const char* name;
    const char* file;
    std::string (*spoil)(const std::string&);
  };
  const Damage damages[] = {
      {"truncated platform.json", "platform.json",
       [](const std::string& s) { return s.substr(0, s.size() / 2); }},
      {"empty platform.json", "platform.json", [](const std::string&) { return std::string(); }},
      {"binary garbage", "platform.json",
       [](const std::string&) { return std::string("\x01\xff\x00", 3); }},
      {"wrong format tag", "platform.json",
       [](const std::string& s) {
         auto t = s;
         t.replace(t.find("sevemu-platform"), 15, "something-else!");
         return t;
       }},
      {"chip_id too short", "platform.json",
       [](const std::string& s) {
         auto t = s;
         t.replace(t.find("\"chip_id\": \"") + 12, 2, "");
         return t;
       }},
      {"TCB out of order", "platform.json",
       [](const std::string& s) {
         auto t = s;
         t.replace(t.rfind("\"bl\": 3"), 7, "\"bl\": 9");  // reported above committed
         return t;
       }},
      {"unknown product", "platform.json",
       [](const std::string& s) {
         auto t = s;
         t.replace(t.find("\"Milan\""), 7, "\"Naples\"");
         return t;
       }},
      {"truncated fuses.json", "fuses.json", [](const std::string& s) { return s.substr(0, 40); }},
      {"short hash stick root", "fuses.json",
       [](const std::string& s) {
         auto t = s;
         t.replace(t.find("\"hash_stick_root\": \"") + 20, 4, "");
         return t;
       }},
      {"damaged ASK certificate", "amd/ask.pem",
       [](const std::string& s) {
         auto t = s;
         t[t.size() / 2] = t[t.size() / 2] == 'A' ? 'B' : 'A';
         return t;
       }},
      {"ASK key swapped for the ARK's", "amd/ask.key", nullptr},
      {"missing kds.json", "amd/kds.json", nullptr},
  };
  for (const Damage& d : damages) {
    SUBCASE(d.name) {
      test::TempDir dir;
      const std::string state = dir / "platform";
      REQUIRE(SaveNewPlatform(state, test::SeededPlatform(Product::kMilan)).ok());
      const std::string path = state + "/" + d.file;
      if (std::string(d.name) == "missing kds.json") {
        std::filesystem::remove(path);
      } else if (d.spoil == nullptr) {
        std::filesystem::copy_file(state + "/amd/ark.key", path,
                                   std::filesystem::copy_options::overwrite_existing);
      } else {
        test::WriteText(path, d.spoil(test::ReadText(path)));
      }
      const std::string before = test::ReadText(path);
      auto loaded = LoadPlatform(state);
      REQUIRE_FALSE(loaded.ok());
      const std::string msg = loaded.error().message();
      CAPTURE(msg);
      CHECK(msg.find(std::filesystem::path(d.file).filename().string()) != std::string::npos);
      CHECK(msg.find('\n') == std::string::npos);
      CHECK(test::ReadText(path) == before);  // a failed load writes nothing
    }
  }
}

TEST_CASE("a directory without platform.json is not a platform") {
  test::TempDir dir;
  auto loaded = LoadPlatform(dir.path());
  CHECK(loaded.error().code() == ErrorCode::kNotFound);
  CHECK(loaded.error().message().find("provision") != std::string::npos);
}

TEST_CASE("certificate export writes the chain in KDS order") {
  test::TempDir dir;
  const Platform p = test::SeededPlatform(Product::kMilan);
  REQUIRE(ExportCertificates(p, dir / "out").ok());
  auto chain = crypto::Certificate::AllFromPem(test::ReadText(dir / "out/cert_chain.pem"));
  REQUIRE(chain.ok());
  REQUIRE(chain->size() == 2);
  CHECK((*chain)[0].SubjectCommonName() == "SEV-Milan");  // ASK first,
  CHECK((*chain)[1].SubjectCommonName() == "ARK-Milan");  // then ARK
  auto pem = crypto::Certificate::FromPem(test::ReadText(dir / "out/vcek.pem"));
  auto der_text = test::ReadText(dir / "out/vcek.der");
  auto der = crypto::Certificate::FromDer(AsBytes(der_text));
  REQUIRE(pem.ok());
  REQUIRE(der.ok());
  CHECK(*pem->ToDer() == *der->ToDer());
  CHECK(*pem->SubjectPublicKey() == FirmwareVcek(p)->Public());
}

}  // namespace sevemu::emulator
