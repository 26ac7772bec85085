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
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/snp/launch_digest.h"
#include "sevemu/launch/builtin_image.h"
#include "sevemu/launch/kernel_hashes.h"

namespace sevemu::hypervisor {

class SevDevice;
class FaultSet;

struct GuestLaunchSpec {
  std::string name;  // 1..64 of [A-Za-z0-9._-], unique on the host
  // firmware image with SEV metadata (OVMF); empty = DefaultGuestImage(), or
  // DefaultDirectBootImage() for a direct boot
  Bytes image;
  std::uint64_t policy = 0x30000;  // SNP guest policy (ABI >= 0.0, SMT allowed, bit 17 set)
  std::uint32_t vcpus = 1;
  // CPUID Fn0000_0001_EAX the vCPUs start with (their VMSAs' RDX): QEMU's -cpu model picks it;
  // 0 = the host CPU's ("-cpu host").
  std::uint32_t vcpu_signature = 0;
  // The VMSAs' SEV_FEATURES (sev-snp-measure's --guest-features): bit 0 SNPActive must be set.
  std::uint64_t sev_features = 1;
  std::array<std::uint8_t, 32> host_data{};
  Bytes id_block;  // empty, or the 0x60-byte ID block for LAUNCH_FINISH
  Bytes id_auth;   // empty, or the 0x1000-byte ID authentication info
  bool author_key_en = false;
  // QEMU's -kernel/-initrd/-append with kernel-hashes=on: the hashes go into the image's
  // SNP_KERNEL_HASHES page, launched NORMAL (launch/kernel_hashes.h).
  std::optional<launch::DirectBoot> direct_boot;
  // SNP_LAUNCH_START's MA_EN: the guest of this host, launched without an agent of its own,
  // that is this guest's migration agent (MA_GCTX_PADDR = its context). The policy must then
  // have MIGRATE_MA (bit 18), else the firmware answers POLICY_FAILURE. Empty = no agent.
  std::string migration_agent;
};

// What a guest is: an SEV-SNP guest, or a legacy SEV / SEV-ES guest (QEMU's sev-guest object
// without and with the policy's ES bit).
enum class GuestType { kSnp, kSev, kSevEs };
const char* GuestTypeName(GuestType t);  // "snp", "sev", "sev-es"

// A legacy launch as QEMU runs it with KVM (target/i386/sev.c): the guest owner's session opens
// the launch, the image is encrypted in place (LAUNCH_UPDATE_DATA), SEV-ES adds the vCPUs'
// VMSAs, and LAUNCH_MEASURE's answer goes to the owner. The launch then waits, as QEMU does
// between query-sev-launch-measure and the guest's start, for an optional secret
// (InjectLaunchSecret) and LAUNCH_FINISH (FinishSevLaunch).
struct SevGuestLaunchSpec {
  std::string name;  // as GuestLaunchSpec::name
  bool es = false;   // SEV-ES; must agree with the policy's ES bit (QEMU derives it from it)
  // OVMF image; empty = DefaultGuestImage() (DefaultDirectBootImage() for a direct boot). SEV
  // metadata not needed.
  Bytes image;
  std::uint32_t policy = 0x1;        // the legacy guest policy (default NODBG)
  std::uint32_t vcpus = 1;           // SEV-ES: one VMSA each
  std::uint32_t vcpu_signature = 0;  // SEV-ES VMSAs' RDX, as GuestLaunchSpec's; 0 = the host's
  // The guest owner's GODH certificate and session blob (sev-tool's godh.cert and
  // launch_blob.bin; sevctl's and QEMU's dh-cert-file/session-file, decoded). Both or neither:
  // without them the launch has no session and the measurement is keyed with zeros.
  Bytes godh_cert;
  Bytes session;
  // As GuestLaunchSpec's: the 176-byte table is LAUNCH_UPDATE_DATA'd at the image's hash table
  // area after the image.
  std::optional<launch::DirectBoot> direct_boot;
};

struct GuestInfo {
  std::string name;
  GuestType type = GuestType::kSnp;
  // Unique for the Host's life: a guest destroyed and launched again under the same name is
  // another guest, and connections bound to the first must not reach the second.
  std::uint64_t launch_id = 0;
  std::uint32_t asid = 0;
  std::uint64_t gctx_paddr = 0;
  std::uint64_t policy = 0;
  std::uint32_t vcpus = 0;
  // CPUID Fn0000_0001_EAX the vCPUs start with (their VMSAs' RDX): the launch's, by default the
  // host CPU's, as with QEMU's "-cpu host". Owners predicting a measurement need it.
  std::uint32_t vcpu_signature = 0;
  std::uint64_t sev_features = 0;  // the VMSAs' SEV_FEATURES (SNP guests)
  std::array<std::uint8_t, 32> host_data{};
  emulator::LaunchDigest measurement{};  // the launch digest the firmware computed
  std::uint64_t secrets_gpa = 0;
  std::uint64_t cpuid_gpa = 0;
  std::size_t pages = 0;           // 4 KiB pages the guest owns
  std::size_t swapped_pages = 0;   // of its GPAs, how many the host has swapped out
  std::size_t metadata_pages = 0;  // METADATA pages the host gave the firmware for them
  bool id_block = false;
  bool kernel_hashes = false;  // launched with a direct boot's hash table
  // The guest's migration agent on this host (GuestLaunchSpec::migration_agent; after a
  // migration, the destination's agent that imported it); empty = none.
  std::string migration_agent;
  // An SNP migration is under way: on the source, every page is swapped out for it
  // (BeginSnpMigration); on the destination, an empty context waits for the import
  // (CreateIncomingSnpContext).
  bool migrating = false;

  // Legacy guests only (type kSev, kSevEs).
  std::uint32_t handle = 0;      // the firmware's guest handle
  bool launch_finished = false;  // LAUNCH_FINISH done; before it, a secret may be injected
  bool secret_injected = false;
  // LAUNCH_MEASURE's output: the measurement (HMAC-SHA256 under the TIK) ‖ mnonce; and the
  // firmware API version it was made with, which the owner needs to check it.
  std::array<std::uint8_t, 0x30> launch_measure{};
  std::uint8_t api_major = 0, api_minor = 0, build = 0;
  // The launch digest of what the VMM handed LAUNCH_UPDATE_DATA/VMSA (launch/sev_launch.h's
  // prediction for the image; the firmware's own digest never leaves it).
  std::array<std::uint8_t, 32> launch_digest{};
  std::uint64_t secret_gpa = 0;  // the image's SEV secret area, mapped for the guest; 0 = none
  std::uint32_t secret_size = 0;
  // The guest arrived here by RECEIVE_* (Host::ReceiveSevGuest) rather than a launch: no
  // launch ran on this host, so launch_measure and launch_digest are zero, and so is the
  // digest the firmware's ATTESTATION reports (AMD's RECEIVE_* never set it).
  bool received = false;
};

// What a destination host hands the source for SEND_START (as `sevctl export --full` and the
// KDS give it): its PDH (PDH_CERT_EXPORT), PEK ‖ OCA ‖ CEK with the CEK as AMD's KDS serves it
// (signed by the ASK), and AMD's ASK ‖ ARK in AMD's format.
struct SevMigrationTarget {
  Bytes pdh;         // 0x824
  Bytes plat_certs;  // 3 × 0x824
  Bytes amd_certs;   // ASK ‖ ARK
};

// A legacy guest on its way between hosts, as the source's VMM streams it: SEND_START's
// session and the sender's PDH, then one transport packet (header ‖ ciphertext) per guest page
// and, for SEV-ES, per vCPU VMSA. The rest is the VMM's own description of the machine.
struct SevMigrationStream {
  struct Packet {
    std::uint64_t gpa = 0;  // data pages: the guest address; VMSAs: the vCPU index
    Bytes hdr;              // 0x34-byte packet header (flags, IV, MAC)
    Bytes trans;            // the page under the TEK
  };
  std::string name;
  GuestType type = GuestType::kSev;
  std::uint32_t policy = 0;  // SEND_START's output: the guest's policy, bound by the session
  Bytes session;             // 0x80: transport keys wrapped for the receiver
  Bytes sender_pdh;          // the source platform's PDH, for RECEIVE_START
  std::vector<Packet> pages;
  std::vector<Packet> vmsas;
  std::uint32_t vcpus = 0;
  std::uint32_t vcpu_signature = 0;
  std::uint64_t secret_gpa = 0;
  std::uint32_t secret_size = 0;
};

// An SNP guest on its way between hosts, as the untrusted host carries it (hypervisor/
// snp_guest_migrate.cpp, docs/migration.md): every page swapped out under the guest's OEK, in
// the order they went out — data pages, then the METADATA pages that hold their entries, one
// level of pages at a time, the last one's entry being the root entry in the guest's context
// (which travels inside the migration agents' channel, never here). Nothing here is plaintext.
struct SnpMigrationImage {
  struct Page {
    bool metadata = false;
    std::uint64_t gpa = 0;     // data pages: the guest address (the host's own bookkeeping)
    std::int64_t parent = -1;  // the page (index) whose METADATA page holds its entry; -1 = root
    std::uint32_t entry_offset = 0;  // byte offset of the entry in that page
    Bytes ciphertext;                // 4 KiB under the OEK
  };
  GuestInfo info;  // the VMM's description of the machine (name, policy, measurement...)
  std::vector<Page> pages;
};

// What the VMM hands back to the guest after an SNP_GUEST_REQUEST exit.
struct GuestRequestReply {
  emulator::FwStatus fw_status = emulator::FwStatus::kSuccess;
  std::uint32_t vmm_error = 0;     // uapi::kSnpGuestVmmErrInvalidLen: certificate buffer too small
  Bytes response;                  // the 4 KiB response page, when fw_status is SUCCESS
  Bytes certs;                     // extended requests: the certificate table
  std::uint32_t certs_needed = 0;  // bytes (whole 4 KiB pages) the certificate table needs
};

// What of the state directory a command changed (Host::TakePersistentChange).
struct PersistentChange {
  bool platform_json = false;  // platform.json: SNP_COMMIT, SNP_CONFIG, a firmware download...
  bool sev_nv = false;  // sev-nv.json: the legacy identity (INIT, PEK_GEN, PDH_GEN, ownership)
  bool any() const { return platform_json || sev_nv; }
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
  // Injected faults (faults.h): consulted wherever this host issues a firmware command and at
  // the guest-request exit.
  FaultSet& faults();

  // A complete SNP launch: GCTX_CREATE, ACTIVATE, LAUNCH_START, every LAUNCH_UPDATE of the
  // image's plan (launch/expected_digest.h), LAUNCH_FINISH. On any failure the partly launched
  // guest is decommissioned and its pages returned; the error names the failing command and
  // its status.
  Result<GuestInfo> LaunchGuest(const GuestLaunchSpec& spec);
  std::vector<GuestInfo> Guests() const;
  Result<GuestInfo> Guest(const std::string& name) const;
  // DECOMMISSION (legacy guests: DEACTIVATE first, as KVM's sev_unbind_asid), then the pages
  // are reclaimed and returned to the hypervisor.
  Status DestroyGuest(const std::string& name);

  // A legacy SEV / SEV-ES launch up to LAUNCH_MEASURE (KVM_SEV_INIT or KVM_SEV_ES_INIT,
  // LAUNCH_START + ACTIVATE, LAUNCH_UPDATE_DATA of the image, LAUNCH_UPDATE_VMSA per vCPU for
  // SEV-ES, LAUNCH_MEASURE). The legacy platform is initialised first if it is not. On any
  // failure the guest is torn down; the error names the failing command and its status.
  Result<GuestInfo> LaunchSevGuest(const SevGuestLaunchSpec& spec);
  // LAUNCH_SECRET of the owner's packet (0x34-byte header, ciphertext) into the guest at `gpa`
  // (default: the image's secret area), as QEMU's sev-inject-launch-secret. Only before
  // FinishSevLaunch. The guest memory it lands in must be contiguous host pages (KVM).
  Status InjectLaunchSecret(const std::string& name, ByteSpan header, ByteSpan secret,
                            std::optional<std::uint64_t> gpa);
  // LAUNCH_FINISH: the guest runs; no more secrets.
  Result<GuestInfo> FinishSevLaunch(const std::string& name);
  // ATTESTATION (KVM_SEV_GET_ATTESTATION_REPORT): the 0xD0-byte PEK-signed report over the
  // guest's launch digest, policy and `mnonce`.
  Result<Bytes> SevAttestationReport(const std::string& name,
                                     const std::array<std::uint8_t, 16>& mnonce);

  // ---- legacy migration (hypervisor/sev_guest_migrate.cpp; KVM_SEV_SEND_* / RECEIVE_*) ----

  // This host as a migration destination: PDH_CERT_EXPORT through /dev/sev (initialising the
  // legacy platform if needed), the KDS's CEK certificate, AMD's ASK ‖ ARK.
  Result<SevMigrationTarget> SevMigrationTargetCerts();
  // The source side up to the last packet: SEND_START for `target` (session length queried
  // first), SEND_UPDATE_DATA of every guest page (header length queried first), SEND_UPDATE_VMSA
  // of every vCPU for SEV-ES. The guest is then SUPDATE: FinishSevSend or CancelSevSend. A
  // refused SEND_START leaves the guest running as it was; a later failure cancels the send.
  Result<SevMigrationStream> SendSevGuest(const std::string& name,
                                          const SevMigrationTarget& target);
  // SEND_FINISH (SENT), then the source's copy is destroyed: DEACTIVATE, DECOMMISSION, pages
  // reclaimed, as KVM's sev_vm_destroy after a completed migration.
  Status FinishSevSend(const std::string& name);
  // SEND_CANCEL: the guest runs again on this host.
  Status CancelSevSend(const std::string& name);
  // The destination side: KVM_SEV_INIT / ES_INIT (a new ASID), RECEIVE_START with the sender's
  // PDH and session, ACTIVATE (sev_bind_asid), RECEIVE_UPDATE_DATA per page and
  // RECEIVE_UPDATE_VMSA per vCPU into fresh host pages, RECEIVE_FINISH. On any failure the
  // partly received guest is torn down and nothing remains.
  Result<GuestInfo> ReceiveSevGuest(const SevMigrationStream& stream);

  // ---- SNP live migration (hypervisor/snp_guest_migrate.cpp; docs/migration.md) ----
  // The host's part only: the context itself moves through the two migration agents (guest
  // programs: MSG_EXPORT_REQ on the source, MSG_IMPORT_REQ on the destination).

  // Source, before the export: the guest paused by swapping every page out (SNP_PAGE_SWAP_OUT
  // of each data page, then of the METADATA pages level by level; the last with the root
  // entry in the context). The host keeps the ciphertexts. A failure swaps back what went out.
  Result<GuestInfo> BeginSnpMigration(const std::string& name);
  // Source, when the migration is abandoned before the export: every page swapped back in
  // through the root entry; the guest runs on as it was.
  Result<GuestInfo> CancelSnpMigration(const std::string& name);
  // Source, after the agent's export (the firmware decommissioned the context: its page is
  // FIRMWARE again; anything else is kRefused): the host's copy goes — pages reclaimed, the
  // guest forgotten — and what the host carries is handed over.
  Result<SnpMigrationImage> FinishSnpSend(const std::string& name);
  // Destination: SNP_GCTX_CREATE of an empty context (INIT) under `name`, for the agent to
  // import into. Its address is GuestInfo::gctx_paddr. DestroyGuest removes it.
  Result<GuestInfo> CreateIncomingSnpContext(const std::string& name);
  // Destination, after the agent's import: SNP_ACTIVATE with a new ASID, every page swapped in
  // (root entry first, then down the tree), the VMM's request pages; the guest runs here. The
  // context must have been imported (RUNNING), else SNP_ACTIVATE or SWAP_IN refuse and the
  // context is left waiting. `migration_agent` is the agent that imported it.
  Result<GuestInfo> ReceiveSnpGuest(const std::string& name, SnpMigrationImage image,
                                    const std::string& migration_agent);

  // The guest's own view of its memory (VMPL0, private, decrypted), as its kernel reads it. For
  // a legacy guest: its memory decrypted with its key (no RMP ownership to check).
  Result<Bytes> ReadGuestMemory(const std::string& name, std::uint64_t gpa, std::size_t len);
  Status WriteGuestMemory(const std::string& name, std::uint64_t gpa, ByteSpan data);

  // Page swapping, as a VMM under memory pressure would (docs/protocol.md guest.swap_out ...).
  // SwapOutPages: for each of `count` 4 KiB pages from `gpa`, RMPUPDATE freezes it (GUEST_VALID
  // -> PRE_SWAP), SNP_PAGE_SWAP_OUT writes its ciphertext into a FIRMWARE page and its entry
  // into a METADATA page (MD_INIT when none has a free entry), the host keeps the ciphertext
  // and gives the guest page back to the hypervisor. SwapInPages: SNP_PAGE_SWAP_IN in place
  // into a fresh page, then SNP_PAGE_RECLAIM (PRE_SWAP -> GUEST_VALID). Pages are handled in
  // order; the first failure stops the walk with the pages before it done and the failing page
  // as it was. Returns how many pages were done. SNP guests only.
  Result<std::size_t> SwapOutPages(const std::string& name, std::uint64_t gpa, std::size_t count);
  Result<std::size_t> SwapInPages(const std::string& name, std::uint64_t gpa, std::size_t count);
  // SNP_PAGE_MOVE of the guest page at `gpa` to a fresh host page (what a host compacting
  // memory does); the old page goes back to the hypervisor.
  Status MoveGuestPage(const std::string& name, std::uint64_t gpa);
  // The host's own storage of a swapped-out page, to read or to replace (the host is not
  // trusted: a replaced or replayed copy must fail SNP_PAGE_SWAP_IN).
  Result<Bytes> SwappedCiphertext(const std::string& name, std::uint64_t gpa) const;
  Status ReplaceSwappedCiphertext(const std::string& name, std::uint64_t gpa, Bytes ciphertext);

  // The guest's SNP_GUEST_REQUEST exit: `request` (at most 4 KiB) is the shared request page.
  // Legacy guests have none (kInvalidArgument).
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

  // SNP_DOWNLOAD_FIRMWARE_EX with a simulated image (emulator/manufacturing/firmware_image.h).
  emulator::FwStatus DownloadFirmware(ByteSpan image, bool commit);

  // What changed since the last call (or boot) in what the state directory holds: the daemon
  // then writes those files. Each change is reported once.
  PersistentChange TakePersistentChange();

 private:
  struct Impl;
  explicit Host(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A legacy guest moved from `from` to `to` as two VMMs and their kernels move it: the target's
// certificates, SendSevGuest, ReceiveSevGuest, then FinishSevSend, or CancelSevSend when the
// destination failed (the source then runs on). The source's refusals (NOSEND, DOMAIN, SEV and
// the API minimum, all SEND_START's) leave it running. `to` must be another host with no guest
// of that name.
Result<GuestInfo> MigrateSevGuest(Host& from, Host& to, const std::string& name);

// A small built-in guest firmware image: OVMF's table and SEV metadata layout (SNP_SEC_MEM,
// SECRETS, CPUID) around a tiny body, for launches that do not name an image
// (launch/builtin_image.h, kPlain).
Bytes DefaultGuestImage();
// The same with the SEV hash table area and its SNP_KERNEL_HASHES section, for direct boots
// that do not name an image (kDirectBoot).
Bytes DefaultDirectBootImage();
// The plain image with `memory` bytes more of pre-validated guest memory (an SNP_SEC_MEM section
// at 16 MiB; zero pages, measured as such). REQUIRES: a multiple of 4 KiB, at most
// kMaxDefaultImageMemory.
constexpr std::uint64_t kMaxDefaultImageMemory = launch::kMaxBuiltinImageMemory;
Bytes DefaultGuestImage(std::uint64_t memory);

}  // namespace sevemu::hypervisor
