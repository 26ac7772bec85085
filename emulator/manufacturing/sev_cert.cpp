#include "sevemu/emulator/manufacturing/sev_cert.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "sevemu/crypto/ecdsa_digest.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/crypto/rsa_pss.h"
#include "sevemu/emulator/manufacturing/amd_root.h"

namespace sevemu::emulator {
namespace {

constexpr std::size_t kEcCoordSize = crypto::kFirmwareIntSize;  // 72
constexpr std::size_t kEcQxOff = 4;
constexpr std::size_t kEcQyOff = kEcQxOff + kEcCoordSize;  // 0x4C
constexpr std::size_t kRsaFieldSize = 512;
constexpr std::size_t kRsaExpOff = 4;
constexpr std::size_t kRsaModOff = kRsaExpOff + kRsaFieldSize;  // 0x204
static_assert(kRsaModOff + kRsaFieldSize == kSevCertKeySize);
constexpr std::size_t kSigOff1 = kSevCertBodySize;                // 0x414
constexpr std::size_t kSigOff2 = kSigOff1 + 8 + kSevCertSigSize;  // 0x61C
static_assert(kSigOff2 + 8 + kSevCertSigSize == kSevCertSize);

bool IsRsa(std::uint32_t algo) {
  return algo == sev_algo::kRsaSha256 || algo == sev_algo::kRsaSha384;
}
bool IsEcdsa(std::uint32_t algo) {
  return algo == sev_algo::kEcdsaSha256 || algo == sev_algo::kEcdsaSha384;
}
bool IsEcdh(std::uint32_t algo) {
  return algo == sev_algo::kEcdhSha256 || algo == sev_algo::kEcdhSha384;
}
bool IsKnownUsage(std::uint32_t u) {
  return u == sev_usage::kArk || u == sev_usage::kAsk || u == sev_usage::kOca ||
         u == sev_usage::kPek || u == sev_usage::kPdh || u == sev_usage::kCek;
}
crypto::HashAlg DigestOf(std::uint32_t algo) {
  return (algo & 0x100) ? crypto::HashAlg::kSha384 : crypto::HashAlg::kSha256;
}
bool Zero(const std::uint8_t* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::uint8_t b) { return b == 0; });
}
std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%X", v);
  return buf;
}
// Little-endian field -> big-endian bytes (and back), `n` bytes.
Bytes Reversed(const std::uint8_t* p, std::size_t n) {
  Bytes out(p, p + n);
  std::reverse(out.begin(), out.end());
  return out;
}
// Big-endian `be` into a little-endian field of `field` bytes; false if it does not fit.
bool PutLe(std::uint8_t* field, std::size_t field_size, ByteSpan be) {
  std::size_t skip = 0;
  while (skip < be.size() && be[skip] == 0) ++skip;
  if (be.size() - skip > field_size) return false;
  std::memset(field, 0, field_size);
  std::reverse_copy(be.begin() + static_cast<std::ptrdiff_t>(skip), be.end(), field);
  return true;
}

void PutSig(std::uint8_t* out, const SevCertSig& s) {
  StoreLe32(out, s.usage);
  StoreLe32(out + 4, s.algo);
  std::memcpy(out + 8, s.sig.data(), s.sig.size());
}
SevCertSig GetSig(const std::uint8_t* in) {
  SevCertSig s;
  s.usage = LoadLe32(in);
  s.algo = LoadLe32(in + 4);
  std::memcpy(s.sig.data(), in + 8, s.sig.size());
  return s;
}

Error BadField(const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "SEV certificate: " + what);
}

}  // namespace

const char* SevUsageName(std::uint32_t usage) {
  switch (usage) {
    case sev_usage::kArk:
      return "ARK";
    case sev_usage::kAsk:
      return "ASK";
    case sev_usage::kInvalid:
      return "INVALID";
    case sev_usage::kOca:
      return "OCA";
    case sev_usage::kPek:
      return "PEK";
    case sev_usage::kPdh:
      return "PDH";
    case sev_usage::kCek:
      return "CEK";
  }
  return "unknown";
}

// ---- SevPubKey ----

Status SevPubKey::Validate() const {
  if (!IsKnownUsage(usage)) return BadField("unknown public key usage " + Hex32(usage));
  const std::uint8_t* k = key.data();
  if (IsEcdsa(algo) || IsEcdh(algo)) {
    const std::uint32_t curve = LoadLe32(k);
    std::size_t coord = 0;
    if (curve == kSevCurveP384) {
      coord = crypto::kP384ScalarSize;
    } else if (curve == kSevCurveP256) {
      coord = 32;
    } else {
      return BadField("unknown curve " + Hex32(curve));
    }
    if (!Zero(k + kEcQxOff + coord, kEcCoordSize - coord) ||
        !Zero(k + kEcQyOff + coord, kEcCoordSize - coord)) {
      return BadField("EC coordinate wider than its curve");
    }
    // The rest of the key area (after Qy) is not looked at: AMD's pubkey_is_valid only checks
    // the curve and that the point is on it (AMD-ASPFW sev_cert.c, ecc.c ecc_pubkey_is_valid),
    // and tools fill it with whatever their buffer held (virtee/sev 6.0's `sevctl generate`
    // leaves non-zero bytes there), so refusing it would refuse their OCAs.
    if (curve == kSevCurveP256) {
      if (Zero(k + kEcQxOff, coord) && Zero(k + kEcQyOff, coord)) {
        return BadField("P-256 point is zero");
      }
      return Status::Ok();
    }
    auto pub = ToCrypto();
    if (!pub.ok()) return pub.error();
    return Status::Ok();
  }
  if (IsRsa(algo)) {
    const std::uint32_t bits = LoadLe32(k);
    if (bits != 2048 && bits != 4096) return BadField("RSA modulus size " + std::to_string(bits));
    const std::size_t n = bits / 8;
    if (!Zero(k + kRsaModOff + n, kRsaFieldSize - n)) return BadField("RSA modulus too wide");
    if (!Zero(k + kRsaExpOff + n, kRsaFieldSize - n)) return BadField("RSA exponent too wide");
    if ((k[kRsaModOff + n - 1] & 0x80) == 0) {
      return BadField("RSA modulus shorter than its stated size");
    }
    auto pub = ToCrypto();
    if (!pub.ok()) return pub.error();
    return Status::Ok();
  }
  return BadField("unknown public key algorithm " + Hex32(algo));
}

Result<crypto::PublicKey> SevPubKey::ToCrypto() const {
  const std::uint8_t* k = key.data();
  if (IsEcdsa(algo) || IsEcdh(algo)) {
    const std::uint32_t curve = LoadLe32(k);
    if (curve == kSevCurveP256) {
      return Error(ErrorCode::kRefused, "P-256 keys are parsed but not supported for crypto");
    }
    if (curve != kSevCurveP384) return BadField("unknown curve " + Hex32(curve));
    const Bytes x = Reversed(k + kEcQxOff, crypto::kP384ScalarSize);
    const Bytes y = Reversed(k + kEcQyOff, crypto::kP384ScalarSize);
    return crypto::PublicKey::FromEcP384Point(x, y);
  }
  if (IsRsa(algo)) {
    const std::uint32_t bits = LoadLe32(k);
    if (bits != 2048 && bits != 4096) return BadField("RSA modulus size " + std::to_string(bits));
    const Bytes n = Reversed(k + kRsaModOff, bits / 8);
    const Bytes e = Reversed(k + kRsaExpOff, bits / 8);
    return crypto::RsaPublicKeyFromComponents(n, e);
  }
  return BadField("unknown public key algorithm " + Hex32(algo));
}

Result<SevPubKey> SevPubKey::FromCrypto(const crypto::PublicKey& pub, std::uint32_t usage,
                                        std::uint32_t algo) {
  SevPubKey out;
  out.usage = usage;
  out.algo = algo;
  std::uint8_t* k = out.key.data();
  if (IsEcdsa(algo) || IsEcdh(algo)) {
    SEVEMU_ASSIGN_OR_RETURN(auto point, pub.EcP384Point());
    StoreLe32(k, kSevCurveP384);
    std::reverse_copy(point.x.begin(), point.x.end(), k + kEcQxOff);
    std::reverse_copy(point.y.begin(), point.y.end(), k + kEcQyOff);
    return out;
  }
  if (IsRsa(algo)) {
    if (pub.kind() != crypto::KeyKind::kRsa) return Error(ErrorCode::kInvalidKey, "not RSA");
    const int bits = pub.bits();
    if (bits != 2048 && bits != 4096) {
      return Error(ErrorCode::kInvalidKey, "RSA key must be 2048 or 4096 bits");
    }
    SEVEMU_ASSIGN_OR_RETURN(Bytes n, pub.RsaModulus());
    SEVEMU_ASSIGN_OR_RETURN(Bytes e, pub.RsaPublicExponent());
    StoreLe32(k, static_cast<std::uint32_t>(bits));
    if (!PutLe(k + kRsaExpOff, kRsaFieldSize, e) || !PutLe(k + kRsaModOff, kRsaFieldSize, n)) {
      return Error(ErrorCode::kInvalidKey, "RSA key does not fit");
    }
    return out;
  }
  return Error(ErrorCode::kInvalidArgument, "unknown public key algorithm " + Hex32(algo));
}

// ---- SevCert ----

Result<SevCert> SevCert::Decode(ByteSpan b) {
  if (b.size() != kSevCertSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "SEV certificate must be 0x824 bytes, not " + std::to_string(b.size()));
  }
  SevCert c;
  c.version = LoadLe32(b.data());
  c.api_major = b[4];
  c.api_minor = b[5];
  c.reserved = {b[6], b[7]};
  c.pubkey.usage = LoadLe32(b.data() + 8);
  c.pubkey.algo = LoadLe32(b.data() + 0xC);
  std::memcpy(c.pubkey.key.data(), b.data() + 0x10, kSevCertKeySize);
  c.sigs[0] = GetSig(b.data() + kSigOff1);
  c.sigs[1] = GetSig(b.data() + kSigOff2);
  return c;
}

Result<SevCert> SevCert::Parse(ByteSpan bytes) {
  SEVEMU_ASSIGN_OR_RETURN(SevCert c, Decode(bytes));
  SEVEMU_RETURN_IF_ERROR(c.Validate());
  return c;
}

Status SevCert::Validate() const {
  if (version != kSevCertVersion) return BadField("version " + std::to_string(version));
  if (reserved[0] != 0 || reserved[1] != 0) return BadField("reserved bytes are not zero");
  SEVEMU_RETURN_IF_ERROR(pubkey.Validate());
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    const SevCertSig& s = sigs[i];
    const std::string slot = "signature " + std::to_string(i + 1) + ": ";
    if (s.empty()) {
      if (!Zero(s.sig.data(), s.sig.size())) return BadField(slot + "empty slot is not zero");
      continue;
    }
    if (s.usage == sev_usage::kInvalid || s.algo == sev_algo::kInvalid) {
      return BadField(slot + "usage and algorithm must both be set or both empty");
    }
    if (!IsKnownUsage(s.usage)) return BadField(slot + "unknown usage " + Hex32(s.usage));
    if (!IsEcdsa(s.algo) && !IsRsa(s.algo)) {
      return BadField(slot + "algorithm " + Hex32(s.algo) + " does not sign");
    }
  }
  return Status::Ok();
}

SevCertBytes SevCert::Encode() const {
  SevCertBytes out{};
  std::uint8_t* p = out.data();
  StoreLe32(p, version);
  p[4] = api_major;
  p[5] = api_minor;
  p[6] = reserved[0];
  p[7] = reserved[1];
  StoreLe32(p + 8, pubkey.usage);
  StoreLe32(p + 0xC, pubkey.algo);
  std::memcpy(p + 0x10, pubkey.key.data(), kSevCertKeySize);
  PutSig(p + kSigOff1, sigs[0]);
  PutSig(p + kSigOff2, sigs[1]);
  return out;
}

Bytes SevCert::Body() const {
  const SevCertBytes all = Encode();
  return Bytes(all.begin(), all.begin() + kSevCertBodySize);
}

Result<SevCert> SevCert::Create(const crypto::PublicKey& key, std::uint32_t usage,
                                std::uint32_t algo, std::uint8_t api_major,
                                std::uint8_t api_minor) {
  SevCert c;
  c.api_major = api_major;
  c.api_minor = api_minor;
  SEVEMU_ASSIGN_OR_RETURN(c.pubkey, SevPubKey::FromCrypto(key, usage, algo));
  SEVEMU_RETURN_IF_ERROR(c.pubkey.Validate());
  return c;
}

Status SevCert::AddSignature(const SevCertSig& sig) {
  for (SevCertSig& slot : sigs) {
    if (slot.usage == sev_usage::kInvalid) {  // AMD: an INVALID usage marks a free slot
      slot = sig;
      return Status::Ok();
    }
  }
  return Error(ErrorCode::kInvalidArgument, "SEV certificate: both signature slots are taken");
}

Status SevCert::Sign(const crypto::PrivateKey& key, std::uint32_t signer_usage,
                     std::uint32_t signer_algo) {
  if (!IsKnownUsage(signer_usage)) {
    return Error(ErrorCode::kInvalidArgument, "unknown signer usage " + Hex32(signer_usage));
  }
  SevCertSig sig;
  sig.usage = signer_usage;
  sig.algo = signer_algo;
  const Bytes body = Body();
  if (IsEcdsa(signer_algo)) {
    SEVEMU_ASSIGN_OR_RETURN(auto s, crypto::SignEcdsaP384(key, DigestOf(signer_algo), body));
    const auto fw = s.ToFirmwareLayout();
    std::memcpy(sig.sig.data(), fw.data(), fw.size());
  } else if (IsRsa(signer_algo)) {
    SEVEMU_ASSIGN_OR_RETURN(Bytes s, crypto::SignRsaPss(key, DigestOf(signer_algo), body));
    if (s.size() > sig.sig.size()) return Error(ErrorCode::kInvalidKey, "RSA key too large");
    std::reverse_copy(s.begin(), s.end(), sig.sig.begin());
  } else {
    return Error(ErrorCode::kInvalidArgument, "algorithm " + Hex32(signer_algo) + " does not sign");
  }
  return AddSignature(sig);
}

namespace {

// One slot against the signer: Ok, kAuthFailed (does not verify) or another error.
Status VerifySlot(const SevCertSig& slot, const SevPubKey& signer, const crypto::PublicKey& key,
                  ByteSpan body) {
  if (IsEcdsa(signer.algo)) {
    auto sig = crypto::EcdsaP384Signature::FromFirmwareLayout(slot.sig);
    if (!sig.ok()) return Error(ErrorCode::kAuthFailed, "ECDSA signature value out of range");
    return crypto::VerifyEcdsaP384(key, DigestOf(signer.algo), body, *sig);
  }
  if (IsRsa(signer.algo)) {
    const std::size_t n = LoadLe32(signer.key.data()) / 8;
    const Bytes be = Reversed(slot.sig.data(), n);
    return crypto::VerifyRsaPss(key, DigestOf(signer.algo), body, be);
  }
  return Error(ErrorCode::kRefused, "signer algorithm " + Hex32(signer.algo) + " does not sign");
}

bool MaySign(std::uint32_t subject, std::uint32_t signer) {
  switch (subject) {
    case sev_usage::kPdh:
      return signer == sev_usage::kPek;
    case sev_usage::kPek:
      return signer == sev_usage::kOca || signer == sev_usage::kCek;
    case sev_usage::kOca:
      return signer == sev_usage::kOca;
    case sev_usage::kCek:
      return signer == sev_usage::kAsk;
  }
  return false;
}

}  // namespace

Status ValidateSevCert(const SevCert& cert, const SevPubKey& signer) {
  if (auto st = signer.Validate(); !st.ok()) {
    return Error(ErrorCode::kInvalidArgument, "signing key: " + st.error().message());
  }
  auto key = signer.ToCrypto();
  // A valid key without a crypto key (P-256) cannot check a signature.
  const Bytes body = cert.Body();
  Status result = Error(ErrorCode::kInvalidArgument,
                        std::string("no signature slot by the ") + SevUsageName(signer.usage));
  for (const SevCertSig& slot : cert.sigs) {
    const bool usage_empty = slot.usage == sev_usage::kInvalid;
    const bool algo_empty = slot.algo == sev_algo::kInvalid;
    if (usage_empty != algo_empty) {
      return Error(ErrorCode::kAuthFailed, "malformed signature slot (usage/algorithm)");
    }
    if (slot.algo != signer.algo || slot.usage != signer.usage) continue;
    if (!key.ok()) return Error(ErrorCode::kRefused, key.error().message());
    result = VerifySlot(slot, signer, *key, body);
    if (!result.ok() && result.error().code() != ErrorCode::kAuthFailed) return result;
  }
  if (!result.ok()) return result;
  if (cert.version != kSevCertVersion) {
    return Error(ErrorCode::kInvalidArgument,
                 "SEV certificate version " + std::to_string(cert.version));
  }
  SEVEMU_RETURN_IF_ERROR(cert.pubkey.Validate());
  if (!MaySign(cert.pubkey.usage, signer.usage)) {
    return Error(ErrorCode::kInvalidArgument, std::string("a ") + SevUsageName(signer.usage) +
                                                  " may not sign a " +
                                                  SevUsageName(cert.pubkey.usage));
  }
  return Status::Ok();
}

// ---- AmdCaCert ----

namespace {
Error BadCa(const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, "AMD CA certificate: " + what);
}
crypto::HashAlg CaDigest(std::uint32_t modulus_bits) {
  return modulus_bits == 2048 ? crypto::HashAlg::kSha256 : crypto::HashAlg::kSha384;
}
}  // namespace

Result<AmdCaCert> AmdCaCert::Parse(ByteSpan b) {
  if (b.size() < kAmdCertFixedSize) return BadCa("shorter than its fixed part");
  AmdCaCert c;
  c.version = LoadLe32(b.data());
  std::memcpy(c.key_id.data(), b.data() + 0x04, kAmdCertIdSize);
  std::memcpy(c.certifying_id.data(), b.data() + 0x14, kAmdCertIdSize);
  c.key_usage = LoadLe32(b.data() + 0x24);
  std::memcpy(c.reserved.data(), b.data() + 0x28, c.reserved.size());
  c.pub_exp_bits = LoadLe32(b.data() + 0x38);
  c.modulus_bits = LoadLe32(b.data() + 0x3C);
  if (c.version != kAmdCertVersion) return BadCa("version " + std::to_string(c.version));
  if (c.key_usage != sev_usage::kArk && c.key_usage != sev_usage::kAsk) {
    return BadCa("key usage " + Hex32(c.key_usage) + " is neither ARK nor ASK");
  }
  if (!Zero(c.reserved.data(), c.reserved.size())) return BadCa("reserved bytes are not zero");
  for (std::uint32_t bits : {c.pub_exp_bits, c.modulus_bits}) {
    if (bits != 2048 && bits != 4096) return BadCa("key size " + std::to_string(bits));
  }
  const std::size_t pe = c.pub_exp_bits / 8, n = c.modulus_bits / 8;
  const std::size_t want = kAmdCertFixedSize + pe + 2 * n;
  if (b.size() != want) {
    return BadCa("length " + std::to_string(b.size()) + ", its key sizes give " +
                 std::to_string(want));
  }
  const std::uint8_t* p = b.data() + kAmdCertFixedSize;
  c.pub_exp.assign(p, p + pe);
  c.modulus.assign(p + pe, p + pe + n);
  c.signature.assign(p + pe + n, p + pe + 2 * n);
  return c;
}

Bytes AmdCaCert::SignedBytes() const {
  Bytes out(kAmdCertFixedSize);
  StoreLe32(out.data(), version);
  std::memcpy(out.data() + 0x04, key_id.data(), kAmdCertIdSize);
  std::memcpy(out.data() + 0x14, certifying_id.data(), kAmdCertIdSize);
  StoreLe32(out.data() + 0x24, key_usage);
  std::memcpy(out.data() + 0x28, reserved.data(), reserved.size());
  StoreLe32(out.data() + 0x38, pub_exp_bits);
  StoreLe32(out.data() + 0x3C, modulus_bits);
  out.insert(out.end(), pub_exp.begin(), pub_exp.end());
  out.insert(out.end(), modulus.begin(), modulus.end());
  return out;
}

Bytes AmdCaCert::Encode() const {
  Bytes out = SignedBytes();
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

Result<crypto::PublicKey> AmdCaCert::PublicKey() const {
  return crypto::RsaPublicKeyFromComponents(Reversed(modulus.data(), modulus.size()),
                                            Reversed(pub_exp.data(), pub_exp.size()));
}

Result<SevPubKey> AmdCaCert::AsSigner() const {
  SEVEMU_ASSIGN_OR_RETURN(crypto::PublicKey key, PublicKey());
  return SevPubKey::FromCrypto(key, key_usage, sev_algo::kRsaSha384);
}

Result<AmdCaCert> AmdCaCert::Create(const crypto::PublicKey& key, std::uint32_t usage,
                                    const std::array<std::uint8_t, kAmdCertIdSize>& key_id,
                                    const std::array<std::uint8_t, kAmdCertIdSize>& certifying_id) {
  if (usage != sev_usage::kArk && usage != sev_usage::kAsk) {
    return Error(ErrorCode::kInvalidArgument, "AMD CA certificates are for the ARK or the ASK");
  }
  if (key.kind() != crypto::KeyKind::kRsa || (key.bits() != 2048 && key.bits() != 4096)) {
    return Error(ErrorCode::kInvalidKey, "AMD CA certificates hold RSA-2048 or RSA-4096 keys");
  }
  AmdCaCert c;
  c.key_id = key_id;
  c.certifying_id = certifying_id;
  c.key_usage = usage;
  c.modulus_bits = c.pub_exp_bits = static_cast<std::uint32_t>(key.bits());
  c.modulus.assign(c.modulus_bits / 8, 0);
  c.pub_exp.assign(c.pub_exp_bits / 8, 0);
  c.signature.assign(c.modulus_bits / 8, 0);
  SEVEMU_ASSIGN_OR_RETURN(Bytes n, key.RsaModulus());
  SEVEMU_ASSIGN_OR_RETURN(Bytes e, key.RsaPublicExponent());
  if (!PutLe(c.modulus.data(), c.modulus.size(), n) ||
      !PutLe(c.pub_exp.data(), c.pub_exp.size(), e)) {
    return Error(ErrorCode::kInvalidKey, "RSA key does not fit its certificate");
  }
  return c;
}

Status AmdCaCert::Sign(const crypto::PrivateKey& issuer) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes sig,
                          crypto::SignRsaPss(issuer, CaDigest(modulus_bits), SignedBytes()));
  if (sig.size() != modulus_bits / 8) {
    return Error(ErrorCode::kInvalidKey, "issuer key size differs from the certificate's");
  }
  signature.assign(sig.rbegin(), sig.rend());
  return Status::Ok();
}

Status AmdCaCert::Validate(const AmdCaCert& issuer, std::uint32_t expected_usage) const {
  SEVEMU_ASSIGN_OR_RETURN(crypto::PublicKey key, issuer.PublicKey());
  if (signature.size() != issuer.modulus.size()) {
    return Error(ErrorCode::kAuthFailed, "AMD CA certificate: signature size");
  }
  const Bytes be = Reversed(signature.data(), signature.size());
  SEVEMU_RETURN_IF_ERROR(crypto::VerifyRsaPss(key, CaDigest(modulus_bits), SignedBytes(), be));
  if (version != kAmdCertVersion) return BadCa("version " + std::to_string(version));
  for (std::uint32_t bits : {pub_exp_bits, modulus_bits}) {
    if (bits != 2048 && bits != 4096) return BadCa("key size " + std::to_string(bits));
  }
  if (key_usage != expected_usage) {
    return BadCa(std::string("usage is not ") + SevUsageName(expected_usage));
  }
  if (certifying_id != issuer.key_id) return BadCa("certifying id is not the issuer's key id");
  return Status::Ok();
}

std::array<std::uint8_t, kAmdCertIdSize> AmdKeyId(const crypto::PublicKey& key) {
  std::array<std::uint8_t, kAmdCertIdSize> id{};
  auto n = key.RsaModulus();
  if (!n.ok()) return id;
  Bytes le(n->rbegin(), n->rend());
  auto digest = crypto::Sha256(le);
  if (digest.ok()) std::memcpy(id.data(), digest->data(), id.size());
  return id;
}

Result<AmdCaCert> MakeAmdArk(const AmdRoot& root) {
  const crypto::PublicKey key = root.ark_key.Public();
  const auto id = AmdKeyId(key);
  SEVEMU_ASSIGN_OR_RETURN(AmdCaCert c, AmdCaCert::Create(key, sev_usage::kArk, id, id));
  SEVEMU_RETURN_IF_ERROR(c.Sign(root.ark_key));
  return c;
}

Result<AmdCaCert> MakeAmdAsk(const AmdRoot& root) {
  const crypto::PublicKey key = root.ask_key.Public();
  SEVEMU_ASSIGN_OR_RETURN(AmdCaCert c, AmdCaCert::Create(key, sev_usage::kAsk, AmdKeyId(key),
                                                         AmdKeyId(root.ark_key.Public())));
  SEVEMU_RETURN_IF_ERROR(c.Sign(root.ark_key));
  return c;
}

Result<SevCert> MakeSignedCekCert(const crypto::PrivateKey& cek, const AmdRoot& root,
                                  std::uint8_t api_major, std::uint8_t api_minor) {
  SEVEMU_ASSIGN_OR_RETURN(SevCert c, SevCert::Create(cek.Public(), sev_usage::kCek,
                                                     sev_algo::kEcdsaSha256, api_major, api_minor));
  SEVEMU_RETURN_IF_ERROR(c.Sign(root.ask_key, sev_usage::kAsk, sev_algo::kRsaSha384));
  return c;
}

Status VerifySevChain(const SevCert& pdh, const SevCert& pek, const SevCert& oca,
                      const SevCert& cek, const AmdCaCert& ask, const AmdCaCert& ark) {
  auto step = [](const char* what, Status st) -> Status {
    if (st.ok()) return st;
    return Error(st.error().code(), std::string(what) + ": " + st.error().message());
  };
  SEVEMU_RETURN_IF_ERROR(step("ARK", ark.Validate(ark, sev_usage::kArk)));
  SEVEMU_RETURN_IF_ERROR(step("ASK", ask.Validate(ark, sev_usage::kAsk)));
  SEVEMU_ASSIGN_OR_RETURN(SevPubKey ask_signer, ask.AsSigner());
  SEVEMU_RETURN_IF_ERROR(step("CEK", ValidateSevCert(cek, ask_signer)));
  SEVEMU_RETURN_IF_ERROR(step("OCA", ValidateSevCert(oca, oca.pubkey)));
  SEVEMU_RETURN_IF_ERROR(step("PEK (OCA)", ValidateSevCert(pek, oca.pubkey)));
  SEVEMU_RETURN_IF_ERROR(step("PEK (CEK)", ValidateSevCert(pek, cek.pubkey)));
  SEVEMU_RETURN_IF_ERROR(step("PDH", ValidateSevCert(pdh, pek.pubkey)));
  return Status::Ok();
}

}  // namespace sevemu::emulator
