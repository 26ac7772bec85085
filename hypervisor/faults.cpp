#include "sevemu/hypervisor/faults.h"

#include <charconv>

#include "sevemu/emulator/firmware.h"

namespace sevemu::hypervisor {

namespace {

// clang-format off
constexpr FaultKindInfo kKinds[] = {
  {FaultKind::kCommand,         "command",           "a firmware command (\"command\") fails with a status (\"status\") without running"},
  {FaultKind::kGuestBusy,       "guest.busy",        "the VMM answers the guest-request exit vmm_error BUSY (the driver retries, then -ETIMEDOUT)"},
  {FaultKind::kGuestInvalidLen, "guest.invalid_len", "the VMM answers the guest-request exit vmm_error INVALID_LEN needing \"size\" bytes"},
  {FaultKind::kCertsMissing,    "certs.missing",     "extended guest requests get no certificate table"},
  {FaultKind::kCertsTruncated,  "certs.truncated",   "extended guest requests get the certificate table cut to \"size\" bytes (0: half)"},
  {FaultKind::kCertsWrongVcek,  "certs.wrong_vcek",  "the certificate table's VCEK is the chip's VCEK at another TCB"},
};
// clang-format on

std::optional<std::uint32_t> ParseNumber(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint32_t v = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), v, base);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) return {};
  return v;
}

}  // namespace

std::span<const FaultKindInfo> FaultKinds() {
  return kKinds;
}

const char* FaultKindName(FaultKind k) {
  for (const auto& i : kKinds) {
    if (i.kind == k) return i.name;
  }
  return "unknown";
}

std::optional<FaultKind> ParseFaultKind(std::string_view name) {
  for (const auto& i : kKinds) {
    if (name == i.name) return i.kind;
  }
  return std::nullopt;
}

std::string CommandName(bool legacy, std::uint32_t id) {
  return legacy ? emulator::SevCmdName(static_cast<emulator::SevCmd>(id))
                : emulator::SnpCmdName(static_cast<emulator::SnpCmd>(id));
}

Status ParseCommand(std::string_view text, bool* legacy, std::uint32_t* id) {
  // Names from the dispatch tables: exactly the commands the firmware implements.
  for (emulator::SnpCmd c : emulator::ImplementedSnpCommands()) {
    if (text == emulator::SnpCmdName(c)) {
      *legacy = false;
      *id = static_cast<std::uint32_t>(c);
      return {};
    }
  }
  for (emulator::SevCmd c : emulator::ImplementedSevCommands()) {
    if (text == emulator::SevCmdName(c)) {
      *legacy = true;
      *id = static_cast<std::uint32_t>(c);
      return {};
    }
  }
  // A number: SNP ids are 0x80 and up (Linux psp-sev.h enum sev_cmd), legacy ones below.
  if (auto n = ParseNumber(text)) {
    *legacy = *n < 0x80;
    *id = *n;
    return {};
  }
  return Error(ErrorCode::kInvalidArgument,
               "unknown firmware command '" + std::string(text) + "' (e.g. SNP_GUEST_REQUEST)");
}

Result<emulator::FwStatus> ParseFwStatus(std::string_view text) {
  std::optional<std::uint32_t> n = ParseNumber(text);
  if (!n) {
    // FwStatusName gives every status its ABI name; the statuses are below 0x100.
    for (std::uint32_t v = 1; v < 0x100; ++v) {
      if (text == emulator::FwStatusName(static_cast<emulator::FwStatus>(v))) n = v;
    }
  }
  if (!n || *n == 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown firmware status '" + std::string(text) + "' (e.g. INVALID_PARAM)");
  }
  return static_cast<emulator::FwStatus>(*n);
}

Result<std::uint64_t> FaultSet::Add(FaultSpec spec) {
  if (spec.kind == FaultKind::kGuestInvalidLen && spec.size == 0) {
    return Error(ErrorCode::kInvalidArgument, "guest.invalid_len needs a size (bytes)");
  }
  if (spec.kind == FaultKind::kCommand && spec.status == emulator::FwStatus::kSuccess) {
    return Error(ErrorCode::kInvalidArgument, "a command fault needs a failing status");
  }
  Fault f;
  f.id = next_id_++;
  f.spec = std::move(spec);
  faults_.push_back(std::move(f));
  return faults_.back().id;
}

bool FaultSet::Clear(std::uint64_t id) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->id == id) {
      faults_.erase(it);
      return true;
    }
  }
  return false;
}

void FaultSet::ClearAll() {
  faults_.clear();
}

const Fault* FaultSet::Match(FaultKind kind, const std::string& guest,
                             const std::function<bool(const FaultSpec&)>& selects,
                             const std::function<std::string(const FaultSpec&)>& detail) {
  for (Fault& f : faults_) {
    if (f.spec.kind != kind || f.exhausted() || !selects(f.spec)) continue;
    if (!f.spec.guest.empty() && f.spec.guest != guest) continue;
    ++f.matched;
    if (f.spec.every > 1 && f.matched % f.spec.every != 0) return nullptr;
    ++f.fired;
    const FaultEvent event{f.id, kind, guest, detail(f.spec), f.fired};
    for (const auto& o : observers_) o(event);
    return &f;
  }
  return nullptr;
}

std::optional<emulator::FwStatus> FaultSet::Command(bool legacy, std::uint32_t id) {
  if (faults_.empty()) return std::nullopt;
  const Fault* f = Match(
      FaultKind::kCommand, acting_,
      [&](const FaultSpec& s) { return s.legacy == legacy && s.command == id; },
      [&](const FaultSpec& s) {
        return CommandName(legacy, id) + " -> " + emulator::FwStatusName(s.status);
      });
  if (f == nullptr) return std::nullopt;
  return f->spec.status;
}

const Fault* FaultSet::Fire(FaultKind kind, const std::string& guest, const std::string& detail) {
  if (faults_.empty()) return nullptr;
  return Match(
      kind, guest, [](const FaultSpec&) { return true; },
      [&](const FaultSpec& s) {
        return s.size != 0 ? detail + " " + std::to_string(s.size) : detail;
      });
}

}  // namespace sevemu::hypervisor
