#pragma once
// JSON files with errors that name the file, the position and the field.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace embed::io {

// A JSON value for "found ..." in errors: null, boolean true, string "yes", number 5, array, object (long
// values cut to 60 characters).
std::string describe_json(const nlohmann::json& value);
// Parses a JSON file; a syntax error names the file, line and column.
nlohmann::json read_json(const std::filesystem::path& path);
nlohmann::json parse_json(const std::string& text, const std::string& what);

// Typed, checked access to the fields of one JSON object read from `file`.
class JsonObject {
 public:
  JsonObject(const nlohmann::json& value, std::string file, std::string path = "");

  bool has(const std::string& key) const;  // present and not null
  const nlohmann::json& raw() const { return value_; }
  const std::string& file() const { return file_; }

  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  JsonObject get_object(const std::string& key) const;
  const nlohmann::json& get(const std::string& key) const;  // any type, must be present

  // "<file>: field '<path.key>': <message>"
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  std::string where(const std::string& key) const;
  const nlohmann::json& value_;
  std::string file_;
  std::string path_;
};

}  // namespace embed::io
