// The memory controller: every access to simulated memory goes through here, is checked
// against the RMP the way the CPU checks it (AMD APM vol. 2, "RMP and VMPL Access Checks"),
// and private guest memory is encrypted with the guest's key.
//
// Encryption: AES-128-XTS per 4 KiB page with the page's system physical address as the
// tweak, so the same plaintext encrypts differently at every address and a page copied
// elsewhere decrypts to garbage. Keys are installed per ASID by the firmware model and never
// leave this object.
//
// Every multi-page access checks all pages before touching any: a refused access changes
// nothing. Thread safety: not thread-safe.
#pragma once

#include <cstdint>
#include <map>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/rmp/physical_memory.h"
#include "sevemu/rmp/rmp_table.h"

namespace sevemu::rmp {

// Why an access was refused, in the terms of the architecture.
enum class RmpViolation {
  kNone,
  kOutOfRange,                 // the SPA is not backed by memory
  kHypervisorWriteToAssigned,  // host write to a page assigned to a guest or the firmware (#PF)
  kSharedAccessToAssigned,     // guest shared (C-bit clear) access to an assigned page (#NPF)
  kNotAssignedToGuest,         // private access to a page not assigned to this guest's ASID
  kGpaMismatch,                // the RMP entry maps another GPA: aliasing or remapping (#NPF)
  kNotValidated,               // private access to a page the guest has not PVALIDATEd (#VC)
  kVmplPermission,             // the VMPL's permission mask forbids it (#NPF)
  kPageSizeMismatch,           // 2 MiB mapping over 4 KiB RMP entries (#NPF)
  kNoKey,                      // the ASID has no memory encryption key installed
};
const char* RmpViolationName(RmpViolation v);

// A guest's access as the nested page walk presents it to the RMP check.
struct GuestAccess {
  std::uint32_t asid = 0;
  int vmpl = 0;
  std::uint64_t gpa = 0;   // guest physical address of the first byte
  bool private_ = true;    // C-bit set: encrypted with the guest's key, RMP-owned by the guest
  bool mapped_2m = false;  // the nested page table maps this GPA with a 2 MiB page
  std::uint8_t need = 0;   // permission bits required (kPermRead, kPermWrite, ...)
};

class MemoryController {
 public:
  // REQUIRES: memory_size is a non-zero multiple of 2 MiB.
  explicit MemoryController(std::uint64_t memory_size) : dram_(memory_size), rmp_(memory_size) {}

  RmpTable& rmp() { return rmp_; }
  const RmpTable& rmp() const { return rmp_; }
  std::uint64_t size() const { return dram_.size(); }

  // ---- firmware (AMD-SP) side ----
  // Installs the memory encryption key of `asid` (32 bytes, AES-128-XTS). kInvalidArgument for
  // ASID 0 or a wrong size.
  Status SetGuestKey(std::uint32_t asid, const SecretBytes& key);
  void ClearGuestKey(std::uint32_t asid) { keys_.erase(asid); }
  bool HasGuestKey(std::uint32_t asid) const { return keys_.count(asid) != 0; }
  // Raw DRAM, for firmware-owned pages (not encrypted with a guest key).
  Status FirmwareRead(std::uint64_t spa, MutableByteSpan out) const { return dram_.Read(spa, out); }
  Status FirmwareWrite(std::uint64_t spa, ByteSpan data) { return dram_.Write(spa, data); }
  // Plaintext of a guest's private memory at `spa` (the firmware holds every guest key).
  RmpViolation FirmwareReadGuest(std::uint32_t asid, std::uint64_t spa, MutableByteSpan out) const;
  RmpViolation FirmwareWriteGuest(std::uint32_t asid, std::uint64_t spa, ByteSpan data);

  // ---- hypervisor side (ASID 0, C-bit clear) ----
  // Reads are not RMP-checked; a guest page reads as ciphertext.
  RmpViolation HvRead(std::uint64_t spa, MutableByteSpan out) const;
  // Refused for any page whose RMP entry is assigned.
  RmpViolation HvWrite(std::uint64_t spa, ByteSpan data);

  // ---- guest side ----
  // `spa` is where the nested page table maps `access.gpa`. The access may span pages; the
  // GPA and SPA advance together.
  RmpViolation GuestRead(const GuestAccess& access, std::uint64_t spa, MutableByteSpan out) const;
  RmpViolation GuestWrite(const GuestAccess& access, std::uint64_t spa, ByteSpan data);

  // The RMP check alone, for one page.
  RmpViolation Check(const GuestAccess& access, std::uint64_t spa) const;

 private:
  RmpViolation CheckRange(const GuestAccess& access, std::uint64_t spa, std::size_t len) const;
  Result<Page> DecryptPage(std::uint32_t asid, std::uint64_t page_spa) const;
  Status EncryptPage(std::uint32_t asid, std::uint64_t page_spa, const Page& plain);

  PhysicalMemory dram_;
  RmpTable rmp_;
  std::map<std::uint32_t, SecretBytes> keys_;
};

}  // namespace sevemu::rmp
