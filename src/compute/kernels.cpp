#include "compute/kernels.hpp"

#include <cmath>
#include <cstring>
#include <immintrin.h>

#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"

// Each hot loop is compiled for AVX-512, AVX2+FMA and the x86-64 baseline; the loader picks one by CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EMBED_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EMBED_MULTIVERSION
#endif

namespace embed::compute::kernels {

namespace {

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// exp(x) for x in about [-87, 88], ~1 ulp (Cephes expf polynomial), written so the compiler vectorizes it.
inline float exp_approx(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  const float fx = std::nearbyint(x * 1.44269504088896341f);
  float r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t n = static_cast<int32_t>(fx);
  return p * from_bits(static_cast<uint32_t>(n + 127) << 23);
}

// erf(x), |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26).
inline float erf_approx(float x) {
  const float a = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * exp_approx(-a * a);
  return x < 0.0f ? -y : y;
}

inline float tanh_approx(float x) {
  // tanh(x) = 1 - 2 / (exp(2x) + 1)
  const float e = exp_approx(2.0f * x);
  return 1.0f - 2.0f / (e + 1.0f);
}

}  // namespace

namespace {

EMBED_MULTIVERSION
void to_bf16_generic(const float* x, uint16_t* y, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    uint32_t u = bits(x[i]);
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even (inputs are finite)
    y[i] = static_cast<uint16_t>(u >> 16);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// AVX512-BF16's conversion instruction: the same rounding (nearest even) in one instruction per 16 values
// (it flushes denormal inputs, below 1.2e-38, to zero).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_avx512(const float* x, uint16_t* y, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = avx512::tail_mask(n - i);
    const __m256bh b = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, x + i));
    _mm256_mask_storeu_epi16(y + i, mask, reinterpret_cast<const __m256i&>(b));
  }
}
#endif

}  // namespace

void to_bf16(const float* x, uint16_t* y, std::size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_features().avx512_bf16) return to_bf16_avx512(x, y, n);
#endif
  to_bf16_generic(x, y, n);
}

namespace {

// The affine map of a row onto [0, qmax], shared by the generic and AVX-512 quantizers: lo / hi (the
// vectorized part's minimum / maximum, both started at 0 so the range holds 0) finished over the scalar
// tail x[i, n), then scale = (hi - lo) / qmax (1 for an all-zero row) and the zero point round(-lo / scale).
struct U8Affine {
  float scale, inv, fzp, fmax;
  int32_t zero_point;
};
inline U8Affine u8_affine(const float* x, std::size_t i, std::size_t n, float lo, float hi, int qmax) {
  for (; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float s = (hi - lo) / static_cast<float>(qmax);
  if (!(s > 0.0f)) s = 1.0f;
  const float inv = 1.0f / s;
  int32_t zp = static_cast<int32_t>(std::nearbyint(-lo * inv));
  zp = zp < 0 ? 0 : (zp > qmax ? qmax : zp);
  return {s, inv, static_cast<float>(zp), static_cast<float>(qmax), zp};
}

EMBED_MULTIVERSION
void quantize_u8_generic(const float* x, std::size_t n, int qmax, uint8_t* q, float* scale, int32_t* zero_point) {
  // 16 partial minima / maxima so the reduction vectorizes (min/max are exact in any order).
  float los[16] = {}, his[16] = {};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) {
      los[k] = x[i + k] < los[k] ? x[i + k] : los[k];
      his[k] = x[i + k] > his[k] ? x[i + k] : his[k];
    }
  float lo = 0.0f, hi = 0.0f;
  for (int k = 0; k < 16; ++k) {
    lo = los[k] < lo ? los[k] : lo;
    hi = his[k] > hi ? his[k] : hi;
  }
  const U8Affine a = u8_affine(x, i, n, lo, hi, qmax);
  const float s = a.scale, inv = a.inv, fzp = a.fzp, fmax = a.fmax;
  const int32_t zp = a.zero_point;
  for (i = 0; i < n; ++i) {
    float v = std::nearbyint(x[i] * inv) + fzp;
    v = v < 0.0f ? 0.0f : (v > fmax ? fmax : v);
    q[i] = static_cast<uint8_t>(static_cast<int32_t>(v));
  }
  *scale = s;
  *zero_point = zp;
}

#if defined(__x86_64__) && defined(__GNUC__)
EMBED_AVX512_KERNELS_BEGIN
// round(x * inv) + zero_point on 16 lanes, as 32-bit integers (rounding to nearest even).
__attribute__((target("avx512f"))) inline __m512i u8_codes16(const float* x, __m512 inv, __m512i zero_point) {
  return _mm512_add_epi32(
      _mm512_cvt_roundps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x), inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
      zero_point);
}

// The same computation with explicit AVX-512 F + BW (the min/max reduction does not auto-vectorize).
__attribute__((target("avx512f,avx512bw"))) void quantize_u8_avx512(const float* x, std::size_t n, int qmax,
                                                                    uint8_t* q, float* scale, int32_t* zero_point) {
  // Four independent minimum / maximum chains (exact in any order): one chain is a row-long sequence of
  // dependent instructions, and rows are short (384 values: 24 steps).
  __m512 vlo[4], vhi[4];
  for (int k = 0; k < 4; ++k) vlo[k] = vhi[k] = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int k = 0; k < 4; ++k) {
      const __m512 v = _mm512_loadu_ps(x + i + 16 * k);
      vlo[k] = _mm512_min_ps(vlo[k], v);
      vhi[k] = _mm512_max_ps(vhi[k], v);
    }
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    vlo[0] = _mm512_min_ps(vlo[0], v);
    vhi[0] = _mm512_max_ps(vhi[0], v);
  }
  const __m512 vmin = _mm512_min_ps(_mm512_min_ps(vlo[0], vlo[1]), _mm512_min_ps(vlo[2], vlo[3]));
  const __m512 vmaxs = _mm512_max_ps(_mm512_max_ps(vhi[0], vhi[1]), _mm512_max_ps(vhi[2], vhi[3]));
  float lo = _mm512_reduce_min_ps(vmin), hi = _mm512_reduce_max_ps(vmaxs);
  const U8Affine a = u8_affine(x, i, n, lo, hi, qmax);
  const float s = a.scale, inv = a.inv, fzp = a.fzp, fmax = a.fmax;
  const int32_t zp = a.zero_point;
  const __m512 vinv = _mm512_set1_ps(inv), vzp = _mm512_set1_ps(fzp), vmax = _mm512_set1_ps(fmax),
               vzero = _mm512_setzero_ps();
  // 64 at a time: round to nearest even while converting, add the zero point as an integer, and let the
  // saturating packs (i32 -> u16 -> u8) clamp to [0, 255] (the same codes as the 16-lane loop below).
  const __m512i vzpi = _mm512_set1_epi32(zp), vqmax = _mm512_set1_epi8(static_cast<char>(qmax));
  // After the two packs, each 128-bit lane holds 4 codes of each of the 4 vectors: put them back in order.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (i = 0; i + 64 <= n; i += 64) {
    const __m512i lo16 = _mm512_packus_epi32(u8_codes16(x + i, vinv, vzpi), u8_codes16(x + i + 16, vinv, vzpi));
    const __m512i hi16 = _mm512_packus_epi32(u8_codes16(x + i + 32, vinv, vzpi), u8_codes16(x + i + 48, vinv, vzpi));
    __m512i q8 = _mm512_permutexvar_epi32(order, _mm512_packus_epi16(lo16, hi16));
    if (qmax < 255) q8 = _mm512_min_epu8(q8, vqmax);
    _mm512_storeu_si512(q + i, q8);
  }
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vzp), vzero), vmax);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
  }
  for (; i < n; ++i) {
    float v = std::nearbyint(x[i] * inv) + fzp;
    v = v < 0.0f ? 0.0f : (v > fmax ? fmax : v);
    q[i] = static_cast<uint8_t>(static_cast<int32_t>(v));
  }
  *scale = s;
  *zero_point = zp;
}
EMBED_AVX512_KERNELS_END
#endif

}  // namespace

void quantize_u8(const float* x, std::size_t n, int qmax, uint8_t* q, float* scale, int32_t* zero_point) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_features().avx512) return quantize_u8_avx512(x, n, qmax, q, scale, zero_point);
#endif
  quantize_u8_generic(x, n, qmax, q, scale, zero_point);
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
EMBED_AVX512_KERNELS_BEGIN
// dequantize_row with AVX-512, written out: int8_dot_gemm's fused epilogue computes the same floats
// with the same avx512::dequantize16, not with whatever contraction a compiler picks for the loop below.
__attribute__((target("avx512f"))) void dequantize_row_avx512(const int32_t* acc, std::size_t n, float scale,
                                                              int32_t zp, const float* wscale, const float* wcolsum,
                                                              const float* bias, float* y) {
  const __m512 vscale = _mm512_set1_ps(scale), vzp = _mm512_set1_ps(static_cast<float>(zp));
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 mask = avx512::tail_mask(n - j);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + j) : _mm512_setzero_ps();
    const __m512 v = avx512::dequantize16(_mm512_maskz_loadu_epi32(mask, acc + j), vscale, vzp,
                                          _mm512_maskz_loadu_ps(mask, wscale + j),
                                          _mm512_maskz_loadu_ps(mask, wcolsum + j), bias ? &b : nullptr);
    _mm512_mask_storeu_ps(y + j, mask, v);
  }
}
EMBED_AVX512_KERNELS_END
}  // namespace
#endif

EMBED_MULTIVERSION
void dequantize_row(const int32_t* acc, std::size_t n, float scale, int32_t zp, const float* wscale,
                    const float* wcolsum, const float* bias, float* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (cpu_features().avx512) return dequantize_row_avx512(acc, n, scale, zp, wscale, wcolsum, bias, y);
#endif
  // All in float: no 32-bit integer multiply (slow on every x86) per element.
  const float zero_point = static_cast<float>(zp);
  if (bias) {
    for (std::size_t j = 0; j < n; ++j)
      y[j] = scale * (wscale[j] * static_cast<float>(acc[j]) - zero_point * wcolsum[j]) + bias[j];
  } else {
    for (std::size_t j = 0; j < n; ++j) y[j] = scale * (wscale[j] * static_cast<float>(acc[j]) - zero_point * wcolsum[j]);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
EMBED_AVX512_KERNELS_BEGIN
// GELU over a row, the tail done by a lane mask. The scalar formula below (an exponential and a division
// per value, even vectorized) cost about as much as the int8 GEMM feeding it; gelu_erf16 needs neither.
template <__m512 (*Gelu)(__m512)>
__attribute__((target("avx512f"))) void gelu_avx512(float* x, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __mmask16 mask = avx512::tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, mask, Gelu(_mm512_maskz_loadu_ps(mask, x + i)));
  }
}
EMBED_AVX512_KERNELS_END
}  // namespace
#endif

EMBED_MULTIVERSION
void activation_fast(Activation act, float* x, std::size_t n) {
  switch (act) {
    case Activation::Gelu:
#if defined(__x86_64__) && defined(__GNUC__)
      if (cpu_features().avx512) return gelu_avx512<avx512::gelu_erf16>(x, n);
#endif
      for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + erf_approx(x[i] * 0.70710678118654752440f));
      return;
    case Activation::GeluNew:
    case Activation::GeluFast:
      for (std::size_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanh_approx(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::Relu:
      for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::Tanh:
      for (std::size_t i = 0; i < n; ++i) x[i] = tanh_approx(x[i]);
      return;
    case Activation::Silu:
      for (std::size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + exp_approx(-x[i]));
      return;
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + exp_approx(-x[i]));
      return;
    case Activation::Identity:
      return;
  }
}

void activation_int8(Activation act, float* x, std::size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (act == Activation::Gelu && cpu_features().avx512) return gelu_avx512<avx512::gelu_poly16>(x, n);
#endif
  activation_fast(act, x, n);
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {
EMBED_AVX512_KERNELS_BEGIN
// The 16 lanes summed in lane order, as add_layer_norm_row sums its 16 partial sums.
__attribute__((target("avx512f"))) inline float ordered_sum16(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float sum = 0.0f;
  for (int k = 0; k < 16; ++k) sum += lanes[k];
  return sum;
}

// add_layer_norm_row for R consecutive rows in lockstep (dim a multiple of 16). Each row's sums are
// chains of dependent additions; interleaving rows overlaps their latencies (a row of 384 took ~400
// cycles alone). Per row, the same operations in the same order as add_layer_norm_row.
template <int R>
__attribute__((target("avx512f"))) void add_layer_norm_block(float* x, const float* residual, std::size_t dim,
                                                             const float* gamma, const float* beta, float eps) {
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (std::size_t j = 0; j < dim; j += 16)
    for (int r = 0; r < R; ++r) {
      __m512 v = _mm512_loadu_ps(x + r * dim + j);
      if (residual) {
        v = _mm512_add_ps(v, _mm512_loadu_ps(residual + r * dim + j));
        _mm512_storeu_ps(x + r * dim + j, v);
      }
      acc[r] = _mm512_add_ps(acc[r], v);
    }
  __m512 mean[R], vacc[R];
  for (int r = 0; r < R; ++r) {
    mean[r] = _mm512_set1_ps(ordered_sum16(acc[r]) / static_cast<float>(dim));
    vacc[r] = _mm512_setzero_ps();
  }
  for (std::size_t j = 0; j < dim; j += 16)
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + r * dim + j), mean[r]);
      vacc[r] = _mm512_fmadd_ps(d, d, vacc[r]);
    }
  __m512 inv[R];
  for (int r = 0; r < R; ++r)
    inv[r] = _mm512_set1_ps(1.0f / std::sqrt(ordered_sum16(vacc[r]) / static_cast<float>(dim) + eps));
  for (std::size_t j = 0; j < dim; j += 16) {
    const __m512 g = _mm512_loadu_ps(gamma + j), b = _mm512_loadu_ps(beta + j);
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + r * dim + j), mean[r]);
      _mm512_storeu_ps(x + r * dim + j, _mm512_fmadd_ps(_mm512_mul_ps(d, inv[r]), g, b));
    }
  }
}
EMBED_AVX512_KERNELS_END
}  // namespace
#endif

void add_layer_norm_rows(float* x, const float* residual, std::size_t rows, std::size_t dim, const float* gamma,
                         const float* beta, float eps) {
  std::size_t r = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (dim % 16 == 0 && cpu_features().avx512) {
    for (; r + 4 <= rows; r += 4)
      add_layer_norm_block<4>(x + r * dim, residual ? residual + r * dim : nullptr, dim, gamma, beta, eps);
  }
#endif
  for (; r < rows; ++r) add_layer_norm_row(x + r * dim, residual ? residual + r * dim : nullptr, dim, gamma, beta, eps);
}

EMBED_MULTIVERSION
void add_layer_norm_row(float* x, const float* residual, std::size_t dim, const float* gamma, const float* beta,
                        float eps) {
  if (residual)
    for (std::size_t j = 0; j < dim; ++j) x[j] += residual[j];
  // 16 partial sums (vectorizable without reassociation flags), then a fixed-order final sum.
  float acc[16] = {};
  std::size_t j = 0;
  for (; j + 16 <= dim; j += 16)
    for (int k = 0; k < 16; ++k) acc[k] += x[j + k];
  float sum = 0.0f;
  for (int k = 0; k < 16; ++k) sum += acc[k];
  for (; j < dim; ++j) sum += x[j];
  const float mean = sum / static_cast<float>(dim);
  float vacc[16] = {};
  j = 0;
  for (; j + 16 <= dim; j += 16)
    for (int k = 0; k < 16; ++k) {
      const float d = x[j + k] - mean;
      vacc[k] += d * d;
    }
  float var = 0.0f;
  for (int k = 0; k < 16; ++k) var += vacc[k];
  for (; j < dim; ++j) {
    const float d = x[j] - mean;
    var += d * d;
  }
  var /= static_cast<float>(dim);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (std::size_t j = 0; j < dim; ++j) x[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

EMBED_MULTIVERSION
void scaled_softmax_row(float* x, std::size_t n, float scale) {
  if (n == 0) return;
  if (scale != 1.0f)
    for (std::size_t j = 0; j < n; ++j) x[j] *= scale;
  float ms[16];
  for (int k = 0; k < 16; ++k) ms[k] = x[0];
  {
    std::size_t j = 0;
    for (; j + 16 <= n; j += 16)
      for (int k = 0; k < 16; ++k) ms[k] = x[j + k] > ms[k] ? x[j + k] : ms[k];
    for (; j < n; ++j) ms[0] = x[j] > ms[0] ? x[j] : ms[0];
  }
  float m = ms[0];
  for (int k = 1; k < 16; ++k) m = ms[k] > m ? ms[k] : m;
  float acc[16] = {};
  std::size_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int k = 0; k < 16; ++k) {
      x[j + k] = exp_approx(x[j + k] - m);
      acc[k] += x[j + k];
    }
  float sum = 0.0f;
  for (int k = 0; k < 16; ++k) sum += acc[k];
  for (; j < n; ++j) {
    x[j] = exp_approx(x[j] - m);
    sum += x[j];
  }
  const float inv = 1.0f / sum;
  for (j = 0; j < n; ++j) x[j] *= inv;
}

}  // namespace embed::compute::kernels
