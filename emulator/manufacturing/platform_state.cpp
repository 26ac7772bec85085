#include "sevemu/emulator/manufacturing/platform_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "json_fields.h"
#include "sevemu/common/file_io.h"
#include "sevemu/crypto/hash.h"
#include "sevemu/emulator/manufacturing/versioned_keys.h"

namespace sevemu::emulator {
namespace {

using internal::CheckFormat;
using internal::JsonFields;
using internal::ParseJsonText;
using nlohmann::ordered_json;

constexpr std::size_t kMaxStateFile = 64 * 1024;
constexpr char kPlatformFile[] = "platform.json";
constexpr char kFusesFile[] = "fuses.json";
constexpr char kFusesCheckLabel[] = "sevemu-fuses-check";

// The files whose presence makes a directory a platform's, whole or damaged (the lock file
// does not: any process that opened the directory made one).
constexpr const char* kPlatformFiles[] = {"platform.json", "platform.json.bak", "fuses.json",
                                          "sev-nv.json", "amd"};

// fuses.json's "check": SHA-384 over a label, the chip ID from platform.json and both fuse
// values. It catches a damaged or mixed-up fuses file (one changed digit would otherwise load,
// pass the self-test — the VCEK and its certificate both come from the fuses — and make a
// different chip). It is not a MAC: whoever can write the file can recompute it.
Result<Bytes> FusesCheck(const Bytes& chip_id, const ChipFuses& fuses) {
  Bytes in(kFusesCheckLabel, kFusesCheckLabel + sizeof kFusesCheckLabel - 1);
  in.insert(in.end(), chip_id.begin(), chip_id.end());
  const ByteSpan hsr = fuses.hash_stick_root.span(), cuk = fuses.chip_unique_key.span();
  in.insert(in.end(), hsr.begin(), hsr.end());
  in.insert(in.end(), cuk.begin(), cuk.end());
  auto digest = crypto::Sha384(in);
  SecureZero(in.data(), in.size());
  return digest;
}

std::string Octal(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

// Who may touch a state file. The directory and every file must belong to the user running
// sevemu and be writable by nobody else (a file others can write can make this chip someone
// else's); secret files (fuses, legacy keys, the AMD root's keys) must be readable by nobody
// else either. As the daemon's socket-directory check, a refusal names the path and the fix.
Status CheckAccess(const std::string& path, bool secret, bool directory) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::Ok();  // absent: the loader says so
  if (directory != S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kCorrupt,
                 path + (directory ? ": not a directory" : ": not a regular file"));
  }
  if (st.st_uid != ::geteuid()) {
    return Error(ErrorCode::kRefused, path + ": owned by uid " + std::to_string(st.st_uid) +
                                          ", not by this user (uid " + std::to_string(::geteuid()) +
                                          "); chown it to use it");
  }
  const mode_t forbidden = secret ? 0077 : 0022;
  if ((st.st_mode & forbidden) != 0) {
    return Error(ErrorCode::kRefused, path + ": mode " + Octal(st.st_mode) +
                                          (secret ? " lets other users reach the chip's secrets"
                                                  : " lets other users change it") +
                                          "; chmod " + Octal(st.st_mode & ~forbidden) + " " + path +
                                          " to use it");
  }
  return Status::Ok();
}

Status CheckStateDirAccess(const std::string& dir) {
  SEVEMU_RETURN_IF_ERROR(CheckAccess(dir, false, true));
  SEVEMU_RETURN_IF_ERROR(CheckAccess(dir + "/" + kPlatformFile, false, false));
  SEVEMU_RETURN_IF_ERROR(CheckAccess(dir + "/" + kPlatformFile + ".bak", false, false));
  SEVEMU_RETURN_IF_ERROR(CheckAccess(dir + "/" + kFusesFile, true, false));
  SEVEMU_RETURN_IF_ERROR(CheckAccess(dir + "/" + kSevNvFile, true, false));
  const std::string amd = dir + "/amd";
  SEVEMU_RETURN_IF_ERROR(CheckAccess(amd, false, true));
  for (const char* name : {"ark", "ask", "asvk"}) {
    SEVEMU_RETURN_IF_ERROR(CheckAccess(amd + "/" + name + ".key", true, false));
    SEVEMU_RETURN_IF_ERROR(CheckAccess(amd + "/" + name + ".pem", false, false));
  }
  return CheckAccess(amd + "/kds.json", true, false);
}

ordered_json TcbJson(const TcbVersion& t) {
  const TcbParts p = t.parts();
  ordered_json j;
  if (Info(t.product()).tcb_layout.fmc >= 0) j["fmc"] = p.fmc;
  j["bl"] = p.boot_loader;
  j["tee"] = p.tee;
  j["snp"] = p.snp;
  j["ucode"] = p.microcode;
  return j;
}

Result<TcbVersion> TcbFrom(const JsonFields& f, const char* key, Product p) {
  SEVEMU_ASSIGN_OR_RETURN(JsonFields t, f.Object(key));
  TcbParts parts;
  if (Info(p).tcb_layout.fmc >= 0) {
    SEVEMU_ASSIGN_OR_RETURN(auto fmc, t.Unsigned("fmc", 255));
    parts.fmc = static_cast<std::uint8_t>(fmc);
  }
  SEVEMU_ASSIGN_OR_RETURN(auto bl, t.Unsigned("bl", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto tee, t.Unsigned("tee", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto snp, t.Unsigned("snp", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto ucode, t.Unsigned("ucode", 255));
  parts.boot_loader = static_cast<std::uint8_t>(bl);
  parts.tee = static_cast<std::uint8_t>(tee);
  parts.snp = static_cast<std::uint8_t>(snp);
  parts.microcode = static_cast<std::uint8_t>(ucode);
  auto tcb = TcbVersion::FromParts(p, parts);
  if (!tcb.ok()) return f.Bad(key, tcb.error().message());
  return tcb;
}

ordered_json FwJson(const FirmwareVersion& v) {
  return {{"major", v.major}, {"minor", v.minor}, {"build", v.build}};
}

Result<FirmwareVersion> FwFrom(const JsonFields& f, const char* key) {
  SEVEMU_ASSIGN_OR_RETURN(JsonFields v, f.Object(key));
  SEVEMU_ASSIGN_OR_RETURN(auto major, v.Unsigned("major", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto minor, v.Unsigned("minor", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto build, v.Unsigned("build", 255));
  return FirmwareVersion{static_cast<std::uint8_t>(major), static_cast<std::uint8_t>(minor),
                         static_cast<std::uint8_t>(build)};
}

Result<std::string> ReadStateText(const std::string& path) {
  return internal::ReadStateText(path, kMaxStateFile);
}

// The fuses and, if the file has one, its "check" (files written before it existed have none).
Result<ChipFuses> LoadFuses(const std::string& path, const Bytes& chip_id) {
  SEVEMU_ASSIGN_OR_RETURN(std::string text, ReadStateText(path));
  auto j = ParseJsonText(text, path);
  SecureZero(text.data(), text.size());
  if (!j.ok()) return j.error();
  JsonFields f(*j, path);
  SEVEMU_RETURN_IF_ERROR(CheckFormat(f, path, "sevemu-fuses"));
  SEVEMU_ASSIGN_OR_RETURN(Bytes root, f.Hex("hash_stick_root", 48));
  SEVEMU_ASSIGN_OR_RETURN(Bytes cuk, f.Hex("chip_unique_key", 32));
  ChipFuses fuses{SecretBytes(root), SecretBytes(cuk)};
  SecureZero(root.data(), root.size());
  SecureZero(cuk.data(), cuk.size());
  if (j->contains("check")) {
    SEVEMU_ASSIGN_OR_RETURN(Bytes check, f.Hex("check", 48));
    SEVEMU_ASSIGN_OR_RETURN(Bytes want, FusesCheck(chip_id, fuses));
    if (!ConstantTimeEquals(check, want)) {
      return Error(ErrorCode::kCorrupt,
                   path +
                       ": damaged, or not this chip's (its check does not match its values "
                       "and the chip ID in platform.json); restore it from a backup");
    }
  }
  return fuses;
}

}  // namespace

std::string FormatUtc(std::int64_t t) {
  const time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::int64_t> ParseUtc(const std::string& s) {
  struct tm tm {};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + s + "' is not a UTC time like 2024-01-01T00:00:00Z");
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

Status PlatformState::Validate() const {
  SEVEMU_RETURN_IF_ERROR(chip.Validate());
  if (!reported_tcb.AtOrBelow(committed_tcb)) {
    return Error(ErrorCode::kInvalidArgument, "reported TCB is above the committed TCB");
  }
  if (!committed_tcb.AtOrBelow(current_tcb)) {
    return Error(ErrorCode::kInvalidArgument, "committed TCB is above the current TCB");
  }
  // At least one SEV-ES/SNP ASID (the firmware runs SNP); max_asid + 1 leaves none for SEV.
  const std::uint32_t max_asid = Info(chip.product).max_asid;
  if (min_sev_asid != 0 && (min_sev_asid < 2 || min_sev_asid > max_asid + 1)) {
    return Error(ErrorCode::kInvalidArgument,
                 "min_sev_asid must be 2.." + std::to_string(max_asid + 1));
  }
  return Status::Ok();
}

std::uint32_t MinSevAsid(const PlatformState& s) {
  return s.min_sev_asid != 0 ? s.min_sev_asid : Info(s.chip.product).max_asid / 2;
}

std::string PlatformJson(const PlatformState& s) {
  const ProductInfo& info = Info(s.chip.product);
  char fms[16];
  std::snprintf(fms, sizeof(fms), "0x%08x", s.chip.cpuid_fms());
  ordered_json j;
  j["format"] = "sevemu-platform";
  j["version"] = 1;
  j["product"] = info.name;
  j["cpuid"] = {
      {"family", info.family}, {"model", info.model}, {"stepping", s.chip.stepping}, {"fms", fms}};
  j["chip_id"] = HexEncode(s.chip.chip_id);
  j["tcb"] = {{"current", TcbJson(s.current_tcb)},
              {"committed", TcbJson(s.committed_tcb)},
              {"reported", TcbJson(s.reported_tcb)}};
  j["firmware"] = {{"current", FwJson(s.current_fw)}, {"committed", FwJson(s.committed_fw)}};
  j["config"] = {{"mask_chip_id", s.mask_chip_id}, {"mask_chip_key", s.mask_chip_key}};
  j["manufactured_at"] = FormatUtc(s.manufactured_at);
  j["deterministic"] = s.deterministic;
  if (s.min_sev_asid != 0) j["bios"] = {{"min_sev_asid", s.min_sev_asid}};
  return j.dump(2) + "\n";
}

Result<PlatformState> ParsePlatformJson(std::string_view text, const std::string& where) {
  SEVEMU_ASSIGN_OR_RETURN(nlohmann::json j, ParseJsonText(text, where));
  JsonFields f(j, where);
  SEVEMU_RETURN_IF_ERROR(CheckFormat(f, where, "sevemu-platform"));
  PlatformState s;
  SEVEMU_ASSIGN_OR_RETURN(std::string product_name, f.String("product"));
  auto product = ParseProduct(product_name);
  if (!product.ok()) return f.Bad("product", product.error().message());
  s.chip.product = *product;
  SEVEMU_ASSIGN_OR_RETURN(JsonFields cpuid, f.Object("cpuid"));
  SEVEMU_ASSIGN_OR_RETURN(auto stepping, cpuid.Unsigned("stepping", 15));
  s.chip.stepping = static_cast<std::uint8_t>(stepping);
  // family/model/fms are written for humans; they must agree with the product.
  SEVEMU_ASSIGN_OR_RETURN(auto family, cpuid.Unsigned("family", 255));
  SEVEMU_ASSIGN_OR_RETURN(auto model, cpuid.Unsigned("model", 255));
  if (family != Info(s.chip.product).family || model != Info(s.chip.product).model) {
    return cpuid.Bad("family", "and model do not match product " + product_name);
  }
  SEVEMU_ASSIGN_OR_RETURN(s.chip.chip_id, f.Hex("chip_id", kChipIdSize));
  if (Status st = s.chip.Validate(); !st.ok()) return f.Bad("chip_id", st.error().message());
  SEVEMU_ASSIGN_OR_RETURN(JsonFields tcb, f.Object("tcb"));
  SEVEMU_ASSIGN_OR_RETURN(s.current_tcb, TcbFrom(tcb, "current", s.chip.product));
  SEVEMU_ASSIGN_OR_RETURN(s.committed_tcb, TcbFrom(tcb, "committed", s.chip.product));
  SEVEMU_ASSIGN_OR_RETURN(s.reported_tcb, TcbFrom(tcb, "reported", s.chip.product));
  SEVEMU_ASSIGN_OR_RETURN(JsonFields fw, f.Object("firmware"));
  SEVEMU_ASSIGN_OR_RETURN(s.current_fw, FwFrom(fw, "current"));
  SEVEMU_ASSIGN_OR_RETURN(s.committed_fw, FwFrom(fw, "committed"));
  SEVEMU_ASSIGN_OR_RETURN(JsonFields config, f.Object("config"));
  SEVEMU_ASSIGN_OR_RETURN(s.mask_chip_id, config.Bool("mask_chip_id"));
  SEVEMU_ASSIGN_OR_RETURN(s.mask_chip_key, config.Bool("mask_chip_key"));
  SEVEMU_ASSIGN_OR_RETURN(std::string made, f.String("manufactured_at"));
  auto made_at = ParseUtc(made);
  if (!made_at.ok()) return f.Bad("manufactured_at", made_at.error().message());
  s.manufactured_at = *made_at;
  SEVEMU_ASSIGN_OR_RETURN(s.deterministic, f.Bool("deterministic"));
  if (j.contains("bios")) {  // optional: absent in files from before it
    SEVEMU_ASSIGN_OR_RETURN(JsonFields bios, f.Object("bios"));
    SEVEMU_ASSIGN_OR_RETURN(auto min_sev_asid, bios.Unsigned("min_sev_asid", 0xFFFFFFFFu));
    if (min_sev_asid == 0) return bios.Bad("min_sev_asid", "must not be 0");
    s.min_sev_asid = static_cast<std::uint32_t>(min_sev_asid);
  }
  if (Status st = s.Validate(); !st.ok()) {
    return Error(ErrorCode::kCorrupt, where + ": " + st.error().message());
  }
  return s;
}

std::vector<std::string> PlatformFilesIn(const std::string& dir) {
  std::vector<std::string> found;
  for (const char* name : kPlatformFiles) {
    struct stat st {};
    if (::lstat((dir + "/" + name).c_str(), &st) == 0) found.push_back(name);
  }
  return found;
}

bool HasPlatform(const std::string& dir) {
  return !PlatformFilesIn(dir).empty();
}

Result<Platform> LoadPlatform(const std::string& dir) {
  const std::string platform_path = dir + "/" + kPlatformFile;
  const std::string backup = platform_path + ".bak";
  const std::vector<std::string> present = PlatformFilesIn(dir);
  if (present.empty()) {
    return Error(ErrorCode::kNotFound, dir + ": no platform here (run 'sevemu provision')");
  }
  SEVEMU_RETURN_IF_ERROR(CheckStateDirAccess(dir));
  // A platform.json that is missing or damaged is never replaced silently: the directory still
  // holds a chip (its fuses are its identity), so the user is told what is there and how to
  // restore the previous state from the backup.
  const bool have_backup = PathExists(backup);
  const std::string restore =
      have_backup ? "; " + backup + " holds the previous state: 'cp -p " + backup + " " +
                        platform_path + "' restores it"
                  : "; restore it from a backup, or move the directory away to provision anew";
  if (!PathExists(platform_path)) {
    std::string held;
    for (const auto& name : present) held += (held.empty() ? "" : ", ") + name;
    return Error(ErrorCode::kCorrupt, platform_path + " is missing, but " + dir +
                                          " holds a platform's files (" + held + ")" + restore);
  }
  auto text = ReadStateText(platform_path);
  if (!text.ok()) return Error(text.error().code(), text.error().message() + restore);
  auto parsed = ParsePlatformJson(*text, platform_path);
  if (!parsed.ok()) return Error(parsed.error().code(), parsed.error().message() + restore);
  PlatformState state = std::move(parsed).value();
  SEVEMU_ASSIGN_OR_RETURN(ChipFuses fuses, LoadFuses(dir + "/" + kFusesFile, state.chip.chip_id));
  SEVEMU_ASSIGN_OR_RETURN(AmdRoot root, AmdRoot::Load(dir + "/amd"));
  if (root.product != state.chip.product) {
    return Error(ErrorCode::kCorrupt, dir + "/amd: AMD root is for " + Info(root.product).name +
                                          " but the platform is " + Info(state.chip.product).name);
  }
  // The legacy store's PEK must carry this chip's CEK signature: the CEK comes from the fuses.
  SevNvStore sev_nv;
  if (PathExists(dir + "/" + kSevNvFile)) {
    auto cek = DeriveCek(fuses.chip_unique_key);
    if (!cek.ok()) return Error(ErrorCode::kCorrupt, dir + "/" + kFusesFile + ": no CEK derives");
    const crypto::PublicKey cek_public = cek->Public();
    SEVEMU_ASSIGN_OR_RETURN(sev_nv, LoadSevNvStore(dir, &cek_public));
  }
  return Platform{std::move(state), std::move(fuses), std::move(root), std::move(sev_nv)};
}

Status SavePlatformState(const std::string& dir, const PlatformState& state) {
  SEVEMU_RETURN_IF_ERROR(state.Validate());
  const std::string text = PlatformJson(state);
  return WriteFileAtomic(dir + "/" + kPlatformFile, AsBytes(text), 0644, true);
}

Status SaveNewPlatform(const std::string& dir, const Platform& platform) {
  if (const auto present = PlatformFilesIn(dir); !present.empty()) {
    return Error(ErrorCode::kAlreadyExists,
                 dir + ": already holds a platform's files (" + present.front() +
                     (present.size() > 1 ? ", ..." : "") + "); refusing to provision over them");
  }
  SEVEMU_RETURN_IF_ERROR(platform.state.Validate());
  SEVEMU_RETURN_IF_ERROR(platform.fuses.Validate());
  SEVEMU_RETURN_IF_ERROR(MakeDirectories(dir, 0700));
  // platform.json goes last: a directory without it is not a platform, so a crash half-way
  // leaves nothing that Load would accept.
  SEVEMU_RETURN_IF_ERROR(platform.root.Save(dir + "/amd"));
  ordered_json fuses;
  fuses["format"] = "sevemu-fuses";
  fuses["version"] = 1;
  fuses["hash_stick_root"] = HexEncode(platform.fuses.hash_stick_root.span());
  fuses["chip_unique_key"] = HexEncode(platform.fuses.chip_unique_key.span());
  SEVEMU_ASSIGN_OR_RETURN(Bytes check, FusesCheck(platform.state.chip.chip_id, platform.fuses));
  fuses["check"] = HexEncode(check);
  std::string text = fuses.dump(2) + "\n";
  const Status st = WriteFileAtomic(dir + "/" + kFusesFile, AsBytes(text), 0600, false);
  SecureZero(text.data(), text.size());
  SEVEMU_RETURN_IF_ERROR(st);
  if (!platform.sev_nv.empty()) SEVEMU_RETURN_IF_ERROR(SaveSevNvStore(dir, platform.sev_nv));
  return SavePlatformState(dir, platform.state);
}

}  // namespace sevemu::emulator
