// A simulated SNP host: what the Linux kernel (the ccp sev-dev driver and KVM) and the VMM do
// around the AMD-SP. It owns the booted firmware, hands it pages the way the kernel does
// (RMPUPDATE to FIRMWARE / PRE_GUEST and back), launches guests page by page as QEMU does,
// carries guest requests to SNP_GUEST_REQUEST (the GHCB exit), and keeps the certificate table
// the host gives its guests for extended reports.
//
// Layering: front ends (daemon, CLI) call this; this calls emulator/, rmp/, launch/ and uapi/
// (the Linux ABI its /dev/sev driver speaks). It knows nothing of sockets.
//
// Thread safety: not thread-safe; one caller at a time (the daemon serialises per platform).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/launch_digest.h"
#include "sevemu/emulator/platform_state.h"

namespace sevemu::hypervisor {

class SevDevice;

struct GuestLaunchSpec {
  std::string name;  // 1..64 of [A-Za-z0-9._-], unique on the host
  Bytes image;       // firmware image with SEV metadata (OVMF); empty = DefaultGuestImage()
  std::uint64_t policy = 0x30000;  // SNP guest policy (ABI >= 0.0, SMT allowed, bit 17 set)
  std::uint32_t vcpus = 1;
  std::array<std::uint8_t, 32> host_data{};
  Bytes id_block;  // empty, or the 0x60-byte ID block for LAUNCH_FINISH
  Bytes id_auth;   // empty, or the 0x1000-byte ID authentication info
  bool author_key_en = false;
};

struct GuestInfo {
  std::string name;
  // Unique for the Host's life: a guest destroyed and launched again under the same name is
  // another guest, and connections bound to the first must not reach the second.
  std::uint64_t launch_id = 0;
  std::uint32_t asid = 0;
  std::uint64_t gctx_paddr = 0;
  std::uint64_t policy = 0;
  std::uint32_t vcpus = 0;
  std::array<std::uint8_t, 32> host_data{};
  emulator::LaunchDigest measurement{};  // the launch digest the firmware computed
  std::uint64_t secrets_gpa = 0;
  std::uint64_t cpuid_gpa = 0;
  std::size_t pages = 0;  // 4 KiB pages the guest owns
  bool id_block = false;
};

// What the VMM hands back to the guest after an SNP_GUEST_REQUEST exit.
struct GuestRequestReply {
  emulator::FwStatus fw_status = emulator::FwStatus::kSuccess;
  std::uint32_t vmm_error = 0;     // uapi::kSnpGuestVmmErrInvalidLen: certificate buffer too small
  Bytes response;                  // the 4 KiB response page, when fw_status is SUCCESS
  Bytes certs;                     // extended requests: the certificate table
  std::uint32_t certs_needed = 0;  // bytes (whole 4 KiB pages) the certificate table needs
};

class Host {
 public:
  // Boots the firmware over `platform` and initialises SNP as the kernel does at module load
  // (WBINVD, SNP_INIT, SNP_DF_FLUSH), so tools find an initialised platform.
  static Result<std::unique_ptr<Host>> Boot(emulator::Platform platform,
                                            const emulator::FirmwareConfig& config);
  ~Host();

  emulator::Firmware& firmware();
  const emulator::Platform& platform() const;  // identity, fuses and root as manufactured
  SevDevice& sev_device();                     // /dev/sev

  // A complete SNP launch: GCTX_CREATE, ACTIVATE, LAUNCH_START, every LAUNCH_UPDATE of the
  // image's plan (launch/expected_digest.h), LAUNCH_FINISH. On any failure the partly launched
  // guest is decommissioned and its pages returned; the error names the failing command and
  // its status.
  Result<GuestInfo> LaunchGuest(const GuestLaunchSpec& spec);
  std::vector<GuestInfo> Guests() const;
  Result<GuestInfo> Guest(const std::string& name) const;
  // DECOMMISSION, then the pages are reclaimed and returned to the hypervisor.
  Status DestroyGuest(const std::string& name);

  // The guest's own view of its memory (VMPL0, private, decrypted), as its kernel reads it.
  Result<Bytes> ReadGuestMemory(const std::string& name, std::uint64_t gpa, std::size_t len);
  Status WriteGuestMemory(const std::string& name, std::uint64_t gpa, ByteSpan data);

  // The guest's SNP_GUEST_REQUEST exit: `request` (at most 4 KiB) is the shared request page.
  // `cert_buffer_len` set = an extended request whose certificate buffer has that many bytes;
  // too small ⇒ vmm_error INVALID_LEN and certs_needed, and the firmware is not called (KVM).
  Result<GuestRequestReply> GuestRequest(const std::string& name, ByteSpan request,
                                         std::optional<std::uint32_t> cert_buffer_len);

  // The certificate table guests get with extended reports. Until the host sets one it is
  // automatic: VCEK at the reported TCB, ASK, ARK (rebuilt when the reported TCB changes).
  // Set checks the table parses (cert_table.h); an empty table means "no certificates".
  Status SetCertTable(Bytes table);
  void UseAutomaticCertTable();
  Result<Bytes> CertTable();

  // SNP_DOWNLOAD_FIRMWARE_EX with a simulated image (emulator/firmware_image.h).
  emulator::FwStatus DownloadFirmware(ByteSpan image, bool commit);

  // Returns true once since the last call if platform.json content changed (commands such as
  // SNP_COMMIT, SNP_CONFIG, firmware download): the daemon then persists it.
  bool TakePersistentChange();

 private:
  struct Impl;
  explicit Host(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A small built-in guest firmware image: OVMF's table and SEV metadata layout (SNP_SEC_MEM,
// SECRETS, CPUID) around a tiny body, for launches that do not name an image.
Bytes DefaultGuestImage();

}  // namespace sevemu::hypervisor
