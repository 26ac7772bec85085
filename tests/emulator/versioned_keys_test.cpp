// The rollback property of the versioned keys: firmware at TCB t derives every key at or below
// t (componentwise) and none other.
#include "sevemu/emulator/manufacturing/versioned_keys.h"

#include <doctest/doctest.h>

#include "emulator_fixture.h"
#include "sevemu/emulator/manufacturing/kds.h"

namespace sevemu::emulator {

namespace {
SecretBytes Root(std::uint8_t fill) {
  return SecretBytes(ByteSpan(Bytes(48, fill)));
}

TcbVersion Tcb(Product p, TcbParts parts) {
  auto t = TcbVersion::FromParts(p, parts);
  REQUIRE(t.ok());
  return *t;
}

// Every named component of a product, with a setter.
struct Component {
  const char* name;
  std::uint8_t TcbParts::*field;
};
constexpr Component kComponents[] = {{"fmc", &TcbParts::fmc},
                                     {"bl", &TcbParts::boot_loader},
                                     {"tee", &TcbParts::tee},
                                     {"snp", &TcbParts::snp},
                                     {"ucode", &TcbParts::microcode}};

crypto::PublicKey VcekPub(const HashSticks& s) {
  auto k = DeriveVcek(s);
  REQUIRE(k.ok());
  return k->Public();
}
}  // namespace

TEST_CASE("every component: derivation down works, up is refused") {
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    const TcbParts base{p == Product::kTurin ? std::uint8_t{5} : std::uint8_t{0}, 5, 5, 5, 100};
    const TcbVersion current = Tcb(p, base);
    auto sticks = HashSticks::FromRoot(Root(7), current);
    REQUIRE(sticks.ok());
    for (const Component& c : kComponents) {
      if (c.field == &TcbParts::fmc && p != Product::kTurin) continue;
      CAPTURE(Info(p).name);
      CAPTURE(c.name);
      TcbParts lower = base;
      lower.*c.field = static_cast<std::uint8_t>(base.*c.field - 2);
      TcbParts higher = base;
      higher.*c.field = static_cast<std::uint8_t>(base.*c.field + 1);

      // Down: the firmware's derivation equals what the boot ROM would hand firmware at that TCB.
      auto down = sticks->DeriveDown(Tcb(p, lower));
      REQUIRE(down.ok());
      auto direct = HashSticks::FromRoot(Root(7), Tcb(p, lower));
      CHECK(down->blob() == direct->blob());
      CHECK(VcekPub(*down) == VcekPub(*direct));
      CHECK_FALSE(VcekPub(*down) == VcekPub(*sticks));  // each TCB has its own key

      // Up: refused, by a typed error naming the rollback protection.
      auto up = sticks->DeriveDown(Tcb(p, higher));
      REQUIRE_FALSE(up.ok());
      CHECK(up.error().code() == ErrorCode::kRefused);
    }
  }
}

TEST_CASE("a TCB that is lower in one component and higher in another is refused") {
  const Product p = Product::kMilan;
  auto sticks = HashSticks::FromRoot(Root(3), Tcb(p, {0, 5, 5, 5, 100}));
  REQUIRE(sticks.ok());
  CHECK(sticks->DeriveDown(Tcb(p, {0, 4, 6, 5, 100})).error().code() == ErrorCode::kRefused);
  CHECK(sticks->DeriveDown(Tcb(p, {0, 0, 0, 0, 101})).error().code() == ErrorCode::kRefused);
  // Equal is "at or below".
  auto same = sticks->DeriveDown(sticks->tcb());
  REQUIRE(same.ok());
  CHECK(same->blob() == sticks->blob());
  // Other product's TCB: a typed error, not a wrong key.
  CHECK(sticks->DeriveDown(Tcb(Product::kTurin, {1, 1, 1, 1, 1})).error().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("derivation chains: two steps down equal one step") {
  const Product p = Product::kGenoa;
  auto top = HashSticks::FromRoot(Root(9), Tcb(p, {0, 10, 3, 23, 84}));
  auto mid = top->DeriveDown(Tcb(p, {0, 8, 3, 20, 80}));
  auto low_via_mid = mid->DeriveDown(Tcb(p, {0, 1, 0, 1, 1}));
  auto low_direct = top->DeriveDown(Tcb(p, {0, 1, 0, 1, 1}));
  REQUIRE(low_via_mid.ok());
  REQUIRE(low_direct.ok());
  CHECK(low_via_mid->blob() == low_direct->blob());
  // ...and after stepping down, the way back up is closed.
  CHECK(mid->DeriveDown(top->tcb()).error().code() == ErrorCode::kRefused);
}

TEST_CASE("different chips, different keys; sticks have the documented shape") {
  const TcbVersion t = DefaultTcb(Product::kMilan);
  auto a = HashSticks::FromRoot(Root(1), t);
  auto b = HashSticks::FromRoot(Root(2), t);
  CHECK_FALSE(VcekPub(*a) == VcekPub(*b));
  CHECK(a->blob().size() == kHashSticksBlobSize);
  CHECK(HashSticks::FromRoot(SecretBytes(ByteSpan(Bytes(32, 1))), t).error().code() ==
        ErrorCode::kInvalidArgument);
  CHECK(HashSticks::FromBlob(Bytes(100), t).error().code() == ErrorCode::kInvalidArgument);
}

TEST_CASE("VLEK wrap and unwrap: round trip and every refusal") {
  const Product p = Product::kMilan;
  const auto platform = test::SeededPlatform(p);
  const Kds kds(platform.root);
  const TcbVersion tcb = platform.state.reported_tcb;
  auto issue = kds.Vlek(platform.state.chip, platform.fuses, "CN=csp.example", tcb,
                        platform.state.manufactured_at);
  REQUIRE(issue.ok());
  REQUIRE(issue->wrapped.size() == kWrappedVlekSize);
  auto chip_sticks = BootRomSticks(platform)->DeriveDown(tcb);
  REQUIRE(chip_sticks.ok());

  SUBCASE("unwrapped VLEK is the key the ASVK certified") {
    auto sticks = UnwrapVlek(*chip_sticks, issue->wrapped);
    REQUIRE(sticks.ok());
    auto vlek = DeriveVlek(*sticks);
    REQUIRE(vlek.ok());
    CHECK(vlek->Public() == *issue->certificate.SubjectPublicKey());
  }
  SUBCASE("tcb_version other than the reported TCB is refused (BAD_SVN)") {
    auto other = chip_sticks->DeriveDown(Tcb(p, {0, 2, 0, 8, 115}));
    CHECK(UnwrapVlek(*other, issue->wrapped).error().code() == ErrorCode::kRefused);
  }
  SUBCASE("any tampered byte of IV, ciphertext, TCB-AAD or tag fails authentication") {
    for (std::size_t off : {std::size_t{0x000}, std::size_t{0x010}, std::size_t{0x18F},
                            std::size_t{0x198}, std::size_t{0x1A0}, std::size_t{0x1AF}}) {
      CAPTURE(off);
      Bytes bad = issue->wrapped;
      bad[off] ^= 0x01;
      CHECK(UnwrapVlek(*chip_sticks, bad).error().code() == ErrorCode::kAuthFailed);
    }
  }
  SUBCASE("a VLEK wrapped for another chip does not unwrap") {
    const auto other = test::SeededPlatform(p, 2);
    auto other_sticks = BootRomSticks(other)->DeriveDown(tcb);
    CHECK(UnwrapVlek(*other_sticks, issue->wrapped).error().code() == ErrorCode::kAuthFailed);
  }
  SUBCASE("wrong sizes") {
    CHECK(UnwrapVlek(*chip_sticks, Bytes(kWrappedVlekSize - 1)).error().code() ==
          ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("CEK is a function of the chip-unique key only") {
  auto a = DeriveCek(SecretBytes(ByteSpan(Bytes(32, 1))));
  auto a2 = DeriveCek(SecretBytes(ByteSpan(Bytes(32, 1))));
  auto b = DeriveCek(SecretBytes(ByteSpan(Bytes(32, 2))));
  REQUIRE(a.ok());
  CHECK(a->Public() == a2->Public());
  CHECK_FALSE(a->Public() == b->Public());
  CHECK(DeriveCek(SecretBytes(ByteSpan(Bytes(31, 1)))).error().code() ==
        ErrorCode::kInvalidArgument);
}

}  // namespace sevemu::emulator
