// The simulated AMD Key Distribution Service's URL scheme, without sockets: a request (method,
// target, the simulated CSP credential) in, a response (status, content type, body) out. The
// HTTP front end (kds_http_server.h) only moves these over Beast; everything a client can
// observe is decided here, so it is tested here (docs/kds.md lists every endpoint and status).
//
// Endpoints (SEV-ABI-FACTS.md 6.3; product is "Milan", "Genoa" or "Turin", as AMD spells it):
//   GET /vcek/v1/{product}/{hwid}?[fmcSPL=..&]blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..  VCEK, DER
//   GET /vcek/v1/{product}/cert_chain     ASK then ARK, PEM
//   GET /vlek/v1/{product}/cert_chain     ASVK then ARK, PEM
//   GET /vlek/v1/{product}/cert?...SPL..  VLEK, DER; needs the kCspIdHeader header
//   GET /vcek/v1/{product}/crl, /vlek/v1/{product}/crl   DER CRL signed by the ARK
// HEAD is answered like GET (the server drops the body); any other method on a known endpoint
// is 405.
//
// Control (only with Options::ctl_token set; a 404 like any unknown path otherwise): faults
// (kds_faults.h) are injected, listed and cleared on /_sevemu/faults, from loopback only (403)
// with "Authorization: Bearer <token>" (401). docs/kds.md "Faults" is the reference.
//   POST /_sevemu/faults {"kind":..,"count":..,"every":..,"retry_after":..,"delay_ms":..}
//   GET /_sevemu/faults, DELETE /_sevemu/faults (all), DELETE /_sevemu/faults/{id}
//
// Thread safety: KdsService is safe to call from many threads at once (the certificate cache
// is guarded by a mutex; issuing runs outside it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kds/kds_faults.h"
#include "sevemu/common/result.h"
#include "sevemu/emulator/manufacturing/kds.h"
#include "sevemu/emulator/manufacturing/platform_state.h"
#include "sevemu/emulator/manufacturing/tcb.h"

namespace sevemu::kds {

// The real KDS authenticates a cloud provider before it serves /vlek/v1/{product}/cert (a CSP
// secret in the request headers per go-sev-guest kds.VLEKCertQuery's comment; a TLS client
// certificate per virtee/snphost pull request #145). The simulation has no secret to check:
// this header names the CSP ID the VLEK is issued for, and its absence is the failure.
inline constexpr char kCspIdHeader[] = "X-Sevemu-Csp-Id";

// Content types. Public clients (virtee/snpguest src/fetch.rs, go-sev-guest
// verify/trust/trust.go SimpleHTTPSGetter) look only at the status code and the body, never at
// Content-Type; these are the registered types for each body (RFC 2585 for the CRL).
inline constexpr char kDerContentType[] = "application/octet-stream";
inline constexpr char kPemContentType[] = "application/x-pem-file";
inline constexpr char kCrlContentType[] = "application/pkix-crl";
inline constexpr char kTextContentType[] = "text/plain; charset=utf-8";
inline constexpr char kJsonContentType[] = "application/json";
// The control endpoint (see above).
inline constexpr char kFaultsPath[] = "/_sevemu/faults";

// The KDS endpoints, as KdsService::Handle finds them: a request for
// /{family}/v1/{product}/{leaf} is served by the row of its family whose leaf matches, or by
// the family's row without a leaf (the VCEK's {hwid}). Also what `sevemu kds serve
// --print-capabilities` lists (kds_capabilities.h).
struct KdsRoute {
  const char* family;  // "vcek" or "vlek"
  const char* leaf;    // "cert_chain", "crl", "cert"; nullptr: any other leaf (the hwid)
  KdsEndpoint endpoint;
  const char* path;  // the URL as docs/kds.md writes it
  const char* content_type;
  const char* serves;
};
std::span<const KdsRoute> KdsRoutes();
const KdsRoute* FindKdsRoute(std::string_view family, std::string_view leaf);
const char* KdsEndpointName(KdsEndpoint e);  // "vcek", "cert_chain", "vcek_crl", ...

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // origin-form "/vcek/v1/Milan/<hwid>?..." (absolute-form also accepted)
  std::string csp_id;  // the kCspIdHeader value; empty if the header was absent
  std::string authorization{};  // the Authorization header (control requests only)
  bool from_loopback = false;   // the peer's address is a loopback address
  std::string body{};           // the request body (control requests only)
};

struct Response {
  Response() = default;
  Response(int status_, std::string content_type_, std::string body_,
           std::vector<std::pair<std::string, std::string>> headers_ = {})
      : status(status_),
        content_type(std::move(content_type_)),
        body(std::move(body_)),
        headers(std::move(headers_)) {}

  int status = 200;
  std::string content_type;
  std::string body;  // bytes (DER, PEM or a one-line text error)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
  std::uint32_t delay_ms = 0;  // kds.slow: the server waits this long before answering
  std::string fault;           // the fault that fired ("kds.rate_limited#3"), for the log
};

// Parses a KDS TCB query ("blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115", Turin also "fmcSPL=..").
// Every component of the product's layout is required exactly once; values are decimal 0..255
// with optional leading zeros (snpguest zero-pads to two digits, go-sev-guest does not);
// "ucodSPL" is accepted for "ucodeSPL" (go-sev-guest kds.parseTCBURL: "for Turin. Could be a
// spec typo"). kInvalidArgument, naming the parameter, for anything else, including a TCB the
// product's layout does not allow (TcbVersion::FromParts: SVNs but microcode <= 127).
Result<emulator::TcbVersion> ParseTcbQuery(emulator::Product product, std::string_view query);
// The TCB parameters a VCEK or VLEK query of `product` takes (fmcSPL on Turin, blSPL,
// teeSPL, snpSPL, ucodeSPL).
std::vector<std::string> TcbQueryParameters(emulator::Product product);

class KdsService {
 public:
  struct Source {
    std::string name;  // where the platform came from (a state directory), for error messages
    emulator::Platform platform;
  };
  struct Options {
    // Seconds since the epoch; CRLs and VLEK certificates start "now". Default: time(nullptr).
    std::function<std::int64_t()> clock;
    // The cache of issued certificates is emptied when it reaches this many entries, so a client
    // walking TCB values cannot grow the process without bound.
    std::size_t max_cached_certificates = 4096;
    // The bearer token of the control endpoint; empty: no control endpoint. Never logged.
    std::string ctl_token;
  };

  // The chips of `sources`. kInvalidArgument if there are none; kAlreadyExists if two sources
  // hold the same chip; kInvalidArgument if two sources of one product were manufactured by
  // different AMD roots (one URL cannot serve two ASKs). Errors name the sources.
  static Result<std::unique_ptr<KdsService>> Create(std::vector<Source> sources, Options options);

  // Answers one request. Never throws for any input; a failure to issue is a 500.
  Response Handle(const Request& request) const;

  std::size_t chip_count() const { return chips_.size(); }
  // Certificates issued so far (cache misses), and how many are cached now.
  std::size_t issued_count() const;
  std::size_t cached_count() const;
  // The injected faults (what the control endpoint drives), for tests and the command.
  KdsFaultSet& faults() const { return faults_; }

  KdsService(const KdsService&) = delete;
  KdsService& operator=(const KdsService&) = delete;

 private:
  struct ProductRoot {
    emulator::Kds kds;
    std::string vcek_chain_pem;  // ASK then ARK
    std::string vlek_chain_pem;  // ASVK then ARK
  };
  struct CachedCrl {
    std::string der;
    std::int64_t this_update = 0;
  };

  KdsService(Options options) : options_(std::move(options)) {}
  const ProductRoot* RootFor(emulator::Product p) const;
  // `fault`: kds.wrong_tcb or kds.expired fired for this request (not cached).
  Response Vcek(emulator::Product p, std::string_view hwid, std::string_view query,
                const KdsFault* fault) const;
  Response Vlek(emulator::Product p, const std::string& csp_id, std::string_view query) const;
  // `revoked`: kds.revoked fired; the CRL lists the VCEK serial and is not cached.
  Response Crl(emulator::Product p, bool vlek, bool revoked) const;
  Response Control(const Request& request, std::string_view path) const;
  // Returns the cached DER for `key`, or issues it with `issue` and caches it.
  Result<std::string> Cached(const std::string& key,
                             const std::function<Result<std::string>()>& issue) const;

  Options options_;
  std::map<emulator::Product, ProductRoot> roots_;
  std::map<std::string, emulator::Platform> chips_;  // key: product name + "/" + hex(hwID)

  mutable std::mutex mu_;
  mutable std::map<std::string, std::string> cache_;  // GUARDED_BY(mu_)
  mutable std::size_t issued_ = 0;                    // GUARDED_BY(mu_)
  mutable std::map<std::string, CachedCrl> crls_;     // GUARDED_BY(mu_)
  mutable KdsFaultSet faults_;                        // its own lock
};

}  // namespace sevemu::kds
