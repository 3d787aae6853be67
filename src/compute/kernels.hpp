#pragma once
// Vectorized row kernels, compiled for several x86-64 levels (AVX-512, AVX2, baseline) and picked at run
// time by the CPU's features (GCC target_clones), so one binary runs on any x86-64.
#include <cstddef>
#include <cstdint>

#include "compute/activation.hpp"

namespace embed::compute::kernels {

// Round-to-nearest-even float -> bfloat16 bits.
void to_bf16(const float* x, uint16_t* y, std::size_t n);

// Asymmetric per-row quantization to [0, qmax]: x ~ scale * (q - zero_point); 0 is exact.
void quantize_u8(const float* x, std::size_t n, int qmax, uint8_t* q, float* scale, int32_t* zero_point);

// Dequantizes one row of an int8 GEMM: y[j] = scale * (wscale[j] * acc[j] - zp * wcolsum[j]) + bias[j],
// where wcolsum[j] = wscale[j] * (sum over the input of the quantized weights of output j) removes the
// activations' zero point (bias may be null).
void dequantize_row(const int32_t* acc, std::size_t n, float scale, int32_t zp, const float* wscale,
                    const float* wcolsum, const float* bias, float* y);

// Fast element-wise activation (|error| ~1e-6 for the GELUs); for the reduced-precision paths.
void activation_fast(Activation act, float* x, std::size_t n);

// activation_fast for the outputs of int8 layers, which are quantized next: GELU as avx512::gelu_poly16
// (|error| <= 2.1e-4) where AVX-512 runs, the same floats as dot_gemm's int8 kernel gives.
void activation_int8(Activation act, float* x, std::size_t n);

// x = LayerNorm(x + residual) * gamma + beta for one row (residual may be null), computed in fp32 as
// torch does (two-pass mean / variance).
void add_layer_norm_row(float* x, const float* residual, std::size_t dim, const float* gamma, const float* beta,
                        float eps);

// add_layer_norm_row over `rows` consecutive rows (`dim` floats apart), several rows at a time where the
// CPU allows (AVX-512, dim a multiple of 16).
void add_layer_norm_rows(float* x, const float* residual, std::size_t rows, std::size_t dim, const float* gamma,
                         const float* beta, float eps);

// Numerically stable in-place softmax of one row, scaled by `scale` first: softmax(scale * x).
void scaled_softmax_row(float* x, std::size_t n, float scale);

}  // namespace embed::compute::kernels
