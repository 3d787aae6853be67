#include "compute/onednn_context.hpp"

namespace embed::compute {

using dt = dnnl::memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

dt src_type_for(Precision p) { return p == Precision::FP32 ? dt::f32 : p == Precision::BF16 ? dt::bf16 : dt::u8; }
dt weight_type_for(Precision p) { return p == Precision::FP32 ? dt::f32 : p == Precision::BF16 ? dt::bf16 : dt::s8; }
dt dst_type_for(Precision p) { return p == Precision::INT8 ? dt::s32 : dt::f32; }

}  // namespace embed::compute
