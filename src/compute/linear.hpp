#pragma once
// A fully connected layer y = x W^T + b over a packed [rows, in] activation matrix. The weights are
// the model file's (memory-mapped); faster kernels replace the implementation, not the interface.
#include <cstddef>
#include <optional>

#include "io/tensor_data.hpp"

namespace embed::compute {

class Linear {
 public:
  Linear() = default;
  // weight: [out, in] as PyTorch stores nn.Linear; bias: [out] or none.
  Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias);

  // y[rows, out] = x[rows, in] W^T + b
  void forward(const float* x, std::size_t rows, float* y) const;
  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }

 private:
  io::FloatTensor weight_;
  std::optional<io::FloatTensor> bias_;
  std::size_t in_ = 0, out_ = 0;
};

// Reads "<name>.weight" [out, in] and "<name>.bias" [out] (bias required unless has_bias is false).
Linear load_linear(const io::WeightStore& weights, const std::string& name, std::size_t in, std::size_t out,
                   bool has_bias = true);

}  // namespace embed::compute
