// sevemu ctl kds inject|list|clear: the simulated KDS's control endpoint (docs/kds.md
// "Faults"), over HTTP to a `sevemu kds serve --ctl-token FILE` on loopback. The KDS is its own
// process, so this is not a daemon op; the CLI translates options into the endpoint's JSON and
// prints the reply.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "ctl_token.h"
#include "kds/kds_ctl_client.h"
#include "kds/kds_routes.h"

namespace sevemu::cli {

int RunCtlKds(const std::string& name, const Args& args) {
  std::string action, kind, url, token_file;
  std::uint32_t count = 0, every = 0, retry_after = 0, delay_ms = 0;
  po::options_description desc("options");
  // clang-format off
  desc.add_options()
      ("action", po::value(&action)->required(), "inject | list | clear")
      ("kind", po::value(&kind), "inject: kds.not_found | kds.rate_limited | kds.server_error | kds.slow | kds.wrong_tcb | kds.expired | kds.revoked; clear: a fault id (default: all)")
      ("url", po::value(&url)->default_value("http://127.0.0.1:8888"), "the KDS (its 'listening on' URL)")
      ("token-file", po::value(&token_file)->required(), "the file given to 'kds serve --ctl-token'")
      ("count", po::value(&count), "inject: fire the next N times (default: until cleared)")
      ("every", po::value(&every), "inject: fire on one request in K")
      ("retry-after", po::value(&retry_after), "inject kds.rate_limited: Retry-After seconds (default 1)")
      ("delay-ms", po::value(&delay_ms), "inject kds.slow: the delay");
  // clang-format on
  po::positional_options_description pos;
  pos.add("action", 1).add("kind", 1);
  int code = 0;
  auto vm = ParseArgs(name, "inject|list|clear [KIND|ID] --token-file FILE [--url URL] [options]",
                      desc, args, code, &pos);
  if (!vm) return code;
  std::string method, path = kds::kFaultsPath, body;
  if (action == "inject") {
    if (kind.empty()) return UsageError(name, "inject needs a fault KIND");
    nlohmann::json j = {{"kind", kind}};
    if (count != 0) j["count"] = count;
    if (every != 0) j["every"] = every;
    if (vm->count("retry-after")) j["retry_after"] = retry_after;
    if (delay_ms != 0) j["delay_ms"] = delay_ms;
    method = "POST";
    body = j.dump();
  } else if (action == "list") {
    method = "GET";
  } else if (action == "clear") {
    method = "DELETE";
    if (!kind.empty()) {
      if (kind.find_first_not_of("0123456789") != std::string::npos) {
        return UsageError(name, "clear takes a fault id (a number) or nothing for all");
      }
      path += "/" + kind;
    }
  } else {
    return UsageError(name, "unknown action '" + action + "' (inject, list or clear)");
  }
  auto token = ReadCtlToken(token_file);
  if (!token.ok()) return UsageError(name, "--token-file: " + token.error().message());
  auto reply = kds::KdsCtlCall(url, method, path, *token, body);
  if (!reply.ok()) {
    return reply.error().code() == ErrorCode::kInvalidArgument
               ? UsageError(name, "--url: " + reply.error().message())
               : Fail(name, reply.error());
  }
  std::string text = reply->body;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (reply->status >= 300) {
    std::cerr << name << ": the KDS answered " << reply->status << ": " << text << "\n";
    return kExitFailure;
  }
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::cout << (j.is_discarded() ? text : j.dump(action == "list" ? 2 : -1)) << "\n";
  return kExitOk;
}

}  // namespace sevemu::cli
