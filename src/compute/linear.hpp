#pragma once
// A fully connected layer y = act(x W^T + b) over a packed [rows, in] activation matrix.
// The weights are pre-packed once at load for the GEMM library (oneDNN matmul: fp32, bf16 on
// AVX512-BF16, int8 on VNNI; oneDNN dispatches on the CPU's features at run time). Precision and thread
// count come from LoadOptions (see compute::LoadSettingsScope) unless given explicitly.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "compute/activation.hpp"
#include "embed/model.hpp"
#include "io/tensor_data.hpp"

namespace embed::compute {

class Linear {
 public:
  Linear() = default;
  // weight: [out, in] as PyTorch stores nn.Linear; bias: [out] or none. Precision and threads: the
  // current load settings (fp32 / all cores outside a model load).
  Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias);
  Linear(io::FloatTensor weight, std::optional<io::FloatTensor> bias, Precision precision, int threads = 0);

  // y[rows, out] = act(x[rows, in] W^T + b). The activation is fused into the GEMM where possible.
  void forward(const float* x, std::size_t rows, float* y, Activation act = Activation::Identity) const;
  // y[rows, out] = x W^T + b rounded to bf16 (round to nearest even), for attention's bf16 products: bf16
  // and int8 layers write it directly (no fp32 matrix written and read back); fp32 layers convert.
  void forward_bf16(const float* x, std::size_t rows, uint16_t* y) const;
  // y = down(act(up(x))), a transformer's feed-forward pair; `intermediate` ([rows, up.out_features()])
  // holds act(up(x)) unless both layers run in int8: then each intermediate row is quantized for `down`
  // while it is still in cache (same values, no fp32 round trip through memory).
  static void feed_forward(const Linear& up, const Linear& down, const float* x, std::size_t rows, float* intermediate,
                           float* y, Activation act);
  std::size_t in_features() const { return in_; }
  std::size_t out_features() const { return out_; }
  // The precision the GEMM really runs in (a mode the CPU cannot run falls back to fp32).
  Precision precision() const;
  // The GEMM implementation chosen for this layer, e.g. "oneDNN brg:avx512_core".
  std::string backend_info() const;
  // Threads this layer's GEMM runs on (outside a parallel region).
  int threads() const;

  // One layer computing all parts side by side: y = x [W_0; W_1; ...]^T + [b_0; b_1; ...], e.g. the
  // fused Q, K, V projection ([3H, H]). All parts need the same in_features and the same bias presence.
  static Linear concat(const std::vector<const Linear*>& parts);
  // Forgets the fp32 source weights (the packed copy stays); such a layer cannot be concatenated.
  void drop_source();

  struct Impl;

 private:
  io::FloatTensor weight_;
  std::optional<io::FloatTensor> bias_;
  std::size_t in_ = 0, out_ = 0;
  std::shared_ptr<Impl> impl_;
};

// Reads "<name>.weight" [out, in] and "<name>.bias" [out] (bias required unless has_bias is false).
Linear load_linear(const io::WeightStore& weights, const std::string& name, std::size_t in, std::size_t out,
                   bool has_bias = true);

// Reads several layers sharing their input ("<name_i>.weight" [outs[i], in], "<name_i>.bias") into one
// stacked layer whose outputs are side by side (e.g. the fused Q/K/V projection, [T, 3H]).
Linear load_linear_stacked(const io::WeightStore& weights, const std::vector<std::string>& names, std::size_t in,
                           const std::vector<std::size_t>& outs, bool has_bias = true);

// A GEMM-library description for reports: e.g. "oneDNN brg:avx512_core_bf16".
std::string gemm_backend_info(Precision precision);

}  // namespace embed::compute
