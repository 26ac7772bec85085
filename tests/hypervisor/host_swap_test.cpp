// The simulated host pages a running SNP guest out and back and moves its pages; the guest
// keeps its plaintext, and a host that replays or replaces what it stored is refused.
#include <doctest/doctest.h>

#include <cstring>

#include "../emulator/emulator_fixture.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/hypervisor/host.h"

namespace sevemu {
namespace {

using emulator::FwStatus;
using hypervisor::Host;

constexpr std::uint64_t kImageGpa = 0xFFFF0000;  // the built-in image's 16 pages below 4 GiB

std::unique_ptr<Host> BootHost() {
  emulator::FirmwareConfig cfg;
  cfg.memory_size = 256ull << 20;
  auto host = Host::Boot(test::SeededPlatform(emulator::Product::kMilan), cfg);
  REQUIRE_MESSAGE(host.ok(), (host.ok() ? "" : host.error().message()));
  return std::move(host).value();
}

hypervisor::GuestInfo Launch(Host& host, const std::string& name) {
  hypervisor::GuestLaunchSpec spec;
  spec.name = name;
  auto g = host.LaunchGuest(spec);
  REQUIRE_MESSAGE(g.ok(), (g.ok() ? "" : g.error().message()));
  return *g;
}

Bytes Read(Host& host, const std::string& name, std::uint64_t gpa, std::size_t len) {
  auto b = host.ReadGuestMemory(name, gpa, len);
  REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().message()));
  return *b;
}

// One SNP_GUEST_REQUEST for a report on VMPCK0, as the guest's driver makes it, with the key
// read from the guest's secrets page; returns the firmware status and the response status.
std::pair<FwStatus, std::uint32_t> ReportRoundTrip(Host& host, const std::string& name,
                                                   std::uint64_t seq) {
  auto info = host.Guest(name);
  REQUIRE(info.ok());
  const Bytes secrets = Read(host, name, info->secrets_gpa, 4096);
  const Bytes vmpck0(secrets.begin() + 0x20, secrets.begin() + 0x40);
  guestmsg::GuestMsgHeader h;
  h.seqno = seq;
  h.type = guestmsg::GuestMsgType::kReportReq;
  const Bytes payload(0x60, 0);
  h.msg_size = static_cast<std::uint16_t>(payload.size());
  auto ct = guestmsg::SealGuestMsg(h, payload, vmpck0);
  REQUIRE(ct.ok());
  Bytes page(4096, 0);
  const auto hdr = guestmsg::SerializeGuestMsgHeader(h);
  std::memcpy(page.data(), hdr.data(), hdr.size());
  std::memcpy(page.data() + 0x60, ct->data(), ct->size());
  auto reply = host.GuestRequest(name, page, std::nullopt);
  REQUIRE(reply.ok());
  if (reply->fw_status != FwStatus::kSuccess) return {reply->fw_status, ~0u};
  auto rh = guestmsg::ParseGuestMsgHeader(reply->response);
  REQUIRE(rh.ok());
  auto plain =
      guestmsg::OpenGuestMsg(*rh, ByteSpan(reply->response).subspan(0x60, rh->msg_size), vmpck0);
  REQUIRE(plain.ok());
  return {reply->fw_status, LoadLe32(plain->data())};
}

}  // namespace

TEST_CASE("swapped out and in, the guest reads the same memory and still gets reports") {
  auto host = BootHost();
  const auto g = Launch(*host, "g");
  const Bytes image = Read(*host, "g", kImageGpa, 16 * 4096);
  const Bytes secrets = Read(*host, "g", g.secrets_gpa, 4096);

  auto out = host->SwapOutPages("g", kImageGpa, 16);
  REQUIRE_MESSAGE(out.ok(), (out.ok() ? "" : out.error().message()));
  CHECK(*out == 16);
  REQUIRE(host->SwapOutPages("g", g.secrets_gpa, 1).ok());
  auto info = host->Guest("g");
  REQUIRE(info.ok());
  CHECK(info->swapped_pages == 17);
  CHECK(info->metadata_pages == 1);
  CHECK(info->pages == g.pages - 17);
  auto gone = host->ReadGuestMemory("g", kImageGpa + 4096, 16);
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.error().message().find("swapped out") != std::string::npos);
  // The host's copy is ciphertext.
  auto stored = host->SwappedCiphertext("g", g.secrets_gpa);
  REQUIRE(stored.ok());
  CHECK(*stored != secrets);

  REQUIRE(host->SwapInPages("g", g.secrets_gpa, 1).ok());
  auto in = host->SwapInPages("g", kImageGpa, 16);
  REQUIRE_MESSAGE(in.ok(), (in.ok() ? "" : in.error().message()));
  CHECK(Read(*host, "g", kImageGpa, 16 * 4096) == image);
  CHECK(Read(*host, "g", g.secrets_gpa, 4096) == secrets);
  info = host->Guest("g");
  CHECK(info->swapped_pages == 0);
  CHECK(info->pages == g.pages);
  // The secrets page came back with its VMPCKs: the guest's next request is answered.
  const auto [fw, status] = ReportRoundTrip(*host, "g", 1);
  CHECK(fw == FwStatus::kSuccess);
  CHECK(status == 0);
  // Entries are reused: swapping again needs no new metadata page.
  REQUIRE(host->SwapOutPages("g", kImageGpa, 16).ok());
  CHECK(host->Guest("g")->metadata_pages == 1);
}

TEST_CASE("the host replays or replaces a swapped-out page: refused, nothing changes") {
  auto host = BootHost();
  const auto g = Launch(*host, "g");
  const std::uint64_t gpa = kImageGpa;
  REQUIRE(host->SwapOutPages("g", gpa, 1).ok());
  const Bytes old_copy = *host->SwappedCiphertext("g", gpa);
  REQUIRE(host->SwapInPages("g", gpa, 1).ok());
  const Bytes fresh = {0xC0, 0xFF, 0xEE};
  REQUIRE(host->WriteGuestMemory("g", gpa, fresh).ok());
  REQUIRE(host->SwapOutPages("g", gpa, 1).ok());
  const Bytes current = *host->SwappedCiphertext("g", gpa);

  const Bytes before = host->firmware().StateDigest();
  REQUIRE(host->ReplaceSwappedCiphertext("g", gpa, old_copy).ok());
  auto replay = host->SwapInPages("g", gpa, 1);
  REQUIRE_FALSE(replay.ok());
  CHECK(replay.error().message().find("BAD_MEASUREMENT") != std::string::npos);
  CHECK(host->firmware().StateDigest() == before);
  CHECK(host->Guest("g")->swapped_pages == 1);

  Bytes flipped = current;
  flipped[100] ^= 1;
  REQUIRE(host->ReplaceSwappedCiphertext("g", gpa, flipped).ok());
  CHECK_FALSE(host->SwapInPages("g", gpa, 1).ok());
  CHECK(host->firmware().StateDigest() == before);

  REQUIRE(host->ReplaceSwappedCiphertext("g", gpa, current).ok());
  REQUIRE(host->SwapInPages("g", gpa, 1).ok());
  CHECK(Read(*host, "g", gpa, 3) == fresh);
}

TEST_CASE("a page moved to another host page keeps its contents; errors change nothing") {
  auto host = BootHost();
  const auto g = Launch(*host, "g");
  const Bytes secrets = Read(*host, "g", g.secrets_gpa, 4096);
  REQUIRE(host->MoveGuestPage("g", g.secrets_gpa).ok());
  CHECK(Read(*host, "g", g.secrets_gpa, 4096) == secrets);
  CHECK(host->Guest("g")->pages == g.pages);
  CHECK(ReportRoundTrip(*host, "g", 1).first == FwStatus::kSuccess);

  const Bytes before = host->firmware().StateDigest();
  CHECK(host->SwapOutPages("g", kImageGpa + 1, 1).error().code() == ErrorCode::kInvalidArgument);
  CHECK(host->SwapOutPages("g", kImageGpa, 0).error().code() == ErrorCode::kInvalidArgument);
  CHECK(host->SwapOutPages("g", 0x1000, 1).error().code() == ErrorCode::kNotFound);
  CHECK(host->SwapInPages("g", kImageGpa, 1).error().code() == ErrorCode::kNotFound);
  CHECK(host->MoveGuestPage("g", 0x1000).error().code() == ErrorCode::kNotFound);
  CHECK(host->SwapOutPages("nope", kImageGpa, 1).error().code() == ErrorCode::kNotFound);
  CHECK(host->ReplaceSwappedCiphertext("g", kImageGpa, Bytes(4096)).error().code() ==
        ErrorCode::kNotFound);
  CHECK(host->firmware().StateDigest() == before);
  // A range that runs into an unmapped page: the pages before it are out, the rest as it was.
  auto part = host->SwapOutPages("g", 0xFFFFE000, 4);
  REQUIRE_FALSE(part.ok());
  CHECK(part.error().message().find("2 of 4") != std::string::npos);
  CHECK(host->Guest("g")->swapped_pages == 2);
}

TEST_CASE("destroying a guest with swapped-out pages frees its metadata pages") {
  auto host = BootHost();
  const auto firmware_pages = host->firmware().memory().rmp().AssignedPages(0);
  (void)Launch(*host, "g");
  REQUIRE(host->SwapOutPages("g", kImageGpa, 16).ok());
  REQUIRE(host->Guest("g")->metadata_pages == 1);
  REQUIRE(host->DestroyGuest("g").ok());
  CHECK(host->firmware().memory().rmp().AssignedPages(0) == firmware_pages);
  (void)Launch(*host, "g");
  CHECK(host->Guest("g")->swapped_pages == 0);
}

}  // namespace sevemu
