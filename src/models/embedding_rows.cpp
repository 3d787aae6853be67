#include "models/embedding_rows.hpp"

#include <string>

#include "embed/error.hpp"

namespace embed::models {

void check_sequence_length(std::size_t length, std::size_t max_positions) {
  if (length > max_positions)
    throw Error("sequence of " + std::to_string(length) + " tokens is longer than the model's " +
                std::to_string(max_positions) + " positions (max_position_embeddings)");
}

const float* word_embedding_row(const io::FloatTensor& table, std::size_t vocab, std::size_t width, int32_t id) {
  if (id < 0 || static_cast<std::size_t>(id) >= vocab)
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (vocab_size " + std::to_string(vocab) +
                ")");
  return table.data + static_cast<std::size_t>(id) * width;
}

const float* type_embedding_row(const io::FloatTensor& table, std::size_t types, std::size_t width, int32_t type) {
  if (type < 0 || static_cast<std::size_t>(type) >= types)
    throw Error("token type id " + std::to_string(type) + " is outside type_vocab_size " + std::to_string(types));
  return table.data + static_cast<std::size_t>(type) * width;
}

void add_row(float* out, const float* row, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) out[j] += row[j];
}

}  // namespace embed::models
