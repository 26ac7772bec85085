// Private to crypto/: the insides of PublicKey and PrivateKey, shared by keys.cpp and x509.cpp.
#pragma once

#include "ossl_util.h"
#include "sevemu/crypto/keys.h"

namespace sevemu::crypto {

struct PublicKey::Impl {
  internal::EvpPkeyPtr pkey;
};
struct PrivateKey::Impl {
  internal::EvpPkeyPtr pkey;
};

}  // namespace sevemu::crypto
