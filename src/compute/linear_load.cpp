// Linear layers built from the weights file: one layer, or several sharing their input stacked into one
// (the fused query / key / value projection).
#include <cstring>

#include "compute/linear.hpp"
#include "compute/threads.hpp"
#include "compute/weight_memory.hpp"
#include "embed/error.hpp"

namespace embed::compute {

namespace {

Linear stack_tensors(const std::vector<const io::FloatTensor*>& ws, const std::vector<const io::FloatTensor*>& bs,
                     Precision precision, int threads) {
  if (ws.empty()) throw Error("stacked linear layer: no parts");
  const auto in = static_cast<std::size_t>(ws[0]->shape.at(1));
  std::size_t out = 0;
  const bool has_bias = bs[0] != nullptr;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    if (!ws[i]->data || static_cast<std::size_t>(ws[i]->shape.at(1)) != in || (bs[i] != nullptr) != has_bias)
      throw Error("stacked linear layer: parts differ in input width or bias");
    out += static_cast<std::size_t>(ws[i]->shape.at(0));
  }
  std::vector<float> w(out * in), b(has_bias ? out : 0);
  std::size_t row = 0;
  for (std::size_t i = 0; i < ws.size(); ++i) {
    const auto rows = static_cast<std::size_t>(ws[i]->shape.at(0));
    std::memcpy(w.data() + row * in, ws[i]->data, rows * in * sizeof(float));
    if (has_bias) std::memcpy(b.data() + row, bs[i]->data, rows * sizeof(float));
    row += rows;
  }
  for (std::size_t i = 0; i < ws.size(); ++i)
    if (!ws[i]->owner) release_source_pages(ws[i]->data, static_cast<std::size_t>(ws[i]->numel()) * sizeof(float));
  io::FloatTensor wt;
  wt.shape = {static_cast<int64_t>(out), static_cast<int64_t>(in)};
  wt.data = w.data();
  std::optional<io::FloatTensor> bt;
  if (has_bias) {
    io::FloatTensor t;
    t.shape = {static_cast<int64_t>(out)};
    t.data = b.data();
    bt = std::move(t);
  }
  // Packing copies what the GEMM needs; the stacked fp32 source is freed on return.
  Linear result(std::move(wt), std::move(bt), precision, threads);
  result.drop_source();
  return result;
}

}  // namespace

Linear Linear::concat(const std::vector<const Linear*>& parts) {
  if (parts.empty()) throw Error("Linear::concat: no parts");
  std::vector<const io::FloatTensor*> ws, bs;
  for (const Linear* p : parts) {
    ws.push_back(&p->weight_);
    bs.push_back(p->bias_ ? &*p->bias_ : nullptr);
  }
  return stack_tensors(ws, bs, parts[0]->precision(), parts[0]->threads());
}

void Linear::drop_source() {
  weight_.data = nullptr;
  weight_.owner.reset();
  bias_.reset();
}

Linear load_linear_stacked(const io::WeightStore& weights, const std::vector<std::string>& names, std::size_t in,
                           const std::vector<std::size_t>& outs, bool has_bias) {
  std::vector<io::FloatTensor> w;
  std::vector<std::optional<io::FloatTensor>> b;
  for (std::size_t i = 0; i < names.size(); ++i) {
    w.push_back(weights.get(names[i] + ".weight", {static_cast<int64_t>(outs.at(i)), static_cast<int64_t>(in)}));
    if (has_bias) b.push_back(weights.get(names[i] + ".bias", {static_cast<int64_t>(outs.at(i))}));
    else b.emplace_back();
  }
  std::vector<const io::FloatTensor*> ws, bs;
  for (std::size_t i = 0; i < names.size(); ++i) {
    ws.push_back(&w[i]);
    bs.push_back(b[i] ? &*b[i] : nullptr);
  }
  return stack_tensors(ws, bs, load_settings().precision, load_settings().threads);
}

Linear load_linear(const io::WeightStore& weights, const std::string& name, std::size_t in, std::size_t out,
                   bool has_bias) {
  auto w = weights.get(name + ".weight", {static_cast<int64_t>(out), static_cast<int64_t>(in)});
  std::optional<io::FloatTensor> b;
  if (has_bias) b = weights.get(name + ".bias", {static_cast<int64_t>(out)});
  return Linear(std::move(w), std::move(b));
}

}  // namespace embed::compute
