// What each SEV-SNP firmware ABI version sevemu simulates implements: one row per ABI
// (major.minor), looked up from the running firmware's version (PlatformState::current_fw, which
// provisioning sets and SNP_DOWNLOAD_FIRMWARE_EX changes). The firmware reads its behaviour from
// this table only, so a test can say "on 1.55 this, on 1.58 that" by provisioning two platforms.
// Sources per row and field: emulator/manufacturing/firmware_abi.cpp and docs/firmware-abi.md.
//
// A version between two rows behaves as the row below it (1.56 as 1.55; anything above the
// newest row as the newest); provisioning accepts only the rows themselves (SimulatedAbi).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/product.h"

namespace sevemu::emulator {

struct FirmwareAbi {
  std::uint8_t major;
  std::uint8_t minor;
  // The highest MSG_VERSION SNP_GUEST_REQUEST accepts per request type (AMD-ASPFW sev_rmp.h
  // SNP_GMSG_MAX_MSG_VERSION_*). Types not listed here accept version 1 only.
  std::uint8_t max_key_req_version;     // 2 from 1.58: MSG_KEY_REQ with LAUNCH_MIT_VECTOR
  std::uint8_t max_report_req_version;  // 1 in every version simulated
  // MSG_KEY_REQ GUEST_FIELD_SELECT bits the firmware knows (the rest must be zero).
  std::uint64_t key_field_select;
  // ATTESTATION_REPORT layout version on Milan and Genoa; Turin reports version 5 throughout
  // (what sevemu has always produced there).
  std::uint32_t report_version;
  // SNP guest policy bits SNP_LAUNCH_START accepts (the others are reserved, POLICY_FAILURE).
  std::uint64_t policy_bits;
  // The firmware acts on SNP_INIT_EX's RAPL_DIS and CIPHERTEXT_HIDING_EN flags (it accepts
  // them in every version: AMD-ASPFW 1.55 ignores them), reports them in SNP_PLATFORM_STATUS
  // (rapl_dis, ciphertext_hiding_cap/en) and in the report's PLATFORM_INFO, and advertises the
  // policy bits 21-24 in SNP_FEATURE_INFO leaf 0 ECX bits 2-5.
  bool platform_features;
  // The mitigation vector bits SNP_VERIFY_MITIGATION knows (mit_supported_vector), or 0 where
  // the ABI has no such command (INVALID_COMMAND). docs/firmware-abi.md "Mitigations".
  std::uint64_t mitigations;
};

// The row `v` runs as.
const FirmwareAbi& AbiOf(const FirmwareVersion& v);
// Every row, oldest first.
std::span<const FirmwareAbi> SimulatedAbis();

// "MAJOR.MINOR" or "MAJOR.MINOR.BUILD" naming a simulated ABI, for `provision --firmware`.
// BUILD defaults to the product's own build for its shipped ABI (1.55.21 on Milan) and 1
// otherwise. kInvalidArgument, listing the simulated ABIs, for anything else.
Result<FirmwareVersion> ParseSimulatedFirmware(Product product, std::string_view text);

// The firmware a new platform runs when provisioning is not told (`provision --firmware`): the
// newest simulated ABI (1.58.1). Tests that assert 1.55 behaviour provision 1.55 explicitly.
FirmwareVersion DefaultFirmware(Product product);

// The platform facts that depend on the ABI (the product decides the rest).
// Memory encryption with AES-256-XTS: Genoa and Turin (AMD EPYC 9004/9005 product briefs);
// Milan encrypts with AES-128.
bool HasAes256Xts(Product p);
// Ciphertext hiding for DRAM: Turin (Linux sev-dev.c enables it only where SNP_PLATFORM_STATUS
// reports ciphertext_hiding_cap; AMD documents it for 5th-generation EPYC).
bool HasCiphertextHiding(Product p);

}  // namespace sevemu::emulator
