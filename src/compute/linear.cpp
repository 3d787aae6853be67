#include "compute/linear.hpp"

#include <cblas.h>

namespace embed::compute {

Linear::Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias)
    : weight_(std::move(weight)), bias_(std::move(bias)) {
  out_ = static_cast<std::size_t>(weight_.shape.at(0));
  in_ = static_cast<std::size_t>(weight_.shape.at(1));
}

void Linear::forward(const float* x, std::size_t rows, float* y) const {
  if (rows == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(out_),
              static_cast<int>(in_), 1.0f, x, static_cast<int>(in_), weight_.data, static_cast<int>(in_), 0.0f, y,
              static_cast<int>(out_));
  if (bias_) {
    const float* b = bias_->data;
    for (std::size_t r = 0; r < rows; ++r) {
      float* row = y + r * out_;
      for (std::size_t j = 0; j < out_; ++j) row[j] += b[j];
    }
  }
}

Linear load_linear(const io::WeightStore& weights, const std::string& name, std::size_t in, std::size_t out,
                   bool has_bias) {
  auto w = weights.get(name + ".weight", {static_cast<int64_t>(out), static_cast<int64_t>(in)});
  std::optional<io::FloatTensor> b;
  if (has_bias) b = weights.get(name + ".bias", {static_cast<int64_t>(out)});
  return Linear(std::move(w), std::move(b));
}

}  // namespace embed::compute
