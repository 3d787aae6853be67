#pragma once
// int8 GEMM on AVX512-VNNI over the weights oneDNN packed for its own int8 GEMM, handing back dequantized
// fp32 rows (CPUs with AMX run amx_gemm instead).
//
// Why: at batch 1 a text makes 4 int8 GEMM calls per layer, each of a few dozen rows; through oneDNN about
// 6 % of the time went to each call's dispatch (4.3 % in libdnnl, 1.4 % in our primitive cache), and its
// kernel left the weights to arrive on demand; this one prefetches the next panel while it reads the
// current one from cache. At batch 32 it saves the int32 results' round trip through memory: each output
// is dequantized (and GELU applied) in registers. Paired A/B on an AMD Zen 5, oneDNN + dequantization
// pass took per text at batch 1, MiniLM: 1.21x (1 thread) / 1.20x (2 threads) the time; MPNet-base 1.04x;
// per pass at batch 32: MiniLM 1.056x / 1.048x, MPNet-base 1.059x. The sums are exact integers and the
// dequantization the same arithmetic, so the outputs are oneDNN's path's bit for bit.
#include <cstddef>
#include <cstdint>

namespace embed::compute {

// s8 weights W [k, n] in oneDNN's VNNI layout "BA16a64b4a": panels of 64 output columns, each k_padded / 4
// groups of 64 columns x 4 consecutive k (256 bytes), k padded to 64 and n to 64 with zeros.
struct VnniPanels {
  const int8_t* data = nullptr;
  std::size_t k = 0, n = 0, k_padded = 0;
};

// How the exact int32 sums become fp32 outputs as the kernel stores them: kernels::dequantize_row's formula
// (per-row activation scale and zero point; per-column weight scale, zero-point correction and bias), then
// GELU as kernels::activation_fast computes it when `gelu`. The same floats as those two run afterwards.
struct VnniDequantization {
  const float* row_scale = nullptr;  // per row of x
  const int32_t* row_zero_point = nullptr;
  const float* wscale = nullptr;  // per column
  const float* wcolsum = nullptr;
  const float* bias = nullptr;  // null: none
  bool gelu = false;
};

// Whether this CPU runs vnni_int8_gemm (AVX-512 with VNNI).
bool vnni_gemm_available();

// y[rows, n] (fp32) = the int32 sums x[rows, k] W dequantized as `dq` says (x: u8 codes, rows k bytes
// apart; k a multiple of 4), on current_threads() threads, each taking a contiguous range of panels.
void vnni_int8_gemm(const uint8_t* x, std::size_t rows, const VnniPanels& w, const VnniDequantization& dq, float* y);

}  // namespace embed::compute
