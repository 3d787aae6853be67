#include "support/fixture.hpp"

#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "support/test_support.hpp"

namespace embed::testing {

ModelFixture::ModelFixture(const std::string& name) : name_(name) {
  expected_ = read_json_file(data_path("models/" + name + "/expected.json"));
  tensors_ = io::open_safetensors(data_path("models/" + name + "/expected.safetensors"));
}

std::string ModelFixture::dir() const { return data_path("models/" + name_).string(); }

bool ModelFixture::has_tensor(const std::string& name) const { return tensors_->tensors().count(name) > 0; }

std::vector<double> ModelFixture::tensor(const std::string& name) const {
  auto it = tensors_->tensors().find(name);
  if (it == tensors_->tensors().end()) throw std::runtime_error("expected.safetensors has no tensor " + name);
  const auto& t = it->second;
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == io::DType::F32) {
      float f;
      std::memcpy(&f, t.data + 4 * i, 4);
      out[i] = f;
    } else if (t.dtype == io::DType::F64) {
      std::memcpy(&out[i], t.data + 8 * i, 8);
    } else if (t.dtype == io::DType::I64) {
      int64_t v;
      std::memcpy(&v, t.data + 8 * i, 8);
      out[i] = static_cast<double>(v);
    } else {
      throw std::runtime_error("unexpected dtype in expected.safetensors: " + name);
    }
  }
  return out;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return a.size() == b.size() ? m : INFINITY;
}

double cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    dot += a[i] * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += b[i] * b[i];
  }
  return dot / (std::sqrt(na) * std::sqrt(nb) + 1e-300);
}

}  // namespace embed::testing
