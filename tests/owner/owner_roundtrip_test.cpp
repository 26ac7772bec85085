// Guest owner -> firmware round trips over the legacy SEV channel: a session the owner makes is
// accepted by the firmware's LAUNCH_START crypto, every single-bit tamper is refused with the
// status the firmware answers, measurements agree, secrets decrypt, reports verify.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sevemu/crypto/ecdsa_digest.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/emulator/sev/sev_channel.h"
#include "sevemu/owner/godh_cert.h"
#include "sevemu/owner/launch_session.h"
#include "test_util.h"

namespace sevemu::owner {
using emulator::FwStatus;
using emulator::SevApiVersion;
using emulator::SevSession;

namespace {

constexpr SevApiVersion kApi{0, 24, 15};  // a Milan-era legacy API version
constexpr std::uint32_t kPolicy = emulator::sev_policy::kNoDbg | emulator::sev_policy::kNoKs;

crypto::PrivateKey NewP384() {
  auto k = crypto::PrivateKey::GenerateEcP384();
  REQUIRE(k.ok());
  return *k;
}

// The crypto of LAUNCH_START in the firmware's order (AMD-ASPFW sev_mcmd_launch_start:
// sev_channel_open_server, then sev_guest_verify_policy), mapped to the status it answers.
struct FwLaunchStart {
  FwStatus status = FwStatus::kSuccess;
  std::optional<emulator::SevTransportKeys> keys;
};
FwLaunchStart FirmwareLaunchStart(const crypto::PrivateKey& pdh, ByteSpan dh_cert,
                                  ByteSpan session_bytes, std::uint32_t policy) {
  auto godh = DecodeGodhCertificate(dh_cert);
  if (!godh) return {FwStatus::kInvalidCertificate, {}};
  auto session = emulator::ParseSevSession(session_bytes);
  if (!session) return {FwStatus::kInvalidLength, {}};
  auto keys = emulator::OpenSevSession(pdh, *godh, *session);
  if (!keys) {
    return {keys.error().code() == ErrorCode::kAuthFailed ? emulator::kSevWrapMacStatus
                                                          : FwStatus::kInvalidCertificate,
            {}};
  }
  if (!emulator::CheckSevPolicyMac(keys->tik, policy, session->policy_mac)) {
    return {emulator::kSevPolicyMacStatus, {}};
  }
  return {FwStatus::kSuccess, std::move(keys).value()};
}

}  // namespace

TEST_CASE("the firmware accepts the owner's session and recovers its TEK and TIK") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), kPolicy);
  REQUIRE(ls.ok());
  CHECK(ls->keys.tek.size() == 16);
  CHECK(ls->keys.tik.size() == 16);
  CHECK_FALSE(ls->keys.tek == ls->keys.tik);
  const auto fw = FirmwareLaunchStart(pdh, ls->godh_cert, ls->SessionBytes(), kPolicy);
  REQUIRE(fw.status == FwStatus::kSuccess);
  CHECK(fw.keys->tek == ls->keys.tek);
  CHECK(fw.keys->tik == ls->keys.tik);
  // Two sessions never share keys, nonce or IV.
  auto other = MakeLaunchSession(pdh.Public(), kPolicy);
  REQUIRE(other.ok());
  CHECK_FALSE(other->keys.tek == ls->keys.tek);
  CHECK(other->session.nonce != ls->session.nonce);
  CHECK(other->session.wrap_iv != ls->session.wrap_iv);
  CHECK(other->godh_cert != ls->godh_cert);
}

TEST_CASE("LAUNCH_START refuses a session with one bit flipped, with the firmware's status") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), kPolicy);
  REQUIRE(ls.ok());
  struct Row {
    const char* rule;
    std::size_t offset;  // into the session blob; SIZE_MAX: flip the policy instead
    FwStatus want;
  };
  const Row rows[] = {
      {"nonce bit (master secret changes, WRAP_MAC fails)", 0x00, FwStatus::kBadMeasurement},
      {"wrap_tk first byte", 0x10, FwStatus::kBadMeasurement},
      {"wrap_tk last byte", 0x2F, FwStatus::kBadMeasurement},
      // WRAP_MAC does not cover the IV: the keys unwrap wrongly and POLICY_MAC then fails.
      {"wrap_iv bit (wrong TIK, POLICY_MAC fails)", 0x30, emulator::kSevPolicyMacStatus},
      {"wrap_mac first byte", 0x40, FwStatus::kBadMeasurement},
      {"wrap_mac last byte", 0x5F, FwStatus::kBadMeasurement},
      {"policy_mac first byte", 0x60, emulator::kSevPolicyMacStatus},
      {"policy_mac last byte", 0x7F, emulator::kSevPolicyMacStatus},
      {"policy differs from the MACed one", SIZE_MAX, emulator::kSevPolicyMacStatus},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      auto bytes = ls->SessionBytes();
      std::uint32_t policy = kPolicy;
      if (r.offset == SIZE_MAX) {
        policy ^= emulator::sev_policy::kEs;
      } else {
        bytes[r.offset] ^= 0x01;
      }
      const auto fw = FirmwareLaunchStart(pdh, ls->godh_cert, bytes, policy);
      CHECK(fw.status == r.want);
      CHECK_FALSE(fw.keys.has_value());
    }
  }
  SUBCASE("every single bit of wrap_tk and wrap_mac") {
    for (std::size_t off = 0x10; off < 0x60; ++off) {
      if (off >= 0x30 && off < 0x40) continue;  // the IV, above
      for (int bit = 0; bit < 8; ++bit) {
        auto bytes = ls->SessionBytes();
        bytes[off] ^= static_cast<std::uint8_t>(1u << bit);
        auto s = emulator::ParseSevSession(bytes);
        REQUIRE(s.ok());
        auto godh = DecodeGodhCertificate(ls->godh_cert);
        REQUIRE(godh.ok());
        auto keys = emulator::OpenSevSession(pdh, *godh, *s);
        REQUIRE_FALSE(keys.ok());
        CHECK(keys.error().code() == ErrorCode::kAuthFailed);
      }
    }
  }
  SUBCASE("another platform's PDH") {
    const auto fw = FirmwareLaunchStart(NewP384(), ls->godh_cert, ls->SessionBytes(), kPolicy);
    CHECK(fw.status == FwStatus::kBadMeasurement);
  }
  SUBCASE("a GODH certificate with a different key") {
    auto cert = EncodeGodhCertificate(NewP384().Public());
    REQUIRE(cert.ok());
    CHECK(FirmwareLaunchStart(pdh, *cert, ls->SessionBytes(), kPolicy).status ==
          FwStatus::kBadMeasurement);
  }
}

TEST_CASE("MAC failures name the check and carry no key material") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), kPolicy);
  REQUIRE(ls.ok());
  auto s = ls->session;
  s.wrap_mac[0] ^= 1;
  auto godh = DecodeGodhCertificate(ls->godh_cert);
  REQUIRE(godh.ok());
  auto r = emulator::OpenSevSession(pdh, *godh, s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("WRAP_MAC") != std::string::npos);
  auto p = emulator::CheckSevPolicyMac(ls->keys.tik, kPolicy ^ 1, ls->session.policy_mac);
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().message().find("POLICY_MAC") != std::string::npos);
  const std::string tik_hex = HexEncode(ls->keys.tik.span());
  CHECK(r.error().message().find(tik_hex) == std::string::npos);
  CHECK(p.error().message().find(tik_hex) == std::string::npos);
}

TEST_CASE("measurement, secret and attestation: a whole legacy launch from the owner's side") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), kPolicy);
  REQUIRE(ls.ok());
  auto fw = FirmwareLaunchStart(pdh, ls->godh_cert, ls->SessionBytes(), kPolicy);
  REQUIRE(fw.status == FwStatus::kSuccess);

  // LAUNCH_UPDATE_DATA of two pieces; the owner predicts the digest from the same plaintext.
  const Bytes ovmf(4096, 0xAB), vmsa(4096, 0x5C);
  const std::vector<ByteSpan> pieces{ovmf, vmsa};
  auto digest = LegacyLaunchDigest(pieces);
  REQUIRE(digest.ok());
  Bytes all(ovmf);
  all.insert(all.end(), vmsa.begin(), vmsa.end());
  CHECK(Bytes(digest->begin(), digest->end()) == *crypto::Sha256(all));

  // LAUNCH_MEASURE on the firmware side with the TIK it unwrapped.
  emulator::SevMeasureOut out;
  out.mnonce.fill(0x42);
  auto m = emulator::ComputeSevMeasurement(fw.keys->tik, kApi, kPolicy, *digest, out.mnonce);
  REQUIRE(m.ok());
  out.measurement = *m;
  auto wire = emulator::SerializeSevMeasureOut(out);
  auto parsed = emulator::ParseSevMeasureOut(wire);
  REQUIRE(parsed.ok());
  CHECK(VerifyMeasurement(ls->keys, kApi, kPolicy, *digest, *parsed).ok());
  SUBCASE("a different build, policy, digest or mnonce is refused") {
    SevApiVersion other_build = kApi;
    other_build.build ^= 1;
    CHECK(VerifyMeasurement(ls->keys, other_build, kPolicy, *digest, *parsed).error().code() ==
          ErrorCode::kAuthFailed);
    CHECK_FALSE(VerifyMeasurement(ls->keys, kApi, kPolicy ^ 1, *digest, *parsed).ok());
    auto d2 = *digest;
    d2[0] ^= 1;
    CHECK_FALSE(VerifyMeasurement(ls->keys, kApi, kPolicy, d2, *parsed).ok());
    auto p2 = *parsed;
    p2.mnonce[15] ^= 0x80;
    CHECK_FALSE(VerifyMeasurement(ls->keys, kApi, kPolicy, *digest, p2).ok());
  }

  // LAUNCH_SECRET: the owner packages, the firmware checks and decrypts.
  SecretBytes secret(AsBytes("disk passphrase: correct horse battery staple......"));
  secret = SecretBytes(ByteSpan(secret.data(), 48));
  auto pkt = PackageLaunchSecret(ls->keys, kApi, out.measurement, secret);
  REQUIRE(pkt.ok());
  CHECK(pkt->ciphertext.size() == secret.size());
  CHECK(Bytes(pkt->ciphertext) != Bytes(secret.data(), secret.data() + secret.size()));
  const auto hdr_bytes = pkt->HeaderBytes();
  auto hdr = emulator::ParseSevPacketHeader(hdr_bytes);
  REQUIRE(hdr.ok());
  CHECK(*hdr == pkt->header);
  const auto guest_len = static_cast<std::uint32_t>(pkt->ciphertext.size());
  auto plain =
      emulator::OpenSevLaunchSecret(*fw.keys, *hdr, guest_len, pkt->ciphertext, out.measurement);
  REQUIRE(plain.ok());
  CHECK(*plain == secret);

  SUBCASE("tampered packets are refused (BAD_MEASUREMENT)") {
    struct Row {
      const char* rule;
      void (*spoil)(emulator::SevPacketHeader&, Bytes&, std::uint32_t&, emulator::SevMac&);
    };
    const Row rows[] = {
        {"mac bit", [](auto& h, auto&, auto&, auto&) { h.mac[0] ^= 1; }},
        {"iv bit", [](auto& h, auto&, auto&, auto&) { h.iv[7] ^= 1; }},
        {"flags bit", [](auto& h, auto&, auto&, auto&) { h.flags ^= 2; }},
        {"ciphertext bit", [](auto&, auto& c, auto&, auto&) { c[20] ^= 1; }},
        {"guest_len", [](auto&, auto&, auto& g, auto&) { g += 16; }},
        {"measurement", [](auto&, auto&, auto&, auto& mac) { mac[3] ^= 1; }},
    };
    for (const Row& r : rows) {
      CAPTURE(r.rule);
      auto h = *hdr;
      Bytes c = pkt->ciphertext;
      std::uint32_t g = guest_len;
      emulator::SevMac meas = out.measurement;
      r.spoil(h, c, g, meas);
      auto got = emulator::OpenSevLaunchSecret(*fw.keys, h, g, c, meas);
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().code() == ErrorCode::kAuthFailed);
      CHECK(emulator::kSevSecretMacStatus == FwStatus::kBadMeasurement);
    }
  }

  // ATTESTATION: the firmware signs with its PEK, the owner verifies.
  const auto pek = NewP384();
  emulator::SevAttestationReport rep;
  rep.mnonce.fill(0x17);
  rep.launch_digest = *digest;
  rep.policy = kPolicy;
  REQUIRE(emulator::SignSevAttestationReport(rep, pek).ok());
  const auto rep_bytes = emulator::EncodeSevAttestationReport(rep);
  AttestationExpectations expect{rep.mnonce, *digest, kPolicy};
  auto verified = VerifyLegacyAttestationReport(rep_bytes, pek.Public(), expect);
  REQUIRE(verified.ok());
  CHECK(verified->policy == kPolicy);
  SUBCASE("tampered or foreign reports are refused") {
    for (std::size_t off : {std::size_t{0x00}, std::size_t{0x1F}, std::size_t{0x30},
                            std::size_t{0x40}, std::size_t{0x90}}) {
      CAPTURE(off);
      auto b = rep_bytes;
      b[off] ^= 0x01;
      auto bad = VerifyLegacyAttestationReport(b, pek.Public());
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.error().code() == ErrorCode::kAuthFailed);
    }
    CHECK(VerifyLegacyAttestationReport(rep_bytes, NewP384().Public()).error().code() ==
          ErrorCode::kAuthFailed);
    AttestationExpectations wrong_nonce = expect;
    wrong_nonce.mnonce->fill(0x18);
    CHECK(VerifyLegacyAttestationReport(rep_bytes, pek.Public(), wrong_nonce).error().code() ==
          ErrorCode::kRefused);
    CHECK(VerifyLegacyAttestationReport(ByteSpan(rep_bytes).first(0xCF), pek.Public())
              .error()
              .code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("secrets for API < 0.17 omit the measurement from the MAC") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), 0);
  REQUIRE(ls.ok());
  const SevApiVersion old_api{0, 16, 1};
  emulator::SevMac meas{};
  meas.fill(0x99);
  const SecretBytes secret(Bytes(32, 0x33));
  auto pkt = PackageLaunchSecret(ls->keys, old_api, meas, secret);
  REQUIRE(pkt.ok());
  CHECK(
      emulator::OpenSevLaunchSecret(ls->keys, pkt->header, 32, pkt->ciphertext, std::nullopt).ok());
  CHECK_FALSE(emulator::OpenSevLaunchSecret(ls->keys, pkt->header, 32, pkt->ciphertext, meas).ok());
  // And the measurement drops the 0x04 ‖ version ‖ build prefix.
  const emulator::SevDigest d{};
  const emulator::SevNonce n{};
  auto m_old = emulator::ComputeSevMeasurement(ls->keys.tik, old_api, 0, d, n);
  auto m_new = emulator::ComputeSevMeasurement(ls->keys.tik, SevApiVersion{0, 17, 1}, 0, d, n);
  auto m_old2 = emulator::ComputeSevMeasurement(ls->keys.tik, SevApiVersion{0, 3, 9}, 0, d, n);
  REQUIRE((m_old.ok() && m_new.ok() && m_old2.ok()));
  CHECK(*m_old != *m_new);
  CHECK(*m_old == *m_old2);  // the version is not in the pre-0.17 input
  Bytes in(4 + 32 + 16, 0);
  auto direct = crypto::Hmac(crypto::HashAlg::kSha256, ls->keys.tik.span(), in);
  REQUIRE(direct.ok());
  CHECK(Bytes(m_old->begin(), m_old->end()) == Bytes(direct->data(), direct->data() + 32));
}

TEST_CASE("PackageLaunchSecret refuses lengths LAUNCH_SECRET cannot take") {
  const auto pdh = NewP384();
  auto ls = MakeLaunchSession(pdh.Public(), 0);
  REQUIRE(ls.ok());
  const emulator::SevMac meas{};
  for (std::size_t n : {std::size_t{0}, std::size_t{9}, std::size_t{17}}) {
    CAPTURE(n);
    auto p = PackageLaunchSecret(ls->keys, kApi, meas, SecretBytes(n));
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("attestation reports signed with ECDSA-SHA384 verify, and agree with SignEcdsaSha384") {
  const auto pek = NewP384();
  emulator::SevAttestationReport rep;
  rep.sig_algo = emulator::kSevReportAlgoEcdsaSha384;
  rep.policy = 0x00110001;
  REQUIRE(emulator::SignSevAttestationReport(rep, pek).ok());
  const auto bytes = emulator::EncodeSevAttestationReport(rep);
  CHECK(VerifyLegacyAttestationReport(bytes, pek.Public()).ok());
  // Cross-check the digest-selecting wrapper with the existing SHA-384 path.
  auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(rep.sig);
  REQUIRE(sig.ok());
  CHECK(pek.Public().VerifyEcdsaSha384(emulator::SevAttestationSignedRegion(bytes), *sig).ok());
  // A SHA-256 report does not verify as SHA-384.
  rep.sig_algo = emulator::kSevReportAlgoEcdsaSha256;
  REQUIRE(emulator::SignSevAttestationReport(rep, pek).ok());
  auto sig256 = crypto::EcdsaP384Signature::FromFirmwareLayout(rep.sig);
  REQUIRE(sig256.ok());
  const auto b256 = emulator::EncodeSevAttestationReport(rep);
  CHECK_FALSE(
      pek.Public().VerifyEcdsaSha384(emulator::SevAttestationSignedRegion(b256), *sig256).ok());
  CHECK(crypto::VerifyEcdsaP384(pek.Public(), crypto::HashAlg::kSha256,
                                emulator::SevAttestationSignedRegion(b256), *sig256)
            .ok());
  // Unknown algorithms and non-PEK usages are refused, not guessed.
  rep.sig_algo = 0x001;
  CHECK(emulator::SignSevAttestationReport(rep, pek).error().code() == ErrorCode::kInvalidArgument);
  rep.sig_algo = emulator::kSevReportAlgoEcdsaSha256;
  rep.sig_usage = 0x1001;
  CHECK(emulator::VerifySevAttestationReport(rep, pek.Public()).error().code() ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("legacy attestation report layout") {
  emulator::SevAttestationReport rep;
  rep.mnonce.fill(0x01);
  rep.launch_digest.fill(0x02);
  rep.policy = 0x11223344;
  rep.sig.fill(0x05);
  const auto b = emulator::EncodeSevAttestationReport(rep);
  CHECK(b.size() == 0xD0);
  CHECK(b[0x0F] == 0x01);
  CHECK(b[0x10] == 0x02);
  CHECK(b[0x2F] == 0x02);
  CHECK(LoadLe32(b.data() + 0x30) == 0x11223344);
  CHECK(LoadLe32(b.data() + 0x34) == 0x1002);
  CHECK(LoadLe32(b.data() + 0x38) == 0x002);
  CHECK(LoadLe32(b.data() + 0x3C) == 0);
  CHECK(b[0x40] == 0x05);
  CHECK(b[0xCF] == 0x05);
  CHECK(emulator::SevAttestationSignedRegion(b).size() == 0x34);
  auto back = emulator::ParseSevAttestationReport(b);
  REQUIRE(back.ok());
  CHECK(emulator::EncodeSevAttestationReport(*back) == b);
}

TEST_CASE("session and packet header parsers take exactly their sizes") {
  CHECK(emulator::ParseSevSession(Bytes(0x7F)).error().code() == ErrorCode::kInvalidArgument);
  CHECK(emulator::ParseSevSession(Bytes(0x81)).error().code() == ErrorCode::kInvalidArgument);
  CHECK(emulator::ParseSevPacketHeader(Bytes(0x33)).error().code() == ErrorCode::kInvalidArgument);
  CHECK(emulator::ParseSevPacketHeader(Bytes(0x35)).error().code() == ErrorCode::kInvalidArgument);
  CHECK_FALSE(emulator::ParseSevMeasureOut(Bytes(0x2F)).ok());
  Bytes s(0x80);
  CHECK(emulator::ParseSevSession(Bytes(0x90)).error().code() == ErrorCode::kInvalidArgument);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
  auto p = emulator::ParseSevSession(s);
  REQUIRE(p.ok());
  CHECK(p->nonce[0] == 0x00);
  CHECK(p->wrap_tk[0] == 0x10);
  CHECK(p->wrap_iv[0] == 0x30);
  CHECK(p->wrap_mac[0] == 0x40);
  CHECK(p->policy_mac[0] == 0x60);
  auto back = emulator::SerializeSevSession(*p);
  CHECK(Bytes(back.begin(), back.end()) == s);
  Bytes h(0x34);
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(i);
  auto ph = emulator::ParseSevPacketHeader(h);
  REQUIRE(ph.ok());
  CHECK(ph->flags == 0x03020100u);
  CHECK(ph->iv[0] == 0x04);
  CHECK(ph->mac[0] == 0x14);
  auto hb = emulator::SerializeSevPacketHeader(*ph);
  CHECK(Bytes(hb.begin(), hb.end()) == h);
}

TEST_CASE("legacy policy: typed fields and LAUNCH_START's rules") {
  using namespace emulator::sev_policy;
  auto p = emulator::ParseSevPolicy(kNoDbg | kEs | kSev | (0x01u << 16) | (0x02u << 24));
  REQUIRE(p.ok());
  CHECK(p->nodbg);
  CHECK_FALSE(p->noks);
  CHECK(p->es);
  CHECK_FALSE(p->nosend);
  CHECK_FALSE(p->domain);
  CHECK(p->sev);
  CHECK(p->api_major == 1);
  CHECK(p->api_minor == 2);
  CHECK(p->ToU32() == (kNoDbg | kEs | kSev | (0x01u << 16) | (0x02u << 24)));
  for (std::uint32_t bit = 6; bit < 16; ++bit) {
    CAPTURE(bit);
    CHECK(emulator::ParseSevPolicy(1u << bit).error().code() == ErrorCode::kInvalidArgument);
  }
  for (std::uint32_t v : {0u, 0x3Fu, 0xFFFF003Fu}) {
    auto q = emulator::ParseSevPolicy(v);
    REQUIRE(q.ok());
    CHECK(q->ToU32() == v);
  }

  const SevApiVersion fw{0, 24, 1};
  struct Row {
    const char* rule;
    std::uint32_t policy;
    std::optional<emulator::SevPolicyRule> want;
  };
  const Row rows[] = {
      {"all flags, no minimum", 0x3F, std::nullopt},
      {"minimum equal to the firmware", (0u << 16) | (24u << 24), std::nullopt},
      {"minimum minor above", (0u << 16) | (25u << 24), emulator::SevPolicyRule::kApiTooNew},
      {"minimum major above", (1u << 16), emulator::SevPolicyRule::kApiTooNew},
      {"reserved bit 6", 1u << 6, emulator::SevPolicyRule::kReservedBits},
      {"reserved bit 15", 1u << 15, emulator::SevPolicyRule::kReservedBits},
      {"API checked before reserved bits", (1u << 16) | (1u << 6),
       emulator::SevPolicyRule::kApiTooNew},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      CHECK(emulator::CheckSevPolicy(r.policy, fw) == r.want);
    }
  }
  CHECK(std::string(emulator::SevPolicyRuleName(emulator::SevPolicyRule::kReservedBits)).size() >
        0);
}

TEST_CASE("GODH certificate: the SEV certificate fields sev-tool and virtee send") {
  const auto godh = NewP384();
  auto c = EncodeGodhCertificate(godh.Public(), 0, 24);
  REQUIRE(c.ok());
  const auto& b = *c;
  CHECK(b.size() == 0x824);
  CHECK(LoadLe32(b.data() + 0x000) == 1);       // version
  CHECK(b[0x004] == 0);                         // api_major
  CHECK(b[0x005] == 24);                        // api_minor
  CHECK(LoadLe32(b.data() + 0x008) == 0x1003);  // usage PDH
  CHECK(LoadLe32(b.data() + 0x00C) == 0x003);   // ECDH-SHA256
  CHECK(LoadLe32(b.data() + 0x010) == 2);       // curve P-384
  CHECK(LoadLe32(b.data() + 0x414) == 0x1000);  // sig1 empty
  CHECK(LoadLe32(b.data() + 0x418) == 0);
  CHECK(LoadLe32(b.data() + 0x61C) == 0x1000);  // sig2 empty
  CHECK(LoadLe32(b.data() + 0x620) == 0);
  auto q = godh.Public().EcP384Point();
  REQUIRE(q.ok());
  CHECK(b[0x014] == q->x[47]);  // qx little-endian at 0x10 + 4
  CHECK(b[0x014 + 47] == q->x[0]);
  CHECK(b[0x05C] == q->y[47]);  // qy at 0x10 + 0x4C
  auto back = DecodeGodhCertificate(b);
  REQUIRE(back.ok());
  CHECK(*back == godh.Public());

  struct Row {
    const char* rule;
    std::size_t off;
    std::uint8_t xor_mask;
    ErrorCode want;
  };
  const Row rows[] = {
      {"version", 0x000, 0x02, ErrorCode::kInvalidArgument},
      {"usage", 0x008, 0x01, ErrorCode::kInvalidArgument},
      {"algorithm", 0x00C, 0x08, ErrorCode::kInvalidArgument},
      {"curve", 0x010, 0x03, ErrorCode::kInvalidArgument},
      {"qx beyond 384 bits", 0x014 + 48, 0x01, ErrorCode::kInvalidArgument},
      {"point off the curve", 0x05C, 0x01, ErrorCode::kInvalidKey},
  };
  for (const Row& r : rows) {
    SUBCASE(r.rule) {
      auto bad = b;
      bad[r.off] ^= r.xor_mask;
      auto got = DecodeGodhCertificate(bad);
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().code() == r.want);
    }
  }
  CHECK(DecodeGodhCertificate(ByteSpan(b).first(0x823)).error().code() ==
        ErrorCode::kInvalidArgument);
}

}  // namespace sevemu::owner
