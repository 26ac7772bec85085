// A guest for the sev-guest driver tests: a GuestPlatform over an in-process emulator::Firmware
// with one launched SNP guest, playing the host's part as KVM does (the request page is shared
// hypervisor memory, the response page a firmware page; an extended request whose certificate
// buffer is too small is answered with SNP_GUEST_VMM_ERR_INVALID_LEN and the size needed,
// without calling the firmware), plus fault injection. And a UserMemory over one test buffer
// that faults outside it.
#pragma once

#include <doctest/doctest.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "firmware_fixture.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/guest/guest_platform.h"
#include "sevemu/guestmsg/cert_table.h"
#include "sevemu/uapi/linux_sev.h"

namespace sevemu::test {

class TestGuest final : public guest::GuestPlatform {
 public:
  static constexpr std::uint64_t kGctx = 0x100000, kSecrets = 0x400000, kSecretsGpa = 0x801000;
  static constexpr std::uint64_t kReq = 0x500000, kRsp = 0x501000;
  static constexpr std::uint32_t kAsid = 1;

  FirmwareFixture f;
  emulator::Platform platform = SeededPlatform(emulator::Product::kMilan);
  Bytes cert_table;  // what the host hands out with extended requests (empty: none)

  // Fault injection and observation.
  int busy_replies = 0;                // answer the next N requests with VMM busy
  bool busy_forever = false;           // every request: VMM busy
  bool corrupt_next_response = false;  // flip a payload byte of the next response
  bool transport_failure = false;      // GuestRequest itself fails
  int firmware_calls = 0;              // SNP_GUEST_REQUEST commands run
  std::vector<std::optional<std::uint32_t>> cert_lens_seen;  // one per exit

  explicit TestGuest(bool with_certs = true) {
    f.InitPlatform();
    f.StartGuest(kGctx, kAsid, 0x30000);
    f.MakePreGuestPage(kSecrets, kSecretsGpa, kAsid, Bytes(4096, 0));
    REQUIRE(f.Run(emulator::SnpCmd::kLaunchUpdate,
                  f.UpdateBuf(kGctx, kSecrets, emulator::PageType::kSecrets)) ==
            emulator::FwStatus::kSuccess);
    REQUIRE(
        f.Run(emulator::SnpCmd::kLaunchFinish, emulator::SnpLaunchFinishBuf{kGctx, 0, 0, 0, {}}) ==
        emulator::FwStatus::kSuccess);
    f.MakeFirmwarePage(kRsp);
    if (with_certs) {
      auto vcek = Vcek();
      auto table = guestmsg::BuildCertTable({{guestmsg::kGuidVcek, *vcek.ToDer()},
                                             {guestmsg::kGuidAsk, *platform.root.ask.ToDer()},
                                             {guestmsg::kGuidArk, *platform.root.ark.ToDer()}});
      REQUIRE(table.ok());
      cert_table = *table;
    }
  }

  crypto::Certificate Vcek() const {
    auto vcek = emulator::Kds(platform.root)
                    .Vcek(platform.state.chip, platform.fuses, platform.state.reported_tcb,
                          platform.state.manufactured_at);
    REQUIRE(vcek.ok());
    return *vcek;
  }

  // ---- GuestPlatform ----
  Result<Bytes> ReadMemory(std::uint64_t gpa, std::size_t len) override {
    if (gpa < kSecretsGpa || gpa + len > kSecretsGpa + 4096) {
      return Error(ErrorCode::kInvalidArgument, "unmapped guest memory");
    }
    Bytes out(len);
    const auto v = f.fw->memory().GuestRead({kAsid, 0, gpa, true, false, rmp::kPermRead},
                                            kSecrets + (gpa - kSecretsGpa), out);
    if (v != rmp::RmpViolation::kNone) return Error(ErrorCode::kRefused, "RMP violation");
    return out;
  }
  Status WriteMemory(std::uint64_t gpa, ByteSpan data) override {
    if (gpa < kSecretsGpa || gpa + data.size() > kSecretsGpa + 4096) {
      return Error(ErrorCode::kInvalidArgument, "unmapped guest memory");
    }
    const auto v = f.fw->memory().GuestWrite({kAsid, 0, gpa, true, false, rmp::kPermWrite},
                                             kSecrets + (gpa - kSecretsGpa), data);
    if (v != rmp::RmpViolation::kNone) return Error(ErrorCode::kRefused, "RMP violation");
    return Status::Ok();
  }
  Result<guest::GuestRequestReply> GuestRequest(
      ByteSpan request, std::optional<std::uint32_t> cert_buffer_len) override {
    cert_lens_seen.push_back(cert_buffer_len);
    if (transport_failure) return Error(ErrorCode::kIo, "socket closed");
    guest::GuestRequestReply reply;
    if (busy_forever || busy_replies > 0) {
      if (busy_replies > 0) --busy_replies;
      reply.vmm_error = uapi::kSnpGuestVmmErrBusy;
      return reply;
    }
    // KVM: the certificate table must fit the guest's buffer, checked before the firmware runs.
    if (cert_buffer_len && !cert_table.empty() &&
        *cert_buffer_len < guestmsg::CertBufferNeeded(cert_table.size())) {
      reply.vmm_error = uapi::kSnpGuestVmmErrInvalidLen;
      reply.certs_needed =
          static_cast<std::uint32_t>(guestmsg::CertBufferNeeded(cert_table.size()));
      return reply;
    }
    REQUIRE(request.size() == 4096);
    REQUIRE(f.fw->memory().HvWrite(kReq, request) == rmp::RmpViolation::kNone);
    ++firmware_calls;
    const auto st =
        f.Run(emulator::SnpCmd::kGuestRequest, emulator::SnpGuestRequestBuf{kGctx, kReq, kRsp});
    if (st != emulator::FwStatus::kSuccess) {
      reply.fw_error = static_cast<std::uint32_t>(st);
      return reply;
    }
    reply.response.resize(4096);
    REQUIRE(f.fw->memory().FirmwareRead(kRsp, reply.response).ok());
    if (corrupt_next_response) {
      corrupt_next_response = false;
      reply.response[0x60] ^= 0x01;
    }
    if (cert_buffer_len) reply.certs = cert_table;
    return reply;
  }
  Status Lock() override {
    mu_.lock();
    return Status::Ok();
  }
  void Unlock() override { mu_.unlock(); }
  std::uint64_t SecretsGpa() const override { return kSecretsGpa; }

  // Test helpers over the secrets page.
  std::uint32_t StoredSeqno(unsigned vmpck = 0) {
    auto b = ReadMemory(kSecretsGpa + 0xA0 + 4 * vmpck, 4);
    REQUIRE(b.ok());
    return LoadLe32(b->data());
  }
  void SetStoredSeqno(std::uint32_t v, unsigned vmpck = 0) {
    std::uint8_t b[4];
    StoreLe32(b, v);
    REQUIRE(WriteMemory(kSecretsGpa + 0xA0 + 4 * vmpck, b).ok());
  }
  Bytes Vmpck(unsigned id) {
    auto b = ReadMemory(kSecretsGpa + 0x20 + 32 * id, 32);
    REQUIRE(b.ok());
    return *b;
  }

 private:
  std::mutex mu_;
};

// A process's address space: `size` bytes at `base`; anything else faults.
class TestUser final : public uapi::UserMemory {
 public:
  static constexpr std::uint64_t kBase = 0x7f0000000000ull;
  explicit TestUser(std::size_t size = 64 * 1024) : mem_(size, 0) {}

  bool Read(std::uint64_t addr, MutableByteSpan out) override {
    if (!Inside(addr, out.size())) return false;
    std::memcpy(out.data(), mem_.data() + (addr - kBase), out.size());
    return true;
  }
  bool Write(std::uint64_t addr, ByteSpan data) override {
    if (!Inside(addr, data.size())) return false;
    std::memcpy(mem_.data() + (addr - kBase), data.data(), data.size());
    ++writes;
    return true;
  }

  template <typename T>
  void Put(std::uint64_t addr, const T& v) {
    REQUIRE(Inside(addr, sizeof(T)));
    std::memcpy(mem_.data() + (addr - kBase), &v, sizeof(T));
  }
  template <typename T>
  T Get(std::uint64_t addr) const {
    T v{};
    REQUIRE(Inside(addr, sizeof(T)));
    std::memcpy(&v, mem_.data() + (addr - kBase), sizeof(T));
    return v;
  }
  Bytes Slice(std::uint64_t addr, std::size_t len) const {
    REQUIRE(Inside(addr, len));
    return Bytes(mem_.begin() + static_cast<long>(addr - kBase),
                 mem_.begin() + static_cast<long>(addr - kBase + len));
  }
  void Fill(std::uint64_t addr, std::size_t len, std::uint8_t v) {
    REQUIRE(Inside(addr, len));
    std::memset(mem_.data() + (addr - kBase), v, len);
  }

  int writes = 0;

 private:
  bool Inside(std::uint64_t addr, std::size_t len) const {
    return addr >= kBase && len <= mem_.size() && addr - kBase <= mem_.size() - len;
  }
  Bytes mem_;
};

}  // namespace sevemu::test
