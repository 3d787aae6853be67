#pragma once
// int8 GEMM for a few rows (one short text at batch 1) on AVX512-VNNI, over the weights oneDNN packed for
// its own int8 GEMM.
//
// Why: at batch 1 a text makes 4 int8 GEMM calls per layer, each of a few dozen rows; through oneDNN about
// 6 % of the time went to each call's dispatch (its primitive lookup and argument handling: 4.3 % in
// libdnnl, 1.4 % in our primitive cache) on top of the products, and its kernel left the weights to arrive
// on demand; this one prefetches the next panel while it reads the current one from cache. Paired A/B per
// text, MiniLM batch 1 on an AMD Zen 5: oneDNN took 1.23x (1 thread) and 1.21x (2 threads) the time of
// this kernel (1.07x / 1.08x without the prefetch). The sums are integers, so the output is oneDNN's bit
// for bit. (CPUs with AMX run amx_gemm instead.)
#include <cstddef>
#include <cstdint>

namespace embed::compute {

// s8 weights W [k, n] in oneDNN's VNNI layout "BA16a64b4a": panels of 64 output columns, each k_padded / 4
// groups of 64 columns x 4 consecutive k (256 bytes), k padded to 64 and n to 64 with zeros.
struct Int8Panels {
  const int8_t* data = nullptr;
  std::size_t k = 0, n = 0, k_padded = 0;
};

// Whether this CPU runs int8_small_gemm (AVX512 with VNNI).
bool int8_small_gemm_available();

// y[rows, n] = x[rows, k] W as exact int32 sums (x: u8 codes, rows k bytes apart; k a multiple of 4), on
// current_threads() threads, each taking whole panels.
void int8_small_gemm(const uint8_t* x, std::size_t rows, const Int8Panels& w, int32_t* y);

}  // namespace embed::compute
