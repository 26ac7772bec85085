// Fuzzes the legacy SEV formats a guest owner or a host hands the firmware: the 0x824-byte SEV
// certificate, AMD's CA cert (ARK/ASK), the LAUNCH_START / SEND_START session, the packet
// header (LAUNCH_SECRET, SEND_UPDATE, RECEIVE_UPDATE) and the ATTESTATION report. What parses
// must encode back to the bytes it came from (these formats have no slack: every byte is a
// field or must be zero). A transport packet (header ‖ ciphertext) is opened under fixed keys,
// and input that can be a plaintext is sealed and must open back to itself.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sevemu/emulator/manufacturing/sev_cert.h"
#include "sevemu/emulator/sev/sev_channel.h"

namespace {

using namespace sevemu;
using namespace sevemu::emulator;

template <typename A>
void SameBytes(const A& encoded, ByteSpan in) {
  if (encoded.size() > in.size() || std::memcmp(encoded.data(), in.data(), encoded.size()) != 0) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  if (auto c = SevCert::Parse(in); c.ok()) {
    SameBytes(c->Encode(), in);
    (void)ValidateSevCert(*c, c->pubkey);  // self-check path: must not crash
  }
  if (auto c = AmdCaCert::Parse(in); c.ok()) {
    SameBytes(c->Encode(), in);
    (void)c->Validate(*c, c->key_usage);
  }
  if (auto s = ParseSevSession(in); s.ok()) SameBytes(SerializeSevSession(*s), in);
  if (auto h = ParseSevPacketHeader(in); h.ok()) SameBytes(SerializeSevPacketHeader(*h), in);
  if (auto m = ParseSevMeasureOut(in); m.ok()) SameBytes(SerializeSevMeasureOut(*m), in);
  (void)ParseSevAttestationReport(in);
  if (size >= kSevPacketHeaderSize) {
    static const SevTransportKeys keys{SecretBytes(Bytes(16, 0x11)), SecretBytes(Bytes(16, 0x22))};
    auto h = ParseSevPacketHeader(in.first(kSevPacketHeaderSize));
    if (!h.ok()) std::abort();
    (void)OpenSevTransportPacket(keys, *h, in.subspan(kSevPacketHeaderSize));
    if (size % 16 == 0 && size <= 0x5000) {
      SevIv iv{};
      std::memcpy(iv.data(), data, iv.size());
      auto p = SealSevTransportPacket(keys, iv, in);
      if (!p.ok()) std::abort();
      auto back = OpenSevTransportPacket(keys, p->header, p->ciphertext);
      if (!back.ok() || !ConstantTimeEquals(back->span(), in)) std::abort();
    }
  }
  if (size >= 4) {
    std::uint32_t policy;
    std::memcpy(&policy, data, 4);
    (void)ParseSevPolicy(policy);
  }
  return 0;
}
