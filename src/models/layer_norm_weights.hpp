#pragma once
// LayerNorm parameters as transformers saves them: <name>.weight (gamma) and <name>.bias (beta).
#include <cstdint>
#include <string>

#include "io/tensor_data.hpp"

namespace embed::models {

struct LayerNormWeights {
  io::FloatTensor gamma, beta;
};

// Copied out of the weights file (WeightStore::get_owned): read on every forward pass.
inline LayerNormWeights load_layer_norm(const io::WeightStore& w, const std::string& name, int64_t dim) {
  return {w.get_owned(name + ".weight", {dim}), w.get_owned(name + ".bias", {dim})};
}

}  // namespace embed::models
