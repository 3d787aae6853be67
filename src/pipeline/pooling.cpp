#include "pipeline/pooling.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "embed/error.hpp"
#include "io/json.hpp"

namespace embed {

std::string to_string(PoolingMode mode) {
  switch (mode) {
    case PoolingMode::Cls: return "cls";
    case PoolingMode::Mean: return "mean";
    case PoolingMode::Max: return "max";
    case PoolingMode::MeanSqrtLen: return "mean_sqrt_len_tokens";
    case PoolingMode::WeightedMean: return "weightedmean";
    case PoolingMode::LastToken: return "lasttoken";
  }
  return "?";
}

std::optional<PoolingMode> pooling_mode_from_string(const std::string& name) {
  if (name == "cls" || name == "cls_token") return PoolingMode::Cls;
  if (name == "mean" || name == "mean_tokens") return PoolingMode::Mean;
  if (name == "max" || name == "max_tokens") return PoolingMode::Max;
  if (name == "mean_sqrt_len_tokens" || name == "mean_sqrt_len") return PoolingMode::MeanSqrtLen;
  if (name == "weightedmean" || name == "weightedmean_tokens") return PoolingMode::WeightedMean;
  if (name == "lasttoken") return PoolingMode::LastToken;
  return std::nullopt;
}


namespace pipeline {

namespace {
// sentence-transformers concatenates pooled vectors in this order.
constexpr PoolingMode kOrder[] = {PoolingMode::Cls, PoolingMode::Max, PoolingMode::Mean, PoolingMode::MeanSqrtLen,
                                  PoolingMode::WeightedMean, PoolingMode::LastToken};
}  // namespace

std::vector<PoolingMode> canonical_order(std::vector<PoolingMode> modes) {
  std::vector<PoolingMode> out;
  for (PoolingMode m : kOrder)
    if (std::find(modes.begin(), modes.end(), m) != modes.end()) out.push_back(m);
  return out;
}

PoolingConfig read_pooling_config(const std::string& file) {
  nlohmann::json j = io::read_json(file);
  io::JsonObject o(j, file);
  PoolingConfig cfg;
  if (o.has("word_embedding_dimension")) cfg.word_embedding_dimension = o.get_int("word_embedding_dimension");
  cfg.include_prompt = o.get_bool("include_prompt", true);
  // As sentence-transformers' Pooling: a pooling_mode string, lower-cased, replaces every pooling_mode_* flag.
  if (o.has("pooling_mode") && !o.raw()["pooling_mode"].is_null()) {
    std::string name = o.get_string("pooling_mode");
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    for (PoolingMode m : kOrder)
      if (name == to_string(m)) cfg.modes = {m};
    if (cfg.modes.empty())
      o.fail("pooling_mode", "unknown pooling mode \"" + o.get_string("pooling_mode") +
                                 "\" (expected cls, lasttoken, max, mean, mean_sqrt_len_tokens or weightedmean)");
    return cfg;
  }
  const std::pair<const char*, PoolingMode> flags[] = {
      {"pooling_mode_cls_token", PoolingMode::Cls},
      {"pooling_mode_max_tokens", PoolingMode::Max},
      {"pooling_mode_mean_tokens", PoolingMode::Mean},
      {"pooling_mode_mean_sqrt_len_tokens", PoolingMode::MeanSqrtLen},
      {"pooling_mode_weightedmean_tokens", PoolingMode::WeightedMean},
      {"pooling_mode_lasttoken", PoolingMode::LastToken},
  };
  for (const auto& [key, mode] : flags)
    if (o.get_bool(key, false)) cfg.modes.push_back(mode);
  cfg.modes = canonical_order(cfg.modes);
  if (cfg.modes.empty()) throw Error(file + ": no pooling_mode_* flag is true; expected at least one pooling mode");
  return cfg;
}

void pool(const float* tokens, std::size_t len, std::size_t hidden, const std::vector<PoolingMode>& modes,
          float* out) {
  std::vector<double> acc(hidden);
  for (PoolingMode mode : canonical_order(modes)) {
    if (len == 0) throw Error("cannot pool an empty token sequence");
    switch (mode) {
      case PoolingMode::Cls:
        std::copy(tokens, tokens + hidden, out);
        break;
      case PoolingMode::LastToken:
        std::copy(tokens + (len - 1) * hidden, tokens + len * hidden, out);
        break;
      case PoolingMode::Max:
        for (std::size_t j = 0; j < hidden; ++j) {
          float m = -std::numeric_limits<float>::infinity();
          for (std::size_t t = 0; t < len; ++t) m = std::max(m, tokens[t * hidden + j]);
          out[j] = m;
        }
        break;
      case PoolingMode::Mean:
      case PoolingMode::MeanSqrtLen:
      case PoolingMode::WeightedMean: {
        std::fill(acc.begin(), acc.end(), 0.0);
        double total_weight = 0.0;
        for (std::size_t t = 0; t < len; ++t) {
          // weightedmean weighs token t by its position t + 1, as sentence-transformers does.
          const double w = mode == PoolingMode::WeightedMean ? static_cast<double>(t + 1) : 1.0;
          total_weight += w;
          for (std::size_t j = 0; j < hidden; ++j) acc[j] += w * tokens[t * hidden + j];
        }
        const double denom = mode == PoolingMode::MeanSqrtLen ? std::sqrt(static_cast<double>(len)) : total_weight;
        for (std::size_t j = 0; j < hidden; ++j) out[j] = static_cast<float>(acc[j] / denom);
        break;
      }
    }
    out += hidden;
  }
}

}  // namespace pipeline
}  // namespace embed
