// Simulated manufacturing: a new chip with identity, fuses and initial firmware, made by a
// given AMD root. With a seed, everything the chip owns is a function of the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::emulator {

// The date seeded platforms are "manufactured", so their VCEK certificates' TBS bytes are
// reproducible: 2024-01-01T00:00:00Z.
inline constexpr std::int64_t kSeededManufactureTime = 1704067200;

struct ProvisionOptions {
  Product product = Product::kMilan;
  std::optional<Bytes> seed;             // 1..64 bytes; absent = fresh randomness
  std::optional<std::uint8_t> stepping;  // default: the product's
  std::optional<TcbVersion> tcb;         // initial current = committed = reported TCB
  std::int64_t now = 0;                  // manufacture time when not seeded
  // The BIOS's ASID split (PlatformState::min_sev_asid); default: the product's max_asid / 2.
  std::optional<std::uint32_t> min_sev_asid;
  // The firmware it ships with (current = committed); default: DefaultFirmware(product).
  // Must name a simulated ABI (firmware_abi.h).
  std::optional<FirmwareVersion> firmware;
};

// Makes the platform in memory. kInvalidArgument for a bad seed, stepping, TCB or firmware
// version, or a root of another product.
Result<Platform> Provision(const ProvisionOptions& opts, AmdRoot root);

// The chip's own view of its keys: the boot ROM hands the firmware the sticks of the current
// TCB; the VCEK the firmware signs with is derived from them at the reported TCB.
Result<HashSticks> BootRomSticks(const Platform& p);
Result<crypto::PrivateKey> FirmwareVcek(const Platform& p);

// Self-test run at start-up: the firmware's VCEK (boot ROM sticks, derived down to the reported
// TCB) equals the key in the KDS's VCEK certificate, and VCEK -> ASK -> ARK verifies.
// kCorrupt with the reason otherwise.
Status CheckPlatform(const Platform& p);

// Writes ark.pem, ask.pem, asvk.pem, vcek.pem, vcek.der and cert_chain.pem (ASK then ARK, as
// the KDS serves /vcek/v1/{product}/cert_chain) into `out_dir`, the VCEK at the reported TCB.
// Fails, writing nothing, if the KDS's VCEK and the firmware's disagree.
Status ExportCertificates(const Platform& p, const std::string& out_dir);

}  // namespace sevemu::emulator
