#pragma once
// GEMMs on AVX-512's dot-product instructions, over the weights oneDNN packed for its own GEMM: int8 on
// VNNI (vpdpbusd: 4 u8 x s8 products into each int32 lane), bf16 on AVX512-BF16 (vdpbf16ps: 2 bf16
// products into each fp32 lane), and fp32 with one fused multiply-add per k for more rows than
// small_gemm takes. Each output tile is finished in registers as it is stored (int8: dequantized; all:
// bias, GELU; bf16: written as fp32 or bf16). CPUs with AMX run amx_gemm for int8 and bf16 instead.
//
// Why: at batch 1 a text makes 4 GEMM calls per layer, each of a few dozen rows; through oneDNN about 6 %
// of the time went to each call's dispatch (4.3 % in libdnnl, 1.4 % in our primitive cache), and its
// kernel left the weights to arrive on demand; these prefetch the next panel while they read the current
// one from cache. At batch 32 the int8 results no longer make a round trip through memory to be
// dequantized. Paired A/B on an AMD Zen 5, int8, oneDNN + dequantization pass against the kernel, per text
// at batch 1: MiniLM 1.21x (1 thread) / 1.20x (2 threads) the time, MPNet-base 1.04x; per pass at batch
// 32: MiniLM 1.056x / 1.048x, MPNet-base 1.059x. bf16, oneDNN (bias and GELU fused in its kernel) against
// the kernel: batch 1 MiniLM 1.13x / 1.12x; batch 32 MiniLM 1.053x / 1.051x, MPNet-base 1.105x. int8 sums
// are exact integers and the dequantization the same arithmetic, so int8 outputs are oneDNN's path's bit
// for bit; bf16 sums the same products in another order (and GELU is activation_fast's), cosine to fp32
// unchanged (min 0.999999 over sentences.txt, MiniLM).
#include <cstddef>
#include <cstdint>

namespace embed::compute {

// Weights W [k, n] in oneDNN's layout for these instructions: panels of 64 output columns, each
// k_padded / g groups of g consecutive k for the 64 columns (256 bytes), g = 4 for s8 ("BA16a64b4a"),
// 2 for bf16 ("BA16a64b2a"); k and n padded with zeros.
struct DotPanels {
  const void* data = nullptr;
  std::size_t k = 0, n = 0, k_padded = 0;
};

// How the exact int32 sums become fp32 outputs: kernels::dequantize_row's formula (per-row activation
// scale and zero point; per-column weight scale, zero-point correction and bias), then GELU as
// kernels::activation_int8 computes it when `gelu`. The same floats as those two run afterwards.
struct Int8Dequantization {
  const float* row_scale = nullptr;  // per row of x
  const int32_t* row_zero_point = nullptr;
  const float* wscale = nullptr;  // per column
  const float* wcolsum = nullptr;
  const float* bias = nullptr;  // null: none
  bool gelu = false;
  bool bf16_out = false;  // write bf16 (round to nearest even, as kernels::to_bf16), else fp32; needs AVX512-BF16

  // The same for the rows of x from r0 on (the per-row terms advanced; the per-column ones stay).
  Int8Dequantization from_row(std::size_t r0) const {
    Int8Dequantization d = *this;
    d.row_scale += r0;
    d.row_zero_point += r0;
    return d;
  }
};

// How the fp32 sums of the bf16 GEMM become outputs: + bias (null: none), GELU (as activation_fast) when
// `gelu`, written as bf16 (round to nearest even) when `bf16_out`, else fp32.
struct Bf16Output {
  const float* bias = nullptr;
  bool gelu = false;
  bool bf16_out = false;
};

// Whether this CPU runs int8_dot_gemm (AVX-512 with VNNI) / bf16_dot_gemm (AVX-512 with BF16).
bool int8_dot_available();
bool bf16_dot_available();

// y[rows, n] (fp32, or bf16 as dq says) = the int32 sums x[rows, k] W dequantized as `dq` says (x: u8 codes,
// rows k bytes apart; k a multiple of 4), on current_threads() threads, each taking a contiguous range of
// panels.
void int8_dot_gemm(const uint8_t* x, std::size_t rows, const DotPanels& w, const Int8Dequantization& dq, void* y);

// y[rows, n] = x[rows, k] W + bias (null: none), GELU as small_gemm computes it when `gelu`, in fp32 over
// oneDNN's fp32 panels ("16a64b", 1 k per group): each output summed over k in order with fused
// multiply-adds, as small_gemm sums it, so the two give the same floats. (small_gemm keeps the few-row
// calls: its prefetch streams the weights from memory better; this kernel at batch 1 took 1.080x / 1.018x
// its time at 1 / 2 threads, MiniLM.)
void f32_dot_gemm(const float* x, std::size_t rows, const DotPanels& w, const float* bias, bool gelu, float* y);

// y[rows, n] = x[rows, k] W finished as `out` says (x: bf16 bits, rows k values apart; k even; y: fp32 or
// bf16 values, rows n apart), on current_threads() threads, each taking a contiguous range of panels.
void bf16_dot_gemm(const uint16_t* x, std::size_t rows, const DotPanels& w, const Bf16Output& out, void* y);

}  // namespace embed::compute
