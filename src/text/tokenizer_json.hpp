#pragma once
// tokenizer.json -> TokenizerPipeline. Each component is built by a builder function looked up by
// its "type" in the registration tables at the top of tokenizer_json.cpp (one line per type).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "io/json_document.hpp"
#include "text/components.hpp"
#include "text/pipeline.hpp"

namespace embed::text {

// A JSON value inside tokenizer.json plus where it is, for error messages.
class JsonNode {
 public:
  JsonNode(io::JsonValue value, std::string file, std::string path)
      : value_(value), file_(std::move(file)), path_(std::move(path)) {}

  const io::JsonValue& value() const { return value_; }
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }

  // Throws embed::Error "<file>: <path>: <message>".
  [[noreturn]] void fail(const std::string& message) const;

  bool has(const std::string& key) const;  // present and not null
  JsonNode child(const std::string& key) const;  // must be present
  JsonNode at(std::size_t index) const;          // this must be an array
  std::size_t size() const;                      // array size
  // f(JsonNode) for each element of this array, in order (linear, where at(i) in a loop is quadratic).
  template <class F>
  void for_each(F&& f) const {
    if (!value_.is_array()) fail(std::string("expected an array, found ") + value_.type_name());
    std::size_t i = 0;
    value_.for_each([&](io::JsonValue v) { f(JsonNode(v, file_, path_ + "[" + std::to_string(i++) + "]")); });
  }
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::optional<bool> get_optional_bool(const std::string& key) const;  // null/absent -> nullopt
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;

 private:
  io::JsonValue value_;
  std::string file_;
  std::string path_;
};

using NormalizerBuilder = std::unique_ptr<Normalizer> (*)(const JsonNode&);
using PreTokenizerBuilder = std::unique_ptr<PreTokenizer> (*)(const JsonNode&);
using ModelBuilder = std::unique_ptr<TokenModel> (*)(const JsonNode&);
using PostProcessorBuilder = std::unique_ptr<PostProcessor> (*)(const JsonNode&);
using DecoderBuilder = std::unique_ptr<Decoder> (*)(const JsonNode&);

// Build one component from its JSON object (dispatch on "type"; recursion for "Sequence").
std::unique_ptr<Normalizer> build_normalizer(const JsonNode& node);
std::unique_ptr<PreTokenizer> build_pre_tokenizer(const JsonNode& node);
std::unique_ptr<TokenModel> build_model(const JsonNode& node);
std::unique_ptr<PostProcessor> build_post_processor(const JsonNode& node);
std::unique_ptr<Decoder> build_decoder(const JsonNode& node);

// `value` (found at `where`) as a token id: an integer in [0, kMaxTokenId] (tokenizers reads u32 ids; ours are
// int32). Otherwise "<file>: <path>: <what>: id 4294967301 is outside 0 to 2147483647" (what may be empty).
int32_t read_token_id(const JsonNode& where, io::JsonValue value, const std::string& what);

// {token: id} (a BPE or WordPiece vocabulary; a repeated token keeps its last id).
Vocab parse_vocab_object(const JsonNode& node);

// The whole tokenizer; `file` names it in errors.
std::shared_ptr<TokenizerPipeline> parse_tokenizer_json(io::JsonValue root, const std::string& file);
std::shared_ptr<TokenizerPipeline> load_tokenizer_json(const std::filesystem::path& path);

}  // namespace embed::text
