#pragma once
// The config.json sizes every encoder here reads the same way, and the check they all make of them.
#include <cstddef>
#include <tuple>

#include "io/json.hpp"

namespace embed::models {

// (hidden_size, num_attention_heads, num_hidden_layers, intermediate_size, vocab_size), read in that
// order (so a config with several faults reports the same one first in every architecture); for
// std::tie(hidden_, heads_, layers_n_, intermediate_, vocab_) = read_encoder_sizes(config).
std::tuple<std::size_t, std::size_t, std::size_t, std::size_t, std::size_t> read_encoder_sizes(
    const io::JsonObject& config);

// Fails on num_attention_heads unless hidden_size is a positive multiple of it.
void require_heads_divide_hidden(const io::JsonObject& config, std::size_t hidden, std::size_t heads);

}  // namespace embed::models
