#pragma once
// The config.json sizes every encoder here reads the same way, and the check they all make of them.
#include <cstddef>
#include <tuple>

#include "io/json.hpp"
#include "io/tensor_data.hpp"

namespace embed::models {

// (hidden_size, num_attention_heads, num_hidden_layers, intermediate_size, vocab_size), each a positive
// integer (num_hidden_layers may be 0), read in that order (so a config with several faults reports the same one first in every architecture); for
// std::tie(hidden_, heads_, layers_n_, intermediate_, vocab_) = read_encoder_sizes(config).
std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, std::size_t> read_encoder_sizes(
    const io::JsonObject& config);

// config.json's type_vocab_size (default `fallback`): the rows of the token-type embedding table. 0 means
// no table, and then the weights must not have one either (they would belong to another config).
std::size_t read_type_vocab_size(const io::JsonObject& config, const io::WeightStore& weights, int64_t fallback);

// Fails on num_attention_heads unless hidden_size is a positive multiple of it.
void require_heads_divide_hidden(const io::JsonObject& config, std::size_t hidden, std::size_t heads);

}  // namespace embed::models
