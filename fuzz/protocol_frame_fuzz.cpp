// Fuzzes the daemon's socket protocol codecs: the frame header and every payload decoder the
// daemon or its clients run on bytes from the other side. Whatever decodes must re-encode to
// bytes that decode to the same value (round trip), so the two sides cannot disagree.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "sevemu/protocol/wire.h"

namespace {

using namespace sevemu;
using namespace sevemu::protocol;

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  if (auto h = DecodeHeader(in); h.ok()) {
    auto again = DecodeHeader(EncodeHeader(*h));
    Check(again.ok() && again->type == h->type && again->request_id == h->request_id &&
          again->payload_length == h->payload_length);
  }
  // The first byte picks the decoder, so the corpus can steer each one.
  if (size == 0) return 0;
  const ByteSpan payload = in.subspan(1);
  switch (data[0] % 9) {
    case 0:
      if (auto m = DecodeSevIoctlRequest(payload); m.ok()) {
        auto r = DecodeSevIoctlRequest(EncodeSevIoctlRequest(*m));
        Check(r.ok() && r->regions.size() == m->regions.size() &&
              std::memcmp(&r->arg, &m->arg, sizeof m->arg) == 0);
      }
      break;
    case 1:
      if (auto m = DecodeSevIoctlReply(payload); m.ok()) {
        auto r = DecodeSevIoctlReply(EncodeSevIoctlReply(*m));
        Check(r.ok() && r->ret == m->ret && r->written.size() == m->written.size());
      }
      break;
    case 2:
      if (auto m = DecodeGuestRequest(payload); m.ok()) {
        auto r = DecodeGuestRequest(EncodeGuestRequest(*m));
        Check(r.ok() && r->request == m->request && r->cert_buffer_len == m->cert_buffer_len);
      }
      break;
    case 3:
      if (auto m = DecodeGuestRequestReply(payload); m.ok()) {
        auto r = DecodeGuestRequestReply(EncodeGuestRequestReply(*m));
        Check(r.ok() && r->response == m->response && r->certs == m->certs);
      }
      break;
    case 4:
      if (auto m = DecodeJsonBlob(payload); m.ok()) {
        auto r = DecodeJsonBlob(EncodeJsonBlob(*m));
        Check(r.ok() && r->json == m->json && r->blob == m->blob);
      }
      break;
    case 5:
      if (auto m = DecodeGuestMemRead(payload); m.ok()) {
        auto r = DecodeGuestMemRead(EncodeGuestMemRead(*m));
        Check(r.ok() && r->gpa == m->gpa && r->length == m->length);
      }
      break;
    case 6:
      if (auto m = DecodeGuestIoctlRequest(payload); m.ok()) {
        auto r = DecodeGuestIoctlRequest(EncodeGuestIoctlRequest(*m));
        Check(r.ok() && r->request == m->request && r->arg == m->arg &&
              r->regions.size() == m->regions.size());
      }
      if (auto m = DecodeGuestIoctlReply(payload); m.ok()) {
        auto r = DecodeGuestIoctlReply(EncodeGuestIoctlReply(*m));
        Check(r.ok() && r->ret == m->ret && r->written.size() == m->written.size());
      }
      break;
    case 7:
      if (auto m = DecodeTsmReportRequest(payload); m.ok()) {
        auto r = DecodeTsmReportRequest(EncodeTsmReportRequest(*m));
        Check(r.ok() && r->privlevel == m->privlevel && r->inblob == m->inblob);
      }
      if (auto m = DecodeTsmReportReply(payload); m.ok()) {
        auto r = DecodeTsmReportReply(EncodeTsmReportReply(*m));
        Check(r.ok() && r->ret == m->ret && r->outblob == m->outblob && r->auxblob == m->auxblob);
      }
      break;
    default:
      if (auto m = DecodeGuestMemWrite(payload); m.ok()) {
        auto r = DecodeGuestMemWrite(EncodeGuestMemWrite(*m));
        Check(r.ok() && r->gpa == m->gpa && r->data == m->data);
      }
      (void)DecodeError(payload);
      break;
  }
  return 0;
}
