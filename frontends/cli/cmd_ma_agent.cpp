// sevemu ma-agent: the reference migration agent, a program inside its agent guest
// (docs/migration.md). It is connected to the daemon as that guest, like any guest program, and
// talks to the firmware as a VMPL0 component of its guest does (an SVSM, a paravisor): it reads
// VMPCK0 and the message counter from its own secrets page and takes the SNP guest-request exit
// itself (protocol GUEST_REQUEST: "the client seals and counts for itself"), because Linux's
// /dev/sev-guest has no ioctl for MSG_EXPORT_REQ or MSG_IMPORT_REQ. It keeps the counter where
// the guest kernel's driver keeps it (secrets page OS area), so the two never reuse a number.
//
// The two agents (source: `export`, destination: `import`) talk through frames on stdin/stdout
// that the host relays; they protect the channel themselves. Each sends a fresh P-384 public
// key bound into an attestation report (REPORT_DATA = SHA-384(label ‖ role ‖ key)) with its
// platform's certificate table; each checks the other's VCEK chain up to an AMD root it trusts
// (--trust-ark), the report's signature under that VCEK, the binding, and that the peer runs
// the same agent (same MEASUREMENT, no debug). ECDH P-384, HKDF-SHA-384 over the transcript,
// AES-256-GCM: only the attested destination agent can open the context the source exports.
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sevemu/common/file_io.h"
#include "sevemu/crypto/aes.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/kdf.h"
#include "sevemu/crypto/keys.h"
#include "sevemu/crypto/random.h"
#include "sevemu/crypto/x509.h"
#include "sevemu/emulator/fw_status.h"
#include "sevemu/emulator/messages/attestation_report.h"
#include "sevemu/emulator/messages/migration_context.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/guestmsg/guest_message.h"
#include "snp_migrate.h"

namespace sevemu::cli {

namespace {

using guestmsg::GuestMsgType;

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kSecretsVmpck0 = 0x20;  // SEV-ABI-FACTS.md 3.7
constexpr std::uint64_t kSecretsSeqno0 = 0xA0;  // Linux secrets_os_area.msg_seqno_0
constexpr std::size_t kReportData = 0x50, kMeasurement = 0x90, kPolicy = 0x08;
constexpr std::size_t kSignedPart = 0x2A0;
constexpr std::uint64_t kPolicyDebug = 1ull << 19;
constexpr const char* kLabel = "sevemu-ma-v1 ";

std::string StatusText(const char* what, std::uint32_t st) {
  char buf[16];
  std::snprintf(buf, sizeof buf, " (0x%x)", st);
  return std::string(what) + ": " + emulator::FwStatusName(static_cast<emulator::FwStatus>(st)) +
         buf;
}

// The agent's own link to the firmware: its guest's memory and the guest-request exit.
class FirmwareLink {
 public:
  static Result<FirmwareLink> Open(const std::string& socket, const std::string& platform,
                                   const std::string& guest) {
    nlohmann::json hello = {{"role", "guest"}, {"guest", guest}};
    if (!platform.empty()) hello["platform"] = platform;
    SEVEMU_ASSIGN_OR_RETURN(
        protocol::Client c,
        protocol::Client::Connect(socket.empty() ? protocol::DefaultSocketPath() : socket,
                                  hello.dump()));
    const auto j = nlohmann::json::parse(c.hello(), nullptr, false);
    std::uint64_t secrets = 0;
    if (j.is_object() && j.contains("guest") && j["guest"].is_object()) {
      secrets = j["guest"].value("secrets_gpa", std::uint64_t{0});
    }
    if (secrets == 0) return Error(ErrorCode::kInvalidArgument, "guest '" + guest + "': not SNP");
    return FirmwareLink(std::move(c), secrets);
  }

  // One guest message under VMPCK0; the response's payload. `certs` set: an extended request
  // (the certificate table comes back there).
  Result<SecretBytes> Request(GuestMsgType type, ByteSpan payload, Bytes* certs) {
    SEVEMU_ASSIGN_OR_RETURN(Bytes key, Read(secrets_ + kSecretsVmpck0, 32));
    const SecretBytes vmpck{ByteSpan(key)};
    SecureZero(key.data(), key.size());
    SEVEMU_ASSIGN_OR_RETURN(Bytes stored, Read(secrets_ + kSecretsSeqno0, 4));
    const std::uint32_t count = LoadLe32(stored.data());
    guestmsg::GuestMsgHeader h;
    h.seqno = std::uint64_t{count} + 1;
    h.type = type;
    h.msg_size = static_cast<std::uint16_t>(payload.size());
    SEVEMU_ASSIGN_OR_RETURN(Bytes sealed, guestmsg::SealGuestMsg(h, payload, vmpck.span()));
    Bytes page(kPage, 0);
    const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
    std::copy(hdr.begin(), hdr.end(), page.begin());
    std::copy(sealed.begin(), sealed.end(), page.begin() + guestmsg::kGuestMsgHeaderSize);
    protocol::GuestRequestMsg m;
    if (certs != nullptr) m.cert_buffer_len = 0x4000;
    m.request = std::move(page);
    auto reply = c_.Call(protocol::MsgType::kGuestRequest, protocol::EncodeGuestRequest(m));
    // The message reached the host: the firmware counted it and its response (the driver's
    // snp_inc_msg_seqno does the same whatever the outcome).
    std::array<std::uint8_t, 4> next{};
    StoreLe32(next.data(), count + 2);
    (void)Write(secrets_ + kSecretsSeqno0, next);
    if (!reply.ok()) return reply.error();
    if (!reply->ok()) return Error(ErrorCode::kRefused, protocol::DecodeError(reply->payload));
    SEVEMU_ASSIGN_OR_RETURN(auto r, protocol::DecodeGuestRequestReply(reply->payload));
    if (r.fw_error != 0 || r.vmm_error != 0) {
      return Error(ErrorCode::kRefused, StatusText("SNP_GUEST_REQUEST", r.fw_error));
    }
    Bytes rsp = std::move(r.response);
    rsp.resize(kPage, 0);
    const std::uint64_t rsp_seqno = LoadLe64(rsp.data() + 0x20);
    const std::uint16_t rsp_size = static_cast<std::uint16_t>(rsp[0x36] | rsp[0x37] << 8);
    if (rsp_seqno != h.seqno + 1 || rsp[0x34] != static_cast<std::uint8_t>(type) + 1 ||
        rsp_size > guestmsg::kGuestMsgMaxPayload) {
      return Error(ErrorCode::kAuthFailed, "the firmware's response does not match the request");
    }
    std::array<std::uint8_t, crypto::kGcmIvSize> iv{};
    StoreLe64(iv.data(), rsp_seqno);
    auto plain =
        crypto::Aes256GcmOpen(vmpck.span(), iv, ByteSpan(rsp).subspan(0x30, 0x30),
                              ByteSpan(rsp).subspan(0x60, rsp_size), ByteSpan(rsp).first(16));
    if (!plain.ok()) return Error(ErrorCode::kAuthFailed, "the firmware's response does not open");
    if (certs != nullptr) *certs = std::move(r.certs);
    return plain;
  }

 private:
  FirmwareLink(protocol::Client c, std::uint64_t secrets) : c_(std::move(c)), secrets_(secrets) {}
  Result<Bytes> Read(std::uint64_t gpa, std::uint32_t len) {
    SEVEMU_ASSIGN_OR_RETURN(auto r, c_.Call(protocol::MsgType::kGuestMemRead,
                                            protocol::EncodeGuestMemRead({gpa, len})));
    if (!r.ok() || r.payload.size() != len) {
      return Error(ErrorCode::kIo, "reading the agent's secrets page failed");
    }
    return std::move(r.payload);
  }
  Status Write(std::uint64_t gpa, ByteSpan data) {
    SEVEMU_ASSIGN_OR_RETURN(
        auto r, c_.Call(protocol::MsgType::kGuestMemWrite,
                        protocol::EncodeGuestMemWrite({gpa, Bytes(data.begin(), data.end())})));
    if (!r.ok()) return Error(ErrorCode::kIo, "writing the agent's message counter failed");
    return {};
  }
  protocol::Client c_;
  std::uint64_t secrets_;
};

void PutField(Bytes& out, ByteSpan field) {
  std::uint8_t len[4];
  StoreLe32(len, static_cast<std::uint32_t>(field.size()));
  out.insert(out.end(), len, len + 4);
  out.insert(out.end(), field.begin(), field.end());
}

Result<std::vector<Bytes>> Fields(ByteSpan frame, std::size_t n) {
  std::vector<Bytes> out;
  std::size_t at = 1;
  for (std::size_t i = 0; i < n; ++i) {
    if (frame.size() < at + 4) return Error(ErrorCode::kInvalidArgument, "a short frame");
    const std::uint32_t len = LoadLe32(frame.data() + at);
    at += 4;
    if (frame.size() - at < len) return Error(ErrorCode::kInvalidArgument, "a short frame");
    out.emplace_back(frame.begin() + at, frame.begin() + at + len);
    at += len;
  }
  if (at != frame.size()) return Error(ErrorCode::kInvalidArgument, "a frame with extra bytes");
  return out;
}

Result<Bytes> Binding(const std::string& role, ByteSpan pub) {
  Bytes in(kLabel, kLabel + std::strlen(kLabel));
  in.insert(in.end(), role.begin(), role.end());
  in.insert(in.end(), pub.begin(), pub.end());
  SEVEMU_ASSIGN_OR_RETURN(Bytes d, crypto::Sha384(in));
  d.resize(64, 0);
  return d;
}

// The peer's hello: its VCEK chain up to a trusted ARK, its report under that VCEK, its key in
// the report, and the same agent (MEASUREMENT) as ours.
Result<crypto::PublicKey> CheckPeer(ByteSpan frame, const std::string& peer_role,
                                    const std::vector<Bytes>& trusted, ByteSpan own_report) {
  if (frame.empty() || frame[0] != kFrameHello) {
    return Error(ErrorCode::kInvalidArgument, "the peer did not say hello");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto f, Fields(frame, 3));
  const Bytes &pub = f[0], &report = f[1];
  if (report.size() != emulator::kReportSize) {
    return Error(ErrorCode::kInvalidArgument, "the peer's report is not 0x4A0 bytes");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto table, guestmsg::ParseCertTable(f[2]));
  Bytes vcek_der, ask_der, ark_der;
  for (const auto& e : table) {
    if (e.guid == guestmsg::kGuidVcek) vcek_der = e.der;
    if (e.guid == guestmsg::kGuidAsk) ask_der = e.der;
    if (e.guid == guestmsg::kGuidArk) ark_der = e.der;
  }
  if (vcek_der.empty() || ask_der.empty() || ark_der.empty()) {
    return Error(ErrorCode::kAuthFailed, "the peer's certificate table lacks VCEK, ASK or ARK");
  }
  bool anchored = false;
  for (const Bytes& t : trusted) anchored = anchored || t == ark_der;
  if (!anchored) return Error(ErrorCode::kAuthFailed, "the peer's ARK is not one the agent trusts");
  SEVEMU_ASSIGN_OR_RETURN(auto vcek, crypto::Certificate::FromDer(vcek_der));
  SEVEMU_ASSIGN_OR_RETURN(auto ask, crypto::Certificate::FromDer(ask_der));
  SEVEMU_ASSIGN_OR_RETURN(auto ark, crypto::Certificate::FromDer(ark_der));
  if (Status st = crypto::VerifyChain({vcek, ask, ark}, std::time(nullptr)); !st.ok()) {
    return st.error().Context("the peer's VCEK chain");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto vcek_key, vcek.SubjectPublicKey());
  SEVEMU_ASSIGN_OR_RETURN(auto sig, crypto::EcdsaP384Signature::FromFirmwareLayout(
                                        ByteSpan(report).subspan(kSignedPart)));
  if (Status st = vcek_key.VerifyEcdsaSha384(ByteSpan(report).first(kSignedPart), sig); !st.ok()) {
    return Error(ErrorCode::kAuthFailed, "the peer's report is not signed by its VCEK");
  }
  SEVEMU_ASSIGN_OR_RETURN(Bytes binding, Binding(peer_role, pub));
  if (!std::equal(binding.begin(), binding.end(), report.begin() + kReportData)) {
    return Error(ErrorCode::kAuthFailed, "the peer's key is not the one its report binds");
  }
  if (!std::equal(own_report.begin() + kMeasurement, own_report.begin() + kMeasurement + 48,
                  report.begin() + kMeasurement)) {
    return Error(ErrorCode::kAuthFailed, "the peer is not the same agent (MEASUREMENT)");
  }
  if (LoadLe64(report.data() + kPolicy) & kPolicyDebug) {
    return Error(ErrorCode::kAuthFailed, "the peer agent's policy allows debugging");
  }
  return crypto::PublicKey::FromDer(pub);
}

struct Agent {
  bool exporter = false;
  std::uint64_t target = 0;
  FirmwareLink* fw = nullptr;
  std::vector<Bytes> trusted;

  Status Run() {
    const std::string role = exporter ? "export" : "import";
    SEVEMU_ASSIGN_OR_RETURN(auto key, crypto::PrivateKey::GenerateEcP384());
    SEVEMU_ASSIGN_OR_RETURN(Bytes pub, key.Public().ToDer());
    SEVEMU_ASSIGN_OR_RETURN(Bytes binding, Binding(role, pub));
    Bytes req(0x60, 0);  // MSG_REPORT_REQ: REPORT_DATA, VMPL 0, KEY_SEL 0 (VCEK)
    std::copy(binding.begin(), binding.end(), req.begin());
    Bytes certs;
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes rsp, fw->Request(GuestMsgType::kReportReq, req, &certs));
    if (rsp.size() < 0x20 + emulator::kReportSize || LoadLe32(rsp.data()) != 0) {
      return Error(ErrorCode::kRefused, StatusText("MSG_REPORT_REQ", LoadLe32(rsp.data())));
    }
    const Bytes report(rsp.data() + 0x20, rsp.data() + 0x20 + emulator::kReportSize);
    Bytes hello{kFrameHello};
    PutField(hello, pub);
    PutField(hello, report);
    PutField(hello, certs);
    if (Status st = WriteMaFrame(STDOUT_FILENO, hello); !st.ok()) return st;
    SEVEMU_ASSIGN_OR_RETURN(Bytes peer_hello, ReadMaFrame(STDIN_FILENO));
    SEVEMU_ASSIGN_OR_RETURN(auto peer,
                            CheckPeer(peer_hello, exporter ? "import" : "export", trusted, report));
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes shared, key.EcdhP384(peer));
    Bytes transcript = exporter ? hello : peer_hello;
    const Bytes& second = exporter ? peer_hello : hello;
    transcript.insert(transcript.end(), second.begin(), second.end());
    SEVEMU_ASSIGN_OR_RETURN(Bytes salt, crypto::Sha384(transcript));
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes channel,
                            crypto::Hkdf(crypto::HashAlg::kSha384, shared.span(), salt,
                                         AsBytes("sevemu-ma-v1 context export->import"), 32));
    static const Bytes kAad = {'g', 'c', 't', 'x', ' ', 'v', '3'};
    if (exporter) {
      Bytes exp(emulator::kExportReqSize, 0);  // MSG_EXPORT_REQ: the guest, IMI_EN = 0
      StoreLe64(exp.data(), target);
      SEVEMU_ASSIGN_OR_RETURN(SecretBytes out, fw->Request(GuestMsgType::kExportReq, exp, nullptr));
      const std::uint32_t st = out.size() >= 4 ? LoadLe32(out.data()) : 0xFFFFFFFFu;
      if (st != 0) return Error(ErrorCode::kRefused, StatusText("MSG_EXPORT_REQ", st));
      if (out.size() < emulator::kExportRspGctx + emulator::kGctxExportSize) {
        return Error(ErrorCode::kInvalidArgument, "MSG_EXPORT_RSP is short");
      }
      // gctx_size, gctx_version and the context, as MSG_IMPORT_REQ takes them.
      SecretBytes body(8 + emulator::kGctxExportSize);
      std::copy(out.data() + 4, out.data() + 12, body.data());
      std::copy(out.data() + emulator::kExportRspGctx,
                out.data() + emulator::kExportRspGctx + emulator::kGctxExportSize, body.data() + 8);
      SEVEMU_ASSIGN_OR_RETURN(Bytes iv, crypto::RandomBytes(crypto::kGcmIvSize));
      SEVEMU_ASSIGN_OR_RETURN(auto sealed,
                              crypto::Aes256GcmSeal(channel.span(), iv, kAad, body.span()));
      Bytes frame{kFrameSealed};
      PutField(frame, iv);
      PutField(frame, sealed.tag);
      PutField(frame, sealed.ciphertext);
      return WriteMaFrame(STDOUT_FILENO, frame);
    }
    SEVEMU_ASSIGN_OR_RETURN(Bytes frame, ReadMaFrame(STDIN_FILENO));
    if (frame.empty() || frame[0] != kFrameSealed) {
      return Error(ErrorCode::kInvalidArgument, "the source agent sent no context");
    }
    SEVEMU_ASSIGN_OR_RETURN(auto f, Fields(frame, 3));
    auto body = crypto::Aes256GcmOpen(channel.span(), f[0], kAad, f[2], f[1]);
    if (!body.ok()) return Error(ErrorCode::kAuthFailed, "the sealed context does not open");
    if (body->size() != 8 + emulator::kGctxExportSize) {
      return Error(ErrorCode::kInvalidArgument, "the sealed context has the wrong size");
    }
    SecretBytes imp(emulator::kImportReqSize);  // MSG_IMPORT_REQ into the host's INIT context
    StoreLe64(imp.data(), target);
    std::copy(body->data(), body->data() + 8, imp.data() + 8);  // in_gctx_size, _version
    std::copy(body->data() + 8, body->data() + body->size(), imp.data() + emulator::kImportReqGctx);
    SEVEMU_ASSIGN_OR_RETURN(SecretBytes r,
                            fw->Request(GuestMsgType::kImportReq, imp.span(), nullptr));
    const std::uint32_t st = r.size() >= 4 ? LoadLe32(r.data()) : 0xFFFFFFFFu;
    if (st != 0) return Error(ErrorCode::kRefused, StatusText("MSG_IMPORT_REQ", st));
    return WriteMaFrame(STDOUT_FILENO, Bytes{kFrameDone});
  }
};

}  // namespace

Status WriteMaFrame(int fd, ByteSpan frame) {
  if (frame.size() > kMaxMaFrame) return Error(ErrorCode::kInvalidArgument, "frame too large");
  std::uint8_t len[4];
  StoreLe32(len, static_cast<std::uint32_t>(frame.size()));
  if (Status st = protocol::WriteAll(fd, ByteSpan(len, 4)); !st.ok()) return st;
  return protocol::WriteAll(fd, frame);
}

Result<Bytes> ReadMaFrame(int fd) {
  std::uint8_t len[4];
  if (Status st = protocol::ReadExact(fd, MutableByteSpan(len, 4)); !st.ok()) {
    return Error(ErrorCode::kIo, "the other side closed the channel");
  }
  const std::uint32_t n = LoadLe32(len);
  if (n == 0 || n > kMaxMaFrame) return Error(ErrorCode::kInvalidArgument, "a bad frame length");
  Bytes out(n);
  if (Status st = protocol::ReadExact(fd, out); !st.ok()) {
    return Error(ErrorCode::kIo, "the other side closed the channel");
  }
  return out;
}

int RunMaAgent(const std::string& name, const Args& args) {
  std::string role, guest, socket, platform = DefaultPlatform(), target_text;
  std::vector<std::string> trust;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("role", po::value(&role)->required(), "export (the source's agent) | import (the destination's)")
      ("guest", po::value(&guest)->required(), "the agent's own guest")
      ("target-gctx", po::value(&target_text)->required(), "the context to export, or the empty one to import into")
      ("trust-ark", po::value(&trust)->composing(), "PEM file of an AMD root (ARK) to trust; repeatable")
      ("socket", po::value(&socket), "daemon socket")
      ("platform", po::value(&platform), "platform on the daemon");
  // clang-format on
  po::positional_options_description pos;
  pos.add("role", 1);
  int code = 0;
  auto vm = ParseArgs(name, "export|import --guest MA --target-gctx ADDR --trust-ark FILE", desc,
                      args, code, &pos);
  if (!vm) return code;
  auto fail = [&](const Error& e) {
    // The host relays this line; it carries no secret (statuses and checks only).
    (void)WriteMaFrame(STDOUT_FILENO, [&] {
      Bytes f{kFrameError};
      const std::string m = e.message();
      f.insert(f.end(), m.begin(), m.end());
      return f;
    }());
    return kExitFailure;
  };
  if (role != "export" && role != "import") return UsageError(name, "role: export or import");
  char* end = nullptr;
  const unsigned long long target = std::strtoull(target_text.c_str(), &end, 0);
  if (target_text.empty() || *end != '\0') return UsageError(name, "--target-gctx: an address");
  Agent a;
  a.exporter = role == "export";
  a.target = target;
  for (const std::string& file : trust) {
    auto pem = ReadWholeFile(file, 1u << 20);
    if (!pem.ok()) return fail(pem.error());
    auto certs = crypto::Certificate::AllFromPem(
        std::string_view(reinterpret_cast<const char*>(pem->data()), pem->size()));
    if (!certs.ok()) return fail(certs.error().Context(file));
    for (const auto& c : *certs) {
      auto der = c.ToDer();
      if (der.ok()) a.trusted.push_back(*der);
    }
  }
  if (a.trusted.empty()) return fail(Error(ErrorCode::kInvalidArgument, "no --trust-ark given"));
  auto link = FirmwareLink::Open(socket, platform, guest);
  if (!link.ok()) return fail(link.error());
  a.fw = &*link;
  if (Status st = a.Run(); !st.ok()) return fail(st.error());
  return kExitOk;
}

}  // namespace sevemu::cli
