#include "compute/ops.hpp"

#include <algorithm>
#include <cblas.h>
#include <cmath>

namespace embed::compute {

void add_layer_norm(float* x, const float* residual, std::size_t rows, std::size_t dim, const float* gamma,
                    const float* beta, float eps) {
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = x + r * dim;
    if (residual) {
      const float* res = residual + r * dim;
      for (std::size_t j = 0; j < dim; ++j) row[j] += res[j];
    }
    float mean = 0.0f;
    for (std::size_t j = 0; j < dim; ++j) mean += row[j];
    mean /= static_cast<float>(dim);
    float var = 0.0f;
    for (std::size_t j = 0; j < dim; ++j) {
      float d = row[j] - mean;
      var += d * d;
    }
    var /= static_cast<float>(dim);
    const float inv = 1.0f / std::sqrt(var + eps);
    for (std::size_t j = 0; j < dim; ++j) row[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
  }
}

void softmax(float* row, std::size_t n) {
  if (n == 0) return;
  float m = *std::max_element(row, row + n);
  float sum = 0.0f;
  for (std::size_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - m);
    sum += row[j];
  }
  const float inv = 1.0f / sum;
  for (std::size_t j = 0; j < n; ++j) row[j] *= inv;
}

void attention(const AttentionArgs& a, std::vector<float>& scratch) {
  const int n = static_cast<int>(a.len), d = static_cast<int>(a.head_dim);
  scratch.resize(a.len * a.len);
  float* scores = scratch.data();
  for (std::size_t h = 0; h < a.heads; ++h) {
    const float* q = a.q + h * a.head_dim;
    const float* k = a.k + h * a.head_dim;
    const float* v = a.v + h * a.head_dim;
    // scores = scale * Q K^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, a.scale, q, static_cast<int>(a.ld), k,
                static_cast<int>(a.ld), 0.0f, scores, n);
    const float* bias = a.bias ? a.bias + h * a.len * a.len : nullptr;
    for (std::size_t i = 0; i < a.len; ++i) {
      float* row = scores + i * a.len;
      if (bias)
        for (std::size_t j = 0; j < a.len; ++j) row[j] += bias[i * a.len + j];
      softmax(row, a.len);
    }
    // out_h = P V
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, scores, n, v, static_cast<int>(a.ld), 0.0f,
                a.out + h * a.head_dim, static_cast<int>(a.ld_out));
  }
}

}  // namespace embed::compute
