// Private to emulator/: typed, non-throwing field access for the state files, with errors
// that name the file and the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "sevemu/common/bytes.h"
#include "sevemu/common/file_io.h"
#include "sevemu/common/result.h"

namespace sevemu::emulator::internal {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Result<const nlohmann::json*> Get(const char* key, nlohmann::json::value_t type) const {
    if (!obj_.is_object() || !obj_.contains(key)) return Bad(key, "is missing");
    const auto& v = obj_[key];
    const bool ok = v.type() == type || (type == nlohmann::json::value_t::number_unsigned &&
                                         v.type() == nlohmann::json::value_t::number_integer &&
                                         v.get<long long>() >= 0);
    if (!ok) return Bad(key, std::string("must be ") + TypeName(type));
    return &v;
  }
  Result<std::string> String(const char* key) const {
    SEVEMU_ASSIGN_OR_RETURN(const nlohmann::json* v, Get(key, nlohmann::json::value_t::string));
    return v->get<std::string>();
  }
  Result<std::uint64_t> Unsigned(const char* key, std::uint64_t max) const {
    SEVEMU_ASSIGN_OR_RETURN(const nlohmann::json* v,
                            Get(key, nlohmann::json::value_t::number_unsigned));
    const auto n = v->get<std::uint64_t>();
    if (n > max) return Bad(key, "must be at most " + std::to_string(max));
    return n;
  }
  Result<bool> Bool(const char* key) const {
    SEVEMU_ASSIGN_OR_RETURN(const nlohmann::json* v, Get(key, nlohmann::json::value_t::boolean));
    return v->get<bool>();
  }
  Result<Bytes> Hex(const char* key, std::size_t size) const {
    SEVEMU_ASSIGN_OR_RETURN(std::string s, String(key));
    auto b = HexDecode(s);
    if (!b.ok() || b->size() != size) {
      return Bad(key, "must be " + std::to_string(size * 2) + " hex digits");
    }
    return b;
  }
  Result<JsonFields> Object(const char* key) const {
    SEVEMU_ASSIGN_OR_RETURN(const nlohmann::json* v, Get(key, nlohmann::json::value_t::object));
    return JsonFields(*v, where_ + "." + key);
  }
  Error Bad(const std::string& key, const std::string& what) const {
    return Error(ErrorCode::kCorrupt, where_ + "." + key + " " + what);
  }

 private:
  static const char* TypeName(nlohmann::json::value_t t) {
    switch (t) {
      case nlohmann::json::value_t::string:
        return "a string";
      case nlohmann::json::value_t::boolean:
        return "true or false";
      case nlohmann::json::value_t::object:
        return "an object";
      default:
        return "a non-negative integer";
    }
  }
  const nlohmann::json& obj_;
  std::string where_;
};

// The text of a JSON object; kCorrupt naming `where` otherwise.
inline Result<nlohmann::json> ParseJsonText(std::string_view text, const std::string& where) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(ErrorCode::kCorrupt, where + ": not valid JSON");
  if (!j.is_object()) return Error(ErrorCode::kCorrupt, where + ": not a JSON object");
  return j;
}

// The "format" and "version" every state file starts with (version 1 only).
inline Status CheckFormat(const JsonFields& f, const std::string& where, const char* format) {
  SEVEMU_ASSIGN_OR_RETURN(std::string fmt, f.String("format"));
  if (fmt != format) {
    return Error(ErrorCode::kCorrupt,
                 where + ": format is '" + fmt + "', expected '" + format + "'");
  }
  SEVEMU_ASSIGN_OR_RETURN(auto version, f.Unsigned("version", 1000));
  if (version != 1) {
    return Error(ErrorCode::kCorrupt,
                 where + ": version " + std::to_string(version) + " is not supported (expected 1)");
  }
  return Status::Ok();
}

// A whole state file of at most `max_size` bytes, as text.
inline Result<std::string> ReadStateText(const std::string& path, std::size_t max_size) {
  SEVEMU_ASSIGN_OR_RETURN(Bytes b, ReadWholeFile(path, max_size));
  std::string text(b.begin(), b.end());
  SecureZero(b.data(), b.size());  // may be a secret file
  return text;
}

}  // namespace sevemu::emulator::internal
