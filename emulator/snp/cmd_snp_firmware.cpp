// SNP_DOWNLOAD_FIRMWARE_EX: live firmware update with a simulated, ARK-signed image
// (emulator/manufacturing/firmware_image.h). Checks per AMD-ASPFW snp_mcmd_download_firmware_ex and
// the boot loader's documented outcomes: reserved fields INVALID_PARAM, address alignment
// INVALID_ADDRESS, a bad image BAD_SIGNATURE, a rollback below the committed TCB/version
// INVALID_CONFIG.
#include <tuple>

#include "firmware_state.h"
#include "sevemu/emulator/manufacturing/firmware_image.h"

namespace sevemu::emulator {

FwStatus SnpDownloadFirmwareEx(FirmwareState& s, MutableByteSpan buf) {
  const auto in = ReadBuf<SnpDownloadFirmwareExBuf>(buf);
  if (in.length != sizeof(SnpDownloadFirmwareExBuf) || in.reserved != 0 || (in.flags & ~1u)) {
    return FwStatus::kInvalidParam;
  }
  if (in.fw_paddr & 0x1F) return FwStatus::kInvalidAddress;
  if (in.fw_len == 0 || in.fw_len > kFirmwareImageMax) return FwStatus::kInvalidLength;
  Bytes bytes(in.fw_len);
  if (!s.memory.FirmwareRead(in.fw_paddr, bytes).ok()) return FwStatus::kInvalidAddress;
  auto ark = s.platform.root.ark.SubjectPublicKey();
  if (!ark.ok()) return FwStatus::kHwErrorPlatform;
  auto image = ParseFirmwareImage(bytes, *ark);
  PlatformState& p = s.platform.state;
  if (!image.ok() || image->product != p.chip.product) return FwStatus::kBadSignature;
  const FirmwareVersion& c = p.committed_fw;
  const FirmwareVersion& v = image->version;
  const bool older_version =
      std::tie(v.major, v.minor, v.build) < std::tie(c.major, c.minor, c.build);
  if (!p.committed_tcb.AtOrBelow(image->tcb) || older_version) return FwStatus::kInvalidConfig;
  // The boot ROM hands the new firmware the sticks of its own TCB.
  auto sticks = HashSticks::FromRoot(s.platform.fuses.hash_stick_root, image->tcb);
  if (!sticks.ok()) return FwStatus::kUpdateFailed;
  const TcbVersion reported = (in.flags & 1) ? image->tcb : p.reported_tcb;
  auto reported_sticks = sticks->DeriveDown(reported);
  if (!reported_sticks.ok()) return FwStatus::kUpdateFailed;
  auto vcek = DeriveVcek(*reported_sticks);
  if (!vcek.ok()) return FwStatus::kUpdateFailed;
  // ---- nothing above changed state ----
  p.current_tcb = image->tcb;
  p.current_fw = image->version;
  // A live update keeps the mitigations the new firmware knows too; the new ones wait for
  // SNP_VERIFY_MITIGATION's REQ_VERIFY (or the next SNP_INIT that builds the RMP).
  s.verified_mitigations &= Abi(s).mitigations;
  if (in.flags & 1) {  // commit: the new firmware becomes the rollback floor
    p.committed_tcb = image->tcb;
    p.committed_fw = image->version;
    p.reported_tcb = image->tcb;
  }
  s.sticks = std::move(sticks).value();
  s.vcek = std::move(vcek).value();
  DropDerivedSeeds(s);
  s.persistent_changed = true;
  return FwStatus::kSuccess;
}

}  // namespace sevemu::emulator
