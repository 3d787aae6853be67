#include "compute/small_gemm.hpp"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"
#include "compute/threads.hpp"

namespace embed::compute {

namespace {

constexpr std::size_t kPanel = 64;     // output columns per panel: 4 vectors of 16
// Rows per register tile, at most: 7 x 4 accumulators and the 4 weight vectors fill the 32 vector
// registers (the compiler keeps one accumulator in memory). Paired A/B per text against 6-row tiles,
// MiniLM batch 1: 0.979-0.986 of the time at 1 and 2 threads; spreading rows evenly over 6-row tiles
// alone: 1.000-1.007. (Since 6-row tiles run two k steps per loop iteration, below: a tie, 0.999-1.006.)
// Seven rows with the row values broadcast inside the FMAs (vfmadd231ps m32{1to16}: no broadcast register,
// no spill; inline assembly) ran at 0.64-0.83 of these tiles' rate with the weights in L1: a load per FMA.
constexpr std::size_t kRowBlock = 7;
// k steps per pass of all row blocks over a panel. Paired A/B of the layer shapes, 30 rows, L2-hot: chunks of
// 96 or 192 k (so that one fits L1) take 1.04-1.10 of the time; the whole k of 1536 at once ties.
constexpr std::size_t kChunk = 384;
constexpr std::size_t kLine = 16;      // floats per cache line
// Software prefetches of the next weights go to this many sequential streams at once, not one: a core
// keeps more reads from memory in flight over several streams (a plain read of 200 MB here: ~9 GB/s from
// one stream, 13 from four). Paired A/B per text at batch 1 against one stream: MiniLM 0.93-0.97 of the
// time at 1 thread, 0.96-0.98 at 2; MPNet-base 0.93 (3-6 streams alike, 8 and more slower). Each stream
// runs through a whole chunk, the row blocks continuing it in turn (against four short streams per block:
// 0.984-0.992 at 1 and 2 threads; 2, 6 or 8 long streams no better).
constexpr std::size_t kPrefetchStreams = 4;

// One register tile: rows [0, R) x the panel's 64 columns, over `steps` k steps of one chunk.
struct Tile {
  const float* x;          // first row at the chunk's first k
  std::size_t ldx;
  const float* w;          // the chunk's first k row in the panel (64 floats per k)
  std::size_t steps;
  float* y;                // first row at the panel's first column
  std::size_t ldy;
  std::size_t columns;     // valid columns of this panel (64, fewer in the last one)
  bool accumulate;         // continue the partial sums an earlier chunk stored in y
  bool last;               // the last chunk: add the bias, apply GELU
  const float* bias;       // this panel's 64 values (null: none)
  bool gelu;
  // The lines of the next chunk this tile brings into cache, spread evenly over its k steps: `prefetch_lines`
  // of them (0: none), taken in turn from `streams` sequential streams `stream_stride` lines apart that
  // start at `prefetch`.
  const float* prefetch;
  std::size_t prefetch_lines, streams, stream_stride;
};

#if defined(__x86_64__) && defined(__GNUC__)
EMBED_AVX512_KERNELS_BEGIN

// Where a tile's prefetches stand: `due` counts the lines owed so far in steps-ths of a line, so they
// spread evenly over the tile's k steps; line `offset` of stream `stream` comes next.
struct PrefetchCursor {
  std::size_t stream = 0, offset = 0, due = 0;
  // Issues the lines owed after `steps` more k steps.
  inline void advance(const Tile& t, std::size_t steps) {
    for (due += steps * t.prefetch_lines; due >= t.steps; due -= t.steps) {
      _mm_prefetch(reinterpret_cast<const char*>(t.prefetch + (stream * t.stream_stride + offset) * kLine),
                   _MM_HINT_T0);
      if (++stream == t.streams) stream = 0, ++offset;
    }
  }
};

// One k step of an R-row tile: the 64 weights of row k of the panel times each row's value at k.
template <int R>
__attribute__((target("avx512f"), always_inline)) inline void k_step(__m512 (&acc)[R][4], const float* const (&row)[R],
                                                                      std::size_t k, const float* wk) {
  const __m512 w0 = _mm512_loadu_ps(wk), w1 = _mm512_loadu_ps(wk + 16), w2 = _mm512_loadu_ps(wk + 32),
               w3 = _mm512_loadu_ps(wk + 48);
  for (int r = 0; r < R; ++r) {
    const __m512 b = _mm512_set1_ps(row[r][k]);
    acc[r][0] = _mm512_fmadd_ps(b, w0, acc[r][0]);
    acc[r][1] = _mm512_fmadd_ps(b, w1, acc[r][1]);
    acc[r][2] = _mm512_fmadd_ps(b, w2, acc[r][2]);
    acc[r][3] = _mm512_fmadd_ps(b, w3, acc[r][3]);
  }
}

template <int R>
__attribute__((target("avx512f"))) void run_tile(const Tile& t) {
  __mmask16 mask[4];
  avx512::panel_masks(t.columns, mask);
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c)
      acc[r][c] = t.accumulate ? _mm512_maskz_loadu_ps(mask[c], t.y + r * t.ldy + 16 * c) : _mm512_setzero_ps();
  // Each row's pointer is set up once, so a broadcast addresses row + k with no integer work of its own,
  // and two k steps share one loop count and prefetch check (integer ops take issue slots from the FMAs).
  // Paired A/B against computing x + r * ldx + k at every step, MiniLM batch 1: 0.964-0.977 of the time
  // at 1 and 2 threads. Seven-row tiles have no registers left over for a second step: unrolled, the
  // compiler spills (8 % slower).
  constexpr std::size_t kUnroll = R >= 7 ? 1 : 2;
  const float* row[R];
  for (int r = 0; r < R; ++r) row[r] = t.x + r * t.ldx;
  PrefetchCursor cursor;
  const float* wk = t.w;
  std::size_t k = 0;
  for (; k + kUnroll <= t.steps; k += kUnroll, wk += kUnroll * kPanel) {
    cursor.advance(t, kUnroll);
#pragma GCC unroll 2
    for (std::size_t u = 0; u < kUnroll; ++u) k_step<R>(acc, row, k + u, wk + u * kPanel);
  }
  for (; k < t.steps; ++k, wk += kPanel) {
    cursor.advance(t, 1);
    k_step<R>(acc, row, k, wk);
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < 4; ++c) {
      __m512 v = acc[r][c];
      if (t.last && t.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask[c], t.bias + 16 * c));
      if (t.last && t.gelu) v = avx512::gelu_erf16_precise(v);
      _mm512_mask_storeu_ps(t.y + r * t.ldy + 16 * c, mask[c], v);
    }
}
EMBED_AVX512_KERNELS_END

void run_tile_rows(std::size_t rows, const Tile& t) {
  switch (rows) {
    case 1: return run_tile<1>(t);
    case 2: return run_tile<2>(t);
    case 3: return run_tile<3>(t);
    case 4: return run_tile<4>(t);
    case 5: return run_tile<5>(t);
    case 6: return run_tile<6>(t);
    default: return run_tile<7>(t);
  }
}
#endif

// Panel p of w: k_padded rows of 64 floats.
const float* panel_start(const PanelWeights& w, std::size_t p) { return w.data + p * w.k_padded * kPanel; }
std::size_t panel_count(const PanelWeights& w) { return (w.n + kPanel - 1) / kPanel; }
// Floats of a panel's first chunk: what a prefetch of "the start of a panel" covers.
std::size_t first_chunk_floats(const PanelWeights& w) { return std::min(kChunk, w.k) * kPanel; }

// Panel p of the output. Chunk by chunk, every row block of the panel runs over the chunk's weights (from
// cache after the first block), and each block prefetches an equal share of the next chunk: later k of
// this panel, or at the last chunk `then_floats` floats from `then` (the start of the panel this thread
// takes next, in this call or the next one; null: none). Equal shares keep memory busy at an even rate
// over the whole chunk (paired A/B per text, MiniLM batch 1, against whole k rows per step in the first
// blocks only: 0.984-0.989 of the time).
void gemm_panel(const float* x, std::size_t rows, const PanelWeights& w, const float* bias, Activation act, float* y,
                std::size_t p, const float* then, std::size_t then_floats) {
#if defined(__x86_64__) && defined(__GNUC__)
  const std::size_t blocks = (rows + kRowBlock - 1) / kRowBlock;  // rows spread evenly over them
  const bool gelu = act == Activation::Gelu;
  const float* panel = panel_start(w, p);
  const std::size_t columns = std::min(kPanel, w.n - p * kPanel);
  for (std::size_t k0 = 0; k0 < w.k; k0 += kChunk) {
    const std::size_t steps = std::min(kChunk, w.k - k0);
    const bool last = k0 + steps == w.k;
    const float* next = !last ? panel + (k0 + steps) * kPanel : then;
    const std::size_t next_floats = !last ? std::min(kChunk, w.k - k0 - steps) * kPanel : then_floats;
    const std::size_t next_lines = next ? next_floats / kLine : 0;
    // The next chunk as kPrefetchStreams streams (its quarters), which the blocks continue one after the other.
    const std::size_t streams = std::min(kPrefetchStreams, std::max<std::size_t>(next_lines, 1));
    const std::size_t stream_lines = next_lines / streams;
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t r0 = rows * b / blocks, r1 = rows * (b + 1) / blocks;
      const std::size_t from = stream_lines * b / blocks, to = stream_lines * (b + 1) / blocks;
      Tile t{x + r0 * w.k + k0, w.k, panel + k0 * kPanel, steps, y + r0 * w.n + p * kPanel, w.n, columns,
             k0 > 0, last, bias ? bias + p * kPanel : nullptr, gelu, next ? next + from * kLine : nullptr,
             (to - from) * streams, streams, stream_lines};
      run_tile_rows(r1 - r0, t);
    }
  }
  if (act != Activation::Identity && !gelu)
    for (std::size_t r = 0; r < rows; ++r) apply_activation(act, y + r * w.n + p * kPanel, columns);
#else
  (void)x, (void)rows, (void)w, (void)bias, (void)act, (void)y, (void)p, (void)then, (void)then_floats;
#endif
}

// The panels of one call, dealt out to the threads in contiguous ranges. Each thread takes its own range
// front to back, so it knows its next panel and prefetches it; a thread done with its range takes panels
// from the back of the others' ranges. Without that, a core slowed down by another tenant held up every
// call: 2 threads, batch 1, 6 % of small_gemm's time went to waiting for the slower half. Splitting the
// rows between threads instead (each thread all panels for its half of the rows, so that whole layers run
// without a region per op) took 1.25x the time over MiniLM's 24 GEMMs at 30 rows: every thread then
// streams all the weights.
class PanelRanges {
 public:
  static constexpr std::size_t kMaxThreads = 256;  // ranges live on the stack: no allocation per call
  PanelRanges(std::size_t panels, std::size_t threads) : count_(threads) {
    for (std::size_t t = 0; t < threads; ++t) ranges_[t].store(pack(panels * t / threads, panels * (t + 1) / threads));
  }
  // The front panel of thread t's range, and whether the one after it is still t's.
  bool take_own(std::size_t t, std::size_t* panel, bool* more) {
    uint64_t r = ranges_[t].load();
    while (front(r) < back(r))
      if (ranges_[t].compare_exchange_weak(r, pack(front(r) + 1, back(r)))) {
        *panel = front(r);
        *more = front(r) + 1 < back(r);
        return true;
      }
    return false;
  }
  // The back panel of some other thread's range.
  bool steal(std::size_t t, std::size_t* panel) {
    for (std::size_t i = 1; i < count_; ++i) {
      auto& range = ranges_[(t + i) % count_];
      uint64_t r = range.load();
      while (front(r) < back(r))
        if (range.compare_exchange_weak(r, pack(front(r), back(r) - 1))) {
          *panel = back(r) - 1;
          return true;
        }
    }
    return false;
  }

 private:
  static uint64_t pack(std::size_t front, std::size_t back) { return (static_cast<uint64_t>(back) << 32) | front; }
  static std::size_t front(uint64_t r) { return static_cast<std::size_t>(r & 0xffffffffu); }
  static std::size_t back(uint64_t r) { return static_cast<std::size_t>(r >> 32); }
  std::size_t count_;
  std::array<std::atomic<uint64_t>, kMaxThreads> ranges_;
};

// Threads one call with `panels` panels runs on.
std::size_t threads_for(std::size_t panels) {
  return std::min({static_cast<std::size_t>(current_threads()), panels, PanelRanges::kMaxThreads});
}

// Where thread t starts in a call over w: its first panel (null: none, or w has no data) and how many
// floats of it the first chunk covers.
struct FirstPanels {
  explicit FirstPanels(const PanelWeights* w)
      : w_(w && w->data ? w : nullptr), panels_(w_ ? panel_count(*w_) : 0), threads_(w_ ? threads_for(panels_) : 0) {}
  const float* of(std::size_t t) const { return t < threads_ ? panel_start(*w_, panels_ * t / threads_) : nullptr; }
  std::size_t floats() const { return w_ ? first_chunk_floats(*w_) : 0; }

 private:
  const PanelWeights* w_;
  std::size_t panels_, threads_;
};

}  // namespace

bool small_gemm_available() {
#if defined(__x86_64__) && defined(__GNUC__)
  return cpu_features().avx512;
#else
  return false;
#endif
}

void small_gemm(const float* x, std::size_t rows, const PanelWeights& w, const float* bias, Activation act,
                float* y, const PanelWeights* after) {
  if (rows == 0) return;
  const std::size_t panels = panel_count(w);
  const std::size_t threads = threads_for(panels);
  PanelRanges ranges(panels, threads);
  const FirstPanels then(after);  // computed out here: current_threads() is this thread's setting
  // One range per thread (a thread given several, should the runtime start fewer, works through each).
  parallel_for(threads, 1, [&](std::size_t first, std::size_t end, int) {
    std::size_t p = 0;
    bool more = false;
    for (std::size_t t = first; t < end; ++t)
      while (ranges.take_own(t, &p, &more)) {
        if (more) gemm_panel(x, rows, w, bias, act, y, p, panel_start(w, p + 1), first_chunk_floats(w));
        else gemm_panel(x, rows, w, bias, act, y, p, then.of(t), then.floats());
      }
    while (ranges.steal(first, &p)) gemm_panel(x, rows, w, bias, act, y, p, nullptr, 0);
  });
}

}  // namespace embed::compute
