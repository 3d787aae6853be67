#include "text/special_tokens_files.hpp"

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "text/components.hpp"

namespace embed::text {

namespace fs = std::filesystem;

namespace {

// "<where>: expected <what>, found <value>"
[[noreturn]] void fail_type(const std::string& where, const std::string& what, const nlohmann::json& found) {
  throw Error(where + ": expected " + what + ", found " + io::describe_json(found));
}

// A decimal id in [0, kMaxTokenId] (an "added_tokens_decoder" key); none otherwise.
std::optional<int32_t> parse_decimal_id(const std::string& s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (!is_valid_token_id(v)) return std::nullopt;
  return static_cast<int32_t>(v);
}

// A JSON id in [0, kMaxTokenId]; none otherwise.
std::optional<int32_t> json_token_id(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(kMaxTokenId)) return static_cast<int32_t>(u);
  } else if (v.is_number_integer() && is_valid_token_id(v.get<int64_t>())) {
    return static_cast<int32_t>(v.get<int64_t>());
  }
  return std::nullopt;
}

// A boolean flag of an AddedToken dict; `where` names the dict.
bool dict_flag(const nlohmann::json& dict, const char* key, bool fallback, const std::string& where) {
  auto it = dict.find(key);
  if (it == dict.end()) return fallback;
  if (!it->is_boolean()) fail_type(where + "." + key + "'", "true or false", *it);
  return it->get<bool>();
}

// "text" or {"content": "text", ...}; `where` is "<file>: field '<key>" (the closing quote added here).
AddedToken parse_special_token(const nlohmann::json& value, NormalizedFlag normalized, const std::string& where) {
  AddedToken t{};
  t.special = true;
  t.normalized = false;
  if (value.is_string()) {
    t.content = value.get<std::string>();
    return t;
  }
  if (!value.is_object()) fail_type(where + "'", "a string or {\"content\": \"...\"}", value);
  auto content = value.find("content");
  if (content == value.end() || !content->is_string())
    fail_type(where + ".content'", "a string", content == value.end() ? nlohmann::json() : *content);
  t.content = content->get<std::string>();
  t.lstrip = dict_flag(value, "lstrip", false, where);
  t.rstrip = dict_flag(value, "rstrip", false, where);
  t.single_word = dict_flag(value, "single_word", false, where);
  if (normalized == NormalizedFlag::AsSaved) t.normalized = dict_flag(value, "normalized", false, where);
  return t;
}

}  // namespace

nlohmann::json read_optional_json_object(const fs::path& file) {
  if (!io::model_file_present(file)) return nlohmann::json::object();
  auto j = io::read_json(file);
  if (!j.is_object()) throw Error(file.string() + ": expected a JSON object, found " + io::describe_json(j));
  return j;
}

std::map<std::string, int32_t> read_added_tokens_json(const fs::path& dir) {
  const fs::path file = dir / "added_tokens.json";
  std::map<std::string, int32_t> out;
  const auto j = read_optional_json_object(file);
  for (auto it = j.begin(); it != j.end(); ++it) {
    auto id = json_token_id(it.value());
    if (!id)
      fail_type(file.string() + ": token \"" + it.key() + "\"", "an id from 0 to " + std::to_string(kMaxTokenId),
                it.value());
    out.emplace(it.key(), *id);
  }
  return out;
}

TokenizerConfig::TokenizerConfig(const fs::path& dir)
    : config_file_((dir / "tokenizer_config.json").string()), map_file_((dir / "special_tokens_map.json").string()) {
  config_ = read_optional_json_object(config_file_);
  const auto map = read_optional_json_object(map_file_);
  for (auto it = map.begin(); it != map.end(); ++it) {
    config_[it.key()] = it.value();
    from_map_[it.key()] = true;
  }
}

bool TokenizerConfig::has(const std::string& key) const {
  auto it = config_.find(key);
  return it != config_.end() && !it->is_null();
}

const std::string& TokenizerConfig::file_of(const std::string& key) const {
  return from_map_.count(key) ? map_file_ : config_file_;
}

void TokenizerConfig::fail(const std::string& key, const std::string& message) const {
  throw Error(file_of(key) + ": field '" + key + "': " + message);
}

bool TokenizerConfig::get_bool(const std::string& key, bool fallback) const {
  auto it = config_.find(key);
  if (it == config_.end()) return fallback;
  if (!it->is_boolean()) fail(key, "expected a boolean, found " + io::describe_json(*it));
  return it->get<bool>();
}

std::optional<bool> TokenizerConfig::get_optional_bool(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_bool(key, false);
}

std::string TokenizerConfig::get_string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  const auto& v = config_.at(key);
  if (!v.is_string()) fail(key, "expected a string, found " + io::describe_json(v));
  return v.get<std::string>();
}

int64_t TokenizerConfig::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  if (!has(key)) return fallback;
  const auto& v = config_.at(key);
  const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(max)
                                               : v.is_number_integer() && v.get<int64_t>() <= max;
  if (!in_range || !v.is_number_integer() || v.get<int64_t>() < min)
    fail(key, "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) + ", found " +
                  io::describe_json(v));
  return v.get<int64_t>();
}

std::optional<AddedToken> TokenizerConfig::special_token(const std::string& key, NormalizedFlag normalized) const {
  if (!has(key)) return std::nullopt;
  return parse_special_token(config_.at(key), normalized, file_of(key) + ": field '" + key);
}

bool TokenizerConfig::is_plain_string(const std::string& key) const { return has(key) && config_.at(key).is_string(); }

std::vector<std::pair<AddedToken, bool>> TokenizerConfig::additional_special_tokens(NormalizedFlag normalized) const {
  const std::string key = "additional_special_tokens";
  std::vector<std::pair<AddedToken, bool>> out;
  if (!has(key)) return out;
  const auto& list = config_.at(key);
  if (!list.is_array()) fail(key, "expected an array, found " + io::describe_json(list));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string where = file_of(key) + ": field '" + key + "[" + std::to_string(i) + "]";
    out.emplace_back(parse_special_token(list[i], normalized, where), list[i].is_string());
  }
  return out;
}

std::optional<std::vector<AddedToken>> TokenizerConfig::added_tokens_decoder() const {
  const std::string key = "added_tokens_decoder";
  if (!has(key)) return std::nullopt;
  const auto& map = config_.at(key);
  if (!map.is_object()) fail(key, "expected an object {\"id\": {\"content\": ...}}, found " + io::describe_json(map));
  std::vector<AddedToken> out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const std::string where = file_of(key) + ": field '" + key + "." + it.key();
    auto id = parse_decimal_id(it.key());
    if (!id) throw Error(where + "': the key must be a token id from 0 to " + std::to_string(kMaxTokenId));
    if (!it.value().is_object()) fail_type(where + "'", "{\"content\": \"...\", ...}", it.value());
    AddedToken t = parse_special_token(it.value(), NormalizedFlag::AsSaved, where);
    t.id = *id;
    t.special = dict_flag(it.value(), "special", true, where);
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace embed::text
