#include "sevemu/emulator/manufacturing/product.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace sevemu::emulator {
namespace {

// Family/model: AMD PPRs; virtee/sev and snpguest map family 0x19 models 0x00-0x0F to Milan,
// 0x10-0x1F to Genoa, family 0x1A models 0x00-0x11 to Turin (reference/SEV-ABI-FACTS.md 4.1).
// TCB layouts: SEV-ABI-FACTS.md 4.3. Serials and struct versions: AMD's published ARK/ASK/ASVK
// and KDS VCEK certificates (docs/certificates.md). Initial TCB values are plausible
// production levels (the same as real VCEKs seen in public verifier test data), not secrets.
// ASID counts: Milan 509, Genoa and Turin 1006 (AMD-ASPFW MAX_SEV_ASIDS for Genoa).
// clang-format off
constexpr ProductInfo kProducts[] = {
  //  product           name     fam   model step  TCB layout (fmc,bl,tee,snp,ucode)  hwID VCEK-ver
  {Product::kMilan, "Milan", 0x19, 0x01, 0,  {-1, 0, 1, 6, 7}, 64, 0,
   /*serials*/ 0x010000, 0x010001, 0x010101, /*firmware*/ 1, 55, 21, /*ASIDs*/ 509},
  {Product::kGenoa, "Genoa", 0x19, 0x11, 1,  {-1, 0, 1, 6, 7}, 64, 0,
   /*serials*/ 0x020000, 0x020002, 0x020101, /*firmware*/ 1, 55, 25, /*ASIDs*/ 1006},
  {Product::kTurin, "Turin", 0x1A, 0x02, 1,  { 0, 1, 2, 3, 7},  8, 1,
   /*serials*/ 0x030000, 0x030001, 0x030101, /*firmware*/ 1, 55, 40, /*ASIDs*/ 1006},
};
// clang-format on

}  // namespace

const ProductInfo& Info(Product p) {
  return kProducts[static_cast<int>(p)];
}

Result<Product> ParseProduct(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& info : kProducts) {
    std::string n = info.name;
    std::transform(n.begin(), n.end(), n.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (n == lower) return info.product;
  }
  return Error(ErrorCode::kInvalidArgument,
               "unknown product '" + std::string(name) + "' (expected milan, genoa or turin)");
}

std::uint32_t CpuidFms(std::uint8_t family, std::uint8_t model, std::uint8_t stepping) {
  // Families above 0xF put 0xF in the base field and the excess in the extended field.
  const std::uint32_t base_family = family >= 0xF ? 0xF : family;
  const std::uint32_t ext_family = family >= 0xF ? family - 0xFu : 0;
  return (ext_family << 20) | (static_cast<std::uint32_t>(model >> 4) << 16) | (base_family << 8) |
         (static_cast<std::uint32_t>(model & 0xF) << 4) | (stepping & 0xF);
}

std::string VcekProductName(Product p, std::uint8_t stepping) {
  if (p == Product::kMilan) return "Milan-B" + std::to_string(stepping);
  return Info(p).name;
}

}  // namespace sevemu::emulator
