#include "io/json_document.hpp"

#include <limits>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"

namespace embed::io {

using simdjson::dom::element_type;

bool JsonValue::is_integer() const { return type() == element_type::INT64 || type() == element_type::UINT64; }
bool JsonValue::is_number() const { return is_integer() || type() == element_type::DOUBLE; }

const char* JsonValue::type_name() const {
  switch (type()) {
    case element_type::OBJECT: return "object";
    case element_type::ARRAY: return "array";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "boolean";
    case element_type::NULL_VALUE: return "null";
    default: return "number";
  }
}

std::string_view JsonValue::string() const { return element_.get_string().value(); }
int64_t JsonValue::integer() const {
  if (type() == element_type::UINT64) {
    const uint64_t u = element_.get_uint64().value();
    return u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                          : static_cast<int64_t>(u);
  }
  return element_.get_int64().value();
}
double JsonValue::number() const { return element_.get_double().value(); }
bool JsonValue::boolean() const { return element_.get_bool().value(); }

std::size_t JsonValue::size() const {
  simdjson::dom::array array;
  if (element_.get_array().get(array) == simdjson::SUCCESS) return array.size();
  simdjson::dom::object object;
  if (element_.get_object().get(object) == simdjson::SUCCESS) return object.size();
  return 0;
}

std::optional<JsonValue> JsonValue::find(std::string_view key) const {
  std::optional<JsonValue> found;
  for_each_member([&](std::string_view k, JsonValue v) {
    if (k == key) found = v;
  });
  return found;
}

JsonValue JsonValue::operator[](std::size_t index) const { return JsonValue(element_.at(index).value()); }

JsonDocument::JsonDocument(const std::filesystem::path& path) {
  const std::string text = read_file_bytes(path);
  if (const auto error = parser_.parse(text).get(root_); error != simdjson::SUCCESS) {
    // simdjson's errors give no position: nlohmann's parser names the line and column of the same error.
    (void)parse_json(text, path.string());
    throw Error(path.string() + ": invalid JSON: " + simdjson::error_message(error));  // what nlohmann accepts
  }
}

}  // namespace embed::io
