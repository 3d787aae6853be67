#include "compute/gemm_peak.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "compute/onednn_context.hpp"
#include "compute/threads.hpp"

namespace embed::compute {

double measure_gemm_peak(Precision precision, int threads) {
  ThreadScope scope(threads);
  const dnnl::memory::dim n = 2048;
  try {
    dnnl::matmul::primitive_desc pd(
        dnnl::matmul::desc(dnnl::memory::desc({n, n}, src_type_for(precision), dnnl::memory::format_tag::ab),
                           dnnl::memory::desc({n, n}, weight_type_for(precision), dnnl::memory::format_tag::any),
                           dnnl::memory::desc({n, n}, dst_type_for(precision), dnnl::memory::format_tag::ab)),
        cpu_engine());
    dnnl::memory a(pd.src_desc(), cpu_engine()), b(pd.weights_desc(), cpu_engine()), c(pd.dst_desc(), cpu_engine());
    std::memset(a.get_data_handle(), 0, pd.src_desc().get_size());
    std::memset(b.get_data_handle(), 0, pd.weights_desc().get_size());
    dnnl::matmul matmul(pd);
    auto& stream = thread_stream();
    double best = 0.0;
    for (int run = 0; run < 7; ++run) {  // the first run warms caches and page tables: not counted
      const auto t0 = std::chrono::steady_clock::now();
      matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      stream.wait();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (run > 0 && s > 0) best = std::max(best, 2.0 * n * n * n / s / 1e9);
    }
    return best;
  } catch (const dnnl::error&) {
    return 0.0;
  }
}

}  // namespace embed::compute
