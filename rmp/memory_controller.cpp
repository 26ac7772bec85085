#include "sevemu/rmp/memory_controller.h"

#include <algorithm>
#include <cstring>

#include "sevemu/crypto/aes.h"

namespace sevemu::rmp {
namespace {

// The XTS tweak of a page: its SPA, little-endian, as IEEE 1619 encodes a data unit number.
std::array<std::uint8_t, 16> Tweak(std::uint64_t page_spa) {
  std::array<std::uint8_t, 16> t{};
  StoreLe64(t.data(), page_spa);
  return t;
}

// Calls fn(spa, offset_in_data, length) per page-sized piece of [spa, spa + len).
template <typename Fn>
auto ForEachPage(std::uint64_t spa, std::size_t len, Fn fn) {
  std::size_t done = 0;
  while (done < len) {
    const std::uint64_t a = spa + done;
    const std::size_t n = std::min<std::size_t>(len - done, kPageSize - (a & (kPageSize - 1)));
    if (auto v = fn(a, done, n); v != RmpViolation::kNone) return v;
    done += n;
  }
  return RmpViolation::kNone;
}

}  // namespace

const char* RmpViolationName(RmpViolation v) {
  switch (v) {
    case RmpViolation::kNone:
      return "none";
    case RmpViolation::kOutOfRange:
      return "address outside memory";
    case RmpViolation::kHypervisorWriteToAssigned:
      return "hypervisor write to an assigned page";
    case RmpViolation::kSharedAccessToAssigned:
      return "shared access to an assigned page";
    case RmpViolation::kNotAssignedToGuest:
      return "page not assigned to this guest";
    case RmpViolation::kGpaMismatch:
      return "page is mapped at another GPA in the RMP";
    case RmpViolation::kNotValidated:
      return "page not validated";
    case RmpViolation::kVmplPermission:
      return "VMPL permissions forbid the access";
    case RmpViolation::kPageSizeMismatch:
      return "2 MiB mapping over 4 KiB RMP entries";
    case RmpViolation::kNoKey:
      return "no memory encryption key for the ASID";
  }
  return "?";
}

Status MemoryController::SetGuestKey(std::uint32_t asid, const SecretBytes& key) {
  if (asid == 0) return Error(ErrorCode::kInvalidArgument, "ASID 0 is the hypervisor's");
  if (key.size() != 32) return Error(ErrorCode::kInvalidArgument, "memory key must be 32 bytes");
  keys_[asid] = key;
  return Status::Ok();
}

Result<Page> MemoryController::DecryptPage(std::uint32_t asid, std::uint64_t page_spa) const {
  auto key = keys_.find(asid);
  if (key == keys_.end()) return Error(ErrorCode::kInvalidArgument, "no key");
  Page cipher{};
  SEVEMU_RETURN_IF_ERROR(dram_.Read(page_spa, cipher));
  SEVEMU_ASSIGN_OR_RETURN(Bytes plain,
                          crypto::AesXtsDecrypt(key->second.span(), Tweak(page_spa), cipher));
  Page out{};
  std::memcpy(out.data(), plain.data(), kPageSize);
  SecureZero(plain.data(), plain.size());
  return out;
}

Status MemoryController::EncryptPage(std::uint32_t asid, std::uint64_t page_spa,
                                     const Page& plain) {
  auto key = keys_.find(asid);
  if (key == keys_.end()) return Error(ErrorCode::kInvalidArgument, "no key");
  SEVEMU_ASSIGN_OR_RETURN(Bytes cipher,
                          crypto::AesXtsEncrypt(key->second.span(), Tweak(page_spa), plain));
  return dram_.Write(page_spa, cipher);
}

RmpViolation MemoryController::FirmwareReadGuest(std::uint32_t asid, std::uint64_t spa,
                                                 MutableByteSpan out) const {
  if (!dram_.Contains(spa, out.size())) return RmpViolation::kOutOfRange;
  if (!HasGuestKey(asid)) return RmpViolation::kNoKey;
  return ForEachPage(spa, out.size(), [&](std::uint64_t a, std::size_t off, std::size_t n) {
    auto page = DecryptPage(asid, PageBase(a));
    if (!page.ok()) return RmpViolation::kNoKey;
    std::memcpy(out.data() + off, page->data() + (a - PageBase(a)), n);
    SecureZero(page->data(), page->size());
    return RmpViolation::kNone;
  });
}

RmpViolation MemoryController::FirmwareWriteGuest(std::uint32_t asid, std::uint64_t spa,
                                                  ByteSpan data) {
  if (!dram_.Contains(spa, data.size())) return RmpViolation::kOutOfRange;
  if (!HasGuestKey(asid)) return RmpViolation::kNoKey;
  return ForEachPage(spa, data.size(), [&](std::uint64_t a, std::size_t off, std::size_t n) {
    auto page = n == kPageSize ? Result<Page>(Page{}) : DecryptPage(asid, PageBase(a));
    if (!page.ok()) return RmpViolation::kNoKey;
    std::memcpy(page->data() + (a - PageBase(a)), data.data() + off, n);
    const Status st = EncryptPage(asid, PageBase(a), *page);
    SecureZero(page->data(), page->size());
    return st.ok() ? RmpViolation::kNone : RmpViolation::kNoKey;
  });
}

RmpViolation MemoryController::HvRead(std::uint64_t spa, MutableByteSpan out) const {
  if (!dram_.Contains(spa, out.size())) return RmpViolation::kOutOfRange;
  (void)dram_.Read(spa, out);  // in range, cannot fail
  return RmpViolation::kNone;
}

RmpViolation MemoryController::HvWrite(std::uint64_t spa, ByteSpan data) {
  if (!dram_.Contains(spa, data.size())) return RmpViolation::kOutOfRange;
  const RmpViolation v =
      ForEachPage(spa, data.size(), [&](std::uint64_t a, std::size_t, std::size_t) {
        return rmp_.Get(a).assigned() ? RmpViolation::kHypervisorWriteToAssigned
                                      : RmpViolation::kNone;
      });
  if (v != RmpViolation::kNone) return v;
  (void)dram_.Write(spa, data);
  return RmpViolation::kNone;
}

RmpViolation MemoryController::Check(const GuestAccess& access, std::uint64_t spa) const {
  if (!rmp_.Covers(spa)) return RmpViolation::kOutOfRange;
  const RmpEntry e = rmp_.Get(spa);
  if (!access.private_) {
    // Shared accesses are the hypervisor's memory: the page must not be assigned.
    return e.assigned() ? RmpViolation::kSharedAccessToAssigned : RmpViolation::kNone;
  }
  if (!e.assigned() || e.asid() != access.asid || e.immutable()) {
    return RmpViolation::kNotAssignedToGuest;
  }
  if (e.gpa() != PageBase(access.gpa)) return RmpViolation::kGpaMismatch;
  if (access.mapped_2m && !e.page_size_2m()) return RmpViolation::kPageSizeMismatch;
  if (!e.validated()) return RmpViolation::kNotValidated;
  if ((access.need & ~e.vmpl_perms(access.vmpl)) != 0) return RmpViolation::kVmplPermission;
  if (!HasGuestKey(access.asid)) return RmpViolation::kNoKey;
  return RmpViolation::kNone;
}

RmpViolation MemoryController::CheckRange(const GuestAccess& access, std::uint64_t spa,
                                          std::size_t len) const {
  if (!dram_.Contains(spa, len)) return RmpViolation::kOutOfRange;
  return ForEachPage(spa, len, [&](std::uint64_t a, std::size_t off, std::size_t) {
    GuestAccess page = access;
    page.gpa = access.gpa + off;
    return Check(page, a);
  });
}

RmpViolation MemoryController::GuestRead(const GuestAccess& access, std::uint64_t spa,
                                         MutableByteSpan out) const {
  if (auto v = CheckRange(access, spa, out.size()); v != RmpViolation::kNone) return v;
  if (!access.private_) return HvRead(spa, out);
  return FirmwareReadGuest(access.asid, spa, out);
}

RmpViolation MemoryController::GuestWrite(const GuestAccess& access, std::uint64_t spa,
                                          ByteSpan data) {
  if (auto v = CheckRange(access, spa, data.size()); v != RmpViolation::kNone) return v;
  if (!access.private_) {
    (void)dram_.Write(spa, data);
    return RmpViolation::kNone;
  }
  return FirmwareWriteGuest(access.asid, spa, data);
}

}  // namespace sevemu::rmp
