#include "compute/amx_int8.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "compute/threads.hpp"

namespace embed::compute {

namespace {

constexpr std::size_t kBlockColumns = 16;  // columns of one B tile
constexpr std::size_t kBlockK = 64;        // k of one tile (64 bytes per tile row)
constexpr std::size_t kTileBytes = kAmxTileRows * 64;
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
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) == 0;
}

bool cpu_has_amx_int8() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d & (1u << 24)) && (d & (1u << 25));  // AMX-TILE, AMX-INT8
}

// Column blocks `pair` and pair + 1 for row tiles [row_tile, row_tile + tiles) (tiles: 1 or 2).
__attribute__((target("amx-tile,amx-int8"))) void pair_of_blocks(const uint8_t* x, std::size_t k,
                                                                 const int8_t* panel, std::size_t tiles,
                                                                 int32_t* y, std::size_t n) {
  const std::size_t x_stride = k, y_stride = n * sizeof(int32_t);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (std::size_t k0 = 0; k0 < k; k0 += kBlockK, panel += 2 * kTileBytes) {
    // The weights two k steps on (past the pair's end: the thread's next pair), into L1.
    for (std::size_t line = 0; line < 2 * kTileBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(panel + kPrefetchAhead + line), _MM_HINT_T0);
    _tile_loadd(6, panel, 64);
    _tile_loadd(7, panel + kTileBytes, 64);
    _tile_loadd(4, x + k0, x_stride);
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    if (tiles == 2) {
      _tile_loadd(5, x + kAmxTileRows * x_stride + k0, x_stride);
      _tile_dpbusd(2, 5, 6);
      _tile_dpbusd(3, 5, 7);
    }
  }
  _tile_stored(0, y, y_stride);
  _tile_stored(1, y + kBlockColumns, y_stride);
  if (tiles == 2) {
    _tile_stored(2, y + kAmxTileRows * n, y_stride);
    _tile_stored(3, y + kAmxTileRows * n + kBlockColumns, y_stride);
  }
}

__attribute__((target("amx-tile,amx-int8"))) void load_tile_config() {
  static const TileConfig config;
  _tile_loadconfig(&config);
}

__attribute__((target("amx-tile"))) void release_tiles() { _tile_release(); }
#endif

}  // namespace

bool amx_int8_available() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool available = cpu_has_amx_int8() && request_tile_permission();
  return available;
#else
  return false;
#endif
}

void AmxInt8Weights::Free::operator()(int8_t* p) const { std::free(p); }

AmxInt8Weights::AmxInt8Weights(const int8_t* w, std::size_t n, std::size_t k) : k_(k), n_(n) {
  const std::size_t bytes = n * k;
  data_.reset(static_cast<int8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!data_) throw std::bad_alloc();
  int8_t* out = data_.get();
  // Pair of column blocks, then k block, then the pair's two tiles: one call's reads run front to back.
  for (std::size_t n0 = 0; n0 < n; n0 += 2 * kBlockColumns)
    for (std::size_t k0 = 0; k0 < k; k0 += kBlockK)
      for (std::size_t block = 0; block < 2; ++block)
        for (std::size_t quad = 0; quad < kBlockK / 4; ++quad)         // tile row: k0 + 4 quad .. + 3
          for (std::size_t c = 0; c < kBlockColumns; ++c)
            for (std::size_t i = 0; i < 4; ++i)
              *out++ = w[(n0 + block * kBlockColumns + c) * k + k0 + 4 * quad + i];
}

void amx_int8_gemm(const uint8_t* x, std::size_t rows, const AmxInt8Weights& w, int32_t* y) {
#if defined(__x86_64__) && defined(__GNUC__)
  const std::size_t k = w.k(), n = w.n(), pairs = n / (2 * kBlockColumns), row_tiles = rows / kAmxTileRows;
  const std::size_t pair_bytes = 2 * kBlockColumns * k;
  parallel_for(pairs, 1, [&](std::size_t first, std::size_t end, int) {
    load_tile_config();
    for (std::size_t p = first; p < end; ++p)
      for (std::size_t t = 0; t < row_tiles; t += 2)
        pair_of_blocks(x + t * kAmxTileRows * k, k, w.data() + p * pair_bytes, row_tiles - t >= 2 ? 2 : 1,
                       y + t * kAmxTileRows * n + p * 2 * kBlockColumns, n);
    release_tiles();
  });
#else
  (void)x, (void)rows, (void)w, (void)y;
#endif
}

}  // namespace embed::compute
