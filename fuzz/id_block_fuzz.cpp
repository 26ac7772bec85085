// Fuzzes SNP_LAUNCH_FINISH's ID block (0x60 bytes) and ID authentication information
// (0x1000 bytes), the bytes a guest owner hands the VMM (sevemu guest launch --id-block,
// --id-auth). Input: a control byte, then the ID block, then the auth page (zero-padded).
// Control bits let the harness do what a real owner does, so the fuzzer reaches past each
// check: bit0 copies the guest's real launch digest and policy into the ID block, bit1 signs the
// ID block with a fixed ID key (and bit2 the ID key with a fixed author key) in the auth page,
// bit3 sets AUTHOR_KEY_EN, bit4 clears ID_BLOCK_EN. A refused LAUNCH_FINISH must change nothing;
// an accepted one with an ID block must have had the launch digest in it.
// The guest up to LAUNCH_START is built once; every input runs on a Firmware::Clone of it
// instead of a boot (docs/fuzzing.md).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "sevemu/crypto/keys.h"
#include "sevemu/emulator/firmware.h"
#include "sevemu/emulator/firmware_keys.h"
#include "sevemu/emulator/manufacturing/amd_root.h"
#include "sevemu/emulator/manufacturing/provision.h"
#include "sevemu/fixtures/test_root.h"
#include "sevemu/rmp/rmp_instructions.h"

namespace {

using sevemu::emulator::FwStatus;
using sevemu::emulator::SnpCmd;

constexpr std::uint64_t kGctx = 0x100000, kIdBlock = 0x300000, kIdAuth = 0x301000;
constexpr std::uint64_t kPolicy = 0x30000;
// ID authentication information layout (SEV-SNP ABI spec 56860, table "ID_AUTH").
constexpr std::size_t kIdSig = 0x40, kIdKey = 0x240, kAuthorSig = 0x680, kAuthorKey = 0xA80;

const sevemu::emulator::Platform& BasePlatform() {
  static const sevemu::emulator::Platform platform = [] {
    sevemu::emulator::ProvisionOptions opts;
    opts.seed = sevemu::Bytes{7};
    auto root = sevemu::emulator::AmdRoot::FromFiles(sevemu::fixtures::TestRootFiles("milan"), "");
    if (!root.ok()) std::abort();
    auto p = sevemu::emulator::Provision(opts, std::move(root).value());
    if (!p.ok()) std::abort();
    return std::move(p).value();
  }();
  return platform;
}

// A booted, initialised platform with one guest in LAUNCH (GCTX_CREATE, LAUNCH_START).
const sevemu::emulator::Firmware& Launching() {
  static const std::unique_ptr<sevemu::emulator::Firmware> fw = [] {
    sevemu::emulator::FirmwareConfig cfg;
    cfg.memory_size = 16ull << 20;
    auto booted = sevemu::emulator::Firmware::Boot(BasePlatform(), cfg);
    if (!booted.ok()) std::abort();
    auto& f = **booted;
    f.Execute(SnpCmd::kInit, sevemu::MutableByteSpan{});
    f.Wbinvd();
    f.Execute(SnpCmd::kDfFlush, sevemu::MutableByteSpan{});
    sevemu::rmp::RmpUpdate(f.memory().rmp(), kGctx, {0, true, false, true, 0});
    sevemu::emulator::SnpAddrBuf gctx{kGctx};
    if (f.Execute(SnpCmd::kGctxCreate, gctx) != FwStatus::kSuccess) std::abort();
    sevemu::emulator::SnpLaunchStartBuf start{};
    start.gctx_paddr = kGctx;
    start.policy = kPolicy;
    if (f.Execute(SnpCmd::kLaunchStart, start) != FwStatus::kSuccess) std::abort();
    return std::move(booted).value();
  }();
  return *fw;
}

const sevemu::crypto::PrivateKey& Key(std::uint8_t which) {
  static const sevemu::crypto::PrivateKey id = [] {
    auto k = sevemu::crypto::PrivateKey::EcP384FromSeed(sevemu::SecretBytes(sevemu::Bytes(56, 1)));
    if (!k.ok()) std::abort();
    return std::move(k).value();
  }();
  static const sevemu::crypto::PrivateKey author = [] {
    auto k = sevemu::crypto::PrivateKey::EcP384FromSeed(sevemu::SecretBytes(sevemu::Bytes(56, 2)));
    if (!k.ok()) std::abort();
    return std::move(k).value();
  }();
  return which == 0 ? id : author;
}

// Signs `msg` with `key` into auth[sig_at] and puts the key at auth[key_at] (the fixed encodings).
void Sign(sevemu::Bytes& auth, std::size_t sig_at, std::size_t key_at, sevemu::ByteSpan msg,
          const sevemu::crypto::PrivateKey& key) {
  auto sig = key.SignEcdsaSha384(msg);
  auto pub = sevemu::emulator::EncodeFwPublicKey(key.Public());
  if (!sig.ok() || !pub.ok()) std::abort();
  const sevemu::Bytes s = sevemu::emulator::EncodeFwSignature(*sig);
  std::memcpy(auth.data() + sig_at, s.data(), std::min<std::size_t>(s.size(), 0x200));
  std::memcpy(auth.data() + key_at, pub->data(), std::min<std::size_t>(pub->size(), 0x404));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t control = data[0];
  sevemu::Bytes id_block(0x60, 0), auth(0x1000, 0);
  std::memcpy(id_block.data(), data + 1, std::min<std::size_t>(size - 1, 0x60));
  if (size > 0x61)
    std::memcpy(auth.data(), data + 0x61, std::min<std::size_t>(size - 0x61, 0x1000));

  const auto fw = Launching().Clone();
  auto& f = *fw;

  // No LAUNCH_UPDATE ran, so the launch digest is still its initial all-zero value.
  if (control & 1) {
    std::memset(id_block.data(), 0, 48);
    std::memcpy(id_block.data() + 0x58, &kPolicy, 8);
  }
  if (control & 2) Sign(auth, kIdSig, kIdKey, id_block, Key(0));
  if (control & 4) {
    Sign(auth, kAuthorSig, kAuthorKey, sevemu::ByteSpan(auth).subspan(kIdKey, 0x404), Key(1));
  }
  if (control & 2) auth[0] = 1;  // ECDSA P-384 with SHA-384
  if (control & 4) auth[4] = 1;
  if (f.memory().HvWrite(kIdBlock, id_block) != sevemu::rmp::RmpViolation::kNone ||
      f.memory().HvWrite(kIdAuth, auth) != sevemu::rmp::RmpViolation::kNone) {
    std::abort();
  }
  sevemu::emulator::SnpLaunchFinishBuf finish{};
  finish.gctx_paddr = kGctx;
  finish.id_block_paddr = kIdBlock;
  finish.id_auth_paddr = kIdAuth;
  finish.flags = (control & 0x10 ? 0 : 1) | (control & 8 ? 2 : 0);
  const sevemu::Bytes before = f.StateDigest();
  const FwStatus st = f.Execute(SnpCmd::kLaunchFinish, finish);
  if (st != FwStatus::kSuccess && f.StateDigest() != before) std::abort();
  if (st == FwStatus::kSuccess && (finish.flags & 1) &&
      sevemu::Bytes(id_block.begin(), id_block.begin() + 48) != sevemu::Bytes(48, 0)) {
    std::abort();  // an ID block whose digest is not the launch's was accepted
  }
  return 0;
}
