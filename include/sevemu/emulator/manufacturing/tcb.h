// TCB_VERSION: the 8-byte security version vector of the firmware stack (SEV-SNP ABI,
// "TCB_VERSION"). Its bytes mean different things per product (TcbLayout); bytes a product
// does not use are reserved and must be zero.
#pragma once

#include <cstdint>
#include <string>

#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::emulator {

// The named components. fmc exists on Turin only and must be 0 elsewhere.
struct TcbParts {
  std::uint8_t fmc = 0;
  std::uint8_t boot_loader = 0;
  std::uint8_t tee = 0;
  std::uint8_t snp = 0;
  std::uint8_t microcode = 0;
  bool operator==(const TcbParts&) const = default;
};

class TcbVersion {
 public:
  TcbVersion() = default;
  // kInvalidArgument if a reserved byte is non-zero, or (KDS rule) an SVN other than
  // microcode exceeds 127, or fmc is set on a product without FMC.
  static Result<TcbVersion> FromRaw(Product p, std::uint64_t raw);
  static Result<TcbVersion> FromParts(Product p, const TcbParts& parts);

  std::uint64_t raw() const { return raw_; }
  Product product() const { return product_; }
  TcbParts parts() const;
  std::uint8_t byte(int index) const { return static_cast<std::uint8_t>(raw_ >> (8 * index)); }

  // True iff every byte of this TCB is <= the same byte of `other` (the componentwise order
  // the versioned keys enforce).
  bool AtOrBelow(const TcbVersion& other) const;
  bool operator==(const TcbVersion& o) const { return raw_ == o.raw_ && product_ == o.product_; }

  // "bl=3 tee=0 snp=8 ucode=115" (with "fmc=.. " first on Turin).
  std::string ToString() const;

 private:
  TcbVersion(Product p, std::uint64_t raw) : product_(p), raw_(raw) {}
  Product product_ = Product::kMilan;
  std::uint64_t raw_ = 0;
};

// Parses "bl=3,tee=0,snp=8,ucode=115[,fmc=1]" (any order, all of the product's components
// required). kInvalidArgument with the offending token otherwise.
Result<TcbVersion> ParseTcb(Product p, const std::string& text);

}  // namespace sevemu::emulator

namespace sevemu::emulator {
// The TCB a freshly provisioned part of this product reports.
TcbVersion DefaultTcb(Product p);
}  // namespace sevemu::emulator
