#include "sevemu/emulator/messages/attestation_report.h"

#include <cstring>

namespace sevemu::emulator {
namespace {

template <std::size_t N>
void Put(std::array<std::uint8_t, kReportSize>& r, std::size_t off,
         const std::array<std::uint8_t, N>& v) {
  std::memcpy(r.data() + off, v.data(), N);
}

}  // namespace

std::array<std::uint8_t, kReportSize> EncodeReport(const ReportFields& f) {
  std::array<std::uint8_t, kReportSize> r{};
  StoreLe32(r.data() + 0x000, f.version);
  StoreLe32(r.data() + 0x004, f.guest_svn);
  StoreLe64(r.data() + 0x008, f.policy);
  Put(r, 0x010, f.family_id);
  Put(r, 0x020, f.image_id);
  StoreLe32(r.data() + 0x030, f.vmpl);
  StoreLe32(r.data() + 0x034, 1);  // SIGNATURE_ALGO: ECDSA P-384 with SHA-384
  StoreLe64(r.data() + 0x038, f.current_tcb);
  StoreLe64(r.data() + 0x040, f.platform_info);
  StoreLe32(r.data() + 0x048, (f.author_key_en ? 1u : 0u) | (f.mask_chip_key ? 2u : 0u) |
                                  (static_cast<std::uint32_t>(f.signing_key) << 2));
  Put(r, 0x050, f.report_data);
  Put(r, 0x090, f.measurement);
  Put(r, 0x0C0, f.host_data);
  Put(r, 0x0E0, f.id_key_digest);
  Put(r, 0x110, f.author_key_digest);
  Put(r, 0x140, f.report_id);
  Put(r, 0x160, f.report_id_ma);
  StoreLe64(r.data() + 0x180, f.reported_tcb);
  if (f.version >= 3) {
    r[0x188] = f.cpuid_family;
    r[0x189] = f.cpuid_model;
    r[0x18A] = f.cpuid_stepping;
  }
  Put(r, 0x1A0, f.chip_id);
  StoreLe64(r.data() + 0x1E0, f.committed_tcb);
  r[0x1E8] = f.current_build;
  r[0x1E9] = f.current_minor;
  r[0x1EA] = f.current_major;
  r[0x1EC] = f.committed_build;
  r[0x1ED] = f.committed_minor;
  r[0x1EE] = f.committed_major;
  StoreLe64(r.data() + 0x1F0, f.launch_tcb);
  if (f.version >= 5) {
    StoreLe64(r.data() + 0x1F8, f.launch_mit_vector);
    StoreLe64(r.data() + 0x200, f.current_mit_vector);
  }
  return r;
}

Status SignReport(std::array<std::uint8_t, kReportSize>& report, const crypto::PrivateKey& key) {
  SEVEMU_ASSIGN_OR_RETURN(crypto::EcdsaP384Signature sig,
                          key.SignEcdsaSha384(ByteSpan(report.data(), kReportSignedSize)));
  const auto fw = sig.ToFirmwareLayout();  // r LE at +0, s LE at +0x48
  std::memcpy(report.data() + kReportSignedSize, fw.data(), fw.size());
  return Status::Ok();
}

}  // namespace sevemu::emulator
