#include "sevemu/emulator/manufacturing/tcb.h"

#include <map>
#include <sstream>

namespace sevemu::emulator {
namespace {

std::uint64_t ByteAt(int index, std::uint8_t v) {
  return index < 0 ? 0 : static_cast<std::uint64_t>(v) << (8 * index);
}

}  // namespace

Result<TcbVersion> TcbVersion::FromRaw(Product p, std::uint64_t raw) {
  const TcbLayout& l = Info(p).tcb_layout;
  std::uint64_t used = 0;
  for (int idx : {l.fmc, l.boot_loader, l.tee, l.snp, l.microcode}) used |= ByteAt(idx, 0xFF);
  if ((raw & ~used) != 0) {
    return Error(
        ErrorCode::kInvalidArgument, "TCB_VERSION 0x" +
                                         [&] {
                                           std::ostringstream s;
                                           s << std::hex << raw;
                                           return s.str();
                                         }() +
                                         " sets reserved bytes for " + Info(p).name);
  }
  TcbVersion t(p, raw);
  // KDS ComposeTCBParts rule: every part except microcode is at most 127.
  for (int idx : {l.fmc, l.boot_loader, l.tee, l.snp}) {
    if (idx >= 0 && t.byte(idx) > 127) {
      return Error(ErrorCode::kInvalidArgument, "TCB SVN above 127 in " + t.ToString());
    }
  }
  return t;
}

Result<TcbVersion> TcbVersion::FromParts(Product p, const TcbParts& parts) {
  const TcbLayout& l = Info(p).tcb_layout;
  if (l.fmc < 0 && parts.fmc != 0) {
    return Error(ErrorCode::kInvalidArgument, std::string(Info(p).name) + " has no FMC SVN");
  }
  return FromRaw(p, ByteAt(l.fmc, parts.fmc) | ByteAt(l.boot_loader, parts.boot_loader) |
                        ByteAt(l.tee, parts.tee) | ByteAt(l.snp, parts.snp) |
                        ByteAt(l.microcode, parts.microcode));
}

TcbParts TcbVersion::parts() const {
  const TcbLayout& l = Info(product_).tcb_layout;
  auto at = [&](int idx) { return idx < 0 ? std::uint8_t{0} : byte(idx); };
  return {at(l.fmc), at(l.boot_loader), at(l.tee), at(l.snp), at(l.microcode)};
}

bool TcbVersion::AtOrBelow(const TcbVersion& other) const {
  for (int i = 0; i < 8; ++i) {
    if (byte(i) > other.byte(i)) return false;
  }
  return true;
}

std::string TcbVersion::ToString() const {
  const TcbParts p = parts();
  std::ostringstream s;
  if (Info(product_).tcb_layout.fmc >= 0) s << "fmc=" << int(p.fmc) << " ";
  s << "bl=" << int(p.boot_loader) << " tee=" << int(p.tee) << " snp=" << int(p.snp)
    << " ucode=" << int(p.microcode);
  return s.str();
}

Result<TcbVersion> ParseTcb(Product p, const std::string& text) {
  std::map<std::string, int> values;
  std::stringstream in(text);
  std::string token;
  while (std::getline(in, token, ',')) {
    const auto eq = token.find('=');
    if (eq == std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "TCB component '" + token + "' lacks '='");
    }
    const std::string key = token.substr(0, eq), val = token.substr(eq + 1);
    if (key != "fmc" && key != "bl" && key != "tee" && key != "snp" && key != "ucode") {
      return Error(ErrorCode::kInvalidArgument,
                   "unknown TCB component '" + key + "' (expected bl, tee, snp, ucode, fmc)");
    }
    std::size_t used = 0;
    int v = -1;
    try {
      v = std::stoi(val, &used, 0);
    } catch (...) {
      used = 0;
    }
    if (used != val.size() || val.empty() || v < 0 || v > 255) {
      return Error(ErrorCode::kInvalidArgument,
                   "TCB component " + key + "='" + val + "' is not a number from 0 to 255");
    }
    if (!values.emplace(key, v).second) {
      return Error(ErrorCode::kInvalidArgument, "TCB component " + key + " given twice");
    }
  }
  const bool has_fmc = Info(p).tcb_layout.fmc >= 0;
  for (const char* need : {"bl", "tee", "snp", "ucode"}) {
    if (!values.count(need)) {
      return Error(ErrorCode::kInvalidArgument, std::string("TCB lacks ") + need);
    }
  }
  if (has_fmc && !values.count("fmc")) return Error(ErrorCode::kInvalidArgument, "TCB lacks fmc");
  TcbParts parts;
  parts.fmc = static_cast<std::uint8_t>(values.count("fmc") ? values["fmc"] : 0);
  parts.boot_loader = static_cast<std::uint8_t>(values["bl"]);
  parts.tee = static_cast<std::uint8_t>(values["tee"]);
  parts.snp = static_cast<std::uint8_t>(values["snp"]);
  parts.microcode = static_cast<std::uint8_t>(values["ucode"]);
  return TcbVersion::FromParts(p, parts);
}

}  // namespace sevemu::emulator

namespace sevemu::emulator {

TcbVersion DefaultTcb(Product p) {
  // Levels seen in public KDS VCEKs for Milan and Genoa; Turin's are plausible early-life
  // values. Each is valid for its layout, so FromParts cannot fail.
  switch (p) {
    case Product::kMilan:
      return *TcbVersion::FromParts(p, {0, 3, 0, 8, 115});
    case Product::kGenoa:
      return *TcbVersion::FromParts(p, {0, 10, 0, 23, 84});
    case Product::kTurin:
      return *TcbVersion::FromParts(p, {1, 1, 1, 2, 9});
  }
  return {};
}

}  // namespace sevemu::emulator
