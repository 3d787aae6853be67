#pragma once
// sentence-transformers Dense module (2_Dense/): a linear layer plus an activation on sentence vectors.
#include <filesystem>
#include <memory>
#include <vector>

#include "compute/activation.hpp"
#include "compute/linear.hpp"

namespace embed::pipeline {

class DenseModule {
 public:
  // Reads <dir>/config.json (in_features, out_features, bias, activation_function) and its weights.
  explicit DenseModule(const std::filesystem::path& dir);
  std::size_t in_features() const { return linear_.in_features(); }
  std::size_t out_features() const { return linear_.out_features(); }
  // in: [rows, in_features] -> out: [rows, out_features]
  void forward(const float* in, std::size_t rows, float* out) const;

 private:
  std::vector<std::shared_ptr<io::TensorSource>> sources_;  // keeps the weights mapped
  compute::Linear linear_;
  compute::Activation activation_ = compute::Activation::Tanh;
};

}  // namespace embed::pipeline
