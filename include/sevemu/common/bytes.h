// Byte buffers: plain Bytes for public data, SecretBytes for key material.
//
// SecretBytes is zeroed (explicit_bzero, which the compiler may not elide) whenever its storage
// is released: destruction, assignment, resize. It compares in constant time and has no
// operator<< so it cannot be logged by accident.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sevemu/common/result.h"

namespace sevemu {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;
using MutableByteSpan = std::span<std::uint8_t>;

// Zeroes `data` in a way the optimiser keeps.
void SecureZero(void* data, std::size_t size);

// True iff a and b have the same length and contents; time depends only on the lengths.
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size) : data_(size, 0) {}
  explicit SecretBytes(ByteSpan data) : data_(data.begin(), data.end()) {}
  SecretBytes(const SecretBytes& other) : data_(other.data_) {}
  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes() { Wipe(); }

  std::size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  ByteSpan span() const { return {data_.data(), data_.size()}; }
  MutableByteSpan mutable_span() { return {data_.data(), data_.size()}; }
  std::uint8_t& operator[](std::size_t i) { return data_[i]; }
  const std::uint8_t& operator[](std::size_t i) const { return data_[i]; }

  // Constant-time comparison.
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return ConstantTimeEquals(a.span(), b.span());
  }

 private:
  void Wipe() { SecureZero(data_.data(), data_.size()); }
  std::vector<std::uint8_t> data_;
};

// Lowercase hex of `data`.
std::string HexEncode(ByteSpan data);
// Parses hex (either case, even length, no separators). kInvalidArgument otherwise.
Result<Bytes> HexDecode(std::string_view hex);

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Little-endian integer stores/loads, the firmware's byte order.
void StoreLe32(std::uint8_t* out, std::uint32_t v);
void StoreLe64(std::uint8_t* out, std::uint64_t v);
std::uint32_t LoadLe32(const std::uint8_t* in);
std::uint64_t LoadLe64(const std::uint8_t* in);

}  // namespace sevemu
