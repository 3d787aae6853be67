#include "text/special_tokens_files.hpp"

#include "io/json.hpp"

namespace embed::text {

nlohmann::json read_optional_json_object(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) return nlohmann::json::object();
  auto j = io::read_json(file);
  return j.is_object() ? j : nlohmann::json::object();
}

nlohmann::json read_tokenizer_config(const std::filesystem::path& dir) {
  auto config = read_optional_json_object(dir / "tokenizer_config.json");
  const auto map = read_optional_json_object(dir / "special_tokens_map.json");
  for (auto it = map.begin(); it != map.end(); ++it) config[it.key()] = it.value();
  return config;
}

std::optional<AddedToken> parse_special_token(const nlohmann::json& value, NormalizedFlag normalized) {
  AddedToken t;
  t.special = true;
  t.normalized = false;
  if (value.is_string()) {
    t.content = value.get<std::string>();
  } else if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    t.content = value["content"].get<std::string>();
    t.lstrip = value.value("lstrip", false);
    t.rstrip = value.value("rstrip", false);
    t.single_word = value.value("single_word", false);
    if (normalized == NormalizedFlag::AsSaved) t.normalized = value.value("normalized", false);
  } else {
    return std::nullopt;
  }
  return t;
}

}  // namespace embed::text
