#pragma once
// This machine's GEMM peak, the yardstick `embed bench --gemm-peak` reports a model's speed against.
#include "embed/model.hpp"

namespace embed::compute {

// The measured peak for a precision on `threads` threads: the best of a few runs of oneDNN matmul on a
// 2048^3 problem, in GFLOP/s (GOP/s for int8); 0 when the CPU lacks the precision.
double measure_gemm_peak(Precision precision, int threads);

}  // namespace embed::compute
