#include "sevemu/uapi/staged_memory.h"

#include <algorithm>
#include <cstring>

namespace sevemu::uapi {

UserRegion* StagedUserMemory::Find(std::uint64_t addr, std::size_t len) {
  for (auto& r : regions_) {
    // Overflow-safe containment: [addr, addr+len) inside [r.addr, r.addr+size).
    if (addr >= r.addr && addr - r.addr <= r.bytes.size() &&
        len <= r.bytes.size() - (addr - r.addr)) {
      return &r;
    }
  }
  return nullptr;
}

bool StagedUserMemory::Read(std::uint64_t addr, MutableByteSpan out) {
  const UserRegion* r = Find(addr, out.size());
  if (r == nullptr) return false;
  if (!out.empty()) std::memcpy(out.data(), r->bytes.data() + (addr - r->addr), out.size());
  return true;
}

bool StagedUserMemory::Write(std::uint64_t addr, ByteSpan data) {
  if (Find(addr, data.size()) == nullptr) return false;
  if (dirty_.size() < regions_.size()) dirty_.resize(regions_.size(), false);
  // Every staged copy of the bytes written is updated, not only the first region holding
  // them: regions may overlap (a blob that covers the data struct), and Written() hands back
  // whole regions, so a stale copy in a later region would undo this write when copied out.
  for (std::size_t i = 0; i < regions_.size(); ++i) {
    UserRegion& r = regions_[i];
    const std::uint64_t lo = std::max(addr, r.addr);
    // Overflow-safe ends: compare offsets, never addr + size.
    const std::uint64_t w_end_off = data.size();                       // from addr
    const std::uint64_t r_end_off = r.bytes.size();                    // from r.addr
    if (lo - addr >= w_end_off || lo - r.addr >= r_end_off) continue;  // no overlap
    const std::uint64_t n = std::min(w_end_off - (lo - addr), r_end_off - (lo - r.addr));
    std::memcpy(r.bytes.data() + (lo - r.addr), data.data() + (lo - addr),
                static_cast<std::size_t>(n));
    dirty_[i] = true;
  }
  return true;
}

std::vector<UserRegion> StagedUserMemory::Written() const {
  std::vector<UserRegion> out;
  for (std::size_t i = 0; i < regions_.size(); ++i) {
    if (i < dirty_.size() && dirty_[i]) out.push_back(regions_[i]);
  }
  return out;
}

namespace {

// Size of the struct `data` points at, per user command (0: the command takes none).
std::size_t DataSize(std::uint32_t cmd) {
  switch (static_cast<SevUserCmd>(cmd)) {
    case SevUserCmd::kPlatformStatus:
      return sizeof(SevUserDataStatus);
    case SevUserCmd::kPekCsr:
      return sizeof(SevUserDataPekCsr);
    case SevUserCmd::kPdhCertExport:
      return sizeof(SevUserDataPdhCertExport);
    case SevUserCmd::kPekCertImport:
      return sizeof(SevUserDataPekCertImport);
    case SevUserCmd::kGetId:
      return sizeof(SevUserDataGetId);
    case SevUserCmd::kGetId2:
      return sizeof(SevUserDataGetId2);
    case SevUserCmd::kSnpPlatformStatus:
      return sizeof(SevUserDataSnpStatus);
    case SevUserCmd::kSnpSetConfig:
      return sizeof(SevUserDataSnpConfig);
    case SevUserCmd::kSnpVlekLoad:
      return sizeof(SevUserDataSnpVlekLoad);
    default:
      return 0;  // FACTORY_RESET, PEK_GEN, PDH_GEN, SNP_COMMIT: data is ignored
  }
}

void Stage(std::vector<UserRegion>& out, UserMemory& caller, std::uint64_t addr,
           std::uint64_t len) {
  if (addr == 0 || len == 0) return;
  len = std::min<std::uint64_t>(len, kSevFwBlobMaxSize);
  UserRegion r{addr, Bytes(static_cast<std::size_t>(len))};
  if (caller.Read(addr, r.bytes)) out.push_back(std::move(r));
}

template <typename T>
bool Load(const UserRegion& r, T& v) {
  if (r.bytes.size() != sizeof(T)) return false;
  std::memcpy(&v, r.bytes.data(), sizeof(T));
  return true;
}

}  // namespace

std::vector<UserRegion> PlanSevIssueCmdRegions(const SevIssueCmdArg& arg, UserMemory& caller) {
  std::vector<UserRegion> out;
  const std::size_t size = DataSize(arg.cmd);
  if (size == 0 || arg.data == 0) return out;
  UserRegion data{arg.data, Bytes(size)};
  if (!caller.Read(arg.data, data.bytes)) return out;
  out.push_back(data);
  switch (static_cast<SevUserCmd>(arg.cmd)) {
    case SevUserCmd::kPekCsr: {
      SevUserDataPekCsr s{};
      if (Load(data, s)) Stage(out, caller, s.address, s.length);
      break;
    }
    case SevUserCmd::kPdhCertExport: {
      SevUserDataPdhCertExport s{};
      if (Load(data, s)) {
        Stage(out, caller, s.pdh_cert_address, s.pdh_cert_len);
        Stage(out, caller, s.cert_chain_address, s.cert_chain_len);
      }
      break;
    }
    case SevUserCmd::kPekCertImport: {
      SevUserDataPekCertImport s{};
      if (Load(data, s)) {
        Stage(out, caller, s.pek_cert_address, s.pek_cert_len);
        Stage(out, caller, s.oca_cert_address, s.oca_cert_len);
      }
      break;
    }
    case SevUserCmd::kGetId2: {
      SevUserDataGetId2 s{};
      if (Load(data, s)) Stage(out, caller, s.address, s.length);
      break;
    }
    case SevUserCmd::kSnpVlekLoad: {
      SevUserDataSnpVlekLoad s{};
      if (Load(data, s)) Stage(out, caller, s.vlek_wrapped_address, kVlekWrappedSize);
      break;
    }
    default:
      break;
  }
  return out;
}

std::vector<UserRegion> PlanSnpGuestIoctlRegions(unsigned long request, std::uint64_t arg,
                                                 UserMemory& caller) {
  // snp_guest_ioctl copies the argument struct in before it looks at the request number
  // (EFAULT, then EINVAL for msg_version 0, then ENOTTY), so it is staged for any request.
  std::vector<UserRegion> out;
  UserRegion a{arg, Bytes(sizeof(SnpGuestRequestIoctl))};
  if (!caller.Read(arg, a.bytes)) return out;
  SnpGuestRequestIoctl io{};
  std::memcpy(&io, a.bytes.data(), sizeof io);
  out.push_back(std::move(a));
  std::size_t req_size = 0, resp_size = 0;
  const auto r = static_cast<std::uint32_t>(request);
  if (r == static_cast<std::uint32_t>(kSnpGetReport)) {
    req_size = sizeof(SnpReportReq);
    resp_size = sizeof(SnpReportResp);
  } else if (r == static_cast<std::uint32_t>(kSnpGetDerivedKey)) {
    req_size = sizeof(SnpDerivedKeyReq);
    resp_size = sizeof(SnpDerivedKeyResp);
  } else if (r == static_cast<std::uint32_t>(kSnpGetExtReport)) {
    req_size = sizeof(SnpExtReportReq);
    resp_size = sizeof(SnpReportResp);
  } else {
    return out;
  }
  UserRegion req{io.req_data, Bytes(req_size)};
  const bool have_req = io.req_data != 0 && caller.Read(io.req_data, req.bytes);
  SnpExtReportReq ext{};
  if (have_req) {
    if (r == static_cast<std::uint32_t>(kSnpGetExtReport)) {
      std::memcpy(&ext, req.bytes.data(), sizeof ext);
    }
    out.push_back(std::move(req));
  }
  if (io.resp_data != 0) {
    UserRegion resp{io.resp_data, Bytes(resp_size)};
    if (caller.Read(io.resp_data, resp.bytes)) out.push_back(std::move(resp));
  }
  // A certs_len the driver refuses (above 16 KiB) is not staged: it never gets that far.
  if (ext.certs_len <= kSevFwBlobMaxSize) Stage(out, caller, ext.certs_address, ext.certs_len);
  return out;
}

}  // namespace sevemu::uapi
