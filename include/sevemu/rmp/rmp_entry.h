// One Reverse Map Table entry: 16 bytes per 4 KiB page, in the layout of AMD's firmware view
// (SEV-ABI-FACTS.md 8.4; AMD-ASPFW sev_rmp.h). The RMP itself (rmp/rmp_table) is built on
// this in the SNP firmware core.
//
// Low qword: bit 0 ASSIGNED, bit 1 PAGE_SIZE (2 MiB), bit 2 IMMUTABLE, bits 11:3 firmware
// private, bits 50:12 GPA >> 12, bits 60:51 ASID, bit 61 VMSA, bit 62 VALIDATED, bit 63 lock.
// High qword: bytes 0-3 VMPL0..VMPL3 permission masks; the rest firmware private.
#pragma once

#include <array>
#include <cstdint>

namespace sevemu::rmp {

// The firmware's page states ("6.2 Page States"; values as AMD-ASPFW's enum).
enum class PageState : std::uint8_t {
  kDefault = 1,
  kHypervisor = 2,
  kHvFixed = 3,
  kFirmware = 4,
  kFirmwareIommu = 5,
  kReclaim = 6,
  kContext = 7,
  kMetadata = 8,
  kPreGuest = 9,
  kPreSwap = 10,
  kGuestInvalid = 11,
  kGuestValid = 12,
};
const char* PageStateName(PageState s);

// VMPL permission bits (APM vol. 2, RMPADJUST).
enum VmplPerm : std::uint8_t {
  kPermRead = 1 << 0,
  kPermWrite = 1 << 1,
  kPermExecUser = 1 << 2,
  kPermExecSupervisor = 1 << 3,
  kPermSupervisorShadowStack = 1 << 4,
};

class RmpEntry {
 public:
  static constexpr std::uint32_t kMaxAsid = (1u << 10) - 1;
  static constexpr std::uint64_t kMaxGpa = ((1ull << 39) - 1) << 12;

  bool assigned() const { return lo_ & 1; }
  bool page_size_2m() const { return lo_ >> 1 & 1; }
  bool immutable() const { return lo_ >> 2 & 1; }
  std::uint64_t gpa() const { return (lo_ >> 12 & ((1ull << 39) - 1)) << 12; }
  std::uint32_t asid() const { return static_cast<std::uint32_t>(lo_ >> 51 & kMaxAsid); }
  bool vmsa() const { return lo_ >> 61 & 1; }
  bool validated() const { return lo_ >> 62 & 1; }
  std::uint8_t vmpl_perms(int vmpl) const { return static_cast<std::uint8_t>(hi_ >> (8 * vmpl)); }
  // The whole high qword (VMPL permission masks and firmware-private bits): what SNP_PAGE_MOVE
  // and the swap metadata entry copy (AMD-ASPFW sev_rmp.h snp_metadata_page_t.vmpl).
  std::uint64_t perms_qword() const { return hi_; }
  void set_perms_qword(std::uint64_t v) { hi_ = v; }

  void set_assigned(bool v) { SetBit(0, v); }
  void set_page_size_2m(bool v) { SetBit(1, v); }
  void set_immutable(bool v) { SetBit(2, v); }
  // REQUIRES: gpa is 4 KiB aligned and <= kMaxGpa (higher bits are dropped).
  void set_gpa(std::uint64_t gpa) {
    lo_ = (lo_ & ~(((1ull << 39) - 1) << 12)) | (gpa & (((1ull << 39) - 1) << 12));
  }
  // REQUIRES: asid <= kMaxAsid.
  void set_asid(std::uint32_t asid) {
    lo_ = (lo_ & ~(std::uint64_t{kMaxAsid} << 51)) | (std::uint64_t{asid & kMaxAsid} << 51);
  }
  void set_vmsa(bool v) { SetBit(61, v); }
  void set_validated(bool v) { SetBit(62, v); }
  void set_vmpl_perms(int vmpl, std::uint8_t perms) {
    hi_ = (hi_ & ~(0xFFull << (8 * vmpl))) | (std::uint64_t{perms} << (8 * vmpl));
  }

  // The firmware page state this entry encodes (the table in SEV-ABI-FACTS.md 8.4).
  PageState State() const;

  std::array<std::uint8_t, 16> Encode() const;
  static RmpEntry Decode(const std::array<std::uint8_t, 16>& raw);
  bool operator==(const RmpEntry&) const = default;

 private:
  void SetBit(int bit, bool v) { lo_ = v ? lo_ | (1ull << bit) : lo_ & ~(1ull << bit); }
  std::uint64_t lo_ = 0;
  std::uint64_t hi_ = 0;
};

// The hardware's entry size; the table never spends more per tracked page.
static_assert(sizeof(RmpEntry) == 16);

}  // namespace sevemu::rmp
