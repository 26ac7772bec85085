// The AMD EPYC generations sevemu simulates and the facts that differ between them.
// Sources are named per field in emulator/manufacturing/product.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sevemu/common/result.h"

namespace sevemu::emulator {

enum class Product { kMilan, kGenoa, kTurin };

// Where each SVN sits in the 8-byte TCB_VERSION of a product (SEV-SNP ABI "TCB_VERSION";
// Linux include/linux/psp-sev.h). -1 means the product has no such component.
struct TcbLayout {
  int fmc;
  int boot_loader;
  int tee;
  int snp;
  int microcode;
};

struct ProductInfo {
  Product product;
  const char* name;     // "Milan": KDS URL path and certificate CNs (ARK-Milan)
  std::uint8_t family;  // CPUID family (base + extended), e.g. 0x19
  std::uint8_t model;   // (extended model << 4) | model
  std::uint8_t default_stepping;
  TcbLayout tcb_layout;
  std::size_t hwid_size;             // bytes of the chip ID the KDS uses as hwID (64, Turin 8)
  std::uint8_t vcek_struct_version;  // VCEK extension 1.3.6.1.4.1.3704.1.1
  std::uint32_t root_serial_base;    // ARK serial; ASK and ASVK serials derive from it
  std::uint32_t ask_serial;
  std::uint32_t asvk_serial;
  // The part's own ABI 1.55 build (what `--firmware 1.55` names; the default is the newest ABI:
  // DefaultFirmware, firmware_abi.h).
  std::uint8_t api_major;
  std::uint8_t api_minor;
  std::uint8_t build;
  std::uint32_t max_asid;  // SEV ASIDs the part supports (CPUID Fn8000_001F_ECX)
};

const ProductInfo& Info(Product p);
// Case-insensitive "milan" | "genoa" | "turin"; kInvalidArgument otherwise.
Result<Product> ParseProduct(std::string_view name);

// CPUID Fn0000_0001_EAX for a family/model/stepping (AMD APM vol. 3, CPUID Fn0000_0001_EAX).
std::uint32_t CpuidFms(std::uint8_t family, std::uint8_t model, std::uint8_t stepping);

// The VCEK productName extension value: "Milan-B0" for Milan (as in KDS VCEKs of 2022-2023),
// the bare product name for Genoa and Turin (as in their KDS VCEKs).
std::string VcekProductName(Product p, std::uint8_t stepping);

}  // namespace sevemu::emulator
