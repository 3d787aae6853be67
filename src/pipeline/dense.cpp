#include "pipeline/dense.hpp"

#include "io/json.hpp"

namespace embed::pipeline {

DenseModule::DenseModule(const std::filesystem::path& dir) {
  const std::string file = (dir / "config.json").string();
  nlohmann::json j = io::read_json(file);
  io::JsonObject cfg(j, file);
  const auto in = static_cast<std::size_t>(cfg.get_int("in_features"));
  const auto out = static_cast<std::size_t>(cfg.get_int("out_features"));
  const bool bias = cfg.get_bool("bias", true);
  activation_ = compute::parse_activation(cfg.get_string("activation_function", "torch.nn.modules.activation.Tanh"),
                                          file + ": field 'activation_function'");
  sources_ = io::open_model_weights(dir);
  io::WeightStore weights(sources_);
  linear_ = compute::load_linear(weights, "linear", in, out, bias);
  for (const auto& source : sources_) source->release_pages();  // packed: as models::load_encoder does
}

void DenseModule::forward(const float* in, std::size_t rows, float* out) const {
  linear_.forward(in, rows, out);
  compute::apply_activation(activation_, out, rows * out_features());
}

}  // namespace embed::pipeline
