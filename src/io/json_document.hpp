#pragma once
// Large JSON files (tokenizer.json, vocab.json: 0.5-20 MB) read with simdjson. Why not nlohmann, which reads
// the small config files (io/json.hpp): its DOM (a std::map node per key) took 16 ms of the 32 ms it took to
// load MiniLM's tokenizer (a third of the model's load time); simdjson parses the same file in 0.5 ms.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

namespace embed::io {

// A view of one value inside a JsonDocument (valid while the document lives).
class JsonValue {
 public:
  explicit JsonValue(simdjson::dom::element element) : element_(element) {}

  bool is_object() const { return type() == simdjson::dom::element_type::OBJECT; }
  bool is_array() const { return type() == simdjson::dom::element_type::ARRAY; }
  bool is_string() const { return type() == simdjson::dom::element_type::STRING; }
  bool is_bool() const { return type() == simdjson::dom::element_type::BOOL; }
  bool is_null() const { return type() == simdjson::dom::element_type::NULL_VALUE; }
  bool is_integer() const;  // written without a fraction or exponent
  bool is_number() const;   // any number
  // nlohmann's names ("object", "array", "string", "number", "boolean", "null"), for error messages.
  const char* type_name() const;

  // The value itself; each requires its type (is_string() ...): a caller checks first to report bad input.
  std::string_view string() const;
  int64_t integer() const;  // an integer above 2^63 - 1 reads as that
  double number() const;
  bool boolean() const;

  std::size_t size() const;  // elements of an array, members of an object, else 0
  // The member `key` of an object (the last one, as nlohmann and serde_json keep, if repeated); none when
  // this is not an object or has no such member.
  std::optional<JsonValue> find(std::string_view key) const;
  // Element `index` of an array (in range: index < size()). Linear in the index: walk long arrays with
  // for_each.
  JsonValue operator[](std::size_t index) const;

  // f(JsonValue) for each element of an array, in order (nothing for other types).
  template <class F>
  void for_each(F&& f) const {
    simdjson::dom::array array;
    if (element_.get_array().get(array) != simdjson::SUCCESS) return;
    for (simdjson::dom::element e : array) f(JsonValue(e));
  }
  // f(std::string_view key, JsonValue) for each member of an object, in file order (nothing for other types).
  template <class F>
  void for_each_member(F&& f) const {
    simdjson::dom::object object;
    if (element_.get_object().get(object) != simdjson::SUCCESS) return;
    for (simdjson::dom::key_value_pair member : object) f(member.key, JsonValue(member.value));
  }

 private:
  simdjson::dom::element_type type() const { return element_.type(); }
  simdjson::dom::element element_;
};

// A parsed JSON file. Not movable: values point into the parser's storage.
class JsonDocument {
 public:
  // Reads and parses `path`; a syntax error names the file, line and column (as io::read_json does).
  explicit JsonDocument(const std::filesystem::path& path);
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;

  JsonValue root() const { return JsonValue(root_); }

 private:
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

}  // namespace embed::io
