#pragma once
// Reading a model fixture (tests/data/models/<name>): expected.json and expected.safetensors.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "embed/model.hpp"
#include "io/tensor_data.hpp"

namespace embed::testing {

class ModelFixture {
 public:
  explicit ModelFixture(const std::string& name);
  std::string dir() const;
  const nlohmann::json& expected() const { return expected_; }
  const nlohmann::json& text(std::size_t i) const { return expected_["texts"][i]; }
  std::size_t num_texts() const { return expected_["texts"].size(); }
  bool has_tensor(const std::string& name) const;
  // A tensor of expected.safetensors as doubles (F32, F64 and I64 accepted).
  std::vector<double> tensor(const std::string& name) const;

 private:
  std::string name_;
  nlohmann::json expected_;
  std::shared_ptr<io::TensorSource> tensors_;
};

// Every pooling mode with the name its fixture tensors carry: text.<i>.pooled.<name>.f64.
inline constexpr std::pair<const char*, embed::PoolingMode> kFixturePoolingModes[] = {
    {"cls", embed::PoolingMode::Cls},
    {"mean", embed::PoolingMode::Mean},
    {"max", embed::PoolingMode::Max},
    {"mean_sqrt_len_tokens", embed::PoolingMode::MeanSqrtLen},
    {"weightedmean", embed::PoolingMode::WeightedMean},
    {"lasttoken", embed::PoolingMode::LastToken}};

// max |a[i] - b[i]|; fails the calling test when the sizes differ.
double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b);
double cosine(const std::vector<float>& a, const std::vector<double>& b);

}  // namespace embed::testing
