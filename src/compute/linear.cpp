#include "compute/linear.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "compute/amx_gemm.hpp"
#include "compute/dot_gemm.hpp"
#include "compute/kernels.hpp"
#include "compute/onednn_context.hpp"
#include "compute/small_gemm.hpp"
#include "compute/threads.hpp"
#include "compute/weight_memory.hpp"
#include "compute/workspace.hpp"
#include "embed/error.hpp"

namespace embed::compute {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// oneDNN post-op for an activation; false when it has none (the activation then runs separately).
bool eltwise_for(Activation act, dnnl::algorithm* alg, float* alpha) {
  *alpha = 0.0f;
  switch (act) {
    case Activation::Gelu: *alg = dnnl::algorithm::eltwise_gelu_erf; return true;
    case Activation::GeluNew:
    case Activation::GeluFast: *alg = dnnl::algorithm::eltwise_gelu_tanh; return true;
    case Activation::Relu: *alg = dnnl::algorithm::eltwise_relu; return true;
    case Activation::Tanh: *alg = dnnl::algorithm::eltwise_tanh; return true;
    case Activation::Sigmoid: *alg = dnnl::algorithm::eltwise_logistic; return true;
    case Activation::Silu: *alg = dnnl::algorithm::eltwise_swish; *alpha = 1.0f; return true;
    case Activation::Identity: return false;
  }
  return false;
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::FP32: return "fp32";
    case Precision::BF16: return "bf16";
    case Precision::INT8: return "int8";
  }
  return "?";
}

// CPUs without VNNI multiply u8 x s8 pairs into saturating int16: keep activations to 7 bits there.
bool has_vnni() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx || isa == dnnl::cpu_isa::avx2_vnni;
}

bool has_amx() { return dnnl::get_effective_cpu_isa() == dnnl::cpu_isa::avx512_core_amx; }

// oneDNN memory objects over caller-owned buffers, one per (descriptor, role) and calling thread, re-pointed
// at each call's buffer: creating them per call (allocation, descriptor copies) cost ~6 % of a batch-1
// encode. They depend only on the shape and type, so every layer of that shape shares them (MiniLM: about
// six per distinct row count); a thread keeps at most kMaxViews (~1 KB each), forgetting all beyond that.
class MemoryViews {
 public:
  enum Role { kSource, kDestination, kScratch };
  // Call only between GEMMs: a returned memory object stays valid until the next call's lookups.
  dnnl::memory& over(const dnnl::memory::desc& md, Role role, void* buffer) {
    const dnnl_memory_desc_t& c = md.data;  // the C descriptor: no allocation, unlike md.dims()
    Key key{c.ndims > 0 ? c.dims[0] : 0, c.ndims > 1 ? c.dims[1] : 0, static_cast<int>(c.data_type), c.ndims, role};
    auto it = views_.find(key);
    if (it == views_.end()) it = views_.emplace(key, dnnl::memory(md, cpu_engine(), DNNL_MEMORY_NONE)).first;
    it->second.set_data_handle(buffer);
    return it->second;
  }
  // Drops every view when there are too many (at the start of a GEMM, when none is in use).
  void bound() {
    if (views_.size() > kMaxViews) views_.clear();
  }

 private:
  static constexpr std::size_t kMaxViews = 1024;
  struct Key {
    int64_t d0, d1;
    int type, rank, role;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<int64_t>()(k.d0 * 1000003 + k.d1) ^ (static_cast<std::size_t>(k.type * 64 + k.rank * 4 + k.role) << 48);
    }
  };
  std::unordered_map<Key, dnnl::memory, KeyHash> views_;
};

MemoryViews& thread_memory_views() {
  thread_local MemoryViews views;
  views.bound();
  return views;
}

// x [rows, width] rounded to bf16 into y, rows split across the threads.
void to_bf16_rows(const float* x, std::size_t rows, std::size_t width, uint16_t* y) {
  parallel_for(rows, 16, [&](std::size_t b, std::size_t e, int) {
    kernels::to_bf16(x + b * width, y + b * width, (e - b) * width);
  });
}

constexpr dnnl::memory::dim kPackRows = 256;  // representative M used to choose the packed weight layout

}  // namespace

struct Linear::Impl : std::enable_shared_from_this<Linear::Impl> {
  struct Prim {
    dnnl::matmul::primitive_desc pd;
    dnnl::matmul prim;
    bool fused_act = false;
    // The argument descriptors, queried once (each query copies a descriptor: ~1 % of a batch-1 encode).
    dnnl::memory::desc src_md, dst_md, scratch_md;
  };

  Precision precision = Precision::FP32;
  int threads = 1;
  std::size_t in = 0, out = 0;
  dnnl::memory::desc weights_md;
  std::shared_ptr<std::byte> weights_buffer;  // from allocate_weight_memory (huge pages)
  dnnl::memory weights;                  // packed for the GEMM, in weights_buffer
  std::vector<float> bias;               // fp32 [out] (empty: none)
  dnnl::memory bias_memory;              // over `bias` (fp32 / bf16 only: int8 adds it when dequantizing)
  PanelWeights panels;                   // fp32 packed weights as small_gemm reads them (data null: not that layout)
  DotPanels dot_panels;                  // int8 / bf16 packed weights as dot_gemm reads them (data null: none)
  bool f32_dot = false;                  // fp32 beyond small_gemm's rows on dot_gemm (needs panels; EMBED_DOT not 0)
  std::vector<float> wscale;             // int8: per output channel
  std::vector<float> wcolsum;            // int8: wscale * (sum over in of the quantized weights), per output channel
  int qmax = 255;                        // int8: activation range [0, qmax]
  AmxWeights amx;                        // int8 / bf16 on AMX CPUs: the weights for embed's AMX kernel (empty: none)
  std::string info;

  std::mutex mutex;
  // The layer whose small-rows GEMM ran right after this one's last time on the calling thread (guarded by
  // `mutex`): a model runs its layers in the same order for every text, so at batch 1 this layer's last
  // panels prefetch the next layer's first weights, not left to arrive on demand. Paired A/B per text,
  // MiniLM batch 1: 0.972-0.979 of the time at 1 and 2 threads (MPNet-base, larger layers: 0.995).
  std::weak_ptr<const Impl> then;
  // Primitives by (rows, activation, threads, output type). A primitive holds ~10 KB (descriptors, JIT
  // kernels) and every row count needs its own, so the cache keeps the kMaxPrimitives most recently
  // created (oldest dropped first): a server's varied batch shapes cannot grow memory without bound.
  static constexpr std::size_t kMaxPrimitives = 64;
  std::unordered_map<uint64_t, std::shared_ptr<const Prim>> cache;
  std::deque<uint64_t> cache_order;  // keys, oldest first

  dt src_type() const { return src_type_for(precision); }
  dt weight_type() const { return weight_type_for(precision); }
  dt dst_type() const { return dst_type_for(precision); }

  // bf16_dst: the output is written as bf16 (for a next bf16 layer) instead of this precision's type.
  dnnl::matmul::primitive_desc make_pd(dnnl::memory::dim rows, const dnnl::memory::desc& wmd, Activation act,
                                       bool* fused, bool bf16_dst = false) const {
    const auto K = static_cast<dnnl::memory::dim>(in), N = static_cast<dnnl::memory::dim>(out);
    dnnl::memory::desc src_md({rows, K}, src_type(), tag::ab),
        dst_md({rows, N}, bf16_dst ? dt::bf16 : dst_type(), tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    *fused = false;
    dnnl::algorithm alg;
    float alpha;
    if (precision != Precision::INT8 && eltwise_for(act, &alg, &alpha)) {
      dnnl::post_ops po;
      po.append_eltwise(1.0f, alg, alpha, 0.0f);
      attr.set_post_ops(po);
      *fused = true;
    }
    if (precision != Precision::INT8 && !bias.empty()) {
      dnnl::memory::desc bias_md({1, N}, dt::f32, tag::ab);
      return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, wmd, bias_md, dst_md), attr, cpu_engine());
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src_md, wmd, dst_md), attr, cpu_engine());
  }

  std::shared_ptr<const Prim> get(std::size_t rows, Activation act, bool bf16_dst) {
    const int nthr = current_threads();
    const uint64_t key = static_cast<uint64_t>(rows) | (static_cast<uint64_t>(bf16_dst) << 39) |
                         (static_cast<uint64_t>(act) << 40) | (static_cast<uint64_t>(nthr) << 48);
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = cache.find(key);
      if (it != cache.end()) return it->second;
    }
    bool fused = false;
    auto pd = make_pd(static_cast<dnnl::memory::dim>(rows), weights_md, act, &fused, bf16_dst);
    auto p = std::make_shared<Prim>(Prim{pd, dnnl::matmul(pd), fused, pd.src_desc(), pd.dst_desc(), pd.scratchpad_desc()});
    std::lock_guard<std::mutex> lock(mutex);
    if (cache.emplace(key, p).second) {
      cache_order.push_back(key);
      if (cache_order.size() > kMaxPrimitives) {
        cache.erase(cache_order.front());
        cache_order.pop_front();
      }
    }
    return p;
  }

  // Per output channel symmetric int8 of W [out, in]: W[n, :] ~ wscale[n] * q[n, :]; sets wscale and wcolsum.
  std::vector<int8_t> quantize_weights(const float* w) {
    std::vector<int8_t> q(in * out);
    wscale.assign(out, 1.0f);
    wcolsum.assign(out, 0.0f);
    for (std::size_t n = 0; n < out; ++n) {
      const float* row = w + n * in;
      float amax = 0.0f;
      for (std::size_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(row[k]));
      const float s = amax > 0.0f ? amax / 127.0f : 1.0f;
      int32_t sum = 0;
      for (std::size_t k = 0; k < in; ++k) {
        const int v = static_cast<int>(std::nearbyint(row[k] / s));
        q[n * in + k] = static_cast<int8_t>(std::clamp(v, -127, 127));
        sum += q[n * in + k];
      }
      wscale[n] = s;
      wcolsum[n] = s * static_cast<float>(sum);
    }
    return q;
  }

  // Packs W [out, in] (fp32, row-major) for this precision: int8 and bf16 on AMX CPUs for embed's own
  // kernel (it beat oneDNN's matmul at every batch size measured), everything else for oneDNN.
  void pack(const float* w) {
    if (precision == Precision::BF16 && amx_bf16_available() && AmxWeights::supports(in, out, 2)) {
      std::vector<uint16_t> wb(in * out);
      kernels::to_bf16(w, wb.data(), wb.size());  // round to nearest even, as oneDNN's reorder
      amx = AmxWeights(wb.data(), out, in);
      info = "embed AMX bf16 kernel";
      return;
    }
    std::vector<int8_t> q;
    if (precision == Precision::INT8) {
      q = quantize_weights(w);
      if (amx_int8_available() && AmxWeights::supports(in, out, 1)) {
        amx = AmxWeights(q.data(), out, in);
        qmax = 255;  // tiles multiply u8 x s8 into exact int32: the whole u8 range
        info = "embed AMX int8 kernel";
        return;
      }
    }
    const auto K = static_cast<dnnl::memory::dim>(in), N = static_cast<dnnl::memory::dim>(out);
    dnnl::memory::desc any({K, N}, weight_type(), tag::any);
    bool fused;
    auto pd = make_pd(kPackRows, any, Activation::Identity, &fused);
    weights_md = pd.weights_desc();
    info = std::string("oneDNN ") + pd.impl_info_str();
    weights_buffer = allocate_weight_memory(weights_md.get_size());
    weights = dnnl::memory(weights_md, cpu_engine(), weights_buffer.get());
    auto& stream = thread_stream();
    if (precision == Precision::INT8) {
      dnnl::memory user({{K, N}, dt::s8, tag::ba}, cpu_engine(), q.data());
      dnnl::reorder(user, weights).execute(stream, user, weights);
      qmax = has_vnni() ? 255 : 127;
      if (qmax == 255 && int8_dot_available()) dot_panels = dot_panel_layout(dnnl_s8, 4);
      if (dot_panels.data) info = "embed VNNI kernel on the weights packed for " + info;
    } else {
      dnnl::memory user({{K, N}, dt::f32, tag::ba}, cpu_engine(), const_cast<float*>(w));
      dnnl::reorder(user, weights).execute(stream, user, weights);
      if (!bias.empty()) bias_memory = dnnl::memory({{1, N}, dt::f32, tag::ab}, cpu_engine(), bias.data());
      if (precision == Precision::FP32) panels = panel_layout();
      f32_dot = panels.data && dot_kernels_allowed();
      if (panels.data) info += " (up to " + std::to_string(kSmallGemmMaxRows) + " rows: embed small-rows kernel)";
      if (f32_dot) info = "embed FMA kernels on the weights packed for " + info;
      if (precision == Precision::BF16 && bf16_dot_available()) dot_panels = dot_panel_layout(dnnl_bf16, 2);
      if (dot_panels.data) info = "embed BF16 kernel on the weights packed for " + info;
    }
    stream.wait();
  }

  // The packed fp32 weights as small_gemm's panels when oneDNN chose that layout ([k, n] in 16x64 blocks,
  // n-blocks outermost: "16a64b"), else none.
  PanelWeights panel_layout() const {
    const dnnl_memory_desc_t& md = weights_md.data;
    const auto& b = md.format_desc.blocking;
    const bool blocked_16a64b = md.format_kind == dnnl_blocked && md.data_type == dnnl_f32 && md.ndims == 2 &&
                                b.inner_nblks == 2 && b.inner_blks[0] == 16 && b.inner_idxs[0] == 0 &&
                                b.inner_blks[1] == 64 && b.inner_idxs[1] == 1 && b.strides[0] == 16 * 64 &&
                                b.strides[1] == md.padded_dims[0] * 64 && md.offset0 == 0;
    if (!blocked_16a64b || !small_gemm_available()) return {};
    return {static_cast<const float*>(weights.get_data_handle()), in, out, static_cast<std::size_t>(md.padded_dims[0])};
  }

  // EMBED_DOT=0 leaves the layers dot_gemm would run to oneDNN (A/B, tests); read when a layer is packed.
  static bool dot_kernels_allowed() {
    const char* setting = std::getenv("EMBED_DOT");
    return !(setting && setting[0] == '0');
  }

  // The packed weights as dot_gemm's panels when oneDNN chose its layout for the dot-product instructions
  // ([k, n] in blocks of 16 g k x 64 n, g consecutive k per column innermost, n-blocks outermost:
  // "BA16a64b4a" for s8, "BA16a64b2a" for bf16) with no compensation buffer appended, else none.
  DotPanels dot_panel_layout(dnnl_data_type_t type, int group) const {
    const dnnl_memory_desc_t& md = weights_md.data;
    const auto& b = md.format_desc.blocking;
    const bool dot_layout = md.format_kind == dnnl_blocked && md.data_type == type && md.ndims == 2 &&
                            md.extra.flags == 0 && b.inner_nblks == 3 && b.inner_blks[0] == 16 &&
                            b.inner_idxs[0] == 0 && b.inner_blks[1] == 64 && b.inner_idxs[1] == 1 &&
                            b.inner_blks[2] == group && b.inner_idxs[2] == 0 && b.strides[0] == 16 * group * 64 &&
                            b.strides[1] == md.padded_dims[0] * 64 && md.offset0 == 0;
    if (!dot_layout || in % static_cast<std::size_t>(group) != 0 || !dot_kernels_allowed()) return {};
    return {weights.get_data_handle(), in, out, static_cast<std::size_t>(md.padded_dims[0])};
  }

  // bf16: creating a primitive (JIT-compiling its kernels) takes 1.5-11 ms on an AMX CPU, GELU-fused ones
  // the most: longer than running it, and a one-off encode of a corpus meets new row counts in almost every
  // batch (sentences.txt, 2000 texts: 180 primitives, 657 ms; the pass ran at 0.6x the speed of a repeat
  // of it). So rows beyond a multiple of kRowGranule run as one more granule, padded: every row count then
  // uses the primitives of the multiples of the granule (at most max_rows / kRowGranule of them, all
  // reused). AMX computes in 16-row tiles anyway, so the padding costs next to nothing there (steady state
  // measured equal or faster). Up to kFewRows rows each row count keeps its own primitive: the weights then
  // stream from memory, and a second call would stream them twice. Each output row is computed the same
  // way in either primitive (tested).
  static constexpr std::size_t kRowGranule = 32;
  // Rows of one short text at batch 1, where a GEMM streams its weights from memory once per call: bf16
  // gives each such row count its own primitive, int8 on oneDNN runs them in one call (gemm_int8).
  static constexpr std::size_t kFewRows = 64;

  // Runs the matmul for `rows` rows: src / dst are this precision's input and output buffers (dst bf16
  // with bf16_dst).
  void execute(std::size_t rows, Activation act, void* src, void* dst, bool* fused_act, bool bf16_dst = false) {
    if (amx && precision == Precision::BF16) {
      amx_bf16(rows, act, static_cast<const uint16_t*>(src), dst, bf16_dst);
      *fused_act = true;
      return;
    }
    if (precision == Precision::BF16 && dot_panels.data && (act == Activation::Identity || act == Activation::Gelu)) {
      const Bf16Output finish{bias.empty() ? nullptr : bias.data(), act == Activation::Gelu, bf16_dst};
      bf16_dot_gemm(static_cast<const uint16_t*>(src), rows, dot_panels, finish, dst);
      *fused_act = true;
      return;
    }
    if (precision != Precision::BF16 || rows <= kFewRows || rows % kRowGranule == 0)
      return run(*get(rows, act, bf16_dst), src, dst, fused_act);
    const std::size_t main = rows / kRowGranule * kRowGranule, tail = rows - main;
    const std::size_t src_row = in * sizeof(uint16_t), dst_row = out * (bf16_dst ? sizeof(uint16_t) : sizeof(float));
    run(*get(main, act, bf16_dst), src, dst, fused_act);
    Workspace& ws = thread_workspace();
    std::byte* tail_src = ws.buffer(Workspace::kTailSource, kRowGranule * src_row);
    std::byte* tail_dst = ws.buffer(Workspace::kTailDestination, kRowGranule * dst_row);
    std::memcpy(tail_src, static_cast<const std::byte*>(src) + main * src_row, tail * src_row);
    std::memset(tail_src + tail * src_row, 0, (kRowGranule - tail) * src_row);  // padding rows: zeros, not garbage
    run(*get(kRowGranule, act, bf16_dst), tail_src, tail_dst, fused_act);
    std::memcpy(static_cast<std::byte*>(dst) + main * dst_row, tail_dst, tail * dst_row);
  }

  // Executes one primitive over src / dst.
  void run(const Prim& p, void* src, void* dst, bool* fused_act) {
    MemoryViews& views = thread_memory_views();
    const auto& scratch_md = p.scratch_md;
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, views.over(p.src_md, MemoryViews::kSource, src).get()},
        {DNNL_ARG_DST, views.over(p.dst_md, MemoryViews::kDestination, dst).get()},
        {DNNL_ARG_SCRATCHPAD,
         views.over(scratch_md, MemoryViews::kScratch,
                    thread_workspace().buffer(Workspace::kGemmScratch, scratch_md.get_size())).get()},
        {DNNL_ARG_WEIGHTS, weights.get()},
        {DNNL_ARG_BIAS, bias_memory ? bias_memory.get() : nullptr}};
    auto& stream = thread_stream();
    dnnl::error::wrap_c_api(dnnl_primitive_execute(p.prim.get(), stream.get(), bias_memory ? 5 : 4, args),
                            "could not execute a matmul primitive");
    stream.wait();
    *fused_act = p.fused_act;
  }

  // Records this layer as the successor of the one that ran a small-rows GEMM last on this thread, and
  // returns the weights of this layer's own successor (empty: none known yet).
  PanelWeights learn_order() {
    thread_local std::weak_ptr<Impl> previous;
    if (auto p = previous.lock(); p && p.get() != this) {
      std::lock_guard<std::mutex> lock(p->mutex);
      p->then = weak_from_this();
    }
    previous = weak_from_this();
    std::lock_guard<std::mutex> lock(mutex);
    const auto next = then.lock();
    return next ? next->panels : PanelWeights{};
  }

  void forward(const float* x, std::size_t rows, float* y, Activation act) {
    ThreadScope scope(threads);
    bool fused = false;
    if (f32_dot && rows > kSmallGemmMaxRows) {
      // More rows than small_gemm takes: the same sums (and GELU), so a text's outputs do not depend on the
      // rows it is batched with. Paired A/B against oneDNN's matmul (bias and GELU fused), per pass at batch
      // 32: MiniLM sentences 0.979 / 1.005 of the time (1 / 2 threads), passages 0.966, MPNet-base 0.995.
      f32_dot_gemm(x, rows, {panels.data, panels.k, panels.n, panels.k_padded}, bias.empty() ? nullptr : bias.data(),
                   act == Activation::Gelu, y);
      if (act != Activation::Identity && act != Activation::Gelu)  // as small_gemm applies them
        parallel_for(rows, 4, [&](std::size_t rb, std::size_t re, int) { apply_activation(act, y + rb * out, (re - rb) * out); });
      return;
    }
    if (precision == Precision::FP32 && panels.data && rows <= kSmallGemmMaxRows) {
      const PanelWeights after = learn_order();
      small_gemm(x, rows, panels, bias.empty() ? nullptr : bias.data(), act, y, &after);
      return;
    }
    if (precision == Precision::FP32) {
      execute(rows, act, const_cast<float*>(x), y, &fused);
    } else if (precision == Precision::BF16) {
      execute(rows, act, bf16_input(x, rows), y, &fused);
    } else {
      forward_int8(x, rows, y, act);
      return;
    }
    if (!fused && act != Activation::Identity)
      parallel_for(rows, 4, [&](std::size_t rb, std::size_t re, int) { apply_activation(act, y + rb * out, (re - rb) * out); });
  }

  void forward_bf16(const float* x, std::size_t rows, uint16_t* y) {
    ThreadScope scope(threads);
    bool fused = false;
    if (precision == Precision::BF16) {
      execute(rows, Activation::Identity, bf16_input(x, rows), y, &fused, /*bf16_dst=*/true);
    } else if (precision == Precision::INT8) {
      const auto q = quantize_input(x, rows, Workspace::kGemmInput, Workspace::kRowScale);
      if (dot_panels.data) {  // embed's VNNI kernel writes the bf16 values itself
        Int8Dequantization dq = dequantization(q, /*gelu=*/false);
        dq.bf16_out = true;
        int8_dot_gemm(q.codes, rows, dot_panels, dq, y);
        return;
      }
      gemm_int8(q, rows, nullptr, Activation::Identity,
                [&](std::size_t row, const float* values) { kernels::to_bf16(values, y + row * out, out); });
    } else {
      float* values = thread_workspace().floats(Workspace::kRowValues, rows * out);
      forward(x, rows, values, Activation::Identity);
      to_bf16_rows(values, rows, out, y);
    }
  }

  // x [rows, in] converted to bf16 in the calling thread's workspace (padded as gemm_rows says, with zeros).
  uint16_t* bf16_input(const float* x, std::size_t rows) const {
    auto* xb = reinterpret_cast<uint16_t*>(input_rows(Workspace::kGemmInput, rows, sizeof(uint16_t)));
    to_bf16_rows(x, rows, in, xb);
    return xb;
  }

  // bf16 on embed's AMX kernel: dst = act(src W^T + bias), fp32 or (bf16_dst) bf16, src padded as
  // gemm_rows says. Rows go through in chunks of kAmxChunkRows, whose fp32 sums stay in L2 until each row
  // gets its bias and activation.
  void amx_bf16(std::size_t rows, Activation act, const uint16_t* src, void* dst, bool bf16_dst) {
    const float* b = bias.empty() ? nullptr : bias.data();
    in_chunks<float>(
        rows, kAmxChunkRows,
        [&](std::size_t r0, std::size_t m, float* acc) { amx_bf16_gemm(src + r0 * in, gemm_rows(m), amx, acc); },
        [&](std::size_t row, float* values) {
          if (b)
            for (std::size_t j = 0; j < out; ++j) values[j] += b[j];
          kernels::activation_fast(act, values, out);
          if (bf16_dst)
            kernels::to_bf16(values, static_cast<uint16_t*>(dst) + row * out, out);
          else
            std::memcpy(static_cast<float*>(dst) + row * out, values, out * sizeof(float));
        });
  }

  // down(act(this(x))) with both layers bf16 and act fused into this GEMM: the intermediate is written
  // in bf16, the input `down` converts it to anyway (oneDNN rounds to nearest even, as kernels::to_bf16),
  // so it is never stored in fp32 nor converted in a pass of its own. `intermediate` holds rows * out floats.
  void feed_forward_bf16(Impl& down, const float* x, std::size_t rows, float* intermediate, float* y, Activation act) {
    // On the AMX kernel `down` reads whole tiles of rows: a padded buffer of its own.
    auto* inter = down.amx ? reinterpret_cast<uint16_t*>(down.input_rows(Workspace::kFusedCodes, rows, sizeof(uint16_t)))
                           : reinterpret_cast<uint16_t*>(intermediate);
    bool fused = false;
    {
      ThreadScope scope(threads);
      execute(rows, act, bf16_input(x, rows), inter, &fused, /*bf16_dst=*/true);
    }
    ThreadScope scope(down.threads);
    down.execute(rows, Activation::Identity, inter, y, &fused);
  }

  // int8 input rows: u8 codes with a per-row scale and zero point.
  struct QuantizedRows {
    uint8_t* codes;
    float* scale;
    int32_t* zero_point;
  };

  // Rows of input codes and accumulators that a call with `rows` rows uses: whole tiles on the AMX kernel.
  std::size_t gemm_rows(std::size_t rows) const {
    return amx ? (rows + kAmxTileRows - 1) / kAmxTileRows * kAmxTileRows : rows;
  }
  // A buffer in workspace slot `slot` for `rows` rows of this layer's input, `in` values of `value_bytes`
  // each (u8 codes, bf16); the rows the AMX kernel pads them with are zeros.
  std::byte* input_rows(int slot, std::size_t rows, std::size_t value_bytes) const {
    const std::size_t row_bytes = in * value_bytes, padded = gemm_rows(rows);
    std::byte* buffer = thread_workspace().buffer(slot, padded * row_bytes);
    std::memset(buffer + rows * row_bytes, 0, (padded - rows) * row_bytes);
    return buffer;
  }

  // Quantizes x [rows, in] into the calling thread's workspace slots `codes_slot` / `scale_slot`.
  QuantizedRows quantize_input(const float* x, std::size_t rows, int codes_slot, int scale_slot) const {
    Workspace& ws = thread_workspace();
    QuantizedRows q{reinterpret_cast<uint8_t*>(input_rows(codes_slot, rows, 1)),
                    reinterpret_cast<float*>(ws.buffer(scale_slot, rows * (sizeof(float) + sizeof(int32_t)))), nullptr};
    q.zero_point = reinterpret_cast<int32_t*>(q.scale + rows);
    parallel_for(rows, 16, [&](std::size_t b, std::size_t e, int) {
      for (std::size_t r = b; r < e; ++r)
        kernels::quantize_u8(x + r * in, in, qmax, q.codes + r * in, q.scale + r, q.zero_point + r);
    });
    return q;
  }

  // Rows [0, rows) in chunks of `chunk`: gemm(r0, m, acc) writes the m rows from r0 into acc ([m, out] values
  // of Acc, rows padded as gemm_rows says), then finish(row, acc row) runs for each of them on the threads.
  // The accumulators stay in L2: written by the GEMM and read back at once, they never make a round trip
  // through memory, which otherwise costs more than the GEMM.
  template <typename Acc, typename Gemm, typename Finish>
  void in_chunks(std::size_t rows, std::size_t chunk, Gemm&& gemm, Finish&& finish) {
    auto* acc = reinterpret_cast<Acc*>(
        thread_workspace().buffer(Workspace::kGemmAccum, gemm_rows(std::min(rows, chunk)) * out * sizeof(Acc)));
    for (std::size_t r0 = 0; r0 < rows; r0 += chunk) {
      const std::size_t m = std::min(chunk, rows - r0);
      gemm(r0, m, acc);
      parallel_for(m, 4, [&](std::size_t rb, std::size_t re, int) {
        for (std::size_t r = rb; r < re; ++r) finish(r0 + r, acc + r * out);
      });
    }
  }

  // The int8 GEMM of quantized rows; each output row, turned back into fp32 with bias and activation, is
  // handed to row_done(row, values) (values: `out` floats, valid during the call). Chunk size (in_chunks),
  // as measured:
  // - embed's AMX kernel: kAmxChunkRows. Paired A/B at batch 32 against oneDNN's AMX matmul in its best
  //   chunks (below): 0.80-0.86 of the time on sentences, 0.90 on passages; 32 rows about the same as 64,
  //   256 rows 1.08.
  // - oneDNN: with AMX tiles (Sapphire Rapids) 128 KiB beat 512 KiB; with VNNI only (AMD Zen 5, 1 MiB L2)
  //   512 KiB beat 128 KiB by 2-3 % (fewer GEMM calls, each with its fixed cost). Up to kFewRows rows (one
  //   text at batch 1) run in one call: a second call re-reads the layer's weights (AMX, texts of 33-64
  //   tokens: 2.5-3.3 % faster in one call; 64-row chunks for all batches were 5-9 % slower at batch 32).
  // - embed's VNNI kernel (dot_gemm, where oneDNN packed the weights in its VNNI layout) takes the same
  //   chunks; it hands back dequantized rows, so a call that writes into y needs none.
  static constexpr std::size_t kAmxChunkRows = 64;
  template <typename RowDone>
  void gemm_int8(const QuantizedRows& q, std::size_t rows, float* y, Activation act, RowDone&& row_done) {
    static const std::size_t kAccumBytes = (has_amx() ? 128 : 512) * 1024;
    const std::size_t chunk = amx                ? kAmxChunkRows
                              : rows <= kFewRows ? rows
                                                 : std::max<std::size_t>(32, kAccumBytes / (out * sizeof(int32_t)) / 16 * 16);
    const float* b = bias.empty() ? nullptr : bias.data();
    if (dot_panels.data) {
      // embed's VNNI kernel hands back dequantized rows, GELU applied: no int32 pass through memory. Other
      // activations follow row by row, as on oneDNN's path (the same floats either way).
      const bool gelu = act == Activation::Gelu;
      const Int8Dequantization dq = dequantization(q, gelu);
      const auto finish = [&](std::size_t row, float* values) {
        if (!gelu) kernels::activation_int8(act, values, out);
        row_done(row, values);
      };
      if (y) {
        int8_dot_gemm(q.codes, rows, dot_panels, dq, y);
        parallel_for(rows, 4, [&](std::size_t rb, std::size_t re, int) {
          for (std::size_t r = rb; r < re; ++r) finish(r, y + r * out);
        });
        return;
      }
      in_chunks<float>(
          rows, chunk,
          [&](std::size_t r0, std::size_t m, float* values) {
            int8_dot_gemm(q.codes + r0 * in, m, dot_panels, dq.from_row(r0), values);
          },
          finish);
      return;
    }
    in_chunks<int32_t>(
        rows, chunk,
        [&](std::size_t r0, std::size_t m, int32_t* acc) {
          bool fused = false;
          if (amx)
            amx_int8_gemm(q.codes + r0 * in, gemm_rows(m), amx, acc);
          else
            execute(m, Activation::Identity, q.codes + r0 * in, acc, &fused);
        },
        [&](std::size_t row, int32_t* acc) {
          float* yr = y ? y + row * out : thread_workspace().floats(Workspace::kRowValues, out);
          kernels::dequantize_row(acc, out, q.scale[row], q.zero_point[row], wscale.data(), wcolsum.data(), b, yr);
          kernels::activation_int8(act, yr, out);
          row_done(row, yr);
        });
  }

  // How embed's VNNI kernel turns the sums of rows q into this layer's fp32 outputs (+ bias, GELU).
  Int8Dequantization dequantization(const QuantizedRows& q, bool gelu) const {
    return {q.scale, q.zero_point, wscale.data(), wcolsum.data(), bias.empty() ? nullptr : bias.data(), gelu};
  }

  // int8: u8 activations quantized per row, s32 accumulators turned back into fp32 (+ bias, activation).
  void forward_int8(const float* x, std::size_t rows, float* y, Activation act) {
    const auto q = quantize_input(x, rows, Workspace::kGemmInput, Workspace::kRowScale);
    gemm_int8(q, rows, y, act, [](std::size_t, const float*) {});
  }

  // down(act(this(x))) with both layers int8: each activated intermediate row is quantized for `down`
  // while it is still in L1, so the [rows, out] fp32 intermediate never goes through memory. The values
  // are exactly those of the two layers run one after the other.
  void feed_forward_int8(Impl& down, const float* x, std::size_t rows, float* y, Activation act) {
    ThreadScope scope(threads);
    const auto q = quantize_input(x, rows, Workspace::kGemmInput, Workspace::kRowScale);
    Workspace& ws = thread_workspace();
    QuantizedRows inter{reinterpret_cast<uint8_t*>(down.input_rows(Workspace::kFusedCodes, rows, 1)),
                        reinterpret_cast<float*>(ws.buffer(Workspace::kFusedRowScale, rows * (sizeof(float) + sizeof(int32_t)))),
                        nullptr};
    inter.zero_point = reinterpret_cast<int32_t*>(inter.scale + rows);
    gemm_int8(q, rows, nullptr, act, [&](std::size_t row, const float* values) {
      kernels::quantize_u8(values, out, down.qmax, inter.codes + row * out, inter.scale + row, inter.zero_point + row);
    });
    down.gemm_int8(inter, rows, y, Activation::Identity, [](std::size_t, const float*) {});
  }
};

Linear::Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias)
    : Linear(std::move(weight), std::move(bias), load_settings().precision, load_settings().threads) {}

Linear::Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias, Precision precision, int threads)
    : weight_(std::move(weight)), bias_(std::move(bias)) {
  out_ = static_cast<std::size_t>(weight_.shape.at(0));
  in_ = static_cast<std::size_t>(weight_.shape.at(1));
  if (bias_ && static_cast<std::size_t>(bias_->numel()) != out_)
    throw Error("linear layer: bias has " + std::to_string(bias_->numel()) + " values, expected " +
                std::to_string(out_));
  auto impl = std::make_shared<Impl>();
  impl->in = in_;
  impl->out = out_;
  impl->threads = resolve_threads(threads);
  if (bias_) impl->bias.assign(bias_->data, bias_->data + out_);
  ThreadScope scope(impl->threads);
  impl->precision = precision;
  try {
    impl->pack(weight_.data);
  } catch (const dnnl::error&) {
    if (precision == Precision::FP32) throw;
    impl->precision = Precision::FP32;  // this CPU cannot run the mode: fall back to exact fp32
    impl->pack(weight_.data);
  }
  if (!weight_.owner) release_source_pages(weight_.data, in_ * out_ * sizeof(float));
  impl_ = std::move(impl);
}

void Linear::forward(const float* x, std::size_t rows, float* y, Activation act) const {
  if (rows == 0) return;
  impl_->forward(x, rows, y, act);
}

void Linear::forward_bf16(const float* x, std::size_t rows, uint16_t* y) const {
  if (rows == 0) return;
  impl_->forward_bf16(x, rows, y);
}

void Linear::feed_forward(const Linear& up, const Linear& down, const float* x, std::size_t rows, float* intermediate,
                          float* y, Activation act) {
  if (rows == 0) return;
  if (up.precision() == Precision::INT8 && down.precision() == Precision::INT8 && up.out_ == down.in_) {
    up.impl_->feed_forward_int8(*down.impl_, x, rows, y, act);
    return;
  }
  dnnl::algorithm alg;
  float alpha;
  if (up.precision() == Precision::BF16 && down.precision() == Precision::BF16 && up.out_ == down.in_ &&
      (act == Activation::Identity || eltwise_for(act, &alg, &alpha))) {
    up.impl_->feed_forward_bf16(*down.impl_, x, rows, intermediate, y, act);
    return;
  }
  up.forward(x, rows, intermediate, act);
  down.forward(intermediate, rows, y);
}

std::string Linear::backend_info() const { return impl_ ? impl_->info : "none"; }

Precision Linear::precision() const { return impl_ ? impl_->precision : Precision::FP32; }

int Linear::threads() const { return impl_ ? impl_->threads : 1; }

std::string gemm_backend_info(Precision precision) {
  try {
    std::vector<float> w(64 * 64, 0.01f);
    io::FloatTensor t;
    t.shape = {64, 64};
    t.data = w.data();
    Linear l(t, std::nullopt, precision, 1);
    return std::string(precision_name(l.precision())) + " " + l.backend_info();
  } catch (const std::exception& e) {
    return std::string(precision_name(precision)) + " unavailable: " + e.what();
  }
}

}  // namespace embed::compute
