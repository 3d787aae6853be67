#pragma once
// This machine's yardsticks, which `embed bench --gemm-peak` reports a model's speed against: what a
// well-tuned GEMM reaches here, and what the core's multiply-add instruction itself allows.
#include <string>

#include "embed/model.hpp"

namespace embed::compute {

// The measured peak for a precision on `threads` threads: the best of a few runs of oneDNN matmul on a
// 2048^3 problem, in GFLOP/s (GOP/s for int8); 0 when the CPU lacks the precision.
double measure_gemm_peak(Precision precision, int threads);

// The rate of the multiply-add instruction embed's kernels use for a precision on this CPU (fp32:
// vfmadd231ps; bf16: vdpbf16ps; int8: vpdpbusd) on `threads` threads, each looping over it with its sums
// in registers: the ceiling no GEMM exceeds. Best of a few runs, in GFLOP/s (GOP/s for int8, a multiply
// and an add per product). 0 where not measured: the CPU lacks the instruction, or the precision runs
// on AMX tiles here (whose limit this loop is not); `instruction` then says which.
struct InstructionPeak {
  double ops_per_s = 0.0;
  std::string instruction;  // e.g. "vfmadd231ps zmm"
};
InstructionPeak measure_instruction_peak(Precision precision, int threads);

}  // namespace embed::compute
