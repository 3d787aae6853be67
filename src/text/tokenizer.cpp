// embed::Tokenizer: the public face of the tokenizer pipeline.
#include "embed/tokenizer.hpp"

#include "embed/error.hpp"
#include "text/legacy_loaders.hpp"
#include "text/pipeline.hpp"
#include "text/tokenizer_json.hpp"

namespace embed {

Tokenizer::Tokenizer(std::shared_ptr<const text::TokenizerPipeline> pipeline) : pipeline_(std::move(pipeline)) {
  if (!pipeline_ || !pipeline_->model) throw Error("Tokenizer: empty pipeline");
}

Tokenizer Tokenizer::from_directory(const std::filesystem::path& dir) {
  return Tokenizer(text::load_tokenizer_directory(dir));
}

Tokenizer Tokenizer::from_tokenizer_json(const std::filesystem::path& file) {
  return Tokenizer(text::load_tokenizer_json(file));
}

Encoding Tokenizer::encode(std::string_view t, const TokenizeOptions& o) const { return pipeline_->encode(t, o); }

Encoding Tokenizer::encode_pair(std::string_view a, std::string_view b, const TokenizeOptions& o) const {
  return pipeline_->encode_pair(a, b, o);
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const { return pipeline_->token_to_id(token); }

std::string Tokenizer::id_to_token(int32_t id) const {
  auto t = pipeline_->id_to_token(id);
  if (!t) throw Error("token id " + std::to_string(id) + " is out of the vocabulary (size " + std::to_string(vocab_size()) + ")");
  return *t;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  for (int32_t id : ids) {
    if (skip_special_tokens && pipeline_->is_special_id(id)) continue;
    auto t = pipeline_->id_to_token(id);
    if (t) tokens.push_back(*t);
  }
  if (pipeline_->decoder) {
    std::string out;
    for (auto& s : pipeline_->decoder->decode_chain(std::move(tokens))) out += s;
    return out;
  }
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ' ';
    out += tokens[i];
  }
  return out;
}

std::size_t Tokenizer::vocab_size() const {
  // tokenizers' get_vocab_size(with_added_tokens = true)
  std::size_t n = pipeline_->model->vocab_size();
  for (const auto& t : pipeline_->added_tokens)
    if (!pipeline_->model->token_to_id(t.content)) ++n;
  return n;
}

std::size_t Tokenizer::num_special_tokens_to_add(bool pair) const {
  return pipeline_->post_processor ? pipeline_->post_processor->added_tokens(pair) : 0;
}

std::optional<TruncationOptions> Tokenizer::default_truncation() const { return pipeline_->default_truncation; }

}  // namespace embed
