// sevemu trace render: the participants and arrows a trace gives, in both formats, and a line
// that is not a trace event refused with its number.
#include <doctest/doctest.h>

#include "sevemu/trace/trace.h"

namespace sevemu {
namespace {

const char* kTrace =
    R"({"seq":0,"ev":"command","platform":"p","caller":{"role":"host","session":0},"api":"snp","id":129,"name":"SNP_INIT","length":0,"in":{},"status":"SUCCESS","status_code":0,"transitions":[{"machine":"snp_platform","from":"UNINIT","to":"INIT"}]})"
    "\n"
    R"({"seq":1,"ev":"rmp","platform":"p","caller":{"role":"host","session":2},"instruction":"RMPUPDATE","spa":"0x200000","gpa":"0x0","size":"4K","asid":0,"result":"SUCCESS"})"
    "\n"
    R"({"seq":2,"ev":"rmp","platform":"p","caller":{"role":"host","session":2},"instruction":"RMPUPDATE","spa":"0x201000","gpa":"0x0","size":"4K","asid":0,"result":"SUCCESS"})"
    "\n"
    R"({"seq":3,"ev":"command","platform":"p","caller":{"role":"guest","guest":"web-1","vmpl":0,"session":3},"api":"snp","id":148,"name":"SNP_GUEST_REQUEST","length":24,"in":{},"status":"INVALID_PARAM","status_code":22})"
    "\n"
    R"({"seq":4,"ev":"fault","platform":"p","caller":{"role":"host","session":1},"kind":"firmware_status","fields":{}})"
    "\n";

}  // namespace

TEST_CASE("trace render: mermaid sequence of host, firmware, RMP and guest") {
  auto out = trace::RenderTrace(kTrace, trace::RenderFormat::kMermaid);
  REQUIRE(out.ok());
  const std::string want =
      "sequenceDiagram\n"
      "  participant host as host\n"
      "  participant fw_p as firmware p\n"
      "  participant rmp as RMP (CPU)\n"
      "  participant guest_web_1 as guest web-1\n"
      "  host->>fw_p: SNP_INIT\n"
      "  fw_p-->>host: SUCCESS\n"
      "  Note over fw_p: snp_platform: UNINIT to INIT\n"
      "  host->>rmp: RMPUPDATE 0x200000 SUCCESS (2 pages)\n"
      "  guest_web_1->>fw_p: SNP_GUEST_REQUEST\n"
      "  fw_p-->>guest_web_1: INVALID_PARAM\n"
      "  Note over fw_p: fault injected: firmware_status\n";
  CHECK(*out == want);
}

TEST_CASE("trace render: dot numbers the arrows") {
  auto out = trace::RenderTrace(kTrace, trace::RenderFormat::kDot);
  REQUIRE(out.ok());
  CHECK(out->rfind("digraph trace {\n", 0) == 0);
  CHECK(out->find("host -> fw_p [label=\"1. SNP_INIT\"];") != std::string::npos);
  CHECK(out->find("fw_p -> host [label=\"2. SUCCESS\", style=dashed];") != std::string::npos);
  CHECK(out->find("guest_web_1 -> fw_p [label=\"5. SNP_GUEST_REQUEST\"];") != std::string::npos);
  CHECK(out->back() == '\n');
}

TEST_CASE("trace render: a line that is not a trace event is refused with its number") {
  auto out = trace::RenderTrace(std::string(kTrace) + "{\"ev\":\"command\"}\n",
                                trace::RenderFormat::kMermaid);
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().message() == "line 6 is not a trace event (docs/trace.md)");
  CHECK_FALSE(trace::RenderTrace("not json\n", trace::RenderFormat::kDot).ok());
  // Names that would break either format are made plain.
  auto odd = trace::RenderTrace(
      R"({"ev":"command","platform":"a\"b","caller":{"role":"guest","guest":"x;y"},"name":"N\"; evil","status":"S"})",
      trace::RenderFormat::kDot);
  REQUIRE(odd.ok());
  CHECK(odd->find('"' + std::string("N_ evil")) == std::string::npos);
  CHECK(odd->find("N__ evil") != std::string::npos);
  CHECK(odd->find("guest_x_y") != std::string::npos);
}

TEST_CASE("trace render: a transition without from or to (trace_render_fuzz found it)") {
  auto out = trace::RenderTrace(
      R"({"ev":"command","caller":{},"name":"N","status":"S","transitions":[{"machine":"m"}]})",
      trace::RenderFormat::kMermaid);
  REQUIRE(out.ok());
  CHECK(out->find("Note over fw_: m: (none) to (gone)") != std::string::npos);
  // A field of the wrong type is this line's error, not a crash.
  auto typed =
      trace::RenderTrace(R"({"ev":"command","caller":{},"name":5})", trace::RenderFormat::kDot);
  REQUIRE_FALSE(typed.ok());
  CHECK(typed.error().message() == "line 1 is not a trace event (docs/trace.md)");
}

}  // namespace sevemu
