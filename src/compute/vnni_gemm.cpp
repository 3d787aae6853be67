#include "compute/vnni_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"
#include "compute/threads.hpp"

namespace embed::compute {

namespace {

constexpr std::size_t kPanel = 64;     // output columns per panel: 4 vectors of 16 int32
constexpr std::size_t kQuadBytes = 4;  // k values per VNNI product (u8 x s8, summed into one int32)
constexpr std::size_t kRowBlock = 6;   // rows per register tile: 6 x 4 sums, 4 weight vectors, 1 broadcast

#if defined(__x86_64__) && defined(__GNUC__)
EMBED_AVX512_KERNELS_BEGIN
// One row's 64 sums of a tile, as named vectors: GCC 12 kept an array of them (acc[r][c], as small_gemm
// has) on the stack and copied each through another register around every product (1.6x oneDNN's time).
struct RowSums {
  __m512i c0, c1, c2, c3;
};

// Row sums += the 4 u8 codes at `codes` (one int32 broadcast) . the 4 s8 weights of each of the 64 columns.
// vpdpbusd as inline assembly, the sums tied to their registers.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void add_quad(RowSums& s, const uint8_t* codes,
                                                                                  __m512i w0, __m512i w1, __m512i w2,
                                                                                  __m512i w3) {
  int32_t quad;
  std::memcpy(&quad, codes, sizeof quad);
  const __m512i a = _mm512_set1_epi32(quad);
  asm("vpdpbusd %1, %2, %0" : "+v"(s.c0) : "v"(w0), "v"(a));
  asm("vpdpbusd %1, %2, %0" : "+v"(s.c1) : "v"(w1), "v"(a));
  asm("vpdpbusd %1, %2, %0" : "+v"(s.c2) : "v"(w2), "v"(a));
  asm("vpdpbusd %1, %2, %0" : "+v"(s.c3) : "v"(w3), "v"(a));
}

// The per-column values of a panel's dequantization, loaded once per tile (zeros past the valid columns).
struct ColumnTerms {
  __m512 wscale[4], wcolsum[4], bias[4];
  bool has_bias;
};

// One row's sums dequantized (and GELU) into y's 64 floats.
__attribute__((target("avx512f"), always_inline)) inline void store_row(const RowSums& s, float scale, int32_t zero_point,
                                                                        const ColumnTerms& t, bool gelu, float* y,
                                                                        const __mmask16 (&mask)[4]) {
  const __m512 vscale = _mm512_set1_ps(scale), vzp = _mm512_set1_ps(static_cast<float>(zero_point));
  const __m512i sums[4] = {s.c0, s.c1, s.c2, s.c3};
  for (int c = 0; c < 4; ++c) {
    __m512 v = avx512::dequantize16(sums[c], vscale, vzp, t.wscale[c], t.wcolsum[c], t.has_bias ? &t.bias[c] : nullptr);
    if (gelu) v = avx512::gelu_erf16(v);
    _mm512_mask_storeu_ps(y + 16 * c, mask[c], v);
  }
}

// Rows [0, R) of x (R <= 6) times one panel, over all k; prefetches next_lines cache lines from `next` (null:
// none) on the way.
template <int R>
__attribute__((target("avx512f,avx512vnni"))) void run_tile(const uint8_t* x, std::size_t ldx, std::size_t k,
                                                             const int8_t* panel, const VnniDequantization& dq,
                                                             float* y, std::size_t ldy, std::size_t columns,
                                                             const int8_t* next, std::size_t next_lines) {
  static_assert(R >= 1 && R <= 6);
  __mmask16 mask[4];
  avx512::panel_masks(columns, mask);
  ColumnTerms terms;
  terms.has_bias = dq.bias != nullptr;
  for (int c = 0; c < 4; ++c) {
    terms.wscale[c] = _mm512_maskz_loadu_ps(mask[c], dq.wscale + 16 * c);
    terms.wcolsum[c] = _mm512_maskz_loadu_ps(mask[c], dq.wcolsum + 16 * c);
    terms.bias[c] = terms.has_bias ? _mm512_maskz_loadu_ps(mask[c], dq.bias + 16 * c) : _mm512_setzero_ps();
  }
  const __m512i zero = _mm512_setzero_si512();
  RowSums s0{zero, zero, zero, zero}, s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0;
  const uint8_t *x0 = x, *x1 = x + ldx * (R > 1), *x2 = x + 2 * ldx * (R > 2), *x3 = x + 3 * ldx * (R > 3),
                *x4 = x + 4 * ldx * (R > 4), *x5 = x + 5 * ldx * (R > 5);
  const int8_t* wq = panel;
  for (std::size_t q = 0; q < k; q += kQuadBytes, wq += kPanel * kQuadBytes) {
    if (next) {  // next_lines spread evenly over the k steps
      const std::size_t step = q / kQuadBytes, steps = k / kQuadBytes;
      for (std::size_t line = next_lines * step / steps; line < next_lines * (step + 1) / steps; ++line)
        _mm_prefetch(reinterpret_cast<const char*>(next) + 64 * line, _MM_HINT_T0);
    }
    const __m512i w0 = _mm512_loadu_si512(wq), w1 = _mm512_loadu_si512(wq + 64), w2 = _mm512_loadu_si512(wq + 128),
                  w3 = _mm512_loadu_si512(wq + 192);
    add_quad(s0, x0 + q, w0, w1, w2, w3);
    if constexpr (R > 1) add_quad(s1, x1 + q, w0, w1, w2, w3);
    if constexpr (R > 2) add_quad(s2, x2 + q, w0, w1, w2, w3);
    if constexpr (R > 3) add_quad(s3, x3 + q, w0, w1, w2, w3);
    if constexpr (R > 4) add_quad(s4, x4 + q, w0, w1, w2, w3);
    if constexpr (R > 5) add_quad(s5, x5 + q, w0, w1, w2, w3);
  }
  const float* scale = dq.row_scale;
  const int32_t* zp = dq.row_zero_point;
  store_row(s0, scale[0], zp[0], terms, dq.gelu, y, mask);
  if constexpr (R > 1) store_row(s1, scale[1], zp[1], terms, dq.gelu, y + ldy, mask);
  if constexpr (R > 2) store_row(s2, scale[2], zp[2], terms, dq.gelu, y + 2 * ldy, mask);
  if constexpr (R > 3) store_row(s3, scale[3], zp[3], terms, dq.gelu, y + 3 * ldy, mask);
  if constexpr (R > 4) store_row(s4, scale[4], zp[4], terms, dq.gelu, y + 4 * ldy, mask);
  if constexpr (R > 5) store_row(s5, scale[5], zp[5], terms, dq.gelu, y + 5 * ldy, mask);
}
EMBED_AVX512_KERNELS_END

void run_tile_rows(std::size_t rows, const uint8_t* x, std::size_t ldx, std::size_t k, const int8_t* panel,
                   const VnniDequantization& dq, float* y, std::size_t ldy, std::size_t columns, const int8_t* next,
                   std::size_t next_lines) {
  switch (rows) {
    case 1: return run_tile<1>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
    case 2: return run_tile<2>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
    case 3: return run_tile<3>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
    case 4: return run_tile<4>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
    case 5: return run_tile<5>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
    default: return run_tile<6>(x, ldx, k, panel, dq, y, ldy, columns, next, next_lines);
  }
}
#endif

// Panel p of w: k_padded / 4 groups of 64 columns x 4 k, 256 bytes each (a panel is k_padded cache lines).
const int8_t* panel_start(const VnniPanels& w, std::size_t p) { return w.data + p * w.k_padded * kPanel; }

// Panel p of the output, its rows spread evenly over tiles of at most kRowBlock. The last tile, which reads
// the panel from cache, brings `then` (the panel this thread takes next, then_lines cache lines; null:
// none) into cache meanwhile. Paired A/B per text, MiniLM batch 1: 0.867 (1 thread) / 0.948 (2 threads) of
// the time without it; the same prefetches shared out over all the tiles: 1.11x the time of the last tile's.
void gemm_panel(const uint8_t* x, std::size_t rows, const VnniPanels& w, const VnniDequantization& dq, float* y,
                std::size_t p, const int8_t* then, std::size_t then_lines) {
#if defined(__x86_64__) && defined(__GNUC__)
  const int8_t* panel = panel_start(w, p);
  const std::size_t columns = std::min(kPanel, w.n - p * kPanel);
  const std::size_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t r0 = rows * b / blocks, r1 = rows * (b + 1) / blocks;
    const bool last = b + 1 == blocks;
    VnniDequantization tile = dq;  // this tile's rows, this panel's columns
    tile.row_scale += r0;
    tile.row_zero_point += r0;
    tile.wscale += p * kPanel;
    tile.wcolsum += p * kPanel;
    if (tile.bias) tile.bias += p * kPanel;
    run_tile_rows(r1 - r0, x + r0 * w.k, w.k, w.k, panel, tile, y + r0 * w.n + p * kPanel, w.n, columns,
                  last ? then : nullptr, then_lines);
  }
#else
  (void)x, (void)rows, (void)w, (void)dq, (void)y, (void)p, (void)then, (void)then_lines;
#endif
}

}  // namespace

bool vnni_gemm_available() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_features().avx512 && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

void vnni_int8_gemm(const uint8_t* x, std::size_t rows, const VnniPanels& w, const VnniDequantization& dq, float* y) {
  if (rows == 0) return;
  const std::size_t panels = (w.n + kPanel - 1) / kPanel;
  parallel_for(panels, 1, [&](std::size_t begin, std::size_t end, int) {
    for (std::size_t p = begin; p < end; ++p)
      gemm_panel(x, rows, w, dq, y, p, p + 1 < end ? panel_start(w, p + 1) : nullptr, w.k_padded);
  });
}

}  // namespace embed::compute
