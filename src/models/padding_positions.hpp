#pragma once
// Position ids of RoBERTa-style embeddings (RoBERTa, XLM-RoBERTa, MPNet), as transformers'
// create_position_ids_from_input_ids: position = padding_idx + cumsum(mask) * mask with
// mask = (id != padding_idx). Non-pad tokens count padding_idx + 1, + 2, ...; a pad token (even one inside
// the text, e.g. a literal "<pad>") takes padding_idx and does not advance the count.
#include <cstddef>
#include <cstdint>

namespace embed::models {

// Walks one sequence's ids in order; start a new one for every sequence.
class PaddingAwarePositions {
 public:
  explicit PaddingAwarePositions(int32_t padding_idx) : padding_idx_(padding_idx) {}
  std::size_t next(int32_t id) {
    if (id == padding_idx_) return static_cast<std::size_t>(padding_idx_);
    return static_cast<std::size_t>(padding_idx_) + ++counted_;
  }

 private:
  int32_t padding_idx_;
  std::size_t counted_ = 0;
};

}  // namespace embed::models
