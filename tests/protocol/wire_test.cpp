// The socket protocol's codecs: exact header bytes, round trips, and refusal of every
// malformed shape a peer could send.
#include "sevemu/protocol/wire.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace sevemu {
namespace {

using namespace protocol;

}  // namespace

TEST_CASE("the frame header has the documented bytes") {
  FrameHeader h;
  h.type = MsgType::kGuestRequest;
  h.request_id = 0x01020304;
  h.payload_length = 0x50;
  const auto b = EncodeHeader(h);
  const std::uint8_t want[16] = {'S',  'E',  'V',  'M',  0x01, 0x00, 0x22, 0x00,
                                 0x04, 0x03, 0x02, 0x01, 0x50, 0x00, 0x00, 0x00};
  CHECK(std::memcmp(b.data(), want, 16) == 0);
  auto back = DecodeHeader(b);
  REQUIRE(back.ok());
  CHECK(back->type == MsgType::kGuestRequest);
  CHECK(back->request_id == 0x01020304);
  CHECK(back->payload_length == 0x50);
}

TEST_CASE("bad headers are refused with a reason") {
  auto b = EncodeHeader(FrameHeader{});
  CHECK_FALSE(DecodeHeader(ByteSpan(b).first(15)).ok());
  auto bad_magic = b;
  bad_magic[0] = 'X';
  CHECK(DecodeHeader(bad_magic).error().message().find("magic") != std::string::npos);
  auto bad_version = b;
  bad_version[4] = 2;
  CHECK(DecodeHeader(bad_version).error().message().find("version 2") != std::string::npos);
  auto huge = b;
  StoreLe32(huge.data() + 12, kMaxPayload + 1);
  CHECK_FALSE(DecodeHeader(huge).ok());
  StoreLe32(huge.data() + 12, kMaxPayload);
  CHECK(DecodeHeader(huge).ok());
}

TEST_CASE("SEV_IOCTL requests and replies round-trip; truncation and trailing bytes are refused") {
  SevIoctlRequest req;
  req.request = uapi::kSevIssueCmd;
  req.writable = true;
  req.arg = {9, 0x1000, 0};
  req.regions.push_back({0x1000, Bytes(32, 0xAB)});
  req.regions.push_back({0x9000, Bytes(432, 0x01)});
  const Bytes enc = EncodeSevIoctlRequest(req);
  auto dec = DecodeSevIoctlRequest(enc);
  REQUIRE(dec.ok());
  CHECK(dec->request == req.request);
  CHECK(dec->writable);
  // Copies: doctest binds references, and the packed ABI struct's fields are unaligned.
  const std::uint32_t cmd = dec->arg.cmd;
  const std::uint64_t data = dec->arg.data;
  CHECK(cmd == 9);
  CHECK(data == 0x1000);
  REQUIRE(dec->regions.size() == 2);
  CHECK(dec->regions[1].addr == 0x9000);
  CHECK(dec->regions[1].bytes == Bytes(432, 0x01));
  for (std::size_t cut = 0; cut < enc.size(); ++cut) {
    CHECK_FALSE(DecodeSevIoctlRequest(ByteSpan(enc).first(cut)).ok());
  }
  Bytes trailing = enc;
  trailing.push_back(0);
  CHECK_FALSE(DecodeSevIoctlRequest(trailing).ok());
  // More regions than any command stages, or a region above the kernel's 16 KiB blob limit.
  SevIoctlRequest many = req;
  many.regions.assign(9, {0x1000, Bytes(1)});
  CHECK_FALSE(DecodeSevIoctlRequest(EncodeSevIoctlRequest(many)).ok());
  SevIoctlRequest big = req;
  big.regions = {{0x1000, Bytes(uapi::kSevFwBlobMaxSize + 1)}};
  CHECK_FALSE(DecodeSevIoctlRequest(EncodeSevIoctlRequest(big)).ok());

  SevIoctlReply rep;
  rep.ret = -5;
  rep.copy_back = true;
  rep.arg = {9, 0x1000, 0x16};
  rep.written.push_back({0x1000, Bytes(32, 7)});
  auto r = DecodeSevIoctlReply(EncodeSevIoctlReply(rep));
  REQUIRE(r.ok());
  CHECK(r->ret == -5);
  const std::uint32_t error = r->arg.error;
  CHECK(error == 0x16);
  CHECK(r->written.size() == 1);
}

TEST_CASE("guest messages round-trip and are bounded") {
  GuestRequestMsg m{std::uint32_t{0x4000}, Bytes(0x60 + 0x60, 0x11)};
  auto d = DecodeGuestRequest(EncodeGuestRequest(m));
  REQUIRE(d.ok());
  CHECK(d->cert_buffer_len == std::optional<std::uint32_t>(0x4000));
  CHECK(d->request == m.request);
  GuestRequestMsg plain{std::nullopt, Bytes(16, 1)};
  auto p = DecodeGuestRequest(EncodeGuestRequest(plain));
  REQUIRE(p.ok());
  CHECK_FALSE(p->cert_buffer_len.has_value());
  GuestRequestMsg too_big{std::nullopt, Bytes(4097, 1)};
  CHECK_FALSE(DecodeGuestRequest(EncodeGuestRequest(too_big)).ok());
  Bytes bad_flag = EncodeGuestRequest(plain);
  bad_flag[0] = 2;
  CHECK_FALSE(DecodeGuestRequest(bad_flag).ok());

  GuestRequestReplyMsg rep{0, 1, 0x2000, {}, {}};
  auto r = DecodeGuestRequestReply(EncodeGuestRequestReply(rep));
  REQUIRE(r.ok());
  CHECK(r->vmm_error == 1);
  CHECK(r->certs_needed == 0x2000);

  auto rd = DecodeGuestMemRead(EncodeGuestMemRead({0x80D000, 4096}));
  REQUIRE(rd.ok());
  CHECK(rd->gpa == 0x80D000);
  CHECK_FALSE(DecodeGuestMemRead(EncodeGuestMemRead({0, (1u << 20) + 1})).ok());
  auto wr = DecodeGuestMemWrite(EncodeGuestMemWrite({0x80D0A0, Bytes{1, 2, 3}}));
  REQUIRE(wr.ok());
  CHECK(wr->data == Bytes({1, 2, 3}));
  CHECK_FALSE(DecodeGuestMemWrite(Bytes(7)).ok());
}

TEST_CASE(
    "GUEST_IOCTL and GUEST_TSM_REPORT round-trip; truncation, trailing bytes and sizes refused") {
  GuestIoctlRequest q;
  q.request = uapi::kSnpGetExtReport;
  q.arg = 0x7ffc0000;
  q.regions.push_back({0x7ffc0000, Bytes(32, 0xAB)});
  q.regions.push_back({0x1000, Bytes(112, 0x01)});
  const Bytes qe = EncodeGuestIoctlRequest(q);
  auto qd = DecodeGuestIoctlRequest(qe);
  REQUIRE(qd.ok());
  CHECK(qd->request == uapi::kSnpGetExtReport);
  CHECK(qd->arg == 0x7ffc0000);
  REQUIRE(qd->regions.size() == 2);
  CHECK(qd->regions[1].addr == 0x1000);
  CHECK(qd->regions[1].bytes == Bytes(112, 0x01));
  CHECK_FALSE(DecodeGuestIoctlRequest(ByteSpan(qe).first(qe.size() - 1)).ok());
  Bytes trailing = qe;
  trailing.push_back(0);
  CHECK_FALSE(DecodeGuestIoctlRequest(trailing).ok());

  GuestIoctlReply y{-5, {{0x2000, Bytes(4000, 0x22)}}};
  auto yd = DecodeGuestIoctlReply(EncodeGuestIoctlReply(y));
  REQUIRE(yd.ok());
  CHECK(yd->ret == -5);
  REQUIRE(yd->written.size() == 1);
  CHECK(yd->written[0].bytes.size() == 4000);
  CHECK_FALSE(DecodeGuestIoctlReply(Bytes(3)).ok());

  TsmReportRequest t{2, Bytes(64, 0x5A)};
  auto td = DecodeTsmReportRequest(EncodeTsmReportRequest(t));
  REQUIRE(td.ok());
  CHECK(td->privlevel == 2);
  CHECK(td->inblob == Bytes(64, 0x5A));
  // TSM_INBLOB_MAX is 64.
  CHECK_FALSE(DecodeTsmReportRequest(EncodeTsmReportRequest({0, Bytes(65, 1)})).ok());

  TsmReportReply tr{0, Bytes(0x4A0, 7), Bytes(0x100, 8)};
  auto trd = DecodeTsmReportReply(EncodeTsmReportReply(tr));
  REQUIRE(trd.ok());
  CHECK(trd->outblob == tr.outblob);
  CHECK(trd->auxblob == tr.auxblob);
  const Bytes tre = EncodeTsmReportReply({-25, {}, {}});
  auto enotty = DecodeTsmReportReply(tre);
  REQUIRE(enotty.ok());
  CHECK(enotty->ret == -25);
  CHECK_FALSE(DecodeTsmReportReply(ByteSpan(tre).first(tre.size() - 1)).ok());
  CHECK(std::string(MsgTypeName(MsgType::kGuestIoctl)) == "GUEST_IOCTL");
  CHECK(std::string(MsgTypeName(MsgType::kGuestTsmReport)) == "GUEST_TSM_REPORT");
}

TEST_CASE("JSON with a blob; error bodies are one line of JSON") {
  JsonBlob m{R"({"op":"guest.list"})", Bytes{9, 9}};
  auto d = DecodeJsonBlob(EncodeJsonBlob(m));
  REQUIRE(d.ok());
  CHECK(d->json == m.json);
  CHECK(d->blob == m.blob);
  CHECK_FALSE(DecodeJsonBlob(Bytes{0xFF, 0xFF, 0xFF, 0x7F}).ok());
  const Bytes e = EncodeError("bad\"code", "line one\nline \\ two");
  const std::string text(e.begin(), e.end());
  CHECK(text == R"({"code":"bad\"code","message":"line one\u000aline \\ two"})");
  // Clients show the message alone, on one line.
  CHECK(DecodeError(e) == "line one line \\ two");
  CHECK(DecodeError(EncodeError("not_found", "guest page 0x0 is not mapped")) ==
        "guest page 0x0 is not mapped");
  // Not the documented object: shown as it came, still one line.
  CHECK(DecodeError(AsBytes("a\nb")) == "a b");
  CHECK(DecodeError(AsBytes(R"({"code":"x"})")) == R"({"code":"x"})");
  CHECK(DecodeError({}) == "daemon error (no details)");
}

TEST_CASE("the socket path comes from SEVEMU_SOCKET, then XDG_RUNTIME_DIR") {
  const char* old_socket = std::getenv("SEVEMU_SOCKET");
  const char* old_xdg = std::getenv("XDG_RUNTIME_DIR");
  const std::string saved_socket = old_socket ? old_socket : "";
  const std::string saved_xdg = old_xdg ? old_xdg : "";
  setenv("SEVEMU_SOCKET", "/x/y.sock", 1);
  CHECK(DefaultSocketPath() == "/x/y.sock");
  unsetenv("SEVEMU_SOCKET");
  setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
  CHECK(DefaultSocketPath() == "/run/user/7/sevemu/sevemu.sock");
  unsetenv("XDG_RUNTIME_DIR");
  CHECK(DefaultSocketPath() == "/tmp/sevemu-" + std::to_string(getuid()) + "/sevemu.sock");
  if (old_socket) setenv("SEVEMU_SOCKET", saved_socket.c_str(), 1);
  if (old_xdg) setenv("XDG_RUNTIME_DIR", saved_xdg.c_str(), 1);
}

}  // namespace sevemu
