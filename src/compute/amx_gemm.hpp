#pragma once
// int8 and bf16 GEMM on AMX tiles (Intel Sapphire Rapids and later), for rows in chunks of a few tiles.
//
// Why: at ~30 rows (one short text) a layer's weights are used by only a couple of tile multiplies each,
// so a GEMM runs at the speed its weights arrive; oneDNN's AMX matmul spent 29-108 us per int8 call there
// (MiniLM shape, one core), several times what streaming the weights takes. This kernel walks the weights
// in the order they are stored, prefetching ahead, with nothing to set up per call. Paired A/B, MiniLM
// shape, 1 / 2 threads: oneDNN took 1.6x / 1.3x its time per text at batch 1 (int8 and bf16), and at
// batch 32 1.15-1.25x (int8) and 1.12-1.17x (bf16) with 64-row chunks, whose accumulators stay in L2
// while the layer's weights are re-read from L2.
#include <cstddef>
#include <cstdint>
#include <memory>

namespace embed::compute {

// Rows of one AMX tile: callers pad the rows of the input (and output) buffers to a multiple of this.
constexpr std::size_t kAmxTileRows = 16;

// Whether this CPU has AMX-INT8 / AMX-BF16, the OS lets this process use the tile registers (the first
// call asks Linux for the permission) and the environment does not say EMBED_AMX=0.
bool amx_int8_available();
bool amx_bf16_available();

// Weights W [n, k] (row-major, one output per row; s8 or bf16 bits) in tile order: for each pair of
// 16-column blocks, for each 64-byte block of k, the two blocks' tiles of 16 rows x 64 bytes (a tile row
// holds one 4-byte group of k, 4 int8 or 2 bf16 values, for each of the 16 columns).
class AmxWeights {
 public:
  AmxWeights() = default;
  // Shapes the kernel runs: k values filling whole 64-byte rows, n a multiple of 32.
  static bool supports(std::size_t k, std::size_t n, std::size_t value_bytes) {
    return k > 0 && n > 0 && k * value_bytes % 64 == 0 && n % 32 == 0;
  }
  AmxWeights(const int8_t* w, std::size_t n, std::size_t k);
  AmxWeights(const uint16_t* w_bf16, std::size_t n, std::size_t k);
  explicit operator bool() const { return data_ != nullptr; }
  const int8_t* data() const { return reinterpret_cast<const int8_t*>(data_.get()); }
  std::size_t k() const { return k_; }
  std::size_t n() const { return n_; }

 private:
  template <typename T>
  void pack(const T* w);
  std::shared_ptr<std::byte> data_;  // from allocate_weight_memory (huge pages)
  std::size_t k_ = 0, n_ = 0;
};

// y [rows, n] = x [rows, k] W^T on current_threads() threads, each taking whole pairs of 16-column blocks.
// rows: a multiple of kAmxTileRows; x rows are k values apart, y rows n values apart.
// int8: u8 activations x s8 weights, exact int32 sums. Call only when amx_int8_available().
void amx_int8_gemm(const uint8_t* x, std::size_t rows, const AmxWeights& w, int32_t* y);
// bf16: products of bf16 values summed in fp32. Call only when amx_bf16_available().
void amx_bf16_gemm(const uint16_t* x, std::size_t rows, const AmxWeights& w, float* y);

}  // namespace embed::compute
