// sevemu trace: the daemon's trace live (a host connection subscribed with TRACE_SUBSCRIBE,
// printing one JSON line per event until interrupted), and `trace render FILE` drawing a trace
// as a Mermaid sequence diagram or a Graphviz graph (docs/trace.md).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "sevemu/common/file_io.h"
#include "sevemu/protocol/client.h"
#include "sevemu/trace/trace.h"

namespace sevemu::cli {
namespace {

int Render(const std::string& name, const std::string& file, const std::string& format) {
  trace::RenderFormat f = trace::RenderFormat::kMermaid;
  if (format == "dot") {
    f = trace::RenderFormat::kDot;
  } else if (format != "mermaid") {
    return UsageError(name, "--format must be mermaid or dot");
  }
  auto data = ReadWholeFile(file, 1u << 30);
  if (!data.ok()) return Fail(name, data.error());
  auto out = trace::RenderTrace(std::string(data->begin(), data->end()), f);
  if (!out.ok()) return Fail(name, Error(out.error().code(), file + ": " + out.error().message()));
  std::cout << *out;
  return kExitOk;
}

int Live(const std::string& name, const std::string& socket, const std::string& platform) {
  // A read-only host connection: tracing changes nothing.
  nlohmann::json hello = {{"role", "host"}};
  if (!platform.empty()) hello["platform"] = platform;
  auto c = protocol::Client::Connect(socket.empty() ? protocol::DefaultSocketPath() : socket,
                                     hello.dump());
  if (!c.ok()) return Fail(name, c.error());
  auto ack = c->Call(protocol::MsgType::kTraceSubscribe, {});
  if (!ack.ok()) return Fail(name, ack.error());
  if (!ack->ok())
    return Fail(name, Error(ErrorCode::kRefused, protocol::DecodeError(ack->payload)));
  for (;;) {
    std::array<std::uint8_t, protocol::kHeaderSize> raw{};
    if (Status st = protocol::ReadExact(c->fd(), raw); !st.ok()) break;  // the daemon stopped
    auto h = protocol::DecodeHeader(raw);
    if (!h.ok()) return Fail(name, h.error());
    Bytes payload(h->payload_length);
    if (Status st = protocol::ReadExact(c->fd(), payload); !st.ok()) break;
    if (h->type != protocol::MsgType::kTraceEvent) continue;
    std::cout << std::string(payload.begin(), payload.end()) << std::endl;
  }
  return kExitOk;
}

}  // namespace

int RunTrace(const std::string& name, const Args& args) {
  std::string action, file, format, socket, platform;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action), "render (draw FILE); none: print the daemon's trace live")
      ("file", po::value(&file), "render: a trace file (serve --trace FILE)")
      ("format", po::value(&format)->default_value("mermaid"), "render: mermaid | dot")
      ("socket", po::value(&socket), "daemon socket (default: $SEVEMU_SOCKET, ...)")
      ("platform", po::value(&platform), "live: the platform to connect to (every platform's lines are shown)");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("file", 1);
  int code = 0;
  auto vm = ParseArgs(name, "[render FILE [--format mermaid|dot]] [--socket PATH]", desc, args,
                      code, &pos);
  if (!vm) return code;
  if (action == "render") {
    if (file.empty()) return UsageError(name, "render needs a FILE");
    return Render(name, file, format);
  }
  if (!action.empty()) return UsageError(name, "unknown action '" + action + "' (render?)");
  return Live(name, socket, platform);
}

}  // namespace sevemu::cli
