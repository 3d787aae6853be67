#include "compute/amx_gemm.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "compute/cpu_features.hpp"
#include "compute/threads.hpp"
#include "compute/weight_memory.hpp"

namespace embed::compute {

namespace {

constexpr std::size_t kBlockColumns = 16;  // columns of one B tile
constexpr std::size_t kRowBytes = 64;      // bytes of one tile row: the k of one step
constexpr std::size_t kTileBytes = kAmxTileRows * kRowBytes;
// How far ahead of its tile loads the kernel prefetches weights. Paired A/B, MiniLM int8, batch 1, one core:
// 4 KiB took 0.83-0.85 of the time of no prefetch (2 KiB 0.93, 6 KiB 0.88, 8 KiB 0.88, 16 KiB 0.89; into L2
// only: 0.93-0.96); two cores 0.95.
constexpr std::size_t kPrefetchAhead = 4096;

#if defined(__x86_64__) && defined(__GNUC__)
// Tile registers: 0-3 accumulators (2 row tiles x 2 column blocks), 4-5 activations, 6-7 weights; each
// 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {64, 64, 64, 64, 64, 64, 64, 64};
  uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};

bool request_tile_permission() {
  constexpr long kArchReqXcompPerm = 0x1023;  // arch_prctl: ask for an XSAVE feature
  constexpr long kXfeatureTileData = 18;
  static const bool granted = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) == 0;
  return granted;
}

// Accumulator tile c += activation tile a x weight tile b. A macro: the tile intrinsics take their register
// numbers as literal text.
#define TILE_PRODUCT(c, a, b)   \
  if constexpr (Bf16)           \
    _tile_dpbf16ps(c, a, b);    \
  else                          \
    _tile_dpbusd(c, a, b)

// Column blocks of one pair for one or two row tiles: y (16 or 32 rows, 32 columns, 4-byte values n apart)
// from x (rows `x_stride` bytes apart, k_bytes of them used) and the pair's weights, k step by k step.
template <bool Bf16>
__attribute__((target("amx-tile,amx-int8,amx-bf16"))) void pair_of_blocks(const uint8_t* x, std::size_t x_stride,
                                                                          std::size_t k_bytes, const int8_t* panel,
                                                                          std::size_t tiles, void* y_out,
                                                                          std::size_t n) {
  auto* y = static_cast<char*>(y_out);
  const std::size_t y_stride = n * 4;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (std::size_t k0 = 0; k0 < k_bytes; k0 += kRowBytes, panel += 2 * kTileBytes) {
    // The weights two k steps on (past the pair's end: the thread's next pair), into L1.
    for (std::size_t line = 0; line < 2 * kTileBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(panel + kPrefetchAhead + line), _MM_HINT_T0);
    _tile_loadd(6, panel, 64);
    _tile_loadd(7, panel + kTileBytes, 64);
    _tile_loadd(4, x + k0, x_stride);
    TILE_PRODUCT(0, 4, 6);
    TILE_PRODUCT(1, 4, 7);
    if (tiles == 2) {
      _tile_loadd(5, x + kAmxTileRows * x_stride + k0, x_stride);
      TILE_PRODUCT(2, 5, 6);
      TILE_PRODUCT(3, 5, 7);
    }
  }
  _tile_stored(0, y, y_stride);
  _tile_stored(1, y + kBlockColumns * 4, y_stride);
  if (tiles == 2) {
    _tile_stored(2, y + kAmxTileRows * y_stride, y_stride);
    _tile_stored(3, y + kAmxTileRows * y_stride + kBlockColumns * 4, y_stride);
  }
}

#undef TILE_PRODUCT

__attribute__((target("amx-tile"))) void load_tile_config() {
  static const TileConfig config;
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile"))) void release_tiles() { _tile_release(); }

// y = x W^T for `rows` rows (a multiple of 16): each thread takes whole pairs of column blocks, and runs
// each pair over the row tiles two at a time (the pair's weights then come from cache after the first).
template <bool Bf16>
void amx_gemm(const uint8_t* x, std::size_t rows, const AmxWeights& w, void* y) {
  const std::size_t value_bytes = Bf16 ? 2 : 1;
  const std::size_t k_bytes = w.k() * value_bytes, n = w.n();
  const std::size_t pairs = n / (2 * kBlockColumns), row_tiles = rows / kAmxTileRows;
  const std::size_t pair_bytes = 2 * kBlockColumns * k_bytes;
  parallel_for(pairs, 1, [&](std::size_t first, std::size_t end, int) {
    load_tile_config();
    for (std::size_t p = first; p < end; ++p)
      for (std::size_t t = 0; t < row_tiles; t += 2)
        pair_of_blocks<Bf16>(x + t * kAmxTileRows * k_bytes, k_bytes, k_bytes, w.data() + p * pair_bytes,
                             row_tiles - t >= 2 ? 2 : 1,
                             static_cast<char*>(y) + (t * kAmxTileRows * n + p * 2 * kBlockColumns) * 4, n);
    release_tiles();
  });
}
#endif

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
// EMBED_AMX=0 turns the kernels off (read when a layer is packed): oneDNN then runs those layers.
static bool amx_turned_off() {
  const char* setting = std::getenv("EMBED_AMX");
  return setting && std::strcmp(setting, "0") == 0;
}
bool amx_int8_available() {
  static const bool available = cpu_features().amx_int8 && request_tile_permission();
  return available && !amx_turned_off();
}
bool amx_bf16_available() {
  static const bool available = cpu_features().amx_bf16 && request_tile_permission();
  return available && !amx_turned_off();
}
#else
bool amx_int8_available() { return false; }
bool amx_bf16_available() { return false; }
#endif

template <typename T>
void AmxWeights::pack(const T* w) {
  const std::size_t group = 4 / sizeof(T);            // values of k in one 4-byte group of a tile row
  const std::size_t step = kRowBytes / sizeof(T);     // values of k in one k step (a tile row)
  const std::size_t bytes = n_ * k_ * sizeof(T);
  data_ = allocate_weight_memory(bytes);
  T* out = reinterpret_cast<T*>(data_.get());
  // Pair of column blocks, then k step, then the pair's two tiles: one call's reads run front to back.
  for (std::size_t n0 = 0; n0 < n_; n0 += 2 * kBlockColumns)
    for (std::size_t k0 = 0; k0 < k_; k0 += step)
      for (std::size_t block = 0; block < 2; ++block)
        for (std::size_t row = 0; row < kAmxTileRows; ++row)  // tile row: k0 + group * row ...
          for (std::size_t c = 0; c < kBlockColumns; ++c)
            for (std::size_t i = 0; i < group; ++i)
              *out++ = w[(n0 + block * kBlockColumns + c) * k_ + k0 + group * row + i];
}

AmxWeights::AmxWeights(const int8_t* w, std::size_t n, std::size_t k) : k_(k), n_(n) { pack(w); }
AmxWeights::AmxWeights(const uint16_t* w_bf16, std::size_t n, std::size_t k) : k_(k), n_(n) { pack(w_bf16); }

void amx_int8_gemm(const uint8_t* x, std::size_t rows, const AmxWeights& w, int32_t* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  amx_gemm<false>(x, rows, w, y);
#else
  (void)x, (void)rows, (void)w, (void)y;
#endif
}

void amx_bf16_gemm(const uint16_t* x, std::size_t rows, const AmxWeights& w, float* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  amx_gemm<true>(reinterpret_cast<const uint8_t*>(x), rows, w, y);
#else
  (void)x, (void)rows, (void)w, (void)y;
#endif
}

}  // namespace embed::compute
