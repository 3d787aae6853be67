#pragma once
// The transformer encoder interface every architecture implements, and the registry keyed by
// config.json's model_type. Adding an architecture = one file in src/models/ + one line in registry.cpp.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "embed/model.hpp"
#include "io/json.hpp"
#include "io/tensor_data.hpp"

namespace embed::models {

// Several token sequences packed back to back: sequence s owns tokens [offsets[s], offsets[s+1]).
// Linear layers run on all tokens at once; only attention looks at sequence boundaries.
struct PackedBatch {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  std::vector<std::size_t> offsets{0};

  std::size_t tokens() const { return ids.size(); }
  std::size_t sequences() const { return offsets.size() - 1; }
  std::size_t length(std::size_t s) const { return offsets[s + 1] - offsets[s]; }
  void add(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& seq_type_ids);
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  virtual std::size_t hidden_size() const = 0;
  // Longest sequence the architecture accepts (e.g. max_position_embeddings); 0: unlimited.
  virtual std::size_t max_positions() const = 0;
  // Writes the last hidden state of every token, [batch.tokens(), hidden_size()].
  virtual void forward(const PackedBatch& batch, float* out) const = 0;
};

struct EncoderContext {
  const io::JsonObject& config;    // config.json
  const io::WeightStore& weights;  // model weights (set_prefix may be called by the factory)
  const LoadOptions& options;
};

using EncoderFactory = std::function<std::unique_ptr<Encoder>(EncoderContext&, io::WeightStore&)>;

// Builds the encoder for config.json's model_type; unknown types name the type and list the known ones.
std::unique_ptr<Encoder> create_encoder(const std::string& model_type, EncoderContext& context,
                                        io::WeightStore& weights);
std::vector<std::string> supported_model_types();

// A transformer directory's encoder with what keeps it alive (config and mapped weights).
struct LoadedEncoder {
  nlohmann::json config;
  std::string model_type;
  std::vector<std::shared_ptr<io::TensorSource>> weight_sources;
  std::unique_ptr<Encoder> encoder;
};
// Reads <dir>/config.json and the weights, and builds the encoder for its model_type.
LoadedEncoder load_encoder(const std::filesystem::path& dir, const LoadOptions& options);

}  // namespace embed::models
