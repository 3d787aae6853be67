#pragma once
// Element-wise activations by their Hugging Face / PyTorch names.
#include <cstddef>
#include <string>

namespace embed::compute {

enum class Activation { Identity, Gelu, GeluNew, GeluFast, Relu, Tanh, Silu, Sigmoid };

// Maps config names ("gelu", "gelu_new", "relu", "torch.nn.modules.activation.Tanh", ...) to an
// Activation; throws embed::Error naming `where` and the value when unknown.
Activation parse_activation(const std::string& name, const std::string& where);
void apply_activation(Activation act, float* x, std::size_t n);

}  // namespace embed::compute
