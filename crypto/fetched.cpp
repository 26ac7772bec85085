// Algorithms fetched from the default provider once per process. An explicit fetch
// (EVP_MD_fetch and the like) walks OpenSSL's method store under a lock on every call; hashing
// 48 bytes costs less than that walk, and the hash-stick chain alone hashes about a thousand
// times per key derivation. Fetched methods are immutable and may be shared between threads
// (OpenSSL 3 "Algorithm fetching"), so each is kept for the life of the process and never freed:
// freeing them from a static destructor could race OpenSSL's own atexit cleanup.
#include <map>
#include <mutex>
#include <string>

#include "ossl_util.h"

namespace sevemu::crypto::internal {
namespace {

template <typename T, T* (*Fetch)(OSSL_LIB_CTX*, const char*, const char*)>
T* Cached(const char* name) {
  static std::mutex mu;
  static auto* fetched = new std::map<std::string, T*>();  // never freed, see above
  const std::lock_guard<std::mutex> lock(mu);
  auto it = fetched->find(name);
  if (it != fetched->end()) return it->second;
  T* method = Fetch(nullptr, name, nullptr);
  if (method != nullptr) fetched->emplace(name, method);  // a failed fetch is retried next time
  return method;
}

}  // namespace

const EVP_MD* FetchedMd(const char* name) {
  return Cached<EVP_MD, EVP_MD_fetch>(name);
}
const EVP_CIPHER* FetchedCipher(const char* name) {
  return Cached<EVP_CIPHER, EVP_CIPHER_fetch>(name);
}
EVP_MAC* FetchedMac(const char* name) {
  return Cached<EVP_MAC, EVP_MAC_fetch>(name);
}

}  // namespace sevemu::crypto::internal
