#pragma once
// The oneDNN objects every GEMM here shares: one CPU engine, one stream per thread, and the data types a
// precision's GEMM runs in.
#include <oneapi/dnnl/dnnl.hpp>

#include "embed/model.hpp"

namespace embed::compute {

dnnl::engine& cpu_engine();
// The calling thread's stream (oneDNN streams are not shared between threads).
dnnl::stream& thread_stream();

// GEMM data types per precision: int8 is u8 activations x s8 weights -> s32 accumulators.
dnnl::memory::data_type src_type_for(Precision p);
dnnl::memory::data_type weight_type_for(Precision p);
dnnl::memory::data_type dst_type_for(Precision p);

}  // namespace embed::compute
