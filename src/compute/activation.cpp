#include "compute/activation.hpp"

#include <cmath>

#include "embed/error.hpp"

namespace embed::compute {

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "gelu" || name == "torch.nn.modules.activation.GELU" || name == "gelu_python") return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluNew;
  if (name == "gelu_fast") return Activation::GeluFast;
  if (name == "relu" || name == "torch.nn.modules.activation.ReLU") return Activation::Relu;
  if (name == "tanh" || name == "torch.nn.modules.activation.Tanh") return Activation::Tanh;
  if (name == "silu" || name == "swish" || name == "torch.nn.modules.activation.SiLU") return Activation::Silu;
  if (name == "sigmoid" || name == "torch.nn.modules.activation.Sigmoid") return Activation::Sigmoid;
  if (name == "linear" || name == "identity" || name == "torch.nn.modules.linear.Identity") return Activation::Identity;
  throw Error(where + ": unsupported activation \"" + name +
              "\" (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, tanh, silu, sigmoid, identity)");
}

void apply_activation(Activation act, float* x, std::size_t n) {
  switch (act) {
    case Activation::Identity:
      return;
    case Activation::Gelu:  // exact erf form, as torch.nn.functional.gelu
      for (std::size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752440f));
      return;
    case Activation::GeluNew:
      for (std::size_t i = 0; i < n; ++i) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::GeluFast:
      for (std::size_t i = 0; i < n; ++i) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(v * 0.7978845608f * (1.0f + 0.044715f * v * v)));
      }
      return;
    case Activation::Relu:
      for (std::size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::Tanh:
      for (std::size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
      return;
    case Activation::Silu:
      for (std::size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
    case Activation::Sigmoid:
      for (std::size_t i = 0; i < n; ++i) x[i] = 1.0f / (1.0f + std::exp(-x[i]));
      return;
  }
}

}  // namespace embed::compute
