// Known answers for the legacy SEV channel (fixtures/kat/sev_channel.json; each vector names the
// public tool test it comes from), checked on both sides: the firmware's functions
// (emulator/sev/sev_channel.h) and the guest owner's (owner/launch_session.h).
#include <doctest/doctest.h>

#include <cstring>

#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/owner/launch_session.h"
#include "test_util.h"

namespace sevemu::emulator {
using test::Hex;

namespace {
const nlohmann::json& Vectors() {
  static const nlohmann::json v = test::LoadJsonFixture("kat/sev_channel.json");
  return v;
}
Bytes ToBytes(const SecretBytes& s) {
  return Bytes(s.data(), s.data() + s.size());
}
template <std::size_t N>
Bytes ToBytes(const std::array<std::uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}
template <std::size_t N>
std::array<std::uint8_t, N> Arr(const nlohmann::json& hex) {
  const Bytes b = Hex(hex.get<std::string>());
  REQUIRE(b.size() == N);
  std::array<std::uint8_t, N> out{};
  std::memcpy(out.data(), b.data(), N);
  return out;
}
SecretBytes Secret(const nlohmann::json& hex) {
  return SecretBytes(Hex(hex.get<std::string>()));
}
}  // namespace

TEST_CASE("every sev_channel vector names its source") {
  for (const char* group : {"master_secret", "session", "measurement"}) {
    REQUIRE_FALSE(Vectors()[group].empty());
    for (const auto& v : Vectors()[group]) CHECK_FALSE(v["source"].get<std::string>().empty());
  }
}

TEST_CASE("master secret KDF known answer (virtee/sev key.rs)") {
  for (const auto& v : Vectors()["master_secret"]) {
    CAPTURE(v["source"].get<std::string>());
    auto m = DeriveSevMasterSecret(Secret(v["z"]), Hex(v["nonce"].get<std::string>()));
    REQUIRE(m.ok());
    CHECK(ToBytes(*m) == Hex(v["master_secret"].get<std::string>()));
  }
}

TEST_CASE("session wrap/unwrap known answer (virtee/sev session/mod.rs)") {
  for (const auto& v : Vectors()["session"]) {
    CAPTURE(v["source"].get<std::string>());
    const auto nonce = Arr<kSevNonceSize>(v["nonce"]);
    const auto iv = Arr<kSevIvSize>(v["wrap_iv"]);
    const std::uint32_t policy = v["policy"].get<std::uint32_t>();
    auto master = DeriveSevMasterSecret(Secret(v["z"]), nonce);
    REQUIRE(master.ok());

    // The owner's direction: wrap.
    SevTransportKeys keys{Secret(v["tek"]), Secret(v["tik"])};
    auto s = MakeSevSession(*master, nonce, iv, keys, policy);
    REQUIRE(s.ok());
    CHECK(ToBytes(s->wrap_tk) == Hex(v["wrap_tk"].get<std::string>()));
    CHECK(ToBytes(s->wrap_mac) == Hex(v["wrap_mac"].get<std::string>()));
    CHECK(ToBytes(s->policy_mac) == Hex(v["policy_mac"].get<std::string>()));

    // The firmware's direction, from the published bytes: WRAP_MAC, unwrap, POLICY_MAC.
    SevSession pub;
    pub.nonce = nonce;
    pub.wrap_iv = iv;
    pub.wrap_tk = Arr<32>(v["wrap_tk"]);
    pub.wrap_mac = Arr<kSevMacSize>(v["wrap_mac"]);
    pub.policy_mac = Arr<kSevMacSize>(v["policy_mac"]);
    auto wk = DeriveSevWrapKeys(*master);
    REQUIRE(wk.ok());
    CHECK(CheckSevWrapMac(wk->kik, pub).ok());
    auto got = UnwrapSevTransportKeys(wk->kek, pub);
    REQUIRE(got.ok());
    CHECK(got->tek == keys.tek);
    CHECK(got->tik == keys.tik);
    CHECK(CheckSevPolicyMac(got->tik, policy, pub.policy_mac).ok());
  }
}

TEST_CASE("launch measurement known answer (sev-tool tests.cpp, virtee session/mod.rs)") {
  for (const auto& v : Vectors()["measurement"]) {
    CAPTURE(v["source"].get<std::string>());
    const SevApiVersion api{v["api_major"].get<std::uint8_t>(), v["api_minor"].get<std::uint8_t>(),
                            v["build"].get<std::uint8_t>()};
    const auto digest = Arr<kSevDigestSize>(v["launch_digest"]);
    const auto mnonce = Arr<kSevNonceSize>(v["mnonce"]);
    const auto policy = v["policy"].get<std::uint32_t>();
    const SecretBytes tik = Secret(v["tik"]);
    auto m = ComputeSevMeasurement(tik, api, policy, digest, mnonce);
    REQUIRE(m.ok());
    CHECK(ToBytes(*m) == Hex(v["measurement"].get<std::string>()));

    // The owner accepts the published measurement and refuses it with one bit flipped.
    const SevTransportKeys keys{SecretBytes(kSevKeySize), tik};
    SevMeasureOut out{Arr<kSevMacSize>(v["measurement"]), mnonce};
    CHECK(owner::VerifyMeasurement(keys, api, policy, digest, out).ok());
    out.measurement[31] ^= 0x01;
    auto bad = owner::VerifyMeasurement(keys, api, policy, digest, out);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code() == ErrorCode::kAuthFailed);
    // The launch digest in the vector is SHA-256 of nothing measured.
    auto empty = owner::LegacyLaunchDigest({});
    REQUIRE(empty.ok());
    CHECK(*empty == digest);
  }
}

}  // namespace sevemu::emulator
