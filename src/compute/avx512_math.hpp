#pragma once
// Elementary functions on 16 float lanes (AVX-512), for the hand-written kernels. Callers must check the
// CPU supports AVX-512F before running code built with these.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstddef>

// GCC 12 reports `__Y` "used uninitialized" inside many AVX-512 intrinsics (they start from
// _mm512_undefined_ps()) once inlined into a kernel: a false positive, as every lane is written. The
// hand-written kernels sit between these two markers.
#define EMBED_AVX512_KERNELS_BEGIN                                   \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define EMBED_AVX512_KERNELS_END _Pragma("GCC diagnostic pop")

namespace embed::compute::avx512 {

// The lanes of a 16-wide step that lie inside a row with `remaining` values left (all 16 when >= 16).
inline __mmask16 tail_mask(std::size_t remaining) {
  return static_cast<__mmask16>(remaining >= 16 ? 0xffffu : (1u << remaining) - 1u);
}

// The lane masks of a 64-column panel's four 16-wide vectors when only its first `columns` are real.
inline void panel_masks(std::size_t columns, __mmask16 (&mask)[4]) {
  for (std::size_t c = 0; c < 4; ++c) mask[c] = columns > 16 * c ? tail_mask(columns - 16 * c) : 0;
}

// One int8 GEMM output vector back in fp32 (kernels::dequantize_row's formula): scale * (wscale * acc -
// zero_point * wcolsum) + bias, as one multiplication and two fused multiply-adds (bias: null for none).
__attribute__((target("avx512f"))) inline __m512 dequantize16(__m512i acc, __m512 scale, __m512 zero_point,
                                                              __m512 wscale, __m512 wcolsum, const __m512* bias) {
  const __m512 u = _mm512_fmsub_ps(_mm512_cvtepi32_ps(acc), wscale, _mm512_mul_ps(zero_point, wcolsum));
  return bias ? _mm512_fmadd_ps(u, scale, *bias) : _mm512_mul_ps(u, scale);
}

// e^x for x <= 0 (its callers: softmax arguments less their maximum, GELU's e^(-a^2)), e^-87.3 below
// -87.3: the Cephes expf range reduction and polynomial (~1 ulp), the same as kernels' scalar exp_approx.
// Without exp_approx's clamp at 88.3, one instruction fewer: right up to x = 88, not for larger x.
__attribute__((target("avx512f"))) inline __m512 exp16_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fmadd_ps(fx, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  // p * 2^fx in one instruction (the same values as building 2^fx's exponent bits and multiplying: checked
  // bit for bit over every float in [-100, 100]).
  return _mm512_scalef_ps(p, fx);
}

// e^x for x <= 0 to ~1e-5 relative: for values rounded to bf16 next (2e-3 relative), e.g. the attention
// probabilities of the reduced-precision path. 2^f by a degree-4 polynomial on f in [-0.5, 0.5] (fitted for
// relative error: 2.6e-6 at most); about half the instructions of exp16_nonpositive. Inputs below -100 give e^-100.
__attribute__((target("avx512f"))) inline __m512 exp16_coarse(__m512 x) {
  const __m512 t = _mm512_mul_ps(_mm512_max_ps(x, _mm512_set1_ps(-100.0f)), _mm512_set1_ps(1.44269504088896341f));
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(9.5701013e-3f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5917859e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4024744e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9312179e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.9999928e-1f));
  return _mm512_scalef_ps(p, n);
}

// 1 / d: the 14-bit hardware estimate and one Newton step (~1e-8 relative), far cheaper than a division.
__attribute__((target("avx512f"))) inline __m512 reciprocal16(__m512 d) {
  const __m512 r = _mm512_rcp14_ps(d);
  return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

// GELU, erf form: 0.5 x (1 + erf(x / sqrt 2)), with erf(a) = 1 - 1 / (1 + a1 a + ... + a6 a^6)^16 for
// a >= 0 (Abramowitz & Stegun 7.1.28, |error| <= 3e-7): a polynomial, one reciprocal and four squarings,
// no exponential.
__attribute__((target("avx512f"))) inline __m512 gelu_erf16(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f));
  // erf(6) is 1 in float; the clamp keeps the polynomial finite for huge inputs.
  const __m512 a = _mm512_min_ps(_mm512_abs_ps(z), _mm512_set1_ps(6.0f));
  __m512 p = _mm512_set1_ps(0.0000430638f);
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(0.0002765672f));
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(0.0001520143f));
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(0.0092705272f));
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(0.0422820123f));
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(0.0705230784f));
  p = _mm512_fmadd_ps(p, a, _mm512_set1_ps(1.0f));
  __m512 r = reciprocal16(p);
  r = _mm512_mul_ps(r, r);
  r = _mm512_mul_ps(r, r);
  r = _mm512_mul_ps(r, r);
  r = _mm512_mul_ps(r, r);
  const __m512 erf_abs = _mm512_sub_ps(_mm512_set1_ps(1.0f), r);
  // erf is odd: give |erf| the sign of z.
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32(static_cast<int>(0x80000000u)));
  const __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(erf_abs), sign));
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_add_ps(erf, _mm512_set1_ps(1.0f)));
}

// GELU for values that are quantized next (int8 layers' outputs, rounded to steps of about a 255th of
// their row's range): x (1/2 + p(c)), c = x clamped to [-4, 4], p an odd polynomial of degree 13 fitted
// to Phi - 1/2 on [-4, 4] with p(4) = 1/2 (so GELU is exactly x above 4 and 0 below -4). |error| <=
// 2.1e-4 (near |x| = 3.9; 1.3e-4 relative for |x| > 1): far below those steps, in 10 multiply-adds, half
// of gelu_erf16's work, which at int8 speed cost a quarter of the FFN's first layer.
__attribute__((target("avx512f"))) inline __m512 gelu_poly16(__m512 x) {
  const __m512 c = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(4.0f)), _mm512_set1_ps(-4.0f));
  const __m512 c2 = _mm512_mul_ps(c, c);
  __m512 p = _mm512_set1_ps(2.2764890417192873e-08f);
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(-1.5980951957317302e-06f));
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(4.7949575673555955e-05f));
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(-0.0008139461860992014f));
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(0.008771481923758984f));
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(-0.06456742435693741f));
  p = _mm512_fmadd_ps(p, c2, _mm512_set1_ps(0.39787232875823975f));
  p = _mm512_mul_ps(p, c);
  return _mm512_fmadd_ps(x, p, _mm512_mul_ps(x, _mm512_set1_ps(0.5f)));
}

// GELU, erf form, for fp32 results: 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2), with
// erfc(a) = t P(t) e^(-a^2) for a >= 0 (Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7; exp16_nonpositive and
// a true division) and erfc(-a) = 2 - erfc(a). For x < 0 the small erfc is used as it is, never as 1 - erf:
// no cancellation, so negative inputs keep their relative accuracy. The 0.5 is folded into P's
// coefficients (P / 2, then 1 - erfc / 2): scaling by a power of two commutes with rounding, so this
// computes the same floats as halving at the end, one multiplication fewer (it runs on every value of the
// FFN's widest layer).
__attribute__((target("avx512f"))) inline __m512 gelu_erf16_precise(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752440f));
  const __m512 a = _mm512_abs_ps(z);
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), one));
  __m512 p = _mm512_set1_ps(0.5f * 1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * -1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * 1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * -0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.5f * 0.254829592f));
  const __m512 minus_a2 = _mm512_fnmadd_ps(z, z, _mm512_setzero_ps());  // -(z z), rounded once
  const __m512 half_erfc_a = _mm512_mul_ps(_mm512_mul_ps(p, t), exp16_nonpositive(minus_a2));
  // (1 + erf(z)) / 2: erfc(|z|) / 2 for z < 0, 1 - erfc(z) / 2 otherwise.
  const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mul_ps(x, _mm512_mask_blend_ps(negative, _mm512_sub_ps(one, half_erfc_a), half_erfc_a));
}

}  // namespace embed::compute::avx512
#endif
