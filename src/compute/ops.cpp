#include "compute/ops.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "compute/kernels.hpp"
#include "compute/threads.hpp"
#include "compute/workspace.hpp"

namespace embed::compute {

namespace {

// OpenBLAS only runs the small per-head products here, from inside our parallel loops: it must not start
// threads of its own (that would oversubscribe the cores our pool and oneDNN already use).
void configure_blas() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

// One head of one sequence: out_h = softmax(scale * q_h k_h^T + bias_h) v_h.
void attention_head(const AttentionArgs& a, std::size_t h, float* scores) {
  const int n = static_cast<int>(a.len), d = static_cast<int>(a.head_dim);
  const float* q = a.q + h * a.head_dim;
  const float* k = a.k + h * a.head_dim;
  const float* v = a.v + h * a.head_dim;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, a.scale, q, static_cast<int>(a.ld), k,
              static_cast<int>(a.ld), 0.0f, scores, n);
  const float* bias = a.bias ? a.bias + h * a.len * a.len : nullptr;
  for (std::size_t i = 0; i < a.len; ++i) {
    float* row = scores + i * a.len;
    if (bias)
      for (std::size_t j = 0; j < a.len; ++j) row[j] += bias[i * a.len + j];
    kernels::scaled_softmax_row(row, a.len, 1.0f);
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, d, n, 1.0f, scores, n, v, static_cast<int>(a.ld), 0.0f,
              a.out + h * a.head_dim, static_cast<int>(a.ld_out));
}

}  // namespace

void add_layer_norm(float* x, const float* residual, std::size_t rows, std::size_t dim, const float* gamma,
                    const float* beta, float eps) {
  parallel_for(rows, 16, [&](std::size_t b, std::size_t e, int) {
    for (std::size_t r = b; r < e; ++r)
      kernels::add_layer_norm_row(x + r * dim, residual ? residual + r * dim : nullptr, dim, gamma, beta, eps);
  });
}

void softmax(float* row, std::size_t n) { kernels::scaled_softmax_row(row, n, 1.0f); }

void attention(const AttentionArgs& a, std::vector<float>& scratch) {
  configure_blas();
  if (a.len == 0) return;
  if (current_threads() <= 1 || a.heads == 1) {
    scratch.resize(a.len * a.len);
    for (std::size_t h = 0; h < a.heads; ++h) attention_head(a, h, scratch.data());
    return;
  }
  parallel_for(a.heads, 1, [&](std::size_t b, std::size_t e, int) {
    float* scores = thread_workspace().floats(Workspace::kAttention, a.len * a.len);
    for (std::size_t h = b; h < e; ++h) attention_head(a, h, scores);
  });
}

void attention_packed(const PackedAttentionArgs& a) {
  configure_blas();
  const std::size_t nseq = a.sequences, items = nseq * a.heads;
  // Work items (sequence, head), longest sequences first so the threads finish together.
  parallel_for(items, 1, [&](std::size_t b, std::size_t e, int) {
    Workspace& ws = thread_workspace();
    for (std::size_t i = b; i < e; ++i) {
      const std::size_t s = i / a.heads, h = i % a.heads;
      const std::size_t off = a.offsets[s], len = a.offsets[s + 1] - off;
      if (len == 0) continue;
      AttentionArgs one{a.q + off * a.ld, a.k + off * a.ld, a.v + off * a.ld, a.ld, len, a.heads, a.head_dim,
                        a.scale, nullptr, a.out + off * a.ld_out, a.ld_out};
      attention_head(one, h, ws.floats(Workspace::kAttention, len * len));
    }
  });
}

}  // namespace embed::compute
