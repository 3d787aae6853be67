#pragma once
// The rows an encoder's embedding layer sums, looked up with the checks every architecture needs: a
// sequence must fit the position table, and each token id / token type id must index its table. The
// errors give the offending value and the config field it is measured against.
#include <cstddef>
#include <cstdint>

#include "io/tensor_data.hpp"

namespace embed::models {

// Throws when a sequence of `length` tokens is longer than the model's `max_positions`.
void check_sequence_length(std::size_t length, std::size_t max_positions);

// Row `id` of the word embeddings ([vocab, width]); throws for an id outside the vocabulary.
const float* word_embedding_row(const io::FloatTensor& table, std::size_t vocab, std::size_t width, int32_t id);

// Row `type` of the token type embeddings ([types, width]); throws for a type outside type_vocab_size.
const float* type_embedding_row(const io::FloatTensor& table, std::size_t types, std::size_t width, int32_t type);

// out[j] += row[j] for j < n.
void add_row(float* out, const float* row, std::size_t n);

}  // namespace embed::models
