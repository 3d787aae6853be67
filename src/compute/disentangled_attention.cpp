#include "compute/disentangled_attention.hpp"

#include <algorithm>
#include <cblas.h>
#include <climits>

namespace embed::compute {

namespace {

// out[len, R] = x_h [len, head_dim] . pos_h[lo .. lo + R)^T
void project(const float* x, std::size_t ld, std::size_t len, const float* pos, std::size_t ld_pos, int32_t lo,
             std::size_t R, std::size_t head_dim, float* out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(len), static_cast<int>(R),
              static_cast<int>(head_dim), 1.0f, x, static_cast<int>(ld), pos + static_cast<std::size_t>(lo) * ld_pos,
              static_cast<int>(ld_pos), 0.0f, out, static_cast<int>(R));
}

}  // namespace

void disentangled_attention_bias(const DisentangledBiasArgs& a, std::size_t h, float* bias,
                                 std::vector<float>& scratch) {
  const std::size_t n = a.len;
  if (n == 0) return;
  if (!a.c2p_index && !a.p2c_index) {
    std::fill(bias, bias + n * n, 0.0f);
    return;
  }
  // Only the relative-position rows some distance of this sequence uses take part in the products.
  const std::size_t D = 2 * n - 1;
  int32_t lo = INT32_MAX, hi = INT32_MIN;
  for (const int32_t* index : {a.c2p_index, a.p2c_index}) {
    if (!index) continue;
    const auto [mn, mx] = std::minmax_element(index, index + D);
    lo = std::min(lo, *mn);
    hi = std::max(hi, *mx);
  }
  const auto R = static_cast<std::size_t>(hi - lo + 1);
  scratch.resize(n * R);
  float* rel = scratch.data();
  const std::size_t col = h * a.head_dim;
  if (a.c2p_index) {
    project(a.q + col, a.ld, n, a.pos_key + col, a.ld_pos, lo, R, a.head_dim, rel);
    for (std::size_t i = 0; i < n; ++i) {
      const float* row = rel + i * R;
      const int32_t* idx = a.c2p_index + (n - 1) + i;  // idx[-j]: the index of distance i - j
      float* o = bias + i * n;
      for (std::size_t j = 0; j < n; ++j) o[j] = row[*(idx - j) - lo] / a.scale;
    }
  } else {
    std::fill(bias, bias + n * n, 0.0f);
  }
  if (a.p2c_index) {
    project(a.k + col, a.ld, n, a.pos_query + col, a.ld_pos, lo, R, a.head_dim, rel);
    for (std::size_t i = 0; i < n; ++i) {
      const int32_t* idx = a.p2c_index + (n - 1) + i;
      float* o = bias + i * n;
      for (std::size_t j = 0; j < n; ++j) o[j] += rel[j * R + (*(idx - j) - lo)] / a.scale;
    }
  }
}

}  // namespace embed::compute
