#include "compute/cpu_features.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

namespace embed::compute {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// CPUID leaf 7, EDX: bit 24 AMX-TILE, 25 AMX-INT8, 22 AMX-BF16.
bool cpu_has_amx(unsigned edx_bit) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d & (1u << 24)) && (d & (1u << edx_bit));
}

CpuFeatures detect() {
  using isa = dnnl::cpu_isa;
  // oneDNN's effective ISA: the best it found on this CPU, or less when ONEDNN_MAX_CPU_ISA says so.
  const isa allowed = dnnl::get_effective_cpu_isa();
  const bool amx_allowed = allowed == isa::avx512_core_amx;
  const bool bf16_allowed = amx_allowed || allowed == isa::avx512_core_bf16;
  const bool avx512_allowed = bf16_allowed || allowed == isa::avx512_core_vnni || allowed == isa::avx512_core;

  CpuFeatures f;
  f.avx512 = avx512_allowed && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  f.avx512_bf16 = f.avx512 && bf16_allowed && __builtin_cpu_supports("avx512bf16");
  f.amx_int8 = f.avx512 && amx_allowed && cpu_has_amx(25);
  f.amx_bf16 = f.avx512 && amx_allowed && cpu_has_amx(22);
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace embed::compute
