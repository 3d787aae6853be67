#include "models/encoder_sizes.hpp"

#include <string>

namespace embed::models {

std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, std::size_t> read_encoder_sizes(
    const io::JsonObject& config) {
  auto size = [&](const char* key) { return static_cast<std::size_t>(config.get_int(key)); };
  // Separate statements: the reads happen in this order.
  const auto hidden = size("hidden_size");
  const auto heads = size("num_attention_heads");
  const auto layers = size("num_hidden_layers");
  const auto intermediate = size("intermediate_size");
  const auto vocab = size("vocab_size");
  return {hidden, heads, layers, intermediate, vocab};
}

void require_heads_divide_hidden(const io::JsonObject& config, std::size_t hidden, std::size_t heads) {
  if (hidden == 0 || heads == 0 || hidden % heads != 0)
    config.fail("num_attention_heads", "hidden_size " + std::to_string(hidden) +
                                           " is not a positive multiple of num_attention_heads " +
                                           std::to_string(heads));
}

}  // namespace embed::models
