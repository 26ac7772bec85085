#include "kds/kds_routes.h"

#include <array>
#include <charconv>
#include <ctime>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

#include "sevemu/common/bytes.h"
#include "sevemu/emulator/manufacturing/chip.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::kds {
namespace {

using emulator::Product;

constexpr std::int64_t kDay = 86400;
// The simulated CRL: valid a week from its issue, reissued (with a higher cRLNumber) once a day.
// AMD's CRL schedule is not published; verifiers only need nextUpdate to lie ahead
// (go-sev-guest verify.GetCrlAndCheckRoot caches the CRL until its NextUpdate).
constexpr std::int64_t kCrlValidity = 7 * kDay;
constexpr std::int64_t kCrlReissue = kDay;

constexpr Product kProducts[] = {Product::kMilan, Product::kGenoa, Product::kTurin};

Response Text(int status, std::string message) {
  return {status, kTextContentType, std::move(message) + "\n", {}};
}

// Product names as the KDS URL spells them ("Milan"), matched exactly: go-sev-guest
// kds.ParseProductLine and snpguest's ProcType Display both produce this capitalisation.
std::optional<Product> ProductFromUrl(std::string_view name) {
  for (Product p : kProducts) {
    if (name == emulator::Info(p).name) return p;
  }
  return std::nullopt;
}

std::string ChipKey(Product p, ByteSpan hwid) {
  return std::string(emulator::Info(p).name) + "/" + HexEncode(hwid);
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

// Printable ASCII only, at most 64 characters: request text echoed in an error body.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 64)) {
    out += (c >= 0x20 && c < 0x7F) ? c : '?';
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

Result<std::string> DerOf(const Result<crypto::Certificate>& cert) {
  if (!cert.ok()) return cert.error();
  SEVEMU_ASSIGN_OR_RETURN(Bytes der, cert->ToDer());
  return std::string(der.begin(), der.end());
}

// Compares without an early exit, so the time taken does not tell how much of a guess matched.
bool SameToken(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  }
  return diff == 0;
}

std::int64_t DefaultClock() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// clang-format off
constexpr KdsRoute kRoutes[] = {
  {"vcek", "cert_chain", KdsEndpoint::kCertChain, "/vcek/v1/{product}/cert_chain", kPemContentType, "ASK then ARK, PEM"},
  {"vcek", "crl",        KdsEndpoint::kVcekCrl,   "/vcek/v1/{product}/crl",        kCrlContentType, "the CRL of the ASK, signed by the ARK, DER"},
  {"vcek", nullptr,      KdsEndpoint::kVcek,      "/vcek/v1/{product}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL= (Turin also fmcSPL=)", kDerContentType, "the chip's VCEK at the TCB, DER"},
  {"vlek", "cert_chain", KdsEndpoint::kCertChain, "/vlek/v1/{product}/cert_chain", kPemContentType, "ASVK then ARK, PEM"},
  {"vlek", "crl",        KdsEndpoint::kVlekCrl,   "/vlek/v1/{product}/crl",        kCrlContentType, "the CRL of the ASVK, signed by the ARK, DER"},
  {"vlek", "cert",       KdsEndpoint::kVlek,      "/vlek/v1/{product}/cert?...SPL... with header X-Sevemu-Csp-Id", kDerContentType, "the CSP's VLEK at the TCB, DER"},
};
// clang-format on

// The VCEK and VLEK queries' TCB parameters of a product (used: in its TCB layout).
struct Param {
  const char* name;
  std::uint8_t emulator::TcbParts::*field;
  bool used;
  std::optional<std::uint8_t> value;
};
std::array<Param, 5> TcbParams(Product product) {
  const emulator::TcbLayout& layout = emulator::Info(product).tcb_layout;
  return {{
      {"fmcSPL", &emulator::TcbParts::fmc, layout.fmc >= 0, {}},
      {"blSPL", &emulator::TcbParts::boot_loader, true, {}},
      {"teeSPL", &emulator::TcbParts::tee, true, {}},
      {"snpSPL", &emulator::TcbParts::snp, true, {}},
      {"ucodeSPL", &emulator::TcbParts::microcode, true, {}},
  }};
}

}  // namespace

std::vector<std::string> TcbQueryParameters(Product product) {
  std::vector<std::string> out;
  for (const Param& p : TcbParams(product)) {
    if (p.used) out.push_back(p.name);
  }
  return out;
}

Result<emulator::TcbVersion> ParseTcbQuery(Product product, std::string_view query) {
  auto params = TcbParams(product);
  auto bad = [](std::string message) { return Error(ErrorCode::kInvalidArgument, message); };
  if (query.empty()) return bad("missing TCB parameters (blSPL, teeSPL, snpSPL, ucodeSPL)");
  for (std::string_view item : Split(query, '&')) {
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad("TCB parameter " + Quote(item) + " has no value");
    std::string_view key = item.substr(0, eq);
    const std::string_view text = item.substr(eq + 1);
    if (key == "ucodSPL") key = "ucodeSPL";
    Param* param = nullptr;
    for (Param& p : params) {
      if (p.used && key == p.name) param = &p;
    }
    if (param == nullptr) {
      return bad("unexpected parameter " + Quote(key) + " for " + emulator::Info(product).name);
    }
    if (param->value) return bad(std::string("duplicate parameter ") + param->name);
    unsigned value = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || text.size() > 3 || ec != std::errc() || ptr != end || value > 255) {
      return bad(std::string(param->name) + " must be a decimal number 0-255, not " + Quote(text));
    }
    param->value = static_cast<std::uint8_t>(value);
  }
  emulator::TcbParts parts;
  for (const Param& p : params) {
    if (!p.used) continue;
    if (!p.value) return bad(std::string("missing parameter ") + p.name);
    parts.*(p.field) = *p.value;
  }
  auto tcb = emulator::TcbVersion::FromParts(product, parts);
  if (!tcb.ok())
    return bad("TCB not valid for " + std::string(emulator::Info(product).name) + ": " +
               tcb.error().message());
  return tcb;
}

Result<std::unique_ptr<KdsService>> KdsService::Create(std::vector<Source> sources,
                                                       Options options) {
  if (sources.empty()) return Error(ErrorCode::kInvalidArgument, "no platforms to serve");
  if (!options.clock) options.clock = DefaultClock;
  std::unique_ptr<KdsService> service(new KdsService(std::move(options)));
  std::map<Product, std::string> root_source;
  std::map<std::string, std::string> chip_source;
  for (Source& s : sources) {
    const emulator::Platform& p = s.platform;
    const Product product = p.state.chip.product;
    if (Status st = p.state.chip.Validate(); !st.ok()) return st.error().Context(s.name);
    if (p.root.product != product) {
      return Error(ErrorCode::kInvalidArgument, s.name + ": AMD root is for another product");
    }
    auto [it, fresh] = root_source.emplace(product, s.name);
    if (fresh) {
      auto ask = p.root.ask.ToPem();
      auto asvk = p.root.asvk.ToPem();
      auto ark = p.root.ark.ToPem();
      if (!ask.ok() || !asvk.ok() || !ark.ok()) {
        return Error(ErrorCode::kCrypto, s.name + ": encoding the AMD root certificates failed");
      }
      service->roots_.emplace(product,
                              ProductRoot{emulator::Kds(p.root), *ask + *ark, *asvk + *ark});
    } else {
      // The same root, possibly re-signed: the same keys and names are enough for every chain.
      const emulator::AmdRoot& first = service->roots_.at(product).kds.root();
      auto same = [](const crypto::Certificate& a, const crypto::Certificate& b) {
        auto ka = a.SubjectPublicKey();
        auto kb = b.SubjectPublicKey();
        return ka.ok() && kb.ok() && *ka == *kb && a.SubjectText() == b.SubjectText();
      };
      if (!same(first.ark, p.root.ark) || !same(first.ask, p.root.ask) ||
          !same(first.asvk, p.root.asvk) || !(first.vlek_secret == p.root.vlek_secret)) {
        return Error(ErrorCode::kInvalidArgument,
                     s.name + " and " + it->second + " are " + emulator::Info(product).name +
                         " platforms of different AMD roots; serve them from two KDS instances");
      }
    }
    const std::string key = ChipKey(product, p.state.chip.hw_id());
    auto [cit, new_chip] = chip_source.emplace(key, s.name);
    if (!new_chip) {
      return Error(ErrorCode::kAlreadyExists, s.name + " holds the same chip as " + cit->second);
    }
    service->chips_.emplace(key, std::move(s.platform));
  }
  return service;
}

const KdsService::ProductRoot* KdsService::RootFor(Product p) const {
  auto it = roots_.find(p);
  return it == roots_.end() ? nullptr : &it->second;
}

std::size_t KdsService::issued_count() const {
  std::lock_guard lock(mu_);
  return issued_;
}

std::size_t KdsService::cached_count() const {
  std::lock_guard lock(mu_);
  return cache_.size();
}

Result<std::string> KdsService::Cached(const std::string& key,
                                       const std::function<Result<std::string>()>& issue) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
  }
  // Issued outside the lock (an RSA-4096 signature): other requests are not held up. Two
  // concurrent misses both issue; the first to finish is kept, so every client of one URL
  // gets the same bytes.
  SEVEMU_ASSIGN_OR_RETURN(std::string der, issue());
  std::lock_guard lock(mu_);
  ++issued_;
  if (cache_.size() >= options_.max_cached_certificates) cache_.clear();
  return cache_.emplace(key, std::move(der)).first->second;
}

Response KdsService::Vcek(Product p, std::string_view hwid_hex, std::string_view query,
                          const KdsFault* fault) const {
  const std::size_t hwid_size = emulator::Info(p).hwid_size;
  auto hwid = HexDecode(hwid_hex);
  if (!hwid.ok() || hwid->size() != hwid_size) {
    return Text(400, "hwid must be " + std::to_string(2 * hwid_size) + " hex digits for " +
                         emulator::Info(p).name);
  }
  auto tcb = ParseTcbQuery(p, query);
  if (!tcb.ok()) return Text(400, tcb.error().message());
  auto chip = chips_.find(ChipKey(p, *hwid));
  if (chip == chips_.end()) return Text(404, "no such chip");
  const emulator::Platform& platform = chip->second;
  const ProductRoot& root = *RootFor(p);
  if (fault != nullptr) {
    // Issued fresh, never cached: the next normal request gets the right certificate.
    std::int64_t not_before = platform.state.manufactured_at;
    emulator::TcbVersion issued = *tcb;
    if (fault->spec.kind == KdsFaultKind::kExpired) {
      // 8 years back: past the VCEK's 7-year validity (IssueVcekCertificate), by about a year.
      not_before = options_.clock() - 8 * 365 * kDay;
    } else {
      // Another TCB of the same layout: the SNP SVN one up (one down at the 127 ceiling).
      emulator::TcbParts parts = tcb->parts();
      parts.snp = parts.snp < 127 ? parts.snp + 1 : parts.snp - 1;
      auto other = emulator::TcbVersion::FromParts(p, parts);
      if (!other.ok()) return Text(500, "issuing the VCEK failed");
      issued = *other;
    }
    auto der = DerOf(root.kds.Vcek(platform.state.chip, platform.fuses, issued, not_before));
    if (!der.ok()) return Text(500, "issuing the VCEK failed");
    return {200, kDerContentType, std::move(der).value(), {}};
  }
  auto der = Cached("vcek/" + chip->first + "/" + std::to_string(tcb->raw()), [&] {
    // manufactured_at: the chip's certificates have fixed contents across restarts.
    return DerOf(
        root.kds.Vcek(platform.state.chip, platform.fuses, *tcb, platform.state.manufactured_at));
  });
  if (!der.ok()) return Text(500, "issuing the VCEK failed");
  return {200, kDerContentType, std::move(der).value(), {}};
}

Response KdsService::Vlek(Product p, const std::string& csp_id, std::string_view query) const {
  if (csp_id.empty()) {
    return Text(403, std::string("VLEK certificates need the ") + kCspIdHeader +
                         " header naming the CSP (the simulated CSP authentication)");
  }
  auto tcb = ParseTcbQuery(p, query);
  if (!tcb.ok()) return Text(400, tcb.error().message());
  if (csp_id.size() > 127) return Text(400, "CSP ID longer than 127 characters");
  for (char c : csp_id) {
    if (c < 0x20 || c >= 0x7F) return Text(400, "CSP ID must be printable ASCII");
  }
  const ProductRoot& root = *RootFor(p);
  const std::int64_t now = options_.clock();
  auto der = Cached(
      "vlek/" + std::string(emulator::Info(p).name) + "/" + std::to_string(tcb->raw()) + "/" +
          csp_id,
      [&]() -> Result<std::string> {
        SEVEMU_ASSIGN_OR_RETURN(emulator::HashSticks sticks, root.kds.VlekSticks(csp_id, *tcb));
        SEVEMU_ASSIGN_OR_RETURN(crypto::PrivateKey vlek, emulator::DeriveVlek(sticks));
        // A VLEK is a one-year credential issued on request (as `sevemu kds vlek`): it starts
        // at its first issue and the cache keeps that one.
        return DerOf(
            emulator::IssueVlekCertificate(root.kds.root(), csp_id, *tcb, vlek.Public(), now));
      });
  if (!der.ok()) return Text(500, "issuing the VLEK failed");
  return {200, kDerContentType, std::move(der).value(), {}};
}

Response KdsService::Crl(Product p, bool vlek, bool revoked) const {
  const std::string key = std::string(vlek ? "vlek/" : "vcek/") + emulator::Info(p).name;
  const std::int64_t now = options_.clock();
  if (!revoked) {
    std::lock_guard lock(mu_);
    auto it = crls_.find(key);
    if (it != crls_.end() && now >= it->second.this_update &&
        now < it->second.this_update + kCrlReissue) {
      return {200, kCrlContentType, it->second.der, {}};
    }
  }
  const emulator::AmdRoot& root = RootFor(p)->kds.root();
  crypto::CrlTemplate tmpl;
  tmpl.this_update = now;
  tmpl.next_update = now + kCrlValidity;
  // Increases with every reissue, as RFC 5280 5.2.3 requires of cRLNumber.
  tmpl.crl_number = static_cast<std::uint64_t>(now);
  // The simulated AMD has revoked nothing, unless kds.revoked fired: then the CRL lists serial
  // 0, the serial every VCEK carries (IssueVcekCertificate), so a verifier that looks its VCEK
  // up by serial finds it revoked.
  if (revoked) tmpl.revoked.push_back({0, now});
  auto crl = crypto::Crl::Sign(tmpl, root.ark, root.ark_key);
  if (!crl.ok()) return Text(500, "signing the CRL failed");
  auto der = crl->ToDer();
  if (!der.ok()) return Text(500, "encoding the CRL failed");
  std::string body(der->begin(), der->end());
  if (revoked) return {200, kCrlContentType, std::move(body), {}};
  std::lock_guard lock(mu_);
  crls_[key] = CachedCrl{body, now};
  return {200, kCrlContentType, std::move(body), {}};
}

Response KdsService::Control(const Request& request, std::string_view path) const {
  // Loopback first, then the token: a remote peer learns nothing about the token.
  if (!request.from_loopback) return Text(403, "the control endpoint answers loopback only");
  const std::string_view auth = request.authorization;
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) != kBearer ||
      !SameToken(auth.substr(kBearer.size()), options_.ctl_token)) {
    Response r = Text(401, "the control endpoint needs Authorization: Bearer <token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  auto json = [](int status, const nlohmann::json& j) {
    return Response{status, kJsonContentType, j.dump() + "\n", {}};
  };
  const std::string_view rest = path.substr(std::string_view(kFaultsPath).size());
  if (!rest.empty()) {
    // /_sevemu/faults/{id}: DELETE only.
    std::uint64_t id = 0;
    const std::string_view digits = rest.substr(1);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
    if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
      return Text(404, "no such fault " + Quote(digits));
    }
    if (request.method != "DELETE") {
      return {405, kTextContentType, "only DELETE\n", {{"Allow", "DELETE"}}};
    }
    if (!faults_.Clear(id)) return Text(404, "no such fault " + std::to_string(id));
    return json(200, {{"cleared", 1}});
  }
  if (request.method == "GET") {
    nlohmann::json list = nlohmann::json::array();
    for (const KdsFault& f : faults_.List()) {
      nlohmann::json j = {{"id", f.id},
                          {"kind", KdsFaultKindName(f.spec.kind)},
                          {"count", f.spec.count},
                          {"every", f.spec.every},
                          {"matched", f.matched},
                          {"fired", f.fired},
                          {"exhausted", f.exhausted()}};
      if (f.spec.kind == KdsFaultKind::kRateLimited) j["retry_after"] = f.spec.retry_after;
      if (f.spec.kind == KdsFaultKind::kSlow) j["delay_ms"] = f.spec.delay_ms;
      list.push_back(std::move(j));
    }
    return json(200, {{"faults", std::move(list)}});
  }
  if (request.method == "DELETE") {
    return json(200, {{"cleared", faults_.ClearAll()}});
  }
  if (request.method != "POST") {
    return {405, kTextContentType, "only GET, POST and DELETE\n", {{"Allow", "GET, POST, DELETE"}}};
  }
  const auto body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return Text(400, "the body must be a JSON object");
  KdsFaultSpec spec;
  for (const auto& [key, value] : body.items()) {
    if (key == "kind") {
      if (!value.is_string()) return Text(400, "kind must be a string");
      auto kind = ParseKdsFaultKind(value.get<std::string>());
      if (!kind) return Text(400, "unknown fault kind " + Quote(value.get<std::string>()));
      spec.kind = *kind;
      continue;
    }
    std::uint32_t* field = key == "count"         ? &spec.count
                           : key == "every"       ? &spec.every
                           : key == "retry_after" ? &spec.retry_after
                           : key == "delay_ms"    ? &spec.delay_ms
                                                  : nullptr;
    if (field == nullptr) return Text(400, "unknown field " + Quote(key));
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0xFFFFFFFFu) {
      return Text(400, key + " must be a number 0-4294967295");
    }
    *field = value.get<std::uint32_t>();
  }
  if (!body.contains("kind")) return Text(400, "missing kind");
  auto id = faults_.Add(spec);
  if (!id.ok()) return Text(400, id.error().message());
  return json(201, {{"id", *id}, {"kind", KdsFaultKindName(spec.kind)}});
}

std::span<const KdsRoute> KdsRoutes() {
  return kRoutes;
}

const KdsRoute* FindKdsRoute(std::string_view family, std::string_view leaf) {
  const KdsRoute* any = nullptr;
  for (const KdsRoute& r : kRoutes) {
    if (family != r.family) continue;
    if (r.leaf == nullptr) {
      any = &r;
    } else if (leaf == r.leaf) {
      return &r;
    }
  }
  return any;
}

const char* KdsEndpointName(KdsEndpoint e) {
  switch (e) {
    case KdsEndpoint::kCertChain:
      return "cert_chain";
    case KdsEndpoint::kVcek:
      return "vcek";
    case KdsEndpoint::kVcekCrl:
      return "vcek_crl";
    case KdsEndpoint::kVlek:
      return "vlek";
    case KdsEndpoint::kVlekCrl:
      return "vlek_crl";
  }
  return "unknown";
}

Response KdsService::Handle(const Request& request) const {
  try {
    std::string_view target = request.target;
    // Absolute-form (RFC 9112 3.2.2), as sent to proxies: keep the path and query.
    for (std::string_view scheme : {"http://", "https://"}) {
      if (target.substr(0, scheme.size()) == scheme) {
        const std::size_t slash = target.find('/', scheme.size());
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
      }
    }
    const std::size_t qpos = target.find('?');
    const std::string_view path = target.substr(0, qpos);
    const std::string_view query =
        qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);
    const std::string_view faults_path = kFaultsPath;
    if (!options_.ctl_token.empty() && path.substr(0, faults_path.size()) == faults_path &&
        (path.size() == faults_path.size() || path[faults_path.size()] == '/')) {
      return Control(request, path);
    }

    // /{vcek|vlek}/v1/{product}/{leaf}
    const auto parts = Split(path, '/');
    const KdsRoute* route =
        parts.size() == 5 && parts[0].empty() && parts[2] == "v1" && !parts[4].empty()
            ? FindKdsRoute(parts[1], parts[4])
            : nullptr;
    if (route == nullptr) return Text(404, "not a KDS endpoint");
    const bool vlek = parts[1] == "vlek";
    const std::string_view leaf = parts[4];
    const auto product = ProductFromUrl(parts[3]);
    if (!product) return Text(404, "unknown product " + Quote(parts[3]));
    if (request.method != "GET" && request.method != "HEAD") {
      return {405, kTextContentType, "only GET and HEAD\n", {{"Allow", "GET, HEAD"}}};
    }
    const ProductRoot* root = RootFor(*product);
    if (root == nullptr) {
      return Text(404,
                  std::string("this KDS serves no ") + emulator::Info(*product).name + " chips");
    }
    const KdsEndpoint endpoint = route->endpoint;
    const std::optional<KdsFault> fault = faults_.Fire(endpoint);
    const std::string fault_name =
        fault ? std::string(KdsFaultKindName(fault->spec.kind)) + "#" + std::to_string(fault->id)
              : "";
    Response res = [&]() -> Response {
      if (fault) {
        switch (fault->spec.kind) {
          case KdsFaultKind::kNotFound:
            return Text(404, "injected fault: not found");
          case KdsFaultKind::kRateLimited: {
            // What AMD's KDS answers a client over its rate (trustee issue #1512); Retry-After
            // in seconds (RFC 9110 10.2.3), which a polite client waits out.
            Response r = Text(429, "injected fault: too many requests");
            r.headers.emplace_back("Retry-After", std::to_string(fault->spec.retry_after));
            return r;
          }
          case KdsFaultKind::kServerError:
            return Text(500, "injected fault: internal error");
          default:
            break;
        }
      }
      const KdsFault* cert_fault = fault && (fault->spec.kind == KdsFaultKind::kWrongTcb ||
                                             fault->spec.kind == KdsFaultKind::kExpired)
                                       ? &*fault
                                       : nullptr;
      switch (endpoint) {
        case KdsEndpoint::kCertChain:
          return {200, route->content_type, vlek ? root->vlek_chain_pem : root->vcek_chain_pem, {}};
        case KdsEndpoint::kVcekCrl:
        case KdsEndpoint::kVlekCrl:
          return Crl(*product, vlek, fault && fault->spec.kind == KdsFaultKind::kRevoked);
        case KdsEndpoint::kVlek:
          return Vlek(*product, request.csp_id, query);
        case KdsEndpoint::kVcek:
          break;
      }
      return Vcek(*product, leaf, query, cert_fault);
    }();
    if (fault && fault->spec.kind == KdsFaultKind::kSlow) res.delay_ms = fault->spec.delay_ms;
    res.fault = fault_name;
    return res;
  } catch (const std::exception&) {
    // Only allocation can throw below; the request fails, the service stays up.
    return Text(500, "internal error");
  }
}

}  // namespace sevemu::kds
