#include "models/encoder_sizes.hpp"

#include <string>

namespace embed::models {

std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, std::size_t> read_encoder_sizes(
    const io::JsonObject& config) {
  // At least 1, except num_hidden_layers (0: the embeddings alone, as transformers allows).
  auto size = [&](const char* key, int64_t least = 1) {
    const int64_t n = config.get_int(key);
    if (n < least)
      config.fail(key, std::string("expected ") + (least == 1 ? "a positive" : "a non-negative") + " integer, found " +
                           std::to_string(n));
    return static_cast<std::size_t>(n);
  };
  // Separate statements: the reads happen in this order.
  const auto hidden = size("hidden_size");
  const auto heads = size("num_attention_heads");
  const auto layers = size("num_hidden_layers", 0);
  const auto intermediate = size("intermediate_size");
  const auto vocab = size("vocab_size");
  return {hidden, heads, layers, intermediate, vocab};
}

std::size_t read_type_vocab_size(const io::JsonObject& config, const io::WeightStore& weights, int64_t fallback) {
  const int64_t n = config.get_int("type_vocab_size", fallback);
  if (n < 0) config.fail("type_vocab_size", "expected a non-negative integer, found " + std::to_string(n));
  if (n == 0 && weights.has("embeddings.token_type_embeddings.weight"))
    config.fail("type_vocab_size", "is 0, but the weights have embeddings.token_type_embeddings.weight");
  return static_cast<std::size_t>(n);
}

void require_heads_divide_hidden(const io::JsonObject& config, std::size_t hidden, std::size_t heads) {
  if (hidden == 0 || heads == 0 || hidden % heads != 0)
    config.fail("num_attention_heads", "hidden_size " + std::to_string(hidden) +
                                           " is not a positive multiple of num_attention_heads " +
                                           std::to_string(heads));
}

}  // namespace embed::models
