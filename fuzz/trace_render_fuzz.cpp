// Fuzzes `sevemu trace render`'s input, a trace file (outside bytes: anyone may hand one over):
// RenderTrace in both formats must give a drawing or a one-line error, and what it draws never
// carries a character that would end a Mermaid message or a Graphviz label.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "sevemu/trace/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto mermaid = sevemu::trace::RenderTrace(text, sevemu::trace::RenderFormat::kMermaid);
  auto dot = sevemu::trace::RenderTrace(text, sevemu::trace::RenderFormat::kDot);
  if (mermaid.ok() != dot.ok()) std::abort();
  if (mermaid.ok()) {
    // Labels are plain: the only quotes are the ones the dot writer puts around labels, and
    // no label contains a newline or a semicolon.
    for (char c : *mermaid) {
      if (c == '"' || c == ';' || c == '#') std::abort();
    }
  }
  return 0;
}
