#pragma once
// fp32 GEMM for a few rows (one short text at batch 1), over the weights oneDNN packed for its own GEMM.
//
// Why: with few rows, each weight is used only a few times, so a layer runs at the speed its weights
// arrive from memory (a model's weights do not fit in the caches). oneDNN's kernel reads each panel of
// weights in one burst, then re-reads it from cache for the other rows; this one spreads the reads of the
// next chunk of weights over all the row blocks of the current one (software prefetch), so memory streams
// at an even rate under the arithmetic. Measured on the MiniLM shape at 24-48 rows, weights cold:
// 200-229 GFLOP/s against oneDNN's 160-200 (one core of an AMD Zen 5, AVX-512; peak ~235).
#include <cstddef>

#include "compute/activation.hpp"

namespace embed::compute {

// fp32 weights W [k, n] in oneDNN's AVX-512 matmul layout "16a64b": panels of 64 output columns, each
// k_padded rows of 64 floats (k rounded up to 16, n to 64, the padding zeros).
struct PanelWeights {
  const float* data = nullptr;
  std::size_t k = 0, n = 0, k_padded = 0;
};

// Rows up to which Linear uses small_gemm (MiniLM shape, weights cold, 1 and 2 threads: +10-25 % over
// oneDNN at 24-56 rows, equal at 64).
constexpr std::size_t kSmallGemmMaxRows = 64;

// Whether this CPU runs small_gemm (AVX-512F).
bool small_gemm_available();

// y[rows, n] = act(x[rows, k] W + bias) (bias: n values or null), on current_threads() threads, each
// taking whole panels. Each output is summed over k in order with fused multiply-adds, then the bias is
// added; GELU (erf form) is computed with the Abramowitz-Stegun 7.1.26 erfc (|error| <= 1.5e-7), other
// activations as apply_activation does. `after`: the weights of the GEMM expected to run next on this
// thread, or null; each thread's last panel prefetches the start of its share of them (a hint only: any
// value, even stale, gives the same result).
void small_gemm(const float* x, std::size_t rows, const PanelWeights& w, const float* bias, Activation act,
                float* y, const PanelWeights* after = nullptr);

}  // namespace embed::compute
