// Loading a transformer directory: config.json + weights -> Encoder.
#include "compute/threads.hpp"
#include "embed/error.hpp"
#include "io/model_file.hpp"
#include "models/encoder.hpp"

namespace embed::models {

LoadedEncoder load_encoder(const std::filesystem::path& dir, const LoadOptions& options) {
  const auto config_file = dir / "config.json";
  if (!io::model_file_present(config_file))
    throw Error(dir.string() + ": missing config.json (expected a Hugging Face model directory)");
  LoadedEncoder loaded;
  loaded.config = io::read_json(config_file);
  io::JsonObject config(loaded.config, config_file.string());
  loaded.model_type = config.get_string("model_type");
  loaded.weight_sources = io::open_model_weights(dir);
  io::WeightStore weights(loaded.weight_sources);
  EncoderContext ctx{config, weights, options};
  // Every layer built now (compute::load_linear) packs its weights for options.precision / threads.
  compute::LoadSettingsScope settings(options);
  loaded.encoder = create_encoder(loaded.model_type, ctx, weights);
  // Packing read every layer's weights through the file mapping. Each layer releases its own pages when
  // packed, but the kernel maps file pages in large folios (up to 2 MB) that straddle tensors: ~24 MB of
  // MiniLM's file stayed mapped after load. What the encoder still reads from the file (the word
  // embeddings) maps back in as it is used.
  for (const auto& source : loaded.weight_sources) source->release_pages();
  return loaded;
}

}  // namespace embed::models
