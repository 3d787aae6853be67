// Scaled dot-product attention (declared in ops.hpp): AVX-512 register-blocked kernels per head (fp32, or
// bf16 products for reduced-precision models), with OpenBLAS for CPUs without AVX-512.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"
#include "compute/kernels.hpp"
#include "compute/ops.hpp"
#include "compute/threads.hpp"
#include "compute/workspace.hpp"
#include "embed/error.hpp"

namespace embed::compute {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define EMBED_HAVE_AVX512_ATTENTION 1

// A matrix read one element at a time (broadcast to all lanes): a(r, k) = p[r * row + k * step].
template <typename T>
struct Scalars {
  const T* p;
  std::size_t row, step;
};
// A matrix read 16 columns at a time, rows ld apart.
template <typename T>
struct Vectors {
  const T* p;
  std::size_t ld;
};

// out[r][c0 .. c0 + 16 NV) = scale * sum over k < depth of a(r, k) b[k][c0 ..], for R rows (out rows ld_out
// apart). Both attention products are this kernel: the scores (a: K rows, b: Q transposed) and P V (a: the
// probabilities transposed, b: V rows).
template <int R, int NV>
__attribute__((target("avx512f"))) inline void mul_block(Scalars<float> a, Vectors<float> b, std::size_t depth,
                                                         std::size_t c0, float scale, float* out, std::size_t ld_out) {
  __m512 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::size_t k = 0; k < depth; ++k) {
    __m512 bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b.p + k * b.ld + c0 + 16 * v);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a.p[r * a.row + k * a.step]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 sc = _mm512_set1_ps(scale);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + r * ld_out + c0 + 16 * v, _mm512_mul_ps(acc[r][v], sc));
}

// mul_block over output columns [0, width), width a multiple of 16.
template <int R>
__attribute__((target("avx512f"))) void mul_rows(Scalars<float> a, Vectors<float> b, std::size_t depth,
                                                 std::size_t width, float scale, float* out, std::size_t ld_out) {
  std::size_t c0 = 0;
  for (; c0 + 32 <= width; c0 += 32) mul_block<R, 2>(a, b, depth, c0, scale, out, ld_out);
  if (c0 < width) mul_block<R, 1>(a, b, depth, c0, scale, out, ld_out);
}

// All `rows` rows of the product (row r of a starts at a.p + r * a.row): 8 at a time, then the 1-7 left
// over as one block, not as single rows: a 1-row block is a chain of dependent FMAs on two accumulators,
// latency-bound (paired A/B, one 12-head layer of 14 / 30 / 45 tokens: 0.85 / 0.94 / 0.96 of the time).
// Inlined, and the blocks called directly (through a generic lambda the same code took 1.13-1.18 of the
// time), so that each call site's constant strides (1 for K's dims, P's queries) reach the inner loop.
// Generic over the element type: float, or uint32_t bf16 pairs (mul_rows below, same row blocks).
template <typename T>
__attribute__((target("avx512f"), always_inline)) inline void mul_matrix(Scalars<T> a, std::size_t rows,
                                                                         Vectors<T> b, std::size_t depth,
                                                                         std::size_t width, float scale, float* out,
                                                                         std::size_t ld_out) {
  std::size_t r = 0;
  for (; r + 8 <= rows; r += 8)
    mul_rows<8>({a.p + r * a.row, a.row, a.step}, b, depth, width, scale, out + r * ld_out, ld_out);
  const Scalars<T> last{a.p + r * a.row, a.row, a.step};
  out += r * ld_out;
  switch (rows - r) {
    case 7: return mul_rows<7>(last, b, depth, width, scale, out, ld_out);
    case 6: return mul_rows<6>(last, b, depth, width, scale, out, ld_out);
    case 5: return mul_rows<5>(last, b, depth, width, scale, out, ld_out);
    case 4: return mul_rows<4>(last, b, depth, width, scale, out, ld_out);
    case 3: return mul_rows<3>(last, b, depth, width, scale, out, ld_out);
    case 2: return mul_rows<2>(last, b, depth, width, scale, out, ld_out);
    case 1: return mul_rows<1>(last, b, depth, width, scale, out, ld_out);
    default: return;
  }
}

// One 16-query column strip of transposed scores (n key rows, ld_s apart): replaces each score by
// exp(score - the strip's max) and returns 1 / (sum of the exponentials), lane-wise. kCoarse: exp16_coarse,
// for probabilities that are rounded to bf16 next.
template <bool kCoarse = false>
__attribute__((target("avx512f"))) inline __m512 exp_column_strip(float* col, std::size_t n, std::size_t ld_s) {
  __m512 m = _mm512_set1_ps(-INFINITY);
  for (std::size_t j = 0; j < n; ++j) m = _mm512_max_ps(m, _mm512_loadu_ps(col + j * ld_s));
  __m512 sum = _mm512_setzero_ps();
  for (std::size_t j = 0; j < n; ++j) {
    const __m512 x = _mm512_sub_ps(_mm512_loadu_ps(col + j * ld_s), m);
    const __m512 e = kCoarse ? avx512::exp16_coarse(x) : avx512::exp16_nonpositive(x);
    _mm512_storeu_ps(col + j * ld_s, e);
    sum = _mm512_add_ps(sum, e);
  }
  return _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
}

// Softmax over the keys of transposed scores st (n key rows of n_pad queries, ld_s apart): each 16-lane
// column strip holds 16 queries, so max, sum and normalization are lane-wise over the key rows, with no
// horizontal reductions (which dominate a row-wise softmax of short sequences).
__attribute__((target("avx512f"))) void softmax_columns_avx512(float* st, std::size_t n, std::size_t n_pad,
                                                               std::size_t ld_s) {
  for (std::size_t i0 = 0; i0 < n_pad; i0 += 16) {
    float* col = st + i0;
    const __m512 inv = exp_column_strip(col, n, ld_s);
    for (std::size_t j = 0; j < n; ++j)
      _mm512_storeu_ps(col + j * ld_s, _mm512_mul_ps(_mm512_loadu_ps(col + j * ld_s), inv));
  }
}

EMBED_AVX512_KERNELS_BEGIN
// dst[c][r] = src[r][c] for a 16 x 16 tile (rows ld / ld_dst apart); rows r >= rows and columns
// c >= cols read as zeros (and are not read).
__attribute__((target("avx512f"))) void transpose_tile16(const float* src, std::size_t ld, std::size_t rows,
                                                         std::size_t cols, float* dst, std::size_t ld_dst) {
  const __mmask16 col_mask = avx512::tail_mask(cols);
  __m512 r[16], t[16];
  for (std::size_t i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(col_mask, src + i * ld) : _mm512_setzero_ps();
  // Interleave pairs of rows (32-bit), then pairs of pairs (64-bit): t[4g + c] holds, in 128-bit lane l,
  // column 4l + c of rows 4g .. 4g+3.
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int g = 0; g < 4; ++g) {
    const __m512 a0 = t[4 * g], a1 = t[4 * g + 1], a2 = t[4 * g + 2], a3 = t[4 * g + 3];
    r[4 * g] = _mm512_shuffle_ps(a0, a2, 0x44);
    r[4 * g + 1] = _mm512_shuffle_ps(a0, a2, 0xEE);
    r[4 * g + 2] = _mm512_shuffle_ps(a1, a3, 0x44);
    r[4 * g + 3] = _mm512_shuffle_ps(a1, a3, 0xEE);
  }
  // Gather lane l of the four row groups into output column 4l + c.
  for (int c = 0; c < 4; ++c) {
    const __m512 e = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    const __m512 f = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
    const __m512 g = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    const __m512 h = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    _mm512_storeu_ps(dst + c * ld_dst, _mm512_shuffle_f32x4(e, g, 0x88));
    _mm512_storeu_ps(dst + (4 + c) * ld_dst, _mm512_shuffle_f32x4(f, h, 0x88));
    _mm512_storeu_ps(dst + (8 + c) * ld_dst, _mm512_shuffle_f32x4(e, g, 0xDD));
    _mm512_storeu_ps(dst + (12 + c) * ld_dst, _mm512_shuffle_f32x4(f, h, 0xDD));
  }
}

// st[key][i] += bias[i][key] for an n x n bias (queries as rows), in 16 x 16 tiles.
__attribute__((target("avx512f"))) void add_bias_transposed(const float* bias, std::size_t n, float* st,
                                                            std::size_t ld_s) {
  alignas(64) float tile[16 * 16];
  for (std::size_t i0 = 0; i0 < n; i0 += 16)
    for (std::size_t k0 = 0; k0 < n; k0 += 16) {
      const std::size_t keys = std::min<std::size_t>(16, n - k0);
      transpose_tile16(bias + i0 * n + k0, n, std::min<std::size_t>(16, n - i0), keys, tile, 16);
      for (std::size_t c = 0; c < keys; ++c) {
        float* row = st + (k0 + c) * ld_s + i0;
        _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), _mm512_load_ps(tile + c * 16)));
      }
    }
}

// One head with AVX-512 register-blocked kernels (head_dim a multiple of 16). The scores are computed
// transposed (keys as rows, queries as lanes) so that the softmax needs no horizontal reductions.
// scratch: see its size below.
__attribute__((target("avx512f"))) void attention_head_avx512(const AttentionArgs& a, std::size_t h, float* scratch) {
  const std::size_t n = a.len, d = a.head_dim, n_pad = (n + 15) / 16 * 16;
  const float* q = a.q + h * d;
  const float* k = a.k + h * d;
  const float* v = a.v + h * d;
  float* qt = scratch;          // [d][n_pad]: Q_h transposed
  // [n][ld_s]: st[j][i] = scale * k_j . q_i, then the probabilities. Rows one cache line longer than
  // n_pad: at power-of-two strides the column walks of the softmax and P V would hit only a few L1 sets.
  const std::size_t ld_s = n_pad + 16;
  float* st = qt + d * n_pad;
  // Queries past n are zero columns (their scores are never used).
  for (std::size_t i0 = 0; i0 < n; i0 += 16)
    for (std::size_t c0 = 0; c0 < d; c0 += 16)
      transpose_tile16(q + i0 * a.ld + c0, a.ld, std::min<std::size_t>(16, n - i0), 16, qt + c0 * n_pad + i0, n_pad);
  mul_matrix<float>({k, a.ld, 1}, n, {qt, n_pad}, d, n_pad, a.scale, st, ld_s);  // scores, keys as rows
  if (a.bias) add_bias_transposed(a.bias + h * n * n, n, st, ld_s);
  softmax_columns_avx512(st, n, n_pad, ld_s);
  mul_matrix<float>({st, 1, ld_s}, n, {v, a.ld}, n, d, 1.0f, a.out + h * d, a.ld_out);  // P V, queries as rows
}

// ---- bf16 products (models running in bf16 or int8; CPUs with AVX512-BF16) ---------------------------
// The same algorithm with both matrix products in VDPBF16PS: each 32-bit lane holds a pair of bf16 values
// along the summed dimension (head dims for Q K^T, keys for P V), multiplied pairwise and accumulated in
// fp32: half the instructions of the fp32 kernels. Softmax stays fp32.
#define EMBED_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

// 32-bit lanes bf16(lo[c]) | bf16(hi[c]) << 16 (round to nearest even).
EMBED_BF16_TARGET inline __m512i bf16_pairs16(__m512 lo, __m512 hi) {
  const __m256bh l = _mm512_cvtneps_pbh(lo), h = _mm512_cvtneps_pbh(hi);
  return _mm512_or_si512(_mm512_cvtepu16_epi32(reinterpret_cast<const __m256i&>(l)),
                         _mm512_slli_epi32(_mm512_cvtepu16_epi32(reinterpret_cast<const __m256i&>(h)), 16));
}

// Rows x[i][0, d) (ld floats apart) as bf16 rows y[i][0, d), packed: word c of a row is the pair of dims
// (2c, 2c + 1), as the dot products below want them.
EMBED_BF16_TARGET void rows_to_bf16(const float* x, std::size_t ld, std::size_t n, std::size_t d, uint16_t* y) {
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t c0 = 0; c0 < d; c0 += 16) {
      const __m256bh b = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i * ld + c0));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i * d + c0), reinterpret_cast<const __m256i&>(b));
    }
}

// Value rows paired along the keys: y[j2][c] = bf16(v[2 j2][c]) | bf16(v[2 j2 + 1][c]) << 16, zero past n.
EMBED_BF16_TARGET void value_pairs(const float* v, std::size_t ld, std::size_t n, std::size_t d, uint32_t* y) {
  for (std::size_t j2 = 0; 2 * j2 < n; ++j2)
    for (std::size_t c0 = 0; c0 < d; c0 += 16) {
      const __m512 lo = _mm512_loadu_ps(v + 2 * j2 * ld + c0);
      const __m512 hi = 2 * j2 + 1 < n ? _mm512_loadu_ps(v + (2 * j2 + 1) * ld + c0) : _mm512_setzero_ps();
      _mm512_storeu_si512(y + j2 * d + c0, bf16_pairs16(lo, hi));
    }
}

// value_pairs for V rows already in bf16.
EMBED_BF16_TARGET void value_pairs_bf16(const uint16_t* v, std::size_t ld, std::size_t n, std::size_t d, uint32_t* y) {
  for (std::size_t j2 = 0; 2 * j2 < n; ++j2)
    for (std::size_t c0 = 0; c0 < d; c0 += 16) {
      const __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + 2 * j2 * ld + c0)));
      const __m512i hi =
          2 * j2 + 1 < n ? _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + (2 * j2 + 1) * ld + c0)))
                         : _mm512_setzero_si512();
      _mm512_storeu_si512(y + j2 * d + c0, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
}

// mul_block over bf16 pairs: each 32-bit element of a and b holds two bf16 values along k, multiplied
// pairwise and summed into the fp32 accumulators by VDPBF16PS (depth counts pairs).
template <int R, int NV>
EMBED_BF16_TARGET inline void mul_block_bf16(Scalars<uint32_t> a, Vectors<uint32_t> b, std::size_t depth,
                                             std::size_t c0, float scale, float* out, std::size_t ld_out) {
  __m512 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (std::size_t k = 0; k < depth; ++k) {
    __m512bh bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = (__m512bh)_mm512_loadu_si512(b.p + k * b.ld + c0 + 16 * v);
    for (int r = 0; r < R; ++r) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a.p[r * a.row + k * a.step]));
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
    }
  }
  const __m512 sc = _mm512_set1_ps(scale);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(out + r * ld_out + c0 + 16 * v, _mm512_mul_ps(acc[r][v], sc));
}

// mul_rows over bf16 pairs (mul_matrix<uint32_t> calls it).
template <int R>
EMBED_BF16_TARGET void mul_rows(Scalars<uint32_t> a, Vectors<uint32_t> b, std::size_t depth, std::size_t width,
                                float scale, float* out, std::size_t ld_out) {
  std::size_t c0 = 0;
  for (; c0 + 32 <= width; c0 += 32) mul_block_bf16<R, 2>(a, b, depth, c0, scale, out, ld_out);
  if (c0 < width) mul_block_bf16<R, 1>(a, b, depth, c0, scale, out, ld_out);
}

// softmax_columns_avx512, the probabilities then written as bf16 pairs along the keys: row j2 of st
// becomes the words p[2 j2] | p[2 j2 + 1] << 16 (in place: row j2 is written after rows 2 j2 and
// 2 j2 + 1 of the same strip were read).
EMBED_BF16_TARGET void softmax_columns_bf16_pairs(float* st, std::size_t n, std::size_t n_pad, std::size_t ld_s) {
  for (std::size_t i0 = 0; i0 < n_pad; i0 += 16) {
    float* col = st + i0;
    const __m512 inv = exp_column_strip<true>(col, n, ld_s);
    for (std::size_t j2 = 0; 2 * j2 < n; ++j2) {
      const __m512 lo = _mm512_mul_ps(_mm512_loadu_ps(col + 2 * j2 * ld_s), inv);
      const __m512 hi = 2 * j2 + 1 < n ? _mm512_mul_ps(_mm512_loadu_ps(col + (2 * j2 + 1) * ld_s), inv)
                                       : _mm512_setzero_ps();
      _mm512_storeu_si512(col + j2 * ld_s, bf16_pairs16(lo, hi));
    }
  }
}

// attention_head_avx512 with bf16 products (head_dim a multiple of 32). Q, K, V are converted to bf16 here
// unless the caller gave them in bf16 (a.q16 ...).
EMBED_BF16_TARGET void attention_head_bf16(const AttentionArgs& a, std::size_t h, float* scratch) {
  const std::size_t n = a.len, d = a.head_dim, dw = d / 2, n2 = (n + 1) / 2, n_pad = (n + 15) / 16 * 16;
  const std::size_t ld_s = n_pad + 16;
  auto* qt2 = reinterpret_cast<uint32_t*>(scratch);  // [dw][n_pad]: Q_h in bf16 pairs, transposed
  float* st = scratch + dw * n_pad;                   // [n][ld_s]: scores, then probability pairs
  auto* rows = reinterpret_cast<uint32_t*>(st + n * ld_s);  // [n][dw]: Q_h, then K_h, in bf16 pairs
  uint32_t* v2 = rows + n * dw;                              // [n2][d]: V_h pairs along the keys
  // Q_h or K_h as rows of pair words (word c: dims 2c, 2c + 1), `row` words apart.
  const auto bf16_rows = [&](const float* x, const uint16_t* x16) -> Scalars<uint32_t> {
    if (x16) return {reinterpret_cast<const uint32_t*>(x16 + h * d), a.ld / 2, 1};
    rows_to_bf16(x + h * d, a.ld, n, d, reinterpret_cast<uint16_t*>(rows));
    return {rows, dw, 1};
  };
  const Scalars<uint32_t> q = bf16_rows(a.q, a.q16);
  for (std::size_t i0 = 0; i0 < n; i0 += 16)
    for (std::size_t c0 = 0; c0 < dw; c0 += 16)  // pair words move as 32-bit values: same tiles as floats
      transpose_tile16(reinterpret_cast<const float*>(q.p + i0 * q.row + c0), q.row, std::min<std::size_t>(16, n - i0),
                       16, reinterpret_cast<float*>(qt2 + c0 * n_pad + i0), n_pad);
  mul_matrix<uint32_t>(bf16_rows(a.k, a.k16), n, {qt2, n_pad}, dw, n_pad, a.scale, st, ld_s);  // scores, keys as rows
  if (a.bias) add_bias_transposed(a.bias + h * n * n, n, st, ld_s);
  softmax_columns_bf16_pairs(st, n, n_pad, ld_s);
  if (a.v16) value_pairs_bf16(a.v16 + h * d, a.ld, n, d, v2);
  else value_pairs(a.v + h * d, a.ld, n, d, v2);
  const auto* pt = reinterpret_cast<const uint32_t*>(st);
  mul_matrix<uint32_t>({pt, 1, ld_s}, n, {v2, d}, n2, d, 1.0f, a.out + h * d, a.ld_out);  // P V, queries as rows
}
EMBED_AVX512_KERNELS_END
#endif

std::size_t head_scratch_floats(const AttentionArgs& a) {
  const std::size_t n_pad = (a.len + 15) / 16 * 16;
  // The fp32 kernels use the first two terms, the bf16 ones less than all three, the fallback len * len.
  return a.head_dim * n_pad + a.len * (n_pad + 16) + (a.len + 1) * a.head_dim;
}

// One head of one sequence: out_h = softmax(scale * q_h k_h^T + bias_h) v_h.
void attention_head(const AttentionArgs& a, std::size_t h, float* scores) {
#ifdef EMBED_HAVE_AVX512_ATTENTION
  if (a.reduced_precision && attention_takes_bf16(a.head_dim)) return attention_head_bf16(a, h, scores);
  if (a.head_dim % 16 == 0 && cpu_features().avx512) return attention_head_avx512(a, h, scores);
#endif
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

bool attention_takes_bf16(std::size_t head_dim) {
#ifdef EMBED_HAVE_AVX512_ATTENTION
  return head_dim % 32 == 0 && cpu_features().avx512_bf16;
#else
  (void)head_dim;
  return false;
#endif
}

void check_bf16_inputs(bool given, bool reduced_precision, std::size_t head_dim) {
  if (given && !(reduced_precision && attention_takes_bf16(head_dim)))
    throw Error("attention: Q, K, V given in bf16, but the bf16 kernels do not run here (see attention_takes_bf16)");
}

void attention(const AttentionArgs& a, std::vector<float>& scratch) {
  check_bf16_inputs(a.q16 || a.k16 || a.v16, a.reduced_precision, a.head_dim);
  if (a.len == 0) return;
  if (current_threads() <= 1 || a.heads == 1) {
    scratch.resize(head_scratch_floats(a));
    for (std::size_t h = 0; h < a.heads; ++h) attention_head(a, h, scratch.data());
    return;
  }
  parallel_for(a.heads, 1, [&](std::size_t b, std::size_t e, int) {
    float* scores = thread_workspace().floats(Workspace::kAttention, head_scratch_floats(a));
    for (std::size_t h = b; h < e; ++h) attention_head(a, h, scores);
  });
}

void attention_packed(const PackedAttentionArgs& a) {
  check_bf16_inputs(a.q16 || a.k16 || a.v16, a.reduced_precision, a.head_dim);
  const std::size_t nseq = a.sequences, items = nseq * a.heads;
  // Work items (sequence, head) in one contiguous range per thread, so that a thread's heads share its
  // sequences' rows in cache. Handed out one at a time instead (parallel_tasks): 1.07-1.16 of the time on
  // a 32-text batch of 10-60 tokens at 2 threads, a tie at batch 1 (paired A/B).
  parallel_for(items, 1, [&](std::size_t b, std::size_t e, int) {
    Workspace& ws = thread_workspace();
    for (std::size_t i = b; i < e; ++i) {
      const std::size_t s = i / a.heads, h = i % a.heads;
      const std::size_t off = a.offsets[s], len = a.offsets[s + 1] - off;
      if (len == 0) continue;
      const std::size_t at = off * a.ld;
      AttentionArgs one{offset_or_null(a.q, at), offset_or_null(a.k, at), offset_or_null(a.v, at), a.ld, len,
                        a.heads, a.head_dim, a.scale, nullptr, a.out + off * a.ld_out, a.ld_out,
                        a.reduced_precision, offset_or_null(a.q16, at), offset_or_null(a.k16, at),
                        offset_or_null(a.v16, at)};
      attention_head(one, h, ws.floats(Workspace::kAttention, head_scratch_floats(one)));
    }
  });
}

}  // namespace embed::compute
