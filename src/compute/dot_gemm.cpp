#include "compute/dot_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"
#include "compute/threads.hpp"
#include "embed/error.hpp"

namespace embed::compute {

namespace {

constexpr std::size_t kPanel = 64;       // output columns per panel: 4 vectors of 16
constexpr std::size_t kGroupBytes = 4;   // input bytes per dot product: 4 u8 or 2 bf16 (one broadcast)
constexpr std::size_t kGroupStride = kPanel * kGroupBytes;  // weight bytes per group of k: 4 vectors
constexpr std::size_t kRowBlock = 6;     // rows per register tile: 6 x 4 sums, 4 weight vectors, 1 broadcast

enum class Dot { U8S8, Bf16, F32 };

#if defined(__x86_64__) && defined(__GNUC__)
EMBED_AVX512_KERNELS_BEGIN
// One row's 64 sums of a tile (int32 or fp32 lanes), as named vectors: GCC 12 kept an array of them
// (acc[r][c], as small_gemm has) on the stack and copied each through another register around every
// product (1.6x oneDNN's time).
struct RowSums {
  __m512i c0, c1, c2, c3;
};

// Row sums += the input group at `x` (one 32-bit broadcast) . each column's group of weights. The dot
// products as inline assembly, the sums tied to their registers.
template <Dot D>
__attribute__((target("avx512f"), always_inline)) inline void add_group(RowSums& s, const uint8_t* x, __m512i w0,
                                                                       __m512i w1, __m512i w2, __m512i w3) {
  int32_t group;
  std::memcpy(&group, x, sizeof group);
  const __m512i a = _mm512_set1_epi32(group);
  if constexpr (D == Dot::U8S8) {
    asm("vpdpbusd %1, %2, %0" : "+v"(s.c0) : "v"(w0), "v"(a));
    asm("vpdpbusd %1, %2, %0" : "+v"(s.c1) : "v"(w1), "v"(a));
    asm("vpdpbusd %1, %2, %0" : "+v"(s.c2) : "v"(w2), "v"(a));
    asm("vpdpbusd %1, %2, %0" : "+v"(s.c3) : "v"(w3), "v"(a));
  } else if constexpr (D == Dot::F32) {  // one fused multiply-add per k: the sums small_gemm computes
    asm("vfmadd231ps %1, %2, %0" : "+v"(s.c0) : "v"(w0), "v"(a));
    asm("vfmadd231ps %1, %2, %0" : "+v"(s.c1) : "v"(w1), "v"(a));
    asm("vfmadd231ps %1, %2, %0" : "+v"(s.c2) : "v"(w2), "v"(a));
    asm("vfmadd231ps %1, %2, %0" : "+v"(s.c3) : "v"(w3), "v"(a));
  } else {
    asm("vdpbf16ps %1, %2, %0" : "+v"(s.c0) : "v"(w0), "v"(a));
    asm("vdpbf16ps %1, %2, %0" : "+v"(s.c1) : "v"(w1), "v"(a));
    asm("vdpbf16ps %1, %2, %0" : "+v"(s.c2) : "v"(w2), "v"(a));
    asm("vdpbf16ps %1, %2, %0" : "+v"(s.c3) : "v"(w3), "v"(a));
  }
}

// Output vector c of a tile row (16 values from column 16 c, lanes past the valid columns masked off),
// written as bf16 (round to nearest even) or fp32.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) inline void store_vector(
    __m512 v, void* y, int c, __mmask16 mask, bool bf16_out) {
  if (bf16_out)
    _mm256_mask_storeu_epi16(static_cast<uint16_t*>(y) + 16 * c, mask, (__m256i)_mm512_cvtneps_pbh(v));
  else
    _mm512_mask_storeu_ps(static_cast<float*>(y) + 16 * c, mask, v);
}

// int8 outputs: each row dequantized with its scale and zero point and the panel's column terms.
struct Int8Finish {
  static constexpr Dot kDot = Dot::U8S8;
  Int8Dequantization dq;
  // The per-column terms of a panel, loaded once per tile (zeros past the valid columns).
  struct Columns {
    __m512 wscale[4], wcolsum[4], bias[4];
  };
  // This finish for the rows from r0 and the panel's columns from c0.
  Int8Finish at(std::size_t r0, std::size_t c0) const {
    Int8Finish f{dq.from_row(r0)};
    f.dq.wscale += c0;
    f.dq.wcolsum += c0;
    if (f.dq.bias) f.dq.bias += c0;
    return f;
  }
  std::size_t out_bytes() const { return dq.bf16_out ? sizeof(uint16_t) : sizeof(float); }
  __attribute__((target("avx512f"))) Columns columns(const __mmask16 (&mask)[4]) const {
    Columns t;
    for (int c = 0; c < 4; ++c) {
      t.wscale[c] = _mm512_maskz_loadu_ps(mask[c], dq.wscale + 16 * c);
      t.wcolsum[c] = _mm512_maskz_loadu_ps(mask[c], dq.wcolsum + 16 * c);
      t.bias[c] = dq.bias ? _mm512_maskz_loadu_ps(mask[c], dq.bias + 16 * c) : _mm512_setzero_ps();
    }
    return t;
  }
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) void store(
      const RowSums& s, std::size_t r, const Columns& t, void* y, const __mmask16 (&mask)[4]) const {
    const __m512 scale = _mm512_set1_ps(dq.row_scale[r]);
    const __m512 zero_point = _mm512_set1_ps(static_cast<float>(dq.row_zero_point[r]));
    const __m512i sums[4] = {s.c0, s.c1, s.c2, s.c3};
    for (int c = 0; c < 4; ++c) {
      __m512 v = avx512::dequantize16(sums[c], scale, zero_point, t.wscale[c], t.wcolsum[c],
                                      dq.bias ? &t.bias[c] : nullptr);
      if (dq.gelu) v = avx512::gelu_poly16(v);
      store_vector(v, y, c, mask[c], dq.bf16_out);
    }
  }
};

// fp32 sums (bf16 or fp32 products) finished as floats: + bias, GELU, written as fp32 or (bf16 only) bf16.
// The fp32 GEMM computes GELU as small_gemm does (gelu_erf16_precise), so the two give the same floats;
// bf16 uses activation_fast's (gelu_erf16).
template <Dot D>
struct FloatFinish {
  static constexpr Dot kDot = D;
  const float* bias = nullptr;  // null: none
  bool gelu = false;
  bool bf16_out = false;
  struct Columns {
    __m512 bias[4];
  };
  FloatFinish at(std::size_t, std::size_t c0) const { return {bias ? bias + c0 : nullptr, gelu, bf16_out}; }
  std::size_t out_bytes() const { return bf16_out ? sizeof(uint16_t) : sizeof(float); }
  __attribute__((target("avx512f"))) Columns columns(const __mmask16 (&mask)[4]) const {
    Columns t;
    for (int c = 0; c < 4; ++c) t.bias[c] = bias ? _mm512_maskz_loadu_ps(mask[c], bias + 16 * c) : _mm512_setzero_ps();
    return t;
  }
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"), always_inline)) void store(
      const RowSums& s, std::size_t, const Columns& t, void* y, const __mmask16 (&mask)[4]) const {
    const __m512i sums[4] = {s.c0, s.c1, s.c2, s.c3};
    for (int c = 0; c < 4; ++c) {
      __m512 v = _mm512_castsi512_ps(sums[c]);
      if (bias) v = _mm512_add_ps(v, t.bias[c]);
      if (gelu) v = D == Dot::F32 ? avx512::gelu_erf16_precise(v) : avx512::gelu_erf16(v);
      store_vector(v, y, c, mask[c], bf16_out);
    }
  }
};

// Rows [0, R) of x (R <= 6; rows ldx bytes apart, `groups` input groups each) times one panel, finished
// into y (rows ldy bytes apart); prefetches next_lines cache lines from `next` (null: none) on the way.
template <int R, typename Finish>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void run_tile(
    const uint8_t* x, std::size_t ldx, std::size_t groups, const uint8_t* panel, const Finish& finish, std::byte* y,
    std::size_t ldy, std::size_t columns, const uint8_t* next, std::size_t next_lines) {
  static_assert(R >= 1 && R <= 6);
  __mmask16 mask[4];
  avx512::panel_masks(columns, mask);
  const typename Finish::Columns terms = finish.columns(mask);
  const __m512i zero = _mm512_setzero_si512();
  RowSums s0{zero, zero, zero, zero}, s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
  const uint8_t *x0 = x, *x1 = x + ldx * (R > 1), *x2 = x + 2 * ldx * (R > 2), *x3 = x + 3 * ldx * (R > 3),
                *x4 = x + 4 * ldx * (R > 4), *x5 = x + 5 * ldx * (R > 5);
  constexpr Dot D = Finish::kDot;
  const uint8_t* wg = panel;
  for (std::size_t g = 0; g < groups; ++g, wg += kGroupStride) {
    if (next)  // next_lines spread evenly over the groups
      for (std::size_t line = next_lines * g / groups; line < next_lines * (g + 1) / groups; ++line)
        _mm_prefetch(reinterpret_cast<const char*>(next) + 64 * line, _MM_HINT_T0);
    const __m512i w0 = _mm512_loadu_si512(wg), w1 = _mm512_loadu_si512(wg + 64), w2 = _mm512_loadu_si512(wg + 128),
                  w3 = _mm512_loadu_si512(wg + 192);
    const std::size_t at = g * kGroupBytes;
    add_group<D>(s0, x0 + at, w0, w1, w2, w3);
    if constexpr (R > 1) add_group<D>(s1, x1 + at, w0, w1, w2, w3);
    if constexpr (R > 2) add_group<D>(s2, x2 + at, w0, w1, w2, w3);
    if constexpr (R > 3) add_group<D>(s3, x3 + at, w0, w1, w2, w3);
    if constexpr (R > 4) add_group<D>(s4, x4 + at, w0, w1, w2, w3);
    if constexpr (R > 5) add_group<D>(s5, x5 + at, w0, w1, w2, w3);
  }
  finish.store(s0, 0, terms, y, mask);
  if constexpr (R > 1) finish.store(s1, 1, terms, y + ldy, mask);
  if constexpr (R > 2) finish.store(s2, 2, terms, y + 2 * ldy, mask);
  if constexpr (R > 3) finish.store(s3, 3, terms, y + 3 * ldy, mask);
  if constexpr (R > 4) finish.store(s4, 4, terms, y + 4 * ldy, mask);
  if constexpr (R > 5) finish.store(s5, 5, terms, y + 5 * ldy, mask);
}
EMBED_AVX512_KERNELS_END

template <typename Finish>
void run_tile_rows(std::size_t rows, const uint8_t* x, std::size_t ldx, std::size_t groups, const uint8_t* panel,
                   const Finish& finish, std::byte* y, std::size_t ldy, std::size_t columns, const uint8_t* next,
                   std::size_t next_lines) {
  switch (rows) {
    case 1: return run_tile<1>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
    case 2: return run_tile<2>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
    case 3: return run_tile<3>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
    case 4: return run_tile<4>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
    case 5: return run_tile<5>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
    default: return run_tile<6>(x, ldx, groups, panel, finish, y, ldy, columns, next, next_lines);
  }
}

// The GEMM over whole panels, input elements of `element_bytes` (1: u8, 2: bf16, 4: fp32).
//
// A panel (k_padded x 64 values) is k_padded * element_bytes cache lines. Its rows are spread evenly over
// tiles of at most kRowBlock; the last tile, which reads the panel from cache, prefetches the panel the
// thread takes next (paired A/B per text, int8 MiniLM batch 1: 0.867 (1 thread) / 0.948 (2 threads) of the
// time without it; the same prefetches shared out over all the tiles: 1.11x the time of the last tile's;
// prefetching the next layer's first panel as well: no change, 1.007 / 1.001).
template <typename Finish>
void dot_gemm(const uint8_t* x, std::size_t rows, std::size_t element_bytes, const DotPanels& w, const Finish& finish,
              void* y) {
  if (rows == 0) return;
  const auto* data = static_cast<const uint8_t*>(w.data);
  const std::size_t panel_bytes = w.k_padded * element_bytes * kPanel, panel_lines = panel_bytes / 64;
  const std::size_t ldx = w.k * element_bytes, groups = ldx / kGroupBytes;
  const std::size_t ldy = w.n * finish.out_bytes();
  const std::size_t panels = (w.n + kPanel - 1) / kPanel, blocks = (rows + kRowBlock - 1) / kRowBlock;
  parallel_for(panels, 1, [&](std::size_t begin, std::size_t end, int) {
    for (std::size_t p = begin; p < end; ++p) {
      const uint8_t* panel = data + p * panel_bytes;
      const uint8_t* then = p + 1 < end ? panel + panel_bytes : nullptr;
      const std::size_t columns = std::min(kPanel, w.n - p * kPanel);
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::size_t r0 = rows * b / blocks, r1 = rows * (b + 1) / blocks;
        run_tile_rows(r1 - r0, x + r0 * ldx, ldx, groups, panel, finish.at(r0, p * kPanel),
                      static_cast<std::byte*>(y) + r0 * ldy + p * kPanel * finish.out_bytes(), ldy, columns,
                      b + 1 == blocks ? then : nullptr, panel_lines);
      }
    }
  });
}
#endif

}  // namespace

bool int8_dot_available() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_features().avx512 && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

bool bf16_dot_available() { return cpu_features().avx512_bf16; }

void int8_dot_gemm(const uint8_t* x, std::size_t rows, const DotPanels& w, const Int8Dequantization& dq, void* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (dq.bf16_out && !bf16_dot_available()) throw Error("int8_dot_gemm: bf16 output needs AVX512-BF16");
  dot_gemm(x, rows, 1, w, Int8Finish{dq}, y);
#else
  (void)x, (void)rows, (void)w, (void)dq, (void)y;
#endif
}

void f32_dot_gemm(const float* x, std::size_t rows, const DotPanels& w, const float* bias, bool gelu, float* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  dot_gemm(reinterpret_cast<const uint8_t*>(x), rows, 4, w, FloatFinish<Dot::F32>{bias, gelu, false}, y);
#else
  (void)x, (void)rows, (void)w, (void)bias, (void)gelu, (void)y;
#endif
}

void bf16_dot_gemm(const uint16_t* x, std::size_t rows, const DotPanels& w, const Bf16Output& out, void* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  const FloatFinish<Dot::Bf16> finish{out.bias, out.gelu, out.bf16_out};
  dot_gemm(reinterpret_cast<const uint8_t*>(x), rows, 2, w, finish, y);
#else
  (void)x, (void)rows, (void)w, (void)out, (void)y;
#endif
}

}  // namespace embed::compute
