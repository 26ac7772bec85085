// The JSON-lines form of the firmware's observer events (docs/trace.md is the schema). Only
// what CommandEvent carries is written, and it carries only whitelisted fields
// (command_fields.h): keys, VMPCKs, OEK, TEK/TIK, wrapped blobs and fuses cannot get here.
#include <nlohmann/json.hpp>

#include "sevemu/rmp/rmp_instructions.h"
#include "sevemu/trace/trace.h"

namespace sevemu::trace {
namespace {

using Json = nlohmann::ordered_json;

std::string Hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string HexBytes(const Bytes& b) {
  static const char* kDigits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t c : b) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

Json Fields(const std::vector<emulator::CommandField>& fields) {
  Json j = Json::object();
  for (const auto& f : fields) {
    const std::string name(f.name);
    switch (f.kind) {
      case emulator::CommandField::Kind::kNumber:
        j[name] = f.number;
        break;
      case emulator::CommandField::Kind::kAddress:
        j[name] = Hex(f.number);
        break;
      case emulator::CommandField::Kind::kBytes:
        j[name] = HexBytes(f.bytes);
        break;
      case emulator::CommandField::Kind::kRedacted:
        j[name] = "<redacted " + std::to_string(f.number) + " bytes>";
        break;
    }
  }
  return j;
}

Json Entry(const rmp::RmpEntry& e) {
  Json j = Json::object();
  j["state"] = rmp::PageStateName(e.State());
  if (e.assigned()) {
    j["asid"] = e.asid();
    j["gpa"] = Hex(e.gpa());
  }
  j["size"] = e.page_size_2m() ? "2M" : "4K";
  j["validated"] = e.validated();
  if (e.vmsa()) j["vmsa"] = true;
  return j;
}

// `e` as the entry `pages` 4 KiB pages earlier in a run would be (its GPA steps with its SPA).
rmp::RmpEntry Back(rmp::RmpEntry e, std::uint64_t pages) {
  const std::uint64_t step = pages * rmp::kPageSize;
  if (e.assigned() && e.gpa() >= step) e.set_gpa(e.gpa() - step);
  return e;
}

}  // namespace

void TraceWriter::SetCaller(Caller caller) {
  caller_ = std::move(caller);
}

std::string TraceWriter::Header(const char* ev) {
  // Built by hand so that the keys come in this order on every line.
  Json j = Json::object();
  j["ev"] = ev;
  j["platform"] = platform_;
  Json c = Json::object();
  if (caller_.guest.empty()) {
    c["role"] = "host";
  } else {
    c["role"] = "guest";
    c["guest"] = caller_.guest;
    c["vmpl"] = caller_.vmpl;
  }
  c["session"] = caller_.session;
  j["caller"] = c;
  std::string s = j.dump();
  s.pop_back();  // the closing brace: the event's own keys follow
  return s;
}

std::string TraceWriter::TakePages() {
  if (pages_.empty()) return "";
  Json a = Json::array();
  for (const PageRun& r : pages_) {
    Json p = Json::object();
    p["spa"] = Hex(r.spa);
    p["pages"] = r.count;
    p["from"] = Entry(r.before);
    p["to"] = Entry(r.after);
    a.push_back(p);
  }
  pages_.clear();
  return ",\"pages\":" + a.dump();
}

void TraceWriter::OnPageState(std::uint64_t spa, const rmp::RmpEntry& before,
                              const rmp::RmpEntry& after) {
  if (!pages_.empty()) {
    PageRun& last = pages_.back();
    if (last.spa + last.count * rmp::kPageSize == spa && Back(before, last.count) == last.before &&
        Back(after, last.count) == last.after) {
      ++last.count;
      return;
    }
  }
  pages_.push_back({spa, 1, before, after});
}

void TraceWriter::OnCommand(const emulator::CommandEvent& e) {
  Json body = Json::object();
  body["api"] = e.api;
  body["id"] = e.id;
  body["name"] = e.name;
  body["length"] = e.length;
  body["in"] = Fields(e.in);
  if (!e.out.empty()) body["out"] = Fields(e.out);
  body["status"] = emulator::FwStatusName(e.status);
  body["status_code"] = static_cast<std::uint32_t>(e.status);
  if (!e.transitions.empty()) {
    Json t = Json::array();
    for (const auto& x : e.transitions) {
      Json one = Json::object();
      one["machine"] = x.machine;
      if (x.machine == "snp_guest") {
        one["gctx"] = Hex(x.id);
      } else if (x.machine == "sev_guest") {
        one["handle"] = x.id;
      }
      one["from"] = x.from.empty() ? Json(nullptr) : Json(x.from);
      one["to"] = x.to.empty() ? Json(nullptr) : Json(x.to);
      t.push_back(one);
    }
    body["transitions"] = t;
  }
  std::string b = body.dump();
  b.erase(0, 1);  // its opening brace: it follows the header
  b.pop_back();
  hub_.Emit(Header("command") + "," + b + TakePages() + "}");
}

void TraceWriter::OnRmpInstruction(const rmp::RmpInstructionEvent& e) {
  Json body = Json::object();
  body["instruction"] = e.instruction;
  body["spa"] = Hex(e.spa);
  body["gpa"] = Hex(e.gpa);
  body["size"] = e.page_size_2m ? "2M" : "4K";
  body["asid"] = e.asid;
  if (e.vmpl >= 0) body["vmpl"] = e.vmpl;
  body["result"] = rmp::RmpResultName(e.result);
  std::string b = body.dump();
  b.erase(0, 1);
  b.pop_back();
  hub_.Emit(Header("rmp") + "," + b + TakePages() + "}");
}

void TraceWriter::OnFault(const std::string& kind, const FaultFields& fields) {
  Flush();
  Json body = Json::object();
  body["kind"] = kind;
  Json f = Json::object();
  for (const auto& [k, v] : fields) f[k] = v;
  body["fields"] = f;
  std::string b = body.dump();
  b.erase(0, 1);
  b.pop_back();
  hub_.Emit(Header("fault") + "," + b + "}");
}

void TraceWriter::Flush() {
  if (pages_.empty()) return;
  std::string p = TakePages();
  p.erase(0, 1);  // its leading comma
  hub_.Emit(Header("pages") + "," + p + "}");
}

}  // namespace sevemu::trace
