// sevemu trace render: a sequence diagram of a trace (docs/trace.md, "Rendering"). Participants
// are the host, each guest (by name), each platform's firmware and the CPU's RMP; a command is an
// arrow from its caller to the firmware and its status back; an RMP instruction an arrow to the
// RMP; a state transition and an injected fault a note over the firmware.
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sevemu/trace/trace.h"

namespace sevemu::trace {
namespace {

using Json = nlohmann::json;

struct Step {
  enum class Kind { kCall, kReturn, kNote } kind;
  std::string from, to;  // participant ids (kNote: `to` is the one it is over)
  std::string text;
  std::string key = "";   // RMP steps: instruction and result, to merge runs
  std::size_t count = 1;  // RMP steps: instructions merged
  std::string Text() const {
    return count > 1 ? text + " (" + std::to_string(count) + " pages)" : text;
  }
};

// Participant ids are [A-Za-z0-9_]; labels keep only characters neither format treats specially.
std::string Id(const std::string& prefix, const std::string& name) {
  std::string s = prefix;
  for (char c : name) s.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return s;
}

std::string Label(const std::string& text) {
  std::string s;
  for (char c : text) {
    const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == ' ' || c == '_' ||
                       c == '.' || c == ':' || c == '-' || c == '/' || c == '(' || c == ')';
    s.push_back(plain ? c : '_');
  }
  return s;
}

std::string TransitionText(const Json& t) {
  std::string who = t.value("machine", "?");
  if (t.contains("gctx")) who += " " + t["gctx"].get<std::string>();
  if (t.contains("handle")) who += " " + std::to_string(t["handle"].get<std::uint64_t>());
  // operator[] of a const object must only see keys that exist (it asserts otherwise).
  const auto text = [&t](const char* key, const char* none) {
    return t.contains(key) && t[key].is_string() ? t[key].get<std::string>() : none;
  };
  const std::string from = text("from", "(none)");
  const std::string to = text("to", "(gone)");
  return who + ": " + from + " to " + to;
}

template <typename Participant>
void AddSteps(const Json& j, Participant& participant, std::vector<Step>& steps) {
  const std::string ev = j["ev"];
  const Json& c = j["caller"];
  std::string caller;
  if (c.value("role", "") == "guest" && c.contains("guest") && c["guest"].is_string()) {
    const std::string g = c["guest"];
    caller = participant(Id("guest_", g), "guest " + g);
  } else {
    caller = participant("host", "host");
  }
  const std::string platform =
      j.contains("platform") && j["platform"].is_string() ? j["platform"].get<std::string>() : "";
  const std::string fw = participant(Id("fw_", platform), "firmware " + platform);
  if (ev == "command") {
    steps.push_back({Step::Kind::kCall, caller, fw, j.value("name", "?")});
    steps.push_back({Step::Kind::kReturn, fw, caller, j.value("status", "?")});
    if (j.contains("transitions") && j["transitions"].is_array()) {
      for (const auto& t : j["transitions"]) {
        if (t.is_object()) steps.push_back({Step::Kind::kNote, "", fw, TransitionText(t)});
      }
    }
  } else if (ev == "rmp") {
    const std::string rmp = participant("rmp", "RMP (CPU)");
    const std::string spa = j.contains("spa") && j["spa"].is_string() ? j["spa"] : "";
    const std::string what = j.value("instruction", "?") + " " + j.value("result", "?");
    // A run of the same instruction and result by the same caller (the pages of a launch,
    // a TMR) is one arrow: its first page and how many.
    if (!steps.empty() && steps.back().kind == Step::Kind::kCall && steps.back().to == rmp &&
        steps.back().from == caller && steps.back().key == what) {
      ++steps.back().count;
      return;
    }
    steps.push_back({Step::Kind::kCall, caller, rmp,
                     j.value("instruction", "?") + " " + spa + " " + j.value("result", "?"), what,
                     1});
  } else if (ev == "fault") {
    steps.push_back({Step::Kind::kNote, "", fw, "fault injected: " + j.value("kind", "?")});
  }
}

}  // namespace

Result<std::string> RenderTrace(const std::string& jsonl, RenderFormat format) {
  std::vector<std::pair<std::string, std::string>> participants;  // id, label, in first use
  std::set<std::string> seen;
  auto participant = [&](const std::string& id, const std::string& label) {
    if (seen.insert(id).second) participants.emplace_back(id, label);
    return id;
  };
  std::vector<Step> steps;
  std::istringstream in(jsonl);
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const auto bad = [number] {
      return Error(ErrorCode::kInvalidArgument,
                   "line " + std::to_string(number) + " is not a trace event (docs/trace.md)");
    };
    Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ev") || !j["ev"].is_string() ||
        !j.contains("caller") || !j["caller"].is_object()) {
      return bad();
    }
    // A field of the wrong type (a number where a name belongs) throws inside the JSON library:
    // the file is outside input, so that is this line's error, not a crash.
    try {
      AddSteps(j, participant, steps);
    } catch (const nlohmann::json::exception&) {
      return bad();
    }
  }
  std::ostringstream out;
  if (format == RenderFormat::kMermaid) {
    out << "sequenceDiagram\n";
    for (const auto& [id, label] : participants) {
      out << "  participant " << id << " as " << Label(label) << "\n";
    }
    for (const Step& s : steps) {
      switch (s.kind) {
        case Step::Kind::kCall:
          out << "  " << s.from << "->>" << s.to << ": " << Label(s.Text()) << "\n";
          break;
        case Step::Kind::kReturn:
          out << "  " << s.from << "-->>" << s.to << ": " << Label(s.Text()) << "\n";
          break;
        case Step::Kind::kNote:
          out << "  Note over " << s.to << ": " << Label(s.Text()) << "\n";
          break;
      }
    }
  } else {
    // Graphviz has no sequence diagrams: numbered edges between the participants, in order.
    out << "digraph trace {\n  rankdir=LR;\n  node [shape=box];\n";
    for (const auto& [id, label] : participants) {
      out << "  " << id << " [label=\"" << Label(label) << "\"];\n";
    }
    std::size_t n = 0;
    for (const Step& s : steps) {
      ++n;
      if (s.kind == Step::Kind::kNote) {
        out << "  note" << n << " [shape=note, label=\"" << n << ". " << Label(s.Text())
            << "\"];\n";
        out << "  note" << n << " -> " << s.to << " [style=dotted, arrowhead=none];\n";
      } else {
        out << "  " << s.from << " -> " << s.to << " [label=\"" << n << ". " << Label(s.Text())
            << "\"" << (s.kind == Step::Kind::kReturn ? ", style=dashed" : "") << "];\n";
      }
    }
    out << "}\n";
  }
  return out.str();
}

}  // namespace sevemu::trace
