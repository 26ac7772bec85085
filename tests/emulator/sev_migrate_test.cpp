// Legacy SEV / SEV-ES migration between two firmware instances (docs/sev-commands.md;
// AMD-ASPFW sev_mcmd.c sev_mcmd_send_* / sev_mcmd_receive_*): A's guest is sent to B page by
// page and runs there with the same memory and policy; every refusal — lengths, states,
// handles, flipped MACs, sessions for another receiver, NOSEND, DOMAIN, SEV and the API
// minimum — answers the API's status and leaves Firmware::StateDigest() unchanged.
//
// Known answers: neither virtee/sev nor AMDESE/sev-tool implements SEND/RECEIVE (virtee has no
// migration API; sev-tool's tests cover the launch channel only), so no public vector exists
// for the transport packet; its layout is checked against an independent HMAC over AMD's
// send_receive_update_aad_t fields instead.
#include <doctest/doctest.h>

#include <cstring>
#include <functional>

#include "command_recorder.h"
#include "sev_legacy_fixture.h"
#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/hash.h"

namespace sevemu::test {
namespace {

using emulator::SevCert;
using statemachine::SevGuestState;
namespace usage = emulator::sev_usage;
namespace algo = emulator::sev_algo;

std::uint8_t StateOf(LegacyFixture& f, std::uint32_t handle) {
  return f.Status(handle).state;
}
constexpr std::uint8_t St(SevGuestState s) {
  return static_cast<std::uint8_t>(s);
}

// What a sender's host hands SEND_START about the receiver: its PDH and PEK ‖ OCA ‖ CEK with
// the CEK as AMD's KDS serves it (signed by the ASK), and AMD's ASK ‖ ARK.
struct Receiver {
  Bytes pdh;
  Bytes chain;
  Bytes amd;
};

Bytes AmdChain(const emulator::AmdRoot& root) {
  auto ask = emulator::MakeAmdAsk(root);
  auto ark = emulator::MakeAmdArk(root);
  REQUIRE(ask.ok());
  REQUIRE(ark.ok());
  Bytes out = ask->Encode();
  const Bytes a = ark->Encode();
  out.insert(out.end(), a.begin(), a.end());
  return out;
}

Receiver Describe(LegacyFixture& b) {
  emulator::SevPdhCertExportBuf e{kPdh, 0x824, 0, kChain, 0x186C};
  REQUIRE(b.Sev(SevCmd::kPdhCertExport, e) == FwStatus::kSuccess);
  Receiver r{b.Get(kPdh, 0x824), b.Get(kChain, emulator::kSevCertChainSize), AmdChain(*b.root)};
  const emulator::SevApiVersion api = b.Api();
  auto cek = emulator::MakeSignedCekCert(*b.cek, *b.root, api.major, api.minor);
  REQUIRE(cek.ok());
  const auto cek_bytes = cek->Encode();
  std::memcpy(r.chain.data() + 2 * emulator::kSevCertSize, cek_bytes.data(), cek_bytes.size());
  return r;
}

// Puts the receiver's certificates into A's memory; the SEND_START buffer for them.
emulator::SevSendStartBuf SendStartBuf(LegacyFixture& a, std::uint32_t handle, const Receiver& r) {
  a.Put(kPdh, r.pdh);
  a.Put(kChain, r.chain);
  a.Put(kAmdCerts, r.amd);
  emulator::SevSendStartBuf b{};
  b.handle = handle;
  b.pdh_cert_paddr = kPdh;
  b.pdh_cert_len = 0x824;
  b.plat_certs_paddr = kChain;
  b.plat_certs_len = emulator::kSevCertChainSize;
  b.amd_certs_paddr = kAmdCerts;
  b.amd_certs_len = static_cast<std::uint32_t>(r.amd.size());
  b.session_paddr = kSession;
  b.session_len = 0x80;
  return b;
}

// The platform's own PDH certificate (PDH_CERT_EXPORT), as the receiver's host gets it.
Bytes OwnPdh(LegacyFixture& f) {
  f.Export();
  return f.Get(kPdh, 0x824);
}

// A running guest on `a` (launched with a session, measured, finished).
Launched RunningGuest(LegacyFixture& a, std::uint32_t policy) {
  Launched l = LaunchUpTo(a, policy);
  REQUIRE(a.Handle(SevCmd::kLaunchFinish, l.handle) == FwStatus::kSuccess);
  return l;
}

// SEND_START on A for B; returns the session bytes.
Bytes SendStart(LegacyFixture& a, std::uint32_t handle, const Receiver& r) {
  auto b = SendStartBuf(a, handle, r);
  REQUIRE(a.Sev(SevCmd::kSendStart, b) == FwStatus::kSuccess);
  return a.Get(kSession, 0x80);
}

// RECEIVE_START on B with A's PDH and the session; returns B's handle.
emulator::SevReceiveStartBuf ReceiveStartBuf(LegacyFixture& b, ByteSpan sender_pdh,
                                             ByteSpan session, std::uint32_t policy) {
  b.Put(kGodh, sender_pdh);
  b.Put(kSession, session);
  return {0, policy, kGodh, 0x824, 0, kSession, 0x80};
}

struct Packet {
  Bytes hdr;
  Bytes trans;
};

emulator::SevTransportBuf TransportBuf(std::uint32_t handle, std::uint64_t gpa, std::uint32_t len) {
  return {handle, 0, kPacketHdr, 0x34, 0, gpa, len, 0, kPacketTrans, len};
}

Packet SendPage(LegacyFixture& a, SevCmd cmd, std::uint32_t handle, std::uint64_t gpa) {
  auto b = TransportBuf(handle, gpa, 0x1000);
  REQUIRE(a.Sev(cmd, b) == FwStatus::kSuccess);
  CHECK(b.hdr_len == 0x34);
  return {a.Get(kPacketHdr, 0x34), a.Get(kPacketTrans, 0x1000)};
}

FwStatus ReceivePage(LegacyFixture& b, SevCmd cmd, std::uint32_t handle, std::uint64_t gpa,
                     const Packet& p) {
  b.Put(kPacketHdr, p.hdr);
  b.Put(kPacketTrans, p.trans);
  auto buf = TransportBuf(handle, gpa, static_cast<std::uint32_t>(p.trans.size()));
  return b.Sev(cmd, buf);
}

// A guest sent from A and started on B, up to the packets.
struct InFlight {
  Launched src;
  Bytes session;
  std::uint32_t dst = 0;
  std::uint32_t dst_asid = 0;
};

InFlight StartMigration(LegacyFixture& a, LegacyFixture& b, std::uint32_t policy) {
  InFlight m;
  m.src = RunningGuest(a, policy);
  m.session = SendStart(a, m.src.handle, Describe(b));
  auto rs = ReceiveStartBuf(b, OwnPdh(a), m.session, policy);
  REQUIRE(b.Sev(SevCmd::kReceiveStart, rs) == FwStatus::kSuccess);
  m.dst = rs.handle;
  m.dst_asid = (policy & pol::kEs) ? kEsAsid + 1 : kSevAsid + 1;
  REQUIRE(b.Activate(m.dst, m.dst_asid) == FwStatus::kSuccess);
  return m;
}

void FullMigration(bool es, bool snp) {
  LegacyFixture a(true, snp, 1), b(true, snp, 2);
  const std::uint32_t policy = pol::kNoDbg | pol::kNoKs | (es ? pol::kEs : 0);
  InFlight m = StartMigration(a, b, policy);
  CHECK(StateOf(a, m.src.handle) == St(SevGuestState::kSupdate));
  CHECK(StateOf(b, m.dst) == St(SevGuestState::kRupdate));
  for (int i = 0; i < kGuestPages; ++i) {
    const std::uint64_t gpa = kGuest + i * 0x1000;
    const Packet p = SendPage(a, SevCmd::kSendUpdateData, m.src.handle, gpa);
    CHECK(p.trans != m.src.measured[i]);  // ciphertext under the TEK
    REQUIRE(ReceivePage(b, SevCmd::kReceiveUpdateData, m.dst, gpa, p) == FwStatus::kSuccess);
  }
  if (es) {
    const Packet p = SendPage(a, SevCmd::kSendUpdateVmsa, m.src.handle, kVmsa);
    REQUIRE(ReceivePage(b, SevCmd::kReceiveUpdateVmsa, m.dst, kVmsa, p) == FwStatus::kSuccess);
  }
  REQUIRE(a.Handle(SevCmd::kSendFinish, m.src.handle) == FwStatus::kSuccess);
  REQUIRE(b.Handle(SevCmd::kReceiveFinish, m.dst) == FwStatus::kSuccess);

  // B: the same plaintext under B's own key; RUNNING with the policy; ASID in use.
  for (int i = 0; i < kGuestPages; ++i) {
    const std::uint64_t gpa = kGuest + i * 0x1000;
    CHECK(b.GuestView(m.dst_asid, gpa, 0x1000) == m.src.measured[i]);
    CHECK(b.Get(gpa, 0x1000) != m.src.measured[i]);
  }
  if (es) CHECK(b.GuestView(m.dst_asid, kVmsa, 0x1000) == m.src.measured.back());
  const auto st = b.Status(m.dst);
  CHECK(st.state == St(SevGuestState::kRunning));
  CHECK(st.policy == policy);
  CHECK(st.asid == m.dst_asid);

  // ATTESTATION on B, signed by B's PEK: the policy is kept; the launch digest is not carried
  // by the firmware (zeros), so a verifier who wants the launch measurement asks the source.
  emulator::SevAttestationBuf ab{m.dst, 0, kReport, {}, 0xD0};
  for (int i = 0; i < 16; ++i) ab.mnonce[i] = static_cast<std::uint8_t>(0x40 + i);
  REQUIRE(b.Sev(SevCmd::kAttestation, ab) == FwStatus::kSuccess);
  owner::AttestationExpectations expect;
  emulator::SevNonce mnonce{};
  std::memcpy(mnonce.data(), ab.mnonce, 16);
  expect.mnonce = mnonce;
  expect.launch_digest = emulator::SevDigest{};
  expect.policy = policy;
  auto report = owner::VerifyLegacyAttestationReport(b.Get(kReport, 0xD0), b.Export().pek, expect);
  CHECK_MESSAGE(report.ok(), (report.ok() ? "" : report.error().message()));

  // A: SENT. ATTESTATION still answers there (AMD allows SENT), with the launch digest.
  CHECK(StateOf(a, m.src.handle) == St(SevGuestState::kSent));
  emulator::SevAttestationBuf aa{m.src.handle, 0, kReport, {}, 0xD0};
  REQUIRE(a.Sev(SevCmd::kAttestation, aa) == FwStatus::kSuccess);
  auto rep_a = emulator::ParseSevAttestationReport(a.Get(kReport, 0xD0));
  REQUIRE(rep_a.ok());
  CHECK(rep_a->launch_digest == m.src.digest);
  // The source's copy is gone: a SENT guest cannot be activated again; decommissioned.
  REQUIRE(a.Handle(SevCmd::kDeactivate, m.src.handle) == FwStatus::kSuccess);
  CHECK(a.Activate(m.src.handle, m.src.asid) == FwStatus::kInvalidGuestState);
  REQUIRE(a.Handle(SevCmd::kDecommission, m.src.handle) == FwStatus::kSuccess);
  CHECK(StateOf(a, m.src.handle) == St(SevGuestState::kUninit));
}

// Runs a refusal on fresh machines after `setup`, expecting `want` and no state change on
// either side.
struct Pair {
  LegacyFixture a{true, false, 1};
  LegacyFixture b{true, false, 2};
  InFlight m;
  Packet packet;
};
struct Refusal {
  const char* rule;
  std::function<FwStatus(Pair&)> run;
  FwStatus want;
};
void CheckRefusals(const std::function<void(Pair&)>& setup, const Refusal* rows, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Refusal& r = rows[i];
    SUBCASE(r.rule) {
      Pair p;
      setup(p);
      const Bytes before_a = p.a.fw->StateDigest();
      const Bytes before_b = p.b.fw->StateDigest();
      CHECK(r.run(p) == r.want);
      CHECK(p.a.fw->StateDigest() == before_a);
      CHECK(p.b.fw->StateDigest() == before_b);
    }
  }
}

// A chain for a platform the caller invents, certified up to `root`'s ASK (what a holder of an
// extracted CEK or of the signing keys can make): its own CEK, PEK (with `api`), OCA, PDH.
struct FakePlatform {
  crypto::PrivateKey pdh = crypto::PrivateKey::GenerateEcP384().value();
  Receiver r;
};
FakePlatform Fake(const emulator::AmdRoot& root, std::uint8_t api_major, std::uint8_t api_minor) {
  FakePlatform f;
  const crypto::PrivateKey cek = crypto::PrivateKey::GenerateEcP384().value();
  const crypto::PrivateKey pek = crypto::PrivateKey::GenerateEcP384().value();
  const crypto::PrivateKey oca = crypto::PrivateKey::GenerateEcP384().value();
  auto cek_c = emulator::MakeSignedCekCert(cek, root, api_major, api_minor);
  auto oca_c = SevCert::Create(oca.Public(), usage::kOca, algo::kEcdsaSha256, api_major, api_minor);
  auto pek_c = SevCert::Create(pek.Public(), usage::kPek, algo::kEcdsaSha256, api_major, api_minor);
  auto pdh_c =
      SevCert::Create(f.pdh.Public(), usage::kPdh, algo::kEcdhSha256, api_major, api_minor);
  REQUIRE((cek_c.ok() && oca_c.ok() && pek_c.ok() && pdh_c.ok()));
  REQUIRE(oca_c->Sign(oca, usage::kOca, algo::kEcdsaSha256).ok());
  REQUIRE(pek_c->Sign(oca, usage::kOca, algo::kEcdsaSha256).ok());
  REQUIRE(pek_c->Sign(cek, usage::kCek, algo::kEcdsaSha256).ok());
  REQUIRE(pdh_c->Sign(pek, usage::kPek, algo::kEcdsaSha256).ok());
  const auto pdh_b = pdh_c->Encode();
  f.r.pdh.assign(pdh_b.begin(), pdh_b.end());
  for (const SevCert* c : {&*pek_c, &*oca_c, &*cek_c}) {
    const auto b = c->Encode();
    f.r.chain.insert(f.r.chain.end(), b.begin(), b.end());
  }
  f.r.amd = AmdChain(root);
  return f;
}

}  // namespace

TEST_CASE("legacy migration A -> B: memory, policy, ATTESTATION on B; A's copy SENT, then gone") {
  SUBCASE("SEV") {
    FullMigration(false, false);
  }
  SUBCASE("SEV-ES (data and VMSA)") {
    FullMigration(true, false);
  }
  SUBCASE("SEV with SNP initialised on both (FIRMWARE pages)") {
    FullMigration(false, true);
  }
}

TEST_CASE("transport packet: AMD's AAD layout, HMAC over ctx DATA, flags, IV, sizes, ciphertext") {
  emulator::SevTransportKeys keys{SecretBytes(Pattern(16, 1)), SecretBytes(Pattern(16, 2))};
  emulator::SevIv iv{};
  for (int i = 0; i < 16; ++i) iv[i] = static_cast<std::uint8_t>(0x90 + i);
  const Bytes plain = Pattern(64, 9);
  auto p = emulator::SealSevTransportPacket(keys, iv, plain);
  REQUIRE(p.ok());
  auto ct = crypto::Aes128Ctr(keys.tek.span(), iv, plain);
  REQUIRE(ct.ok());
  CHECK(p->ciphertext == *ct);
  // send_receive_update_aad_t from channel_ctx on: 0x02, flags 0, iv, 64, 64, then the data.
  Bytes in{0x02, 0, 0, 0, 0};
  in.insert(in.end(), iv.begin(), iv.end());
  for (int k = 0; k < 2; ++k) in.insert(in.end(), {64, 0, 0, 0});
  in.insert(in.end(), ct->begin(), ct->end());
  auto mac = crypto::Hmac(crypto::HashAlg::kSha256, keys.tik.span(), in);
  REQUIRE(mac.ok());
  CHECK(ConstantTimeEquals(mac->span(), p->header.mac));
  auto back = emulator::OpenSevTransportPacket(keys, p->header, p->ciphertext);
  REQUIRE(back.ok());
  CHECK(ConstantTimeEquals(back->span(), plain));
  // Any bit of header or data: kAuthFailed.
  auto bad = p->header;
  bad.iv[3] ^= 1;
  CHECK(emulator::OpenSevTransportPacket(keys, bad, p->ciphertext).error().code() ==
        ErrorCode::kAuthFailed);
  CHECK(!emulator::SealSevTransportPacket(keys, iv, Pattern(15, 0)).ok());
}

TEST_CASE("SEND_START refusals in AMD's order; length probing writes 0x80 back") {
  const Refusal rows[] = {
      {"unknown handle",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, 9, Describe(p.b));
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidGuest},
      {"session length 0 (Linux's query)",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, p.m.src.handle, Describe(p.b));
         b.session_len = 0;
         const FwStatus st = p.a.Sev(SevCmd::kSendStart, b);
         CHECK(b.session_len == 0x80);
         return st;
       },
       FwStatus::kInvalidLength},
      {"receiver PDH with usage PEK",
       [](Pair& p) {
         Receiver r = Describe(p.b);
         r.pdh[8] = 0x02;
         auto b = SendStartBuf(p.a, p.m.src.handle, r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidCertificate},
      {"receiver PDH length",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, p.m.src.handle, Describe(p.b));
         b.pdh_cert_len = 0x800;
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidLength},
      {"session outside memory",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, p.m.src.handle, Describe(p.b));
         b.session_paddr = 1ull << 40;
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidAddress},
  };
  CheckRefusals([](Pair& p) { p.m.src = RunningGuest(p.a, pol::kNoDbg); }, rows, std::size(rows));

  SUBCASE("a guest not RUNNING (LSECRET)") {
    LegacyFixture a(true, false, 1), b(true, false, 2);
    Launched l = LaunchUpTo(a, 0);
    auto buf = SendStartBuf(a, l.handle, Describe(b));
    const Bytes before = a.fw->StateDigest();
    CHECK(a.Sev(SevCmd::kSendStart, buf) == FwStatus::kInvalidGuestState);
    CHECK(a.fw->StateDigest() == before);
  }
}

TEST_CASE("policy at SEND_START: NOSEND, SEV (chain to this part's ARK, API minimum), DOMAIN") {
  SUBCASE("NOSEND: nothing leaves") {
    LegacyFixture a(true, false, 1), b(true, false, 2);
    Launched l = RunningGuest(a, pol::kNoSend);
    auto buf = SendStartBuf(a, l.handle, Describe(b));
    const Bytes before = a.fw->StateDigest();
    CHECK(a.Sev(SevCmd::kSendStart, buf) == FwStatus::kPolicyFailure);
    CHECK(a.fw->StateDigest() == before);
    CHECK(StateOf(a, l.handle) == St(SevGuestState::kRunning));
  }
  const std::uint32_t sev = pol::kSev;
  const Refusal rows[] = {
      {"SEV: the CEK as PDH_CERT_EXPORT gives it (unsigned)",
       [](Pair& p) {
         emulator::SevPdhCertExportBuf e{kPdh, 0x824, 0, kChain, 0x186C};
         REQUIRE(p.b.Sev(SevCmd::kPdhCertExport, e) == FwStatus::kSuccess);
         Receiver r{p.b.Get(kPdh, 0x824), p.b.Get(kChain, 0x186C), AmdChain(*p.b.root)};
         auto b = SendStartBuf(p.a, p.m.src.handle, r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidCertificate},
      {"SEV: a chain to another product's ARK (Genoa for a Milan sender)",
       [](Pair& p) {
         FakePlatform f = Fake(TestRoot(emulator::Product::kGenoa), 1, 55);
         auto b = SendStartBuf(p.a, p.m.src.handle, f.r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidCertificate},
      {"SEV: the CEK's ASK signature flipped",
       [](Pair& p) {
         Receiver r = Describe(p.b);
         r.chain[2 * 0x824 + 0x41C] ^= 1;  // sig1 of the CEK
         auto b = SendStartBuf(p.a, p.m.src.handle, r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kBadSignature},
      {"SEV: ASK ‖ ARK length not one of AMD's four",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, p.m.src.handle, Describe(p.b));
         b.amd_certs_len -= 1;
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kInvalidLength},
      {"SEV: the PDH not signed by the PEK (another platform's PDH)",
       [](Pair& p) {
         LegacyFixture c(true, false, 3);
         Receiver r = Describe(p.b);
         r.pdh = Describe(c).pdh;
         auto b = SendStartBuf(p.a, p.m.src.handle, r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kBadSignature},
      {"SEV: a platform faked with this part's ASK but API 0.16 < the policy's 0.17",
       [](Pair& p) {
         FakePlatform f = Fake(*p.a.root, 0, 16);
         auto b = SendStartBuf(p.a, p.m.src.handle, f.r);
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kPolicyFailure},
      {"DOMAIN: the receiver has its own OCA",
       [](Pair& p) {
         auto b = SendStartBuf(p.a, p.m.src.handle, Describe(p.b));
         return p.a.Sev(SevCmd::kSendStart, b);
       },
       FwStatus::kPolicyFailure},
  };
  // Rows 0-5 use policy SEV with API minimum 0.17; the DOMAIN row policy DOMAIN.
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    const bool domain = i == std::size(rows) - 1;
    const std::uint32_t policy = domain ? pol::kDomain : sev | (17u << pol::kApiMinorShift);
    CheckRefusals([policy](Pair& p) { p.m.src = RunningGuest(p.a, policy); }, &rows[i], 1);
  }

  SUBCASE("SEV: a real receiver of the same product is accepted, and so is a fake with a new API") {
    LegacyFixture a(true, false, 1), b(true, false, 2);
    Launched l = RunningGuest(a, sev | (17u << pol::kApiMinorShift));
    auto buf = SendStartBuf(a, l.handle, Describe(b));
    CHECK(a.Sev(SevCmd::kSendStart, buf) == FwStatus::kSuccess);
    CHECK(buf.policy == (sev | (17u << pol::kApiMinorShift)));
    REQUIRE(a.Handle(SevCmd::kSendCancel, l.handle) == FwStatus::kSuccess);
    // The SEV bit trusts whatever the ASK certified: a holder of a CEK key (extracted, as in
    // Buhren et al., CCS'19) passes it.
    FakePlatform f = Fake(*a.root, 1, 55);
    auto fb = SendStartBuf(a, l.handle, f.r);
    CHECK(a.Sev(SevCmd::kSendStart, fb) == FwStatus::kSuccess);
  }

  SUBCASE("DOMAIN: a receiver owned by the same OCA is accepted") {
    LegacyFixture a(true, false, 1), b(true, false, 2);
    const crypto::PrivateKey owner = crypto::PrivateKey::GenerateEcP384().value();
    auto oca = SevCert::Create(owner.Public(), usage::kOca, algo::kEcdsaSha256, 0, 0);
    REQUIRE(oca.ok());
    REQUIRE(oca->Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
    for (LegacyFixture* f : {&a, &b}) {
      emulator::SevAddrLenBuf csr{kPdh, 0x824};
      REQUIRE(f->Sev(SevCmd::kPekCsr, csr) == FwStatus::kSuccess);
      SevCert pek = *SevCert::Parse(f->Get(kPdh, 0x824));
      REQUIRE(pek.Sign(owner, usage::kOca, algo::kEcdsaSha256).ok());
      f->Put(kPdh, pek.Encode());
      f->Put(kChain, oca->Encode());
      emulator::SevPekCertImportBuf imp{kPdh, 0x824, 0, kChain, 0x824};
      REQUIRE(f->Sev(SevCmd::kPekCertImport, imp) == FwStatus::kSuccess);
    }
    Launched l = RunningGuest(a, pol::kDomain);
    auto buf = SendStartBuf(a, l.handle, Describe(b));
    CHECK(a.Sev(SevCmd::kSendStart, buf) == FwStatus::kSuccess);
  }

  SUBCASE("neither bit: any PDH is accepted, and whoever holds its key reads the guest") {
    // AMD's firmware checks no chain without SEV or DOMAIN: the session is made for whatever
    // PDH the host passes. A guest owner who does not set one of the bits consents to being
    // sent anywhere — here to a key the host made itself, which opens the session and
    // decrypts the pages.
    LegacyFixture a(true, false, 1);
    Launched l = RunningGuest(a, pol::kNoDbg);
    const crypto::PrivateKey attacker = crypto::PrivateKey::GenerateEcP384().value();
    auto pdh = SevCert::Create(attacker.Public(), usage::kPdh, algo::kEcdhSha256, 0, 0);
    REQUIRE(pdh.ok());
    const auto pdh_b = pdh->Encode();
    Receiver r{Bytes(pdh_b.begin(), pdh_b.end()), Bytes(emulator::kSevCertChainSize), Bytes{}};
    auto buf = SendStartBuf(a, l.handle, r);
    REQUIRE(a.Sev(SevCmd::kSendStart, buf) == FwStatus::kSuccess);
    auto session = emulator::ParseSevSession(a.Get(kSession, 0x80));
    REQUIRE(session.ok());
    LegacyFixture::Chain own = a.Export();
    auto keys = emulator::OpenSevSession(attacker, own.pdh, *session);
    REQUIRE(keys.ok());
    const Packet p = SendPage(a, SevCmd::kSendUpdateData, l.handle, kGuest);
    auto hdr = emulator::ParseSevPacketHeader(p.hdr);
    REQUIRE(hdr.ok());
    auto plain = emulator::OpenSevTransportPacket(*keys, *hdr, p.trans);
    REQUIRE(plain.ok());
    CHECK(ConstantTimeEquals(plain->span(), l.measured[0]));
  }
}

TEST_CASE("RECEIVE_START refusals: another receiver, the wrong sender PDH, MACs, lengths") {
  // Setup: A's guest in SUPDATE with a session for B; the receive buffer put into B.
  auto setup = [](Pair& p) {
    p.m.src = RunningGuest(p.a, pol::kNoDbg);
    p.m.session = SendStart(p.a, p.m.src.handle, Describe(p.b));
  };
  auto start = [](LegacyFixture& on, const Bytes& sender_pdh, const Bytes& session,
                  std::uint32_t policy) {
    auto rs = ReceiveStartBuf(on, sender_pdh, session, policy);
    return on.Sev(SevCmd::kReceiveStart, rs);
  };
  const Refusal rows[] = {
      {"a receiver other than the one the session was made for",
       [start](Pair& p) {
         LegacyFixture c(true, false, 3);
         const Bytes before = c.fw->StateDigest();
         const FwStatus st = start(c, OwnPdh(p.a), p.m.session, pol::kNoDbg);
         CHECK(c.fw->StateDigest() == before);
         return st;
       },
       emulator::kSevWrapMacStatus},
      {"the sender's PDH replaced by another platform's",
       [start](Pair& p) {
         LegacyFixture c(true, false, 3);
         return start(p.b, Describe(c).pdh, p.m.session, pol::kNoDbg);
       },
       emulator::kSevWrapMacStatus},
      {"wrapped keys flipped",
       [start](Pair& p) {
         Bytes s = p.m.session;
         s[0x12] ^= 1;
         return start(p.b, OwnPdh(p.a), s, pol::kNoDbg);
       },
       emulator::kSevWrapMacStatus},
      {"the host changed the policy (POLICY_MAC)",
       [start](Pair& p) { return start(p.b, OwnPdh(p.a), p.m.session, 0); },
       emulator::kSevPolicyMacStatus},
      {"session length",
       [](Pair& p) {
         auto rs = ReceiveStartBuf(p.b, OwnPdh(p.a), p.m.session, pol::kNoDbg);
         rs.session_len = 0x7F;
         return p.b.Sev(SevCmd::kReceiveStart, rs);
       },
       FwStatus::kInvalidLength},
      {"sender PDH length",
       [](Pair& p) {
         auto rs = ReceiveStartBuf(p.b, OwnPdh(p.a), p.m.session, pol::kNoDbg);
         rs.dh_cert_len = 0;
         return p.b.Sev(SevCmd::kReceiveStart, rs);
       },
       FwStatus::kInvalidLength},
      {"key sharing with no such guest",
       [](Pair& p) {
         auto rs = ReceiveStartBuf(p.b, OwnPdh(p.a), p.m.session, pol::kNoDbg);
         rs.handle = 5;
         return p.b.Sev(SevCmd::kReceiveStart, rs);
       },
       FwStatus::kInvalidGuest},
  };
  CheckRefusals(setup, rows, std::size(rows));
}

TEST_CASE("SEND_UPDATE / RECEIVE_UPDATE refusals: lengths, states, handles, MACs, sessions") {
  // Setup: the migration started (A SUPDATE, B RUPDATE and activated), page 0 sent.
  auto setup = [](Pair& p) {
    p.m = StartMigration(p.a, p.b, pol::kNoDbg);
    p.packet = SendPage(p.a, SevCmd::kSendUpdateData, p.m.src.handle, kGuest);
  };
  auto recv = [](Pair& p, const Packet& pk, emulator::SevTransportBuf buf) {
    p.b.Put(kPacketHdr, pk.hdr);
    p.b.Put(kPacketTrans, pk.trans);
    return p.b.Sev(SevCmd::kReceiveUpdateData, buf);
  };
  const Refusal rows[] = {
      {"SEND: header length 0 (Linux's query) writes 0x34 back",
       [](Pair& p) {
         auto b = TransportBuf(p.m.src.handle, kGuest, 0x1000);
         b.hdr_len = 0;
         b.handle = 77;  // the length check comes before the handle
         const FwStatus st = p.a.Sev(SevCmd::kSendUpdateData, b);
         CHECK(b.hdr_len == 0x34);
         CHECK(b.trans_len == 0x1000);  // AMD writes no transport length back
         return st;
       },
       FwStatus::kInvalidLength},
      {"SEND: unknown handle",
       [](Pair& p) {
         auto b = TransportBuf(9, kGuest, 0x1000);
         return p.a.Sev(SevCmd::kSendUpdateData, b);
       },
       FwStatus::kInvalidGuest},
      {"SEND: VMSA of a guest without SEV-ES",
       [](Pair& p) {
         auto b = TransportBuf(p.m.src.handle, kVmsa, 0x1000);
         return p.a.Sev(SevCmd::kSendUpdateVmsa, b);
       },
       FwStatus::kUnsupported},
      {"SEND: transport length below the guest length",
       [](Pair& p) {
         auto b = TransportBuf(p.m.src.handle, kGuest, 0x1000);
         b.trans_len = 0xFF0;
         return p.a.Sev(SevCmd::kSendUpdateData, b);
       },
       FwStatus::kInvalidLength},
      {"SEND: guest length above the scratch buffer (0x5000)",
       [](Pair& p) {
         auto b = TransportBuf(p.m.src.handle, kGuest, 0x5010);
         return p.a.Sev(SevCmd::kSendUpdateData, b);
       },
       FwStatus::kInvalidLength},
      {"SEND: guest address not 16-aligned",
       [](Pair& p) {
         auto b = TransportBuf(p.m.src.handle, kGuest + 8, 0x100);
         return p.a.Sev(SevCmd::kSendUpdateData, b);
       },
       FwStatus::kInvalidAddress},
      {"RECEIVE: the MAC flipped",
       [recv](Pair& p) {
         Packet pk = p.packet;
         pk.hdr[0x14] ^= 1;
         return recv(p, pk, TransportBuf(p.m.dst, kGuest, 0x1000));
       },
       emulator::kSevTransportMacStatus},
      {"RECEIVE: the ciphertext flipped",
       [recv](Pair& p) {
         Packet pk = p.packet;
         pk.trans[100] ^= 0x10;
         return recv(p, pk, TransportBuf(p.m.dst, kGuest, 0x1000));
       },
       emulator::kSevTransportMacStatus},
      {"RECEIVE: the IV flipped",
       [recv](Pair& p) {
         Packet pk = p.packet;
         pk.hdr[4] ^= 1;
         return recv(p, pk, TransportBuf(p.m.dst, kGuest, 0x1000));
       },
       emulator::kSevTransportMacStatus},
      {"RECEIVE: a truncated packet (half the page)",
       [recv](Pair& p) { return recv(p, p.packet, TransportBuf(p.m.dst, kGuest, 0x800)); },
       emulator::kSevTransportMacStatus},
      {"RECEIVE: compressed flag (checked before the MAC)",
       [recv](Pair& p) {
         Packet pk = p.packet;
         pk.hdr[0] = 1;
         return recv(p, pk, TransportBuf(p.m.dst, kGuest, 0x1000));
       },
       FwStatus::kUnsupported},
      {"RECEIVE: guest length != transport length",
       [recv](Pair& p) {
         auto b = TransportBuf(p.m.dst, kGuest, 0x1000);
         b.guest_len = 0x800;
         return recv(p, p.packet, b);
       },
       FwStatus::kInvalidLength},
      {"RECEIVE: header length 0x33",
       [recv](Pair& p) {
         auto b = TransportBuf(p.m.dst, kGuest, 0x1000);
         b.hdr_len = 0x33;
         return recv(p, p.packet, b);
       },
       FwStatus::kInvalidLength},
      {"RECEIVE: the sender's handle on B",
       [recv](Pair& p) { return recv(p, p.packet, TransportBuf(p.m.dst + 5, kGuest, 0x1000)); },
       FwStatus::kInvalidGuest},
      {"RECEIVE: VMSA of a guest without SEV-ES",
       [](Pair& p) {
         auto b = TransportBuf(p.m.dst, kVmsa, 0x1000);
         return p.b.Sev(SevCmd::kReceiveUpdateVmsa, b);
       },
       FwStatus::kUnsupported},
      {"RECEIVE: a packet of an earlier, cancelled session of the same guest",
       [recv](Pair& p) {
         // SEND_CANCEL, a new SEND_START for B: new transport keys; the old packet no longer
         // opens on a receiver started with the new session.
         REQUIRE(p.a.Handle(SevCmd::kSendCancel, p.m.src.handle) == FwStatus::kSuccess);
         const Bytes session = SendStart(p.a, p.m.src.handle, Describe(p.b));
         auto rs = ReceiveStartBuf(p.b, OwnPdh(p.a), session, pol::kNoDbg);
         REQUIRE(p.b.Sev(SevCmd::kReceiveStart, rs) == FwStatus::kSuccess);
         REQUIRE(p.b.Activate(rs.handle, kSevAsid + 2) == FwStatus::kSuccess);
         const Bytes before_a = p.a.fw->StateDigest();
         const Bytes before_b = p.b.fw->StateDigest();
         const FwStatus st = recv(p, p.packet, TransportBuf(rs.handle, kGuest, 0x1000));
         CHECK(p.a.fw->StateDigest() == before_a);
         CHECK(p.b.fw->StateDigest() == before_b);
         return st;
       },
       emulator::kSevTransportMacStatus},
  };
  // The last row changes both machines before its refusal, so it checks its own digests.
  CheckRefusals(setup, rows, std::size(rows) - 1);
  SUBCASE(rows[std::size(rows) - 1].rule) {
    Pair p;
    setup(p);
    CHECK(rows[std::size(rows) - 1].run(p) == rows[std::size(rows) - 1].want);
  }

  SUBCASE("RECEIVE before ACTIVATE: INACTIVE") {
    Pair p;
    p.m.src = RunningGuest(p.a, pol::kNoDbg);
    const Bytes session = SendStart(p.a, p.m.src.handle, Describe(p.b));
    auto rs = ReceiveStartBuf(p.b, OwnPdh(p.a), session, pol::kNoDbg);
    REQUIRE(p.b.Sev(SevCmd::kReceiveStart, rs) == FwStatus::kSuccess);
    const Packet pk = SendPage(p.a, SevCmd::kSendUpdateData, p.m.src.handle, kGuest);
    const Bytes before = p.b.fw->StateDigest();
    CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, rs.handle, kGuest, pk) ==
          FwStatus::kInactive);
    CHECK(p.b.fw->StateDigest() == before);
  }
}

TEST_CASE("replayed and reordered packets: the firmware binds neither; after FINISH, refused") {
  // AMD's transport MAC covers ctx, flags, IV, sizes and data — no sequence number, no guest
  // address. Within one session the host may replay a packet or put it at another address, and
  // the firmware accepts it: ordering and placement are the hypervisor's responsibility (as
  // with SEV's lack of integrity generally). What the firmware does refuse is a packet after
  // RECEIVE_FINISH (INVALID_GUEST_STATE) and a packet of another session (MAC).
  Pair p;
  p.m = StartMigration(p.a, p.b, pol::kNoDbg);
  const Packet p0 = SendPage(p.a, SevCmd::kSendUpdateData, p.m.src.handle, kGuest);
  const Packet p1 = SendPage(p.a, SevCmd::kSendUpdateData, p.m.src.handle, kGuest + 0x1000);
  // Reordered: page 1's packet lands at page 0's address, then page 0's at page 1's.
  CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, p.m.dst, kGuest, p1) == FwStatus::kSuccess);
  CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, p.m.dst, kGuest + 0x1000, p0) ==
        FwStatus::kSuccess);
  CHECK(p.b.GuestView(p.m.dst_asid, kGuest, 0x1000) == p.m.src.measured[1]);
  CHECK(p.b.GuestView(p.m.dst_asid, kGuest + 0x1000, 0x1000) == p.m.src.measured[0]);
  // Replayed: the same packet twice.
  CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, p.m.dst, kGuest, p0) == FwStatus::kSuccess);
  CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, p.m.dst, kGuest, p0) == FwStatus::kSuccess);
  CHECK(p.b.GuestView(p.m.dst_asid, kGuest, 0x1000) == p.m.src.measured[0]);
  REQUIRE(p.b.Handle(SevCmd::kReceiveFinish, p.m.dst) == FwStatus::kSuccess);
  const Bytes before = p.b.fw->StateDigest();
  CHECK(ReceivePage(p.b, SevCmd::kReceiveUpdateData, p.m.dst, kGuest, p0) ==
        FwStatus::kInvalidGuestState);
  CHECK(p.b.fw->StateDigest() == before);
}

TEST_CASE("FINISH / CANCEL and wrong guest states; SEND_CANCEL returns to RUNNING") {
  Pair p;
  p.m.src = RunningGuest(p.a, pol::kNoDbg);
  const std::uint32_t h = p.m.src.handle;
  Bytes before = p.a.fw->StateDigest();
  CHECK(p.a.Handle(SevCmd::kSendFinish, h) == FwStatus::kInvalidGuestState);
  CHECK(p.a.Handle(SevCmd::kSendCancel, h) == FwStatus::kInvalidGuestState);
  CHECK(p.a.Handle(SevCmd::kReceiveFinish, h) == FwStatus::kInvalidGuestState);
  CHECK(p.a.Handle(SevCmd::kSendFinish, 0) == FwStatus::kInvalidGuest);
  auto ru = TransportBuf(h, kGuest, 0x1000);
  CHECK(p.a.Sev(SevCmd::kReceiveUpdateData, ru) == FwStatus::kInvalidGuestState);
  auto su = TransportBuf(h, kGuest, 0x1000);
  CHECK(p.a.Sev(SevCmd::kSendUpdateData, su) == FwStatus::kInvalidGuestState);
  CHECK(p.a.fw->StateDigest() == before);

  SendStart(p.a, h, Describe(p.b));
  CHECK(StateOf(p.a, h) == St(SevGuestState::kSupdate));
  before = p.a.fw->StateDigest();
  auto again = SendStartBuf(p.a, h, Describe(p.b));
  CHECK(p.a.Sev(SevCmd::kSendStart, again) == FwStatus::kInvalidGuestState);
  CHECK(p.a.Handle(SevCmd::kReceiveFinish, h) == FwStatus::kInvalidGuestState);
  CHECK(p.a.fw->StateDigest() == before);
  REQUIRE(p.a.Handle(SevCmd::kSendCancel, h) == FwStatus::kSuccess);
  CHECK(StateOf(p.a, h) == St(SevGuestState::kRunning));
  // The guest still reads its memory and can be sent again.
  CHECK(p.a.GuestView(p.m.src.asid, kGuest, 0x1000) == p.m.src.measured[0]);
  SendStart(p.a, h, Describe(p.b));

  // ES policy received on a platform without SEV-ES: UNSUPPORTED, nothing changes.
  LegacyFixture noes(false, false, 4);
  Launched es = RunningGuest(p.b, pol::kEs);
  const Bytes s = SendStart(p.b, es.handle, Describe(noes));
  auto rs = ReceiveStartBuf(noes, OwnPdh(p.b), s, pol::kEs);
  before = noes.fw->StateDigest();
  CHECK(noes.Sev(SevCmd::kReceiveStart, rs) == FwStatus::kUnsupported);
  CHECK(noes.fw->StateDigest() == before);
}

// The trace's field tables of SEND_* and RECEIVE_* (command_fields.cpp) with the buffers of a
// whole SEV-ES migration: every field by name and value, what the firmware wrote back (the
// policy SEND_START reports, the handle RECEIVE_START allocates), and only numbers and
// addresses: the session (wrapped TEK/TIK and their MAC), the packet headers (IV, MAC) and the
// ciphertext lie in memory the trace never reads.
TEST_CASE("SEND_* and RECEIVE_* reach the trace decoded by field, with no byte string") {
  using V = std::vector<std::string_view>;
  LegacyFixture a(true, false, 1), b(true, false, 2);
  CommandRecorder ra, rb;
  a.fw->set_observer(&ra);
  b.fw->set_observer(&rb);
  const std::uint32_t policy = pol::kNoDbg | pol::kNoKs | pol::kEs;
  InFlight m = StartMigration(a, b, policy);

  const auto& ss = ra.Last("SEND_START");
  CHECK(ss.status == FwStatus::kSuccess);
  CHECK(ss.length == sizeof(emulator::SevSendStartBuf));
  CHECK(FieldNames(ss.in) == V{"handle", "policy", "pdh_cert_paddr", "pdh_cert_len",
                               "plat_certs_paddr", "plat_certs_len", "amd_certs_paddr",
                               "amd_certs_len", "session_paddr", "session_len"});
  CHECK(Number(ss.in, "handle") == m.src.handle);
  CHECK(Number(ss.in, "policy") == 0);
  CHECK(Number(ss.in, "pdh_cert_paddr") == kPdh);
  CHECK(Number(ss.in, "pdh_cert_len") == 0x824);
  CHECK(Number(ss.in, "plat_certs_paddr") == kChain);
  CHECK(Number(ss.in, "plat_certs_len") == emulator::kSevCertChainSize);
  CHECK(Number(ss.in, "amd_certs_paddr") == kAmdCerts);
  CHECK(Number(ss.in, "session_paddr") == kSession);
  CHECK(Number(ss.in, "session_len") == 0x80);
  CHECK(FieldNames(ss.out) == V{"policy"});
  CHECK(Number(ss.out, "policy") == policy);

  const auto& rs = rb.Last("RECEIVE_START");
  CHECK(FieldNames(rs.in) ==
        V{"handle", "policy", "dh_cert_paddr", "dh_cert_len", "session_paddr", "session_len"});
  CHECK(Number(rs.in, "handle") == 0);
  CHECK(Number(rs.in, "policy") == policy);
  CHECK(Number(rs.in, "dh_cert_paddr") == kGodh);
  CHECK(Number(rs.in, "session_paddr") == kSession);
  CHECK(Number(rs.out, "handle") == m.dst);

  const V transport{"handle",    "hdr_paddr",   "hdr_len",  "guest_paddr",
                    "guest_len", "trans_paddr", "trans_len"};
  const Packet p = SendPage(a, SevCmd::kSendUpdateData, m.src.handle, kGuest + 0x1000);
  REQUIRE(ReceivePage(b, SevCmd::kReceiveUpdateData, m.dst, kGuest + 0x1000, p) ==
          FwStatus::kSuccess);
  const Packet v = SendPage(a, SevCmd::kSendUpdateVmsa, m.src.handle, kVmsa);
  REQUIRE(ReceivePage(b, SevCmd::kReceiveUpdateVmsa, m.dst, kVmsa, v) == FwStatus::kSuccess);
  for (const char* name : {"SEND_UPDATE_DATA", "SEND_UPDATE_VMSA"}) {
    const auto& e = ra.Last(name);
    CHECK_MESSAGE(FieldNames(e.in) == transport, name);
    CHECK(Number(e.in, "handle") == m.src.handle);
    CHECK(Number(e.in, "hdr_paddr") == kPacketHdr);
    CHECK(Number(e.in, "trans_paddr") == kPacketTrans);
    CHECK(Number(e.in, "trans_len") == 0x1000);
  }
  CHECK(Number(ra.Last("SEND_UPDATE_DATA").in, "guest_paddr") == kGuest + 0x1000);
  CHECK(Number(ra.Last("SEND_UPDATE_VMSA").in, "guest_paddr") == kVmsa);
  for (const char* name : {"RECEIVE_UPDATE_DATA", "RECEIVE_UPDATE_VMSA"}) {
    const auto& e = rb.Last(name);
    CHECK_MESSAGE(FieldNames(e.in) == transport, name);
    CHECK(e.status == FwStatus::kSuccess);
    CHECK(Number(e.in, "handle") == m.dst);
    CHECK(Number(e.in, "hdr_len") == 0x34);
  }
  CHECK(Number(rb.Last("RECEIVE_UPDATE_VMSA").in, "guest_paddr") == kVmsa);

  CHECK(a.Handle(SevCmd::kSendCancel, m.dst + 7) == FwStatus::kInvalidGuest);
  REQUIRE(a.Handle(SevCmd::kSendFinish, m.src.handle) == FwStatus::kSuccess);
  REQUIRE(b.Handle(SevCmd::kReceiveFinish, m.dst) == FwStatus::kSuccess);
  CHECK(FieldNames(ra.Last("SEND_CANCEL").in) == V{"handle"});
  CHECK(Number(ra.Last("SEND_CANCEL").in, "handle") == m.dst + 7);
  CHECK(ra.Last("SEND_CANCEL").status == FwStatus::kInvalidGuest);
  CHECK(Number(ra.Last("SEND_FINISH").in, "handle") == m.src.handle);
  CHECK(Number(rb.Last("RECEIVE_FINISH").in, "handle") == m.dst);

  for (const auto* rec : {&ra, &rb}) {
    for (const auto& e : rec->events) {
      for (const auto& f : e.in) CHECK_MESSAGE(f.bytes.empty(), e.name, ".", f.name);
      for (const auto& f : e.out) CHECK_MESSAGE(f.bytes.empty(), e.name, ".", f.name);
    }
  }
  a.fw->set_observer(nullptr);
  b.fw->set_observer(nullptr);
}

}  // namespace sevemu::test
