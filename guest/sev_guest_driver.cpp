// The sev-guest driver. Control flow and errnos follow Linux: drivers/virt/coco/sev-guest/
// sev-guest.c (snp_guest_ioctl, get_report, get_derived_key, get_ext_report,
// snp_send_guest_request, __handle_guest_request, verify_and_dec_payload, enc_payload,
// sev_report_new) and arch/x86/coco/sev/core.c (snp_issue_guest_request). Function names below
// say which of those each piece stands for.
#include "sevemu/guest/sev_guest_driver.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "sevemu/crypto/aes.h"
#include "sevemu/guestmsg/guest_message.h"
#include "sevemu/uapi/staged_memory.h"

namespace sevemu::guest {
namespace {

using guestmsg::GuestMsgType;
using guestmsg::kGuestMsgHeaderSize;

constexpr std::size_t kPageSize = 4096;
constexpr std::size_t kAuthTagLen = 16;          // AUTHTAG_LEN
constexpr std::size_t kReportRespSize = 4000;    // sizeof(struct snp_report_resp)
constexpr std::size_t kDerivedKeyRespSize = 64;  // sizeof(struct snp_derived_key_resp)
constexpr std::size_t kReportRespHdrSize = 32;   // struct snp_msg_report_resp_hdr
constexpr std::size_t kCertEntrySize = 24;       // struct snp_msg_cert_entry
constexpr std::uint32_t kSevRetInvalidParam = 0x16;
constexpr std::uint32_t kSevRetInvalidKey = 0x27;

// Kernel addresses for the configfs path's buffers (sev_report_new passes kernel pointers to
// get_ext_report through sockptr_t; any distinct addresses do).
constexpr std::uint64_t kKernelExtReq = 0xffff888000100000ull;
constexpr std::uint64_t kKernelBuf = 0xffff888000200000ull;

template <typename T>
MutableByteSpan AsMutable(T& v) {
  return {reinterpret_cast<std::uint8_t*>(&v), sizeof(T)};
}
template <typename T>
ByteSpan AsSpan(const T& v) {
  return {reinterpret_cast<const std::uint8_t*>(&v), sizeof(T)};
}

// RAII over GuestPlatform::Lock (snp_send_guest_request's guard(mutex)(&snp_cmd_mutex)).
class PlatformLock {
 public:
  explicit PlatformLock(GuestPlatform& p) : p_(p), ok_(p.Lock().ok()) {}
  ~PlatformLock() {
    if (ok_) p_.Unlock();
  }
  PlatformLock(const PlatformLock&) = delete;
  PlatformLock& operator=(const PlatformLock&) = delete;
  bool ok() const { return ok_; }

 private:
  GuestPlatform& p_;
  bool ok_;
};

// access_ok() on x86-64: the whole range lies below TASK_SIZE_MAX.
bool AccessOk(std::uint64_t addr, std::uint64_t len) {
  return addr <= kTaskSizeMax && len <= kTaskSizeMax - addr;
}

}  // namespace

// struct snp_guest_req: one request as the ioctl handlers hand it to snp_send_guest_request.
struct SevGuestDriver::GuestReq {
  GuestMsgType msg_type = GuestMsgType::kInvalid;
  std::uint8_t msg_version = 0;
  ByteSpan req_buf;
  std::size_t resp_sz = 0;        // the decrypted response's room, authtag included (resp_len)
  bool extended = false;          // exit_code SVM_VMGEXIT_EXT_GUEST_REQUEST
  std::uint32_t data_npages = 0;  // mdesc->input.data_npages: in, and out after INVALID_LEN
  SecretBytes resp_buf;           // the decrypted payload, zero past msg_sz
  Bytes certs_data;               // mdesc->certs_data (data_npages pages as sent)
};

SevGuestDriver::SevGuestDriver(GuestPlatform& platform, unsigned vmpck_id,
                               SevGuestDriverOptions options)
    : platform_(platform), vmpck_id_(vmpck_id), options_(std::move(options)) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
}

// snp_guest_ioctl.
int SevGuestDriver::Ioctl(unsigned long request, std::uint64_t arg_ptr, uapi::UserMemory& user) {
  uapi::SnpGuestRequestIoctl input{};
  if (!user.Read(arg_ptr, AsMutable(input))) return -EFAULT;
  input.exitinfo2 = kExitinfo2Unset;
  if (input.msg_version == 0) return -EINVAL;

  int ret = -ENOTTY;
  // The kernel's ioctl command is an unsigned int.
  switch (static_cast<std::uint32_t>(request)) {
    case static_cast<std::uint32_t>(uapi::kSnpGetReport):
      ret = GetReport(input, user);
      break;
    case static_cast<std::uint32_t>(uapi::kSnpGetDerivedKey):
      ret = GetDerivedKey(input, user);
      break;
    case static_cast<std::uint32_t>(uapi::kSnpGetExtReport):
      ret = GetExtReport(input, user, /*kernel=*/false);
      break;
    default:
      break;
  }
  if (input.exitinfo2 != 0 && !user.Write(arg_ptr, AsSpan(input))) return -EFAULT;
  return ret;
}

// get_report.
int SevGuestDriver::GetReport(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& user) {
  if (arg.req_data == 0 || arg.resp_data == 0) return -EINVAL;
  uapi::SnpReportReq report_req{};
  if (!user.Read(arg.req_data, AsMutable(report_req))) return -EFAULT;

  GuestReq req;
  req.msg_type = GuestMsgType::kReportReq;
  req.msg_version = arg.msg_version;
  req.req_buf = AsSpan(report_req);
  req.resp_sz = kReportRespSize + kAuthTagLen;
  int rc = SendGuestRequest(req, arg.exitinfo2);
  if (rc != 0) return rc;
  if (!user.Write(arg.resp_data, req.resp_buf.span().first(kReportRespSize))) rc = -EFAULT;
  return rc;
}

// get_derived_key.
int SevGuestDriver::GetDerivedKey(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& user) {
  if (arg.req_data == 0 || arg.resp_data == 0) return -EINVAL;
  uapi::SnpDerivedKeyReq key_req{};
  if (!user.Read(arg.req_data, AsMutable(key_req))) return -EFAULT;

  GuestReq req;
  req.msg_type = GuestMsgType::kKeyReq;
  req.msg_version = arg.msg_version;
  req.req_buf = AsSpan(key_req);
  req.resp_sz = kDerivedKeyRespSize + kAuthTagLen;
  int rc = SendGuestRequest(req, arg.exitinfo2);
  // A copy of the request may hold a guest SVN or TCB the caller considers private; the kernel
  // keeps it in snp_dev->req, we wipe ours.
  SecureZero(&key_req, sizeof key_req);
  if (rc != 0) return rc;
  if (!user.Write(arg.resp_data, req.resp_buf.span().first(kDerivedKeyRespSize))) rc = -EFAULT;
  return rc;
}

// get_ext_report. `mem` holds req_data, resp_data and certs_address (the user's address space
// for the ioctl, kernel buffers for configfs).
int SevGuestDriver::GetExtReport(uapi::SnpGuestRequestIoctl& arg, uapi::UserMemory& mem,
                                 bool kernel) {
  if (arg.req_data == 0 || arg.resp_data == 0) return -EINVAL;
  uapi::SnpExtReportReq report_req{};
  if (!mem.Read(arg.req_data, AsMutable(report_req))) return -EFAULT;

  std::uint32_t npages = 0;
  // certs_len 0 or certs_address 0: the caller wants no certificates, but the request is still
  // an extended one, with no data pages.
  if (report_req.certs_len != 0 && report_req.certs_address != 0) {
    if (report_req.certs_len > kMaxCertsLen || report_req.certs_len % kPageSize != 0) {
      return -EINVAL;
    }
    if (!kernel && !AccessOk(report_req.certs_address, report_req.certs_len)) return -EFAULT;
    npages = report_req.certs_len / kPageSize;
  }

  GuestReq req;
  req.msg_type = GuestMsgType::kReportReq;
  req.msg_version = arg.msg_version;
  req.req_buf = AsSpan(report_req.data);
  req.resp_sz = kReportRespSize + kAuthTagLen;
  req.extended = true;
  req.data_npages = npages;
  // Zeroed so that a host that supplies no certificates leaves zeros (an empty table).
  req.certs_data.assign(std::size_t{npages} * kPageSize, 0);
  int ret = SendGuestRequest(req, arg.exitinfo2);

  // The host said the buffer is too small: tell the caller how large it must be.
  if ((arg.exitinfo2 >> 32) == uapi::kSnpGuestVmmErrInvalidLen) {
    report_req.certs_len = static_cast<std::uint32_t>(req.data_npages * kPageSize);
    if (!mem.Write(arg.req_data, AsSpan(report_req))) ret = -EFAULT;
  }
  if (ret != 0) return ret;
  if (npages != 0 &&
      !mem.Write(report_req.certs_address, ByteSpan(req.certs_data).first(report_req.certs_len))) {
    return -EFAULT;
  }
  if (!mem.Write(arg.resp_data, req.resp_buf.span().first(kReportRespSize))) ret = -EFAULT;
  return ret;
}

// snp_send_guest_request: key and sequence number from the secrets page, encrypt, exchange,
// verify and decrypt; any failure after the message reached the host wipes the VMPCK.
int SevGuestDriver::SendGuestRequest(GuestReq& req, std::uint64_t& exitinfo2) {
  PlatformLock lock(platform_);
  if (!lock.ok()) return -EIO;  // (the kernel's mutex cannot fail; our cross-process lock can)

  // is_vmpck_empty.
  if (disabled_ || vmpck_id_ >= kVmpckCount) return -ENOTTY;
  const std::uint64_t key_gpa =
      platform_.SecretsGpa() + kSecretsVmpckOffset + kVmpckSize * vmpck_id_;
  const std::uint64_t seqno_gpa = platform_.SecretsGpa() + kSecretsSeqnoOffset + 4 * vmpck_id_;
  SecretBytes vmpck;
  {
    auto key = platform_.ReadMemory(key_gpa, kVmpckSize);
    if (!key.ok() || key->size() != kVmpckSize) return -EIO;
    vmpck = SecretBytes(ByteSpan(*key));
    SecureZero(key->data(), key->size());
  }
  if (std::all_of(vmpck.span().begin(), vmpck.span().end(),
                  [](std::uint8_t b) { return b == 0; })) {
    return -ENOTTY;
  }

  // snp_get_msg_seqno: the 32-bit counter in the OS area, plus one; it must stay below
  // UINT_MAX (the GHCB spec gives the counter 32 bits of storage).
  auto stored = platform_.ReadMemory(seqno_gpa, 4);
  if (!stored.ok() || stored->size() != 4) return -EIO;
  const std::uint32_t count = LoadLe32(stored->data());
  const std::uint64_t seqno = std::uint64_t{count} + 1;
  if (seqno >= 0xFFFFFFFFull) return -EIO;

  // enc_payload.
  guestmsg::GuestMsgHeader hdr;
  hdr.seqno = seqno;
  hdr.type = req.msg_type;
  hdr.msg_version = req.msg_version;
  hdr.msg_size = static_cast<std::uint16_t>(req.req_buf.size());
  hdr.vmpck = static_cast<std::uint8_t>(vmpck_id_);
  if (hdr.seqno == 0) return -ENOSR;
  if (req.req_buf.size() + kAuthTagLen > guestmsg::kGuestMsgMaxPayload) return -EBADMSG;
  auto sealed = guestmsg::SealGuestMsg(hdr, req.req_buf, vmpck.span());
  if (!sealed.ok()) return -EBADMSG;
  Bytes request_page(kPageSize, 0);
  const auto hdr_bytes = guestmsg::SerializeGuestMsgHeader(hdr);
  std::copy(hdr_bytes.begin(), hdr_bytes.end(), request_page.begin());
  std::copy(sealed->begin(), sealed->end(), request_page.begin() + kGuestMsgHeaderSize);

  Bytes response_page;
  int rc = HandleGuestRequest(req, request_page, exitinfo2, response_page);
  if (rc != 0) {
    // A too-small certificate buffer was answered by re-sending the request as a plain one,
    // which advanced the sequence number: the key stays usable.
    if (rc == -EIO && exitinfo2 == kExitinfo2InvalidLen) return rc;
    DisableVmpck();
    return rc;
  }

  // verify_and_dec_payload: the response page (zeroed before the exchange, so a short reply
  // reads as zeros).
  response_page.resize(kPageSize, 0);
  const std::uint8_t* resp = response_page.data();
  const std::uint64_t resp_seqno = LoadLe64(resp + 0x20);
  const std::uint8_t resp_type = resp[0x34];
  const std::uint8_t resp_version = resp[0x35];
  const std::uint16_t resp_msg_sz = static_cast<std::uint16_t>(resp[0x36] | resp[0x37] << 8);
  bool ok = resp_seqno == seqno + 1 &&
            resp_type == static_cast<std::uint8_t>(static_cast<std::uint8_t>(req.msg_type) + 1) &&
            resp_version == req.msg_version && resp_msg_sz + kAuthTagLen <= req.resp_sz;
  if (ok) {
    // IV = the response's sequence number; AAD = the response header's bytes 0x30..0x5F as they
    // are (not re-serialised), so any change to them fails authentication.
    std::array<std::uint8_t, crypto::kGcmIvSize> iv{};
    StoreLe64(iv.data(), resp_seqno);
    auto plain =
        crypto::Aes256GcmOpen(vmpck.span(), iv, ByteSpan(response_page).subspan(0x30, 0x30),
                              ByteSpan(response_page).subspan(kGuestMsgHeaderSize, resp_msg_sz),
                              ByteSpan(response_page).first(kAuthTagLen));
    ok = plain.ok();
    if (ok) {
      req.resp_buf = SecretBytes(req.resp_sz);
      std::copy(plain->span().begin(), plain->span().end(), req.resp_buf.data());
    }
  }
  if (!ok) {
    DisableVmpck();
    return -EBADMSG;
  }
  return 0;
}

// __handle_guest_request: the exchange with its two retries, then the sequence number advances
// by two whatever happened, because the encrypted message has been handed to the host.
int SevGuestDriver::HandleGuestRequest(GuestReq& req, ByteSpan request_page,
                                       std::uint64_t& exitinfo2, Bytes& response_page) {
  const auto start = options_.now();
  bool extended = req.extended;
  std::optional<std::uint32_t> override_npages;
  std::uint64_t override_err = 0;
  int rc = 0;
  for (;;) {
    rc = IssueGuestRequest(req, extended, request_page, exitinfo2, response_page);
    if (rc == -ENOSPC) {
      // The certificate buffer is too small: send the same message as a plain request so the
      // firmware consumes its sequence number (no IV is ever reused), then report the size.
      override_npages = req.data_npages;
      extended = false;
      override_err = kExitinfo2InvalidLen;
      continue;
    }
    if (rc == -EAGAIN) {
      // The host throttles; the same message is retried rather than a new one sent under the
      // same sequence number.
      if (options_.now() - start > options_.busy_retry_limit) {
        rc = -ETIMEDOUT;
        break;
      }
      options_.sleep(options_.busy_retry_delay);
      continue;
    }
    break;
  }

  // snp_inc_msg_seqno: the firmware counts the response too.
  const std::uint64_t seqno_gpa = platform_.SecretsGpa() + kSecretsSeqnoOffset + 4 * vmpck_id_;
  if (auto stored = platform_.ReadMemory(seqno_gpa, 4); stored.ok() && stored->size() == 4) {
    std::array<std::uint8_t, 4> next{};
    StoreLe32(next.data(), LoadLe32(stored->data()) + 2);
    (void)platform_.WriteMemory(seqno_gpa, next);
  }

  if (override_err != 0) {
    exitinfo2 = override_err;
    if (rc == 0) rc = -EIO;
  }
  if (override_npages) req.data_npages = *override_npages;
  return rc;
}

// snp_issue_guest_request: one exit to the host and the mapping of its exitinfo2.
int SevGuestDriver::IssueGuestRequest(GuestReq& req, bool extended, ByteSpan request_page,
                                      std::uint64_t& exitinfo2, Bytes& response_page) {
  exitinfo2 = kSevRetNoFwCall;
  response_page.clear();
  std::optional<std::uint32_t> cert_len;
  if (extended) cert_len = static_cast<std::uint32_t>(req.data_npages * kPageSize);
  auto reply = platform_.GuestRequest(request_page, cert_len);
  // The hypercall itself failed (Linux: sev_es_ghcb_hv_call). The host may have seen the
  // message, so this counts as an error like any other (and the key is wiped).
  if (!reply.ok()) return -EIO;

  exitinfo2 = std::uint64_t{reply->vmm_error} << 32 | reply->fw_error;
  if (exitinfo2 == 0) {
    response_page = std::move(reply->response);
    if (extended && !reply->certs.empty()) {
      const std::size_t n = std::min(reply->certs.size(), req.certs_data.size());
      std::copy_n(reply->certs.begin(), n, req.certs_data.begin());
    }
    return 0;
  }
  if (exitinfo2 == kExitinfo2Busy) return -EAGAIN;
  if (exitinfo2 == kExitinfo2InvalidLen && extended) {
    // The host returns the number of pages it needs in RBX.
    req.data_npages = static_cast<std::uint32_t>(
        (std::uint64_t{reply->certs_needed} + kPageSize - 1) / kPageSize);
    return -ENOSPC;
  }
  return -EIO;
}

// snp_disable_vmpck: zero the key in the secrets page, so that neither this process nor any
// other acting in the guest can reuse an IV under it.
void SevGuestDriver::DisableVmpck() {
  disabled_ = true;
  if (vmpck_id_ >= kVmpckCount) return;
  const std::array<std::uint8_t, kVmpckSize> zero{};
  (void)platform_.WriteMemory(platform_.SecretsGpa() + kSecretsVmpckOffset + kVmpckSize * vmpck_id_,
                              zero);
}

// sev_report_new (the non-SVSM path).
int SevGuestDriver::ReportNew(const TsmReportDesc& desc, TsmReportBlobs* out) {
  constexpr std::size_t kReportSize = kPageSize;  // SZ_4K
  constexpr std::size_t kExtSize = kMaxCertsLen;  // SEV_FW_BLOB_MAX_SIZE
  if (desc.inblob.size() != 64) return -EINVAL;   // SNP_REPORT_USER_DATA_SIZE

  uapi::SnpExtReportReq ext_req{};
  ext_req.data.vmpl = desc.privlevel;
  std::copy(desc.inblob.begin(), desc.inblob.end(), ext_req.data.user_data);
  ext_req.certs_address = kKernelBuf + kReportSize;
  ext_req.certs_len = kExtSize;
  uapi::StagedUserMemory kmem({
      {kKernelExtReq, Bytes(AsSpan(ext_req).begin(), AsSpan(ext_req).end())},
      {kKernelBuf, Bytes(kReportSize + kExtSize, 0)},
  });
  uapi::SnpGuestRequestIoctl input{};
  input.msg_version = 1;
  input.req_data = kKernelExtReq;
  input.resp_data = kKernelBuf;
  input.exitinfo2 = kExitinfo2Unset;
  const int ret = GetExtReport(input, kmem, /*kernel=*/true);
  if (ret != 0) return ret;

  Bytes buf(kReportSize + kExtSize);
  if (!kmem.Read(kKernelBuf, buf)) return -EFAULT;  // cannot happen: the region is staged
  const std::uint32_t status = LoadLe32(buf.data());
  const std::uint32_t report_size = LoadLe32(buf.data() + 4);
  if (status == kSevRetInvalidParam || status == kSevRetInvalidKey) return -EINVAL;
  if (status != 0) return -ENXIO;
  if (std::uint64_t{report_size} + kReportRespHdrSize > kReportSize) return -ENOMEM;
  out->outblob.assign(buf.begin() + kReportRespHdrSize,
                      buf.begin() + kReportRespHdrSize + report_size);

  // The certificate table's extent: the furthest end of any entry before the terminator.
  const std::uint8_t* table = buf.data() + kReportSize;
  std::uint32_t certs_size = 0;
  for (std::size_t i = 0; i < kExtSize / kCertEntrySize; ++i) {
    const std::uint8_t* ent = table + i * kCertEntrySize;
    const std::uint32_t offset = LoadLe32(ent + 16);
    const std::uint32_t length = LoadLe32(ent + 20);
    if (std::all_of(ent, ent + 16, [](std::uint8_t b) { return b == 0; }) && offset == 0 &&
        length == 0) {
      break;
    }
    certs_size = std::max(certs_size, offset + length);  // u32 arithmetic, as the kernel's
  }
  out->auxblob.clear();
  if (certs_size == 0) return 0;
  certs_size = std::min<std::uint32_t>(certs_size, kExtSize);  // "certificate data truncated"
  out->auxblob.assign(table, table + certs_size);
  return 0;
}

}  // namespace sevemu::guest
