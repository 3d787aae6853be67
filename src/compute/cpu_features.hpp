#pragma once
// The instruction-set extensions embed's own kernels may use, decided once for the whole engine: what the
// CPU has, capped by the instruction set oneDNN (the GEMM library) may use. oneDNN reads the cap from its
// environment variable ONEDNN_MAX_CPU_ISA (e.g. AVX2), so that one setting sends every GEMM and every
// hand-written kernel down the paths an older CPU takes: the tests run the model parity suites that way
// to check the portable paths on an AVX-512 machine. (Loops compiled with target_clones pick their
// variant when the program loads, from the CPU alone.)
namespace embed::compute {

struct CpuFeatures {
  bool avx512 = false;       // AVX512 F, BW, VL and DQ (oneDNN's "avx512_core")
  bool avx512_bf16 = false;  // and AVX512_BF16
  bool amx_int8 = false;     // AMX tiles with int8 products (whether Linux lets us use them is asked apart)
  bool amx_bf16 = false;     // AMX tiles with bf16 products
};

const CpuFeatures& cpu_features();

}  // namespace embed::compute
