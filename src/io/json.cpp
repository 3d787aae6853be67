#include "io/json.hpp"

#include "embed/error.hpp"
#include "io/model_file.hpp"

namespace embed::io {

std::string describe_json(const nlohmann::json& value) {
  if (value.is_null()) return "null";
  if (value.is_object() || value.is_array()) return value.type_name();
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return std::string(value.type_name()) + " " + text;
}

nlohmann::json parse_json(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based position of the offending byte; turn it into line and column.
    std::size_t pos = e.byte == 0 ? 0 : e.byte - 1;
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < pos && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    std::string msg = e.what();
    auto p = msg.find("parse error");
    if (p != std::string::npos) msg = msg.substr(p);
    throw Error(what + ": invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(col) +
                " (byte " + std::to_string(pos) + "): " + msg);
  }
}

nlohmann::json read_json(const std::filesystem::path& path) { return parse_json(read_file_bytes(path), path.string()); }

JsonObject::JsonObject(const nlohmann::json& value, std::string file, std::string path)
    : value_(value), file_(std::move(file)), path_(std::move(path)) {
  if (!value_.is_object())
    throw Error(file_ + ": " + (path_.empty() ? std::string("top level") : "field '" + path_ + "'") +
                ": expected a JSON object, found " + value_.type_name());
}

std::string JsonObject::where(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

void JsonObject::fail(const std::string& key, const std::string& message) const {
  throw Error(file_ + ": field '" + where(key) + "': " + message);
}

bool JsonObject::has(const std::string& key) const {
  auto it = value_.find(key);
  return it != value_.end() && !it->is_null();
}

const nlohmann::json& JsonObject::get(const std::string& key) const {
  auto it = value_.find(key);
  if (it == value_.end() || it->is_null()) fail(key, "missing (required)");
  return *it;
}

int64_t JsonObject::get_int(const std::string& key) const {
  const auto& v = get(key);
  if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  fail(key, "expected an integer, found " + describe_json(v));
}

int64_t JsonObject::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

double JsonObject::get_double(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_number()) fail(key, "expected a number, found " + describe_json(v));
  return v.get<double>();
}

double JsonObject::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}

bool JsonObject::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const auto& v = get(key);
  if (!v.is_boolean()) fail(key, "expected true or false, found " + describe_json(v));
  return v.get<bool>();
}

std::string JsonObject::get_string(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_string()) fail(key, "expected a string, found " + describe_json(v));
  return v.get<std::string>();
}

std::string JsonObject::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

JsonObject JsonObject::get_object(const std::string& key) const {
  const auto& v = get(key);
  if (!v.is_object()) fail(key, std::string("expected a JSON object, found ") + v.type_name());
  return JsonObject(v, file_, where(key));
}

}  // namespace embed::io
