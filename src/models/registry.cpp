// model_type -> encoder factory. One line per architecture.
#include <map>

#include "embed/error.hpp"
#include "models/encoder.hpp"

namespace embed::models {

// Factories, defined in each architecture's file.
std::unique_ptr<Encoder> create_bert(EncoderContext&, io::WeightStore&);
std::unique_ptr<Encoder> create_roberta(EncoderContext&, io::WeightStore&);
std::unique_ptr<Encoder> create_deberta_v2(EncoderContext&, io::WeightStore&);
std::unique_ptr<Encoder> create_mpnet(EncoderContext&, io::WeightStore&);

namespace {
const std::map<std::string, EncoderFactory>& registry() {
  static const std::map<std::string, EncoderFactory> table = {
      {"bert", create_bert},
      {"deberta-v2", create_deberta_v2},
      {"roberta", create_roberta},
      {"xlm-roberta", create_roberta},
      {"mpnet", create_mpnet},
  };
  return table;
}
}  // namespace

void PackedBatch::add(const std::vector<int32_t>& seq_ids, const std::vector<int32_t>& seq_type_ids) {
  ids.insert(ids.end(), seq_ids.begin(), seq_ids.end());
  if (seq_type_ids.size() == seq_ids.size())
    type_ids.insert(type_ids.end(), seq_type_ids.begin(), seq_type_ids.end());
  else
    type_ids.insert(type_ids.end(), seq_ids.size(), 0);
  offsets.push_back(ids.size());
}

std::vector<std::string> supported_model_types() {
  std::vector<std::string> names;
  for (const auto& [name, _] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Encoder> create_encoder(const std::string& model_type, EncoderContext& context,
                                        io::WeightStore& weights) {
  auto it = registry().find(model_type);
  if (it == registry().end()) {
    std::string known;
    for (const auto& name : supported_model_types()) known += (known.empty() ? "" : ", ") + name;
    context.config.fail("model_type", "unsupported model_type \"" + model_type + "\" (supported: " + known + ")");
  }
  return it->second(context, weights);
}

}  // namespace embed::models
