// The core's arithmetic limit per precision (gemm_peak.hpp): a loop of nothing but the multiply-add
// instruction embed's kernels use, on 16 independent sums held in registers (no memory traffic, enough
// sums in flight to cover the instruction's latency), so that it runs at the rate the core issues it.
#include <algorithm>
#include <chrono>
#include <cstdint>

#include "compute/amx_gemm.hpp"
#include "compute/cpu_features.hpp"
#include "compute/gemm_peak.hpp"
#include "compute/threads.hpp"

namespace embed::compute {

namespace {

constexpr std::uint64_t kIterations = 10'000'000;  // x 16 instructions: ~25 ms per run at 2 per cycle
constexpr int kRuns = 6;                          // the first warms the core up (clock ramp): not counted

#if defined(__x86_64__) && defined(__GNUC__)
// One instruction `op` adding into sum register `i` with the fixed operands a and b (register numbers).
#define EMBED_OP(op, reg, a, b, i) op " %%" reg a ", %%" reg b ", %%" reg #i "\n"
// Sums 0 .. 11, and 12 .. 15 (zmm only: AVX2 has 16 registers, two of them the operands).
#define EMBED_SUMS_0_11(op, reg, a, b)                                                                        \
  EMBED_OP(op, reg, a, b, 0) EMBED_OP(op, reg, a, b, 1) EMBED_OP(op, reg, a, b, 2) EMBED_OP(op, reg, a, b, 3) \
  EMBED_OP(op, reg, a, b, 4) EMBED_OP(op, reg, a, b, 5) EMBED_OP(op, reg, a, b, 6) EMBED_OP(op, reg, a, b, 7) \
  EMBED_OP(op, reg, a, b, 8) EMBED_OP(op, reg, a, b, 9) EMBED_OP(op, reg, a, b, 10) EMBED_OP(op, reg, a, b, 11)
#define EMBED_SUMS_12_15(op, reg, a, b) \
  EMBED_OP(op, reg, a, b, 12) EMBED_OP(op, reg, a, b, 13) EMBED_OP(op, reg, a, b, 14) EMBED_OP(op, reg, a, b, 15)
// n iterations of `op` on sums zmm0 .. zmm15, operands zmm16 and zmm17 (zero: the values do not matter);
// vzeroupper after, as compiled AVX code leaves it for the SSE code that may follow.
#define EMBED_ZMM_LOOP(op)                                                                                       \
  asm volatile("vpxord %%zmm16, %%zmm16, %%zmm16\n vpxord %%zmm17, %%zmm17, %%zmm17\n 1:\n" EMBED_SUMS_0_11( \
                   op, "zmm", "16", "17") EMBED_SUMS_12_15(op, "zmm", "16", "17") "dec %0\n jnz 1b\n vzeroupper\n" \
               : "+r"(n)                                                                                         \
               :                                                                                                 \
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",        \
                 "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "cc")

__attribute__((target("avx512f"))) void fma_zmm(std::uint64_t n) { EMBED_ZMM_LOOP("vfmadd231ps"); }
__attribute__((target("avx512f,avx512bf16"))) void dpbf16_zmm(std::uint64_t n) { EMBED_ZMM_LOOP("vdpbf16ps"); }
__attribute__((target("avx512f,avx512vnni"))) void dpbusd_zmm(std::uint64_t n) { EMBED_ZMM_LOOP("vpdpbusd"); }
// 12 sums ymm0 .. ymm11, operands ymm14 and ymm15.
__attribute__((target("avx2,fma"))) void fma_ymm(std::uint64_t n) {
  asm volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n vpxor %%ymm15, %%ymm15, %%ymm15\n 1:\n" EMBED_SUMS_0_11(
                   "vfmadd231ps", "ymm", "14", "15") "dec %0\n jnz 1b\n vzeroupper\n"
               : "+r"(n)
               :
               : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                 "xmm14", "xmm15", "cc");
}
#undef EMBED_ZMM_LOOP
#undef EMBED_SUMS_12_15
#undef EMBED_SUMS_0_11
#undef EMBED_OP
#endif

// A loop to time: its function, the instructions per iteration and the operations each does.
struct Loop {
  void (*run)(std::uint64_t) = nullptr;
  int instructions = 0;
  int ops_per_instruction = 0;  // a multiply and an add per product
  const char* name = "";
};

// The loop for `precision` on this CPU, or none (run null) with the reason in name.
Loop loop_for(Precision precision) {
#if defined(__x86_64__) && defined(__GNUC__)
  const bool avx512 = cpu_features().avx512;
  switch (precision) {
    case Precision::FP32:
      if (avx512) return {fma_zmm, 16, 2 * 16, "vfmadd231ps zmm"};
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {fma_ymm, 12, 2 * 8, "vfmadd231ps ymm"};
      return {nullptr, 0, 0, "not measured: no FMA here"};
    case Precision::BF16:
      if (amx_bf16_available()) return {nullptr, 0, 0, "not measured: bf16 runs on AMX tiles here"};
      if (cpu_features().avx512_bf16) return {dpbf16_zmm, 16, 2 * 32, "vdpbf16ps zmm"};
      return {nullptr, 0, 0, "not measured: no AVX512-BF16 here (bf16 runs as fp32)"};
    case Precision::INT8:
      if (amx_int8_available()) return {nullptr, 0, 0, "not measured: int8 runs on AMX tiles here"};
      if (avx512 && __builtin_cpu_supports("avx512vnni")) return {dpbusd_zmm, 16, 2 * 64, "vpdpbusd zmm"};
      return {nullptr, 0, 0, "not measured: no AVX512-VNNI here"};
  }
#else
  (void)precision;
#endif
  return {nullptr, 0, 0, "not an x86-64 build"};
}

}  // namespace

InstructionPeak measure_instruction_peak(Precision precision, int threads) {
  const Loop loop = loop_for(precision);
  if (!loop.run) return {0.0, loop.name};
  ThreadScope scope(threads);
  const int team = current_threads();
  double best = 0.0;
  for (int run = 0; run < kRuns; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(static_cast<std::size_t>(team), 1, [&](std::size_t b, std::size_t e, int) {
      for (std::size_t i = b; i < e; ++i) loop.run(kIterations);  // one loop per thread
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double ops = static_cast<double>(team) * kIterations * loop.instructions * loop.ops_per_instruction;
    if (run > 0 && s > 0) best = std::max(best, ops / s / 1e9);
  }
  return {best, loop.name};
}

}  // namespace embed::compute
