// The limits: what OpenSSL alone does on this machine, in the same run, for the work each
// figure cannot avoid. Raw EVP calls with keys made once, no sevemu code.
//
//   limit_ecdsa_p384_sign    one attestation report: ECDSA P-384 over SHA-384 of the 0x2A0-byte
//                            signed part (the VCEK's signature)
//   limit_rsa4096_pss_sign   the ASK's signature of a VCEK certificate: RSASSA-PSS-4096 with
//                            SHA-384 and a 48-byte salt over 1 KiB
//   limit_derived_key        one derived key: SHA-384 of the 0x180-byte hash sticks (the seed),
//                            one HMAC-SHA256 KDF block over the 0xF9-byte mixing context, and
//                            the message's four AES-256-GCM passes (guest seals the 0x20-byte
//                            request, firmware opens it, seals the 0x40-byte response, guest
//                            opens it; 0x30 bytes of header authenticated each time)
//   limit_snp_pages/MiB      LAUNCH_UPDATE of that many bytes: per 4 KiB page one SHA-384 of
//                            the page and AES-128-XTS of it (the memory controller's cipher,
//                            32-byte key), plus the SHA-384 of the 0x70-byte PAGE_INFO
//   limit_sev_pages/MiB      LAUNCH_UPDATE_DATA: SHA-256 of the bytes and AES-128-XTS per page
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "bench_registry.h"

namespace sevemu::bench {
namespace {

constexpr std::size_t kPage = 4096;

void Sha(const EVP_MD* md, const std::uint8_t* p, std::size_t n, std::uint8_t* out) {
  unsigned len = 0;
  EVP_Digest(p, n, out, &len, md, nullptr);
}

void EcdsaSign(benchmark::State& state) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  std::vector<std::uint8_t> msg(0x2A0, 0x5A);
  std::uint8_t sig[128];
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = sizeof sig;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha384(), nullptr, key);
    if (EVP_DigestSign(ctx, sig, &len, msg.data(), msg.size()) != 1) state.SkipWithError("sign");
    EVP_MD_CTX_free(ctx);
    msg[0]++;
  }
  EVP_PKEY_free(key);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// The ASK's signature over a VCEK certificate: RSASSA-PSS-4096, SHA-384, MGF1-SHA-384, 48-byte
// salt, over about 1 KiB of TBS.
void RsaPssSign(benchmark::State& state) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(4096));
  std::vector<std::uint8_t> msg(0x400, 0x5A);
  std::uint8_t sig[512];
  for (auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX* pctx = nullptr;
    std::size_t len = sizeof sig;
    EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), nullptr, key);
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384());
    if (EVP_DigestSign(ctx, sig, &len, msg.data(), msg.size()) != 1) state.SkipWithError("sign");
    EVP_MD_CTX_free(ctx);
    msg[0]++;
  }
  EVP_PKEY_free(key);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void Gcm(EVP_CIPHER_CTX* c, bool seal, const std::uint8_t* key, const std::uint8_t* iv,
         const std::uint8_t* aad, std::uint8_t* data, int len, std::uint8_t* tag) {
  int n = 0;
  if (seal) {
    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, iv);
    EVP_EncryptUpdate(c, nullptr, &n, aad, 0x30);
    EVP_EncryptUpdate(c, data, &n, data, len);
    EVP_EncryptFinal_ex(c, data + n, &n);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
  } else {
    EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, iv);
    EVP_DecryptUpdate(c, nullptr, &n, aad, 0x30);
    EVP_DecryptUpdate(c, data, &n, data, len);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
    EVP_DecryptFinal_ex(c, data + n, &n);
  }
}

void DerivedKeyCrypto(benchmark::State& state) {
  std::uint8_t sticks[0x180] = {1}, seed[48], mix[0xF9] = {2}, key[32], vmpck[32] = {3};
  std::uint8_t iv[12] = {}, aad[0x30] = {}, req[0x20] = {}, rsp[0x40] = {}, tag[16];
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  for (auto _ : state) {
    Gcm(c, true, vmpck, iv, aad, req, sizeof req, tag);   // guest
    Gcm(c, false, vmpck, iv, aad, req, sizeof req, tag);  // firmware
    Sha(EVP_sha384(), sticks, sizeof sticks, seed);
    // One SP 800-108 block: HMAC-SHA256(seed, counter || label || 0 || context || L).
    unsigned len = 0;
    std::uint8_t block[32];
    HMAC(EVP_sha256(), seed, sizeof seed, mix, sizeof mix, block, &len);
    std::memcpy(key, block, sizeof key);
    std::memcpy(rsp + 0x20, key, sizeof key);
    ++iv[0];
    Gcm(c, true, vmpck, iv, aad, rsp, sizeof rsp, tag);   // firmware
    Gcm(c, false, vmpck, iv, aad, rsp, sizeof rsp, tag);  // guest
    benchmark::DoNotOptimize(rsp);
    ++sticks[0];
  }
  EVP_CIPHER_CTX_free(c);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Hash and encrypt `MiB` of fresh memory page by page.
void Pages(benchmark::State& state, const EVP_MD* md, bool page_info) {
  const std::size_t size = static_cast<std::size_t>(state.range(0)) << 20;
  std::vector<std::uint8_t> plain(size), cipher(size);
  for (std::size_t i = 0; i < size; ++i) plain[i] = static_cast<std::uint8_t>(i * 131);
  std::uint8_t key[32] = {7, 8, 9}, tweak[16] = {}, digest[64], info[0x70] = {};
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  for (auto _ : state) {
    for (std::size_t off = 0; off < size; off += kPage) {
      Sha(md, plain.data() + off, kPage, digest);
      if (page_info) {
        std::memcpy(info + 0x30, digest, 48);
        Sha(EVP_sha384(), info, sizeof info, info);
      }
      std::uint64_t spa = off;
      std::memcpy(tweak, &spa, sizeof spa);
      int n = 0;
      EVP_EncryptInit_ex(c, EVP_aes_128_xts(), nullptr, key, tweak);
      EVP_EncryptUpdate(c, cipher.data() + off, &n, plain.data() + off, static_cast<int>(kPage));
    }
    benchmark::DoNotOptimize(cipher.data());
  }
  EVP_CIPHER_CTX_free(c);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}

}  // namespace

void RegisterLimitBenchmarks() {
  benchmark::RegisterBenchmark("limit_ecdsa_p384_sign", EcdsaSign)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("limit_rsa4096_pss_sign", RsaPssSign)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.5)
      ->UseRealTime();
  benchmark::RegisterBenchmark("limit_derived_key", DerivedKeyCrypto)
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("limit_snp_pages",
                               [](benchmark::State& s) { Pages(s, EVP_sha384(), true); })
      ->Arg(16)
      ->Arg(64)
      ->Arg(256)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
  benchmark::RegisterBenchmark("limit_sev_pages",
                               [](benchmark::State& s) { Pages(s, EVP_sha256(), false); })
      ->Arg(16)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(1)
      ->UseRealTime();
}

}  // namespace sevemu::bench
