// The trace end to end: a host boots, launches an SNP guest, the guest asks for a report and a
// derived key, and a legacy guest is launched with the owner's session and a secret. Every
// command is in the trace with its caller and its decoded fields, and no secret byte is.
#include "sevemu/trace/trace.h"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "emulator_fixture.h"
#include "sevemu/crypto/base64.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/host.h"
#include "sevemu/hypervisor/sev_dev.h"
#include "sevemu/owner/launch_session.h"
#include "sevemu/uapi/linux_sev.h"
#include "test_util.h"

namespace sevemu {
namespace {

using guestmsg::GuestMsgType;
using hypervisor::Host;
using Json = nlohmann::json;

// The trace as a test reads it: every line, parsed.
struct Recorder {
  trace::TraceHub hub;
  std::vector<std::string> lines;
  Recorder() {
    hub.AddListener([this](const std::string& l) { lines.push_back(l); });
  }
  std::vector<Json> Parsed() const {
    std::vector<Json> out;
    for (const auto& l : lines) {
      Json j = Json::parse(l, nullptr, false);
      REQUIRE_MESSAGE(j.is_object(), l);
      out.push_back(j);
    }
    return out;
  }
  std::vector<Json> Commands(const std::string& name) const {
    std::vector<Json> out;
    for (const auto& j : Parsed()) {
      if (j["ev"] == "command" && j["name"] == name) out.push_back(j);
    }
    return out;
  }
  std::string Text() const {
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return all;
  }
};

std::unique_ptr<Host> BootHost(trace::TraceWriter& writer, const emulator::Platform& platform) {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  cfg.observer = &writer;
  auto host = Host::Boot(platform, cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

// The guest's side of one message on VMPCK0 (tests/hypervisor/host_test.cpp does the same).
Bytes Vmpck(Host& host, const std::string& name, int id) {
  auto info = host.Guest(name);
  REQUIRE(info.ok());
  auto secrets = host.ReadGuestMemory(name, info->secrets_gpa, 4096);
  REQUIRE(secrets.ok());
  return Bytes(secrets->begin() + 0x20 + 32 * id, secrets->begin() + 0x40 + 32 * id);
}

Bytes Exchange(Host& host, const std::string& name, GuestMsgType type, const Bytes& payload,
               std::uint64_t seq) {
  const Bytes key = Vmpck(host, name, 0);
  guestmsg::GuestMsgHeader h;
  h.seqno = seq;
  h.type = type;
  h.msg_size = static_cast<std::uint16_t>(payload.size());
  auto ct = guestmsg::SealGuestMsg(h, payload, key);
  REQUIRE(ct.ok());
  Bytes page(4096, 0);
  const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
  std::memcpy(page.data(), hdr.data(), hdr.size());
  std::memcpy(page.data() + 0x60, ct->data(), ct->size());
  auto reply = host.GuestRequest(name, page, std::nullopt);
  REQUIRE(reply.ok());
  REQUIRE(reply->fw_status == emulator::FwStatus::kSuccess);
  auto rh = guestmsg::ParseGuestMsgHeader(reply->response);
  REQUIRE(rh.ok());
  auto plain =
      guestmsg::OpenGuestMsg(*rh, ByteSpan(reply->response).subspan(0x60, rh->msg_size), key);
  REQUIRE(plain.ok());
  return Bytes(plain->data(), plain->data() + plain->size());
}

// /dev/sev memory for PDH_CERT_EXPORT.
class PlainUser final : public uapi::UserMemory {
 public:
  bool Read(std::uint64_t addr, MutableByteSpan out) override {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = bytes_[addr + i];
    return true;
  }
  bool Write(std::uint64_t addr, ByteSpan data) override {
    for (std::size_t i = 0; i < data.size(); ++i) bytes_[addr + i] = data[i];
    return true;
  }

 private:
  std::map<std::uint64_t, std::uint8_t> bytes_;
};

// A legacy guest launched with an owner's session and given `secret`; returns the session.
owner::LaunchSession LaunchLegacyWithSecret(Host& host, const SecretBytes& secret) {
  PlainUser user;
  constexpr std::uint64_t kArg = 0x1000, kPdh = 0x10000, kChain = 0x20000;
  const uapi::SevUserDataPdhCertExport req{kPdh, 0x824, kChain, 0x186C};
  REQUIRE(user.Write(kArg, ByteSpan(reinterpret_cast<const std::uint8_t*>(&req), sizeof req)));
  uapi::SevIssueCmdArg arg{static_cast<std::uint32_t>(uapi::SevUserCmd::kPdhCertExport), kArg, 0};
  REQUIRE(host.sev_device().Ioctl(uapi::kSevIssueCmd, arg, user, true).ret == 0);
  Bytes pdh_bytes(0x824);
  REQUIRE(user.Read(kPdh, pdh_bytes));
  auto pdh = emulator::SevCert::Parse(pdh_bytes);
  REQUIRE(pdh.ok());
  auto pdh_key = pdh->pubkey.ToCrypto();
  REQUIRE(pdh_key.ok());
  auto s = owner::MakeLaunchSession(*pdh_key, 0x1);
  REQUIRE(s.ok());
  hypervisor::SevGuestLaunchSpec spec;
  spec.name = "legacy";
  spec.policy = 0x1;
  spec.godh_cert.assign(s->godh_cert.begin(), s->godh_cert.end());
  const auto blob = s->SessionBytes();
  spec.session.assign(blob.begin(), blob.end());
  auto g = host.LaunchSevGuest(spec);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  auto measured = emulator::ParseSevMeasureOut(g->launch_measure);
  REQUIRE(measured.ok());
  auto packet = owner::PackageLaunchSecret(s->keys, {g->api_major, g->api_minor, g->build},
                                           measured->measurement, secret);
  REQUIRE(packet.ok());
  REQUIRE(host.InjectLaunchSecret("legacy", packet->HeaderBytes(), packet->ciphertext, {}).ok());
  REQUIRE(host.FinishSevLaunch("legacy").ok());
  return std::move(s).value();
}

// True if any 12 consecutive bytes of `secret` appear in `text`, raw or as hex (either case).
bool Leaks(const std::string& text, ByteSpan secret) {
  constexpr std::size_t kWindow = 12;
  if (secret.size() < kWindow) return false;
  for (std::size_t i = 0; i + kWindow <= secret.size(); ++i) {
    const ByteSpan w = secret.subspan(i, kWindow);
    std::string hex = HexEncode(w);
    if (text.find(hex) != std::string::npos) return true;
    for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (text.find(hex) != std::string::npos) return true;
    if (text.find(std::string(w.begin(), w.end())) != std::string::npos) return true;
  }
  return text.find(crypto::Base64Encode(secret)) != std::string::npos;
}

}  // namespace

TEST_CASE("a launch and a report are traced: every command, its caller and its fields") {
  Recorder rec;
  trace::TraceWriter writer("p0", rec.hub);
  auto host = BootHost(writer, test::SeededPlatform(emulator::Product::kMilan));
  hypervisor::GuestLaunchSpec spec;
  spec.name = "web";
  spec.host_data[0] = 0x5A;
  writer.SetCaller({"", 0, 3});
  auto g = host->LaunchGuest(spec);
  REQUIRE(g.ok());
  writer.SetCaller({"web", 0, 4});
  Bytes report_req(0x60, 0);
  report_req[0] = 0xAB;
  const Bytes report = Exchange(*host, "web", GuestMsgType::kReportReq, report_req, 1);
  REQUIRE(report.size() == 0x4C0);

  const auto all = rec.Parsed();
  // Every line numbered in order, of this platform, with a caller.
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i]["seq"] == i);
    CHECK(all[i]["platform"] == "p0");
    CHECK(all[i]["caller"].is_object());
  }
  // Boot: what the host kernel runs at module load, by the daemon itself (session 0).
  auto init = rec.Commands("SNP_INIT");
  REQUIRE(init.size() == 1);
  CHECK(init[0]["caller"] == Json{{"role", "host"}, {"session", 0}});
  CHECK(init[0]["status"] == "SUCCESS");
  CHECK(init[0]["transitions"][0] ==
        Json{{"machine", "snp_platform"}, {"from", "UNINIT"}, {"to", "INIT"}});
  CHECK(rec.Commands("SNP_DF_FLUSH").size() == 1);

  // The launch, in the order the VMM runs it, by the host session.
  std::vector<std::string> order;
  for (const auto& j : all) {
    if (j["ev"] == "command" && j["caller"]["session"] == 3) order.push_back(j["name"]);
  }
  REQUIRE(order.size() >= 5);
  CHECK(order[0] == "SNP_GCTX_CREATE");
  CHECK(order.back() == "SNP_LAUNCH_FINISH");
  CHECK(std::find(order.begin(), order.end(), "SNP_ACTIVATE") != order.end());
  CHECK(std::find(order.begin(), order.end(), "SNP_LAUNCH_START") != order.end());
  const auto gctx = rec.Commands("SNP_GCTX_CREATE");
  REQUIRE(gctx.size() == 1);
  const std::string gctx_paddr = gctx[0]["in"]["paddr"];
  CHECK(gctx[0]["transitions"][0] == Json{{"machine", "snp_guest"},
                                          {"gctx", gctx_paddr},
                                          {"from", nullptr},
                                          {"to", "GSTATE_INIT"}});
  // The context page went from FIRMWARE (RMPUPDATE before) to CONTEXT, in the command's pages.
  REQUIRE(gctx[0]["pages"].size() == 1);
  CHECK(gctx[0]["pages"][0]["spa"] == gctx_paddr);
  CHECK(gctx[0]["pages"][0]["from"]["state"] == "FIRMWARE");
  CHECK(gctx[0]["pages"][0]["to"]["state"] == "CONTEXT");

  const auto start = rec.Commands("SNP_LAUNCH_START");
  REQUIRE(start.size() == 1);
  CHECK(start[0]["in"]["gctx_paddr"] == gctx_paddr);
  CHECK(start[0]["in"]["policy"] == spec.policy);
  CHECK(start[0]["in"]["gosvw"] == std::string(32, '0'));
  CHECK(start[0]["length"] == sizeof(emulator::SnpLaunchStartBuf));
  const auto updates = rec.Commands("SNP_LAUNCH_UPDATE");
  CHECK(updates.size() >= 4);  // image, SNP_SEC_MEM, secrets, CPUID, VMSA pages
  bool saw_secrets = false, saw_vmsa = false;
  for (const auto& u : updates) {
    CHECK(u["status"] == "SUCCESS");
    CHECK(u["in"]["gctx_paddr"] == gctx_paddr);
    const unsigned type = (u["in"]["page_info"].get<unsigned>() >> 1) & 7;
    saw_secrets = saw_secrets || type == static_cast<unsigned>(emulator::PageType::kSecrets);
    saw_vmsa = saw_vmsa || type == static_cast<unsigned>(emulator::PageType::kVmsa);
    CHECK(u["in"]["address"].is_string());
  }
  CHECK(saw_secrets);
  CHECK(saw_vmsa);
  const auto finish = rec.Commands("SNP_LAUNCH_FINISH");
  REQUIRE(finish.size() == 1);
  CHECK(finish[0]["in"]["host_data"] == "5a" + std::string(62, '0'));
  CHECK(finish[0]["transitions"][0]["to"] == "GSTATE_RUNNING");

  // The host's RMPUPDATEs that gave the pages to the guest, each with its page-state change.
  std::size_t rmpupdates = 0;
  for (const auto& j : all) {
    if (j["ev"] != "rmp" || j["caller"]["session"] != 3) continue;
    CHECK(j["instruction"] == "RMPUPDATE");
    CHECK(j["result"] == "SUCCESS");
    CHECK(j["pages"].is_array());
    ++rmpupdates;
  }
  CHECK(rmpupdates >= updates.size());

  // The report: SNP_GUEST_REQUEST by the guest's kernel at VMPL0.
  const auto req = rec.Commands("SNP_GUEST_REQUEST");
  REQUIRE(req.size() == 1);
  CHECK(req[0]["caller"] == Json{{"role", "guest"}, {"guest", "web"}, {"vmpl", 0}, {"session", 4}});
  CHECK(req[0]["in"]["gctx_paddr"] == gctx_paddr);
  CHECK(req[0]["in"]["req_paddr"].is_string());
  CHECK(req[0]["in"]["res_paddr"].is_string());
  CHECK(req[0]["status"] == "SUCCESS");
  CHECK(req[0]["status_code"] == 0);
}

TEST_CASE("a failed command is traced with its status and no transition") {
  Recorder rec;
  trace::TraceWriter writer("p0", rec.hub);
  auto host = BootHost(writer, test::SeededPlatform(emulator::Product::kMilan));
  rec.lines.clear();
  emulator::SnpAddrBuf buf{0x1234};  // not page aligned
  CHECK(host->firmware().Execute(emulator::SnpCmd::kGctxCreate, buf) !=
        emulator::FwStatus::kSuccess);
  Bytes wrong(3);
  CHECK(host->firmware().Execute(emulator::SnpCmd::kGctxCreate, MutableByteSpan(wrong)) ==
        emulator::FwStatus::kInvalidLength);
  CHECK(host->firmware().Execute(static_cast<emulator::SnpCmd>(0x7F), MutableByteSpan(wrong)) ==
        emulator::FwStatus::kInvalidCommand);
  const auto all = rec.Parsed();
  REQUIRE(all.size() == 3);
  CHECK(all[0]["in"]["paddr"] == "0x1234");
  CHECK(all[0]["status"] != "SUCCESS");
  CHECK_FALSE(all[0].contains("transitions"));
  CHECK_FALSE(all[0].contains("pages"));
  // A buffer of the wrong size is not decoded: its length only.
  CHECK(all[1]["status"] == "INVALID_LENGTH");
  CHECK(all[1]["length"] == 3);
  CHECK(all[1]["in"].empty());
  CHECK(all[2]["name"] == "UNKNOWN");
  CHECK(all[2]["status"] == "INVALID_COMMAND");
}

TEST_CASE("no secret byte reaches the trace") {
  Recorder rec;
  trace::TraceWriter writer("p0", rec.hub);
  const emulator::Platform platform = test::SeededPlatform(emulator::Product::kMilan);
  auto host = BootHost(writer, platform);
  hypervisor::GuestLaunchSpec spec;
  spec.name = "web";
  for (std::size_t i = 0; i < spec.host_data.size(); ++i) {
    spec.host_data[i] = static_cast<std::uint8_t>(0xC3 ^ (i * 7));
  }
  REQUIRE(host->LaunchGuest(spec).ok());
  writer.SetCaller({"web", 0, 1});
  Bytes report_req(0x60, 0);
  (void)Exchange(*host, "web", GuestMsgType::kReportReq, report_req, 1);
  Bytes key_req(0x20, 0);  // root key VCEK, no mix-in
  const Bytes key_rsp = Exchange(*host, "web", GuestMsgType::kKeyReq, key_req, 3);
  REQUIRE(key_rsp.size() == 0x40);
  writer.SetCaller({});
  SecretBytes secret(Bytes{0x3c, 0x91, 0x5e, 0x07, 0xa8, 0x44, 0xd2, 0x6b, 0x19, 0xf0, 0x8e,
                           0x73, 0xc5, 0x2a, 0xbd, 0x60, 0x01, 0x9f, 0x4e, 0xe7, 0x38, 0x55,
                           0xaa, 0x0c, 0x6d, 0xf1, 0x82, 0x27, 0xb9, 0x40, 0x13, 0xde});
  const owner::LaunchSession session = LaunchLegacyWithSecret(*host, secret);

  const std::string text = rec.Text();
  REQUIRE(text.find("LAUNCH_UPDATE_SECRET") != std::string::npos);
  REQUIRE(text.find("SNP_GUEST_REQUEST") != std::string::npos);
  std::vector<std::pair<std::string, Bytes>> secrets;
  for (int i = 0; i < 4; ++i)
    secrets.emplace_back("VMPCK" + std::to_string(i), Vmpck(*host, "web", i));
  secrets.emplace_back("derived key", Bytes(key_rsp.begin() + 0x20, key_rsp.end()));
  secrets.emplace_back("hash_stick_root", Bytes(platform.fuses.hash_stick_root.span().begin(),
                                                platform.fuses.hash_stick_root.span().end()));
  secrets.emplace_back("chip_unique_key", Bytes(platform.fuses.chip_unique_key.span().begin(),
                                                platform.fuses.chip_unique_key.span().end()));
  secrets.emplace_back("TEK",
                       Bytes(session.keys.tek.span().begin(), session.keys.tek.span().end()));
  secrets.emplace_back("TIK",
                       Bytes(session.keys.tik.span().begin(), session.keys.tik.span().end()));
  secrets.emplace_back("launch secret", Bytes(secret.span().begin(), secret.span().end()));
  // Every private key the state directory holds (amd/*.key, sev-nv.json), from its PEM body.
  test::TempDir dir;
  REQUIRE(emulator::SaveNewPlatform(dir.path(), platform).ok());
  REQUIRE(emulator::SaveSevNvStore(dir.path(), host->firmware().sev_nv_store()).ok());
  std::vector<std::string> pems;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.path())) {
    if (!e.is_regular_file()) continue;
    const std::string body = test::ReadText(e.path().string());
    for (std::size_t at = body.find("-----BEGIN PRIVATE KEY-----"); at != std::string::npos;
         at = body.find("-----BEGIN PRIVATE KEY-----", at + 1)) {
      const std::size_t end = body.find("-----END PRIVATE KEY-----", at);
      REQUIRE(end != std::string::npos);
      std::string b64;
      for (std::size_t i = at + 27; i < end; ++i) {
        if (body[i] == '\\' && i + 1 < end && body[i + 1] == 'n') {
          ++i;  // a PEM inside a JSON string
        } else if (!std::isspace(static_cast<unsigned char>(body[i]))) {
          b64.push_back(body[i]);
        }
      }
      auto der = crypto::Base64Decode(b64);
      REQUIRE(der.ok());
      secrets.emplace_back(e.path().filename().string() + " private key", *der);
    }
  }
  CHECK(secrets.size() >= 12);  // ARK, ASK, ASVK keys, the legacy OCA/PEK/PDH keys
  for (const auto& [what, bytes] : secrets) {
    CAPTURE(what);
    REQUIRE(bytes.size() >= 16);
    CHECK_FALSE(Leaks(text, bytes));
  }
  // The check can fail: a value the trace does show (the host data) is found by it.
  CHECK(Leaks(text, Bytes(spec.host_data.begin(), spec.host_data.end())));
}

}  // namespace sevemu
