// The simulated AMD Key Distribution Service: issues VCEK certificates for the chips it has
// manufactured and VLEKs (certificate plus wrapped hashsticks) for cloud providers. The HTTP
// front end (frontends/kds) only translates URLs to these calls.
#pragma once

#include <cstdint>
#include <string>

#include "sevemu/common/result.h"
#include "sevemu/crypto/x509.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/chip.h"
#include "sevemu/emulator/manufacturing/tcb.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::emulator {

// AMD's extension OIDs (SEV-ABI-FACTS.md 6.2).
inline constexpr char kOidStructVersion[] = "1.3.6.1.4.1.3704.1.1";
inline constexpr char kOidProductName[] = "1.3.6.1.4.1.3704.1.2";
inline constexpr char kOidBlSpl[] = "1.3.6.1.4.1.3704.1.3.1";
inline constexpr char kOidTeeSpl[] = "1.3.6.1.4.1.3704.1.3.2";
inline constexpr char kOidSnpSpl[] = "1.3.6.1.4.1.3704.1.3.3";
inline constexpr char kOidSpl4[] = "1.3.6.1.4.1.3704.1.3.4";
inline constexpr char kOidSpl5[] = "1.3.6.1.4.1.3704.1.3.5";
inline constexpr char kOidSpl6[] = "1.3.6.1.4.1.3704.1.3.6";
inline constexpr char kOidSpl7[] = "1.3.6.1.4.1.3704.1.3.7";
inline constexpr char kOidUcodeSpl[] = "1.3.6.1.4.1.3704.1.3.8";
inline constexpr char kOidFmcSpl[] = "1.3.6.1.4.1.3704.1.3.9";
inline constexpr char kOidHwId[] = "1.3.6.1.4.1.3704.1.4";
inline constexpr char kOidCspId[] = "1.3.6.1.4.1.3704.1.5";

// The VCEK certificate for `vcek` at `tcb`: X.509 v3, serial 0, CN SEV-VCEK, issued by the ASK,
// valid 7 years from `not_before`, with exactly the AMD extensions in KDS order.
Result<crypto::Certificate> IssueVcekCertificate(const AmdRoot& root, const ChipIdentity& chip,
                                                 const TcbVersion& tcb,
                                                 const crypto::PublicKey& vcek,
                                                 std::int64_t not_before);

// The VLEK certificate: CN SEV-VLEK, issued by the ASVK, valid 1 year, cspID instead of hwID.
Result<crypto::Certificate> IssueVlekCertificate(const AmdRoot& root, const std::string& csp_id,
                                                 const TcbVersion& tcb,
                                                 const crypto::PublicKey& vlek,
                                                 std::int64_t not_before);

class Kds {
 public:
  explicit Kds(AmdRoot root) : root_(std::move(root)) {}
  const AmdRoot& root() const { return root_; }

  // The chip's VCEK certificate at `tcb`. AMD knows every chip's fuses, so any TCB the chip's
  // layout allows can be issued.
  Result<crypto::Certificate> Vcek(const ChipIdentity& chip, const ChipFuses& fuses,
                                   const TcbVersion& tcb, std::int64_t not_before) const;

  struct VlekIssue {
    crypto::Certificate certificate;
    Bytes wrapped;  // 432 bytes for SNP_VLEK_LOAD on this chip
  };
  // A VLEK for `csp_id` at `tcb`, wrapped for one chip. kInvalidArgument for an empty or
  // non-ASCII CSP ID.
  Result<VlekIssue> Vlek(const ChipIdentity& chip, const ChipFuses& fuses,
                         const std::string& csp_id, const TcbVersion& tcb,
                         std::int64_t not_before) const;
  // The CSP's VLEK sticks at `tcb` (what the wrapped blob carries).
  Result<HashSticks> VlekSticks(const std::string& csp_id, const TcbVersion& tcb) const;

 private:
  AmdRoot root_;
};

}  // namespace sevemu::emulator
