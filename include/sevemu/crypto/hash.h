// SHA-2 digests and HMAC. All functions are thread-safe and allocate nothing shared.
#pragma once

#include <cstddef>
#include <memory>

#include "sevemu/common/bytes.h"
#include "sevemu/common/result.h"

namespace sevemu::crypto {

enum class HashAlg { kSha256, kSha384 };

constexpr std::size_t kSha256Size = 32;
constexpr std::size_t kSha384Size = 48;
constexpr std::size_t DigestSize(HashAlg alg) {
  return alg == HashAlg::kSha256 ? kSha256Size : kSha384Size;
}

Result<Bytes> Hash(HashAlg alg, ByteSpan data);
inline Result<Bytes> Sha256(ByteSpan data) {
  return Hash(HashAlg::kSha256, data);
}
inline Result<Bytes> Sha384(ByteSpan data) {
  return Hash(HashAlg::kSha384, data);
}

// Incremental hashing, for digests over data that arrives in pieces (launch digests).
class Hasher {
 public:
  static Result<Hasher> Create(HashAlg alg);
  Status Update(ByteSpan data);
  // Returns the digest; the Hasher may not be used afterwards.
  Result<Bytes> Finish();
  // An independent hasher that has seen the same data (copies share nothing once made; a
  // plain copy of a Hasher shares its state).
  Result<Hasher> Clone() const;

 private:
  struct Impl;
  explicit Hasher(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// HMAC (RFC 2104) with the given hash. The key may be any length.
Result<SecretBytes> Hmac(HashAlg alg, ByteSpan key, ByteSpan data);

}  // namespace sevemu::crypto
