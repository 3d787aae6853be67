#pragma once
// int8 GEMM on AMX tiles (Intel Sapphire Rapids and later), for rows in chunks of up to a few tiles.
//
// Why: at ~30 rows (one short text) a layer's int8 weights are used by only a couple of tile multiplies
// each, so a GEMM runs at the speed its weights arrive; oneDNN's AMX matmul spent 29-108 us per call
// there (MiniLM shape, one core), several times what streaming the weights takes. This kernel walks the
// weights in the order they are stored, prefetching ahead, with nothing to set up per call: paired A/B,
// MiniLM int8, oneDNN took 1.6x its time per text at batch 1 and 1.15-1.25x at batch 32 (64-row chunks,
// whose accumulators stay in L2 while the layer's weights are re-read from L2).
#include <cstddef>
#include <cstdint>
#include <memory>

namespace embed::compute {

// Rows of one AMX tile: callers pad the rows of the input (and output) buffers to a multiple of this.
constexpr std::size_t kAmxTileRows = 16;

// Whether this CPU has AMX-INT8 and the OS lets this process use the tile registers (the first call asks
// Linux for the permission).
bool amx_int8_available();

// s8 weights W [n, k] (row-major, one output per row) in tile order: for each pair of 16-column blocks,
// for each 64-k block, the two blocks' 16 x 64-byte tiles (each tile row: 4 consecutive k of 16 columns).
class AmxInt8Weights {
 public:
  AmxInt8Weights() = default;
  // Shapes the kernel runs: k a multiple of 64, n a multiple of 32.
  static bool supports(std::size_t k, std::size_t n) { return k > 0 && n > 0 && k % 64 == 0 && n % 32 == 0; }
  AmxInt8Weights(const int8_t* w, std::size_t n, std::size_t k);
  explicit operator bool() const { return data_ != nullptr; }
  const int8_t* data() const { return data_.get(); }
  std::size_t k() const { return k_; }
  std::size_t n() const { return n_; }

 private:
  struct Free {
    void operator()(int8_t* p) const;
  };
  std::unique_ptr<int8_t, Free> data_;
  std::size_t k_ = 0, n_ = 0;
};

// y [rows, n] = x [rows, k] W^T in exact int32 (u8 activations x s8 weights), on current_threads()
// threads, each taking whole pairs of 16-column blocks. rows: a multiple of kAmxTileRows; x rows are k
// bytes apart, y rows n values apart. Call only when amx_int8_available().
void amx_int8_gemm(const uint8_t* x, std::size_t rows, const AmxInt8Weights& w, int32_t* y);

}  // namespace embed::compute
