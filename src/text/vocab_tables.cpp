// The token tables of the vocabulary-based models: FlatStringTable and VocabIndex (text/components.hpp).
#include <algorithm>

#include "text/components.hpp"

namespace embed::text {

void FlatStringTable::build(const std::vector<std::pair<std::string_view, int32_t>>& entries, bool last_wins) {
  std::size_t cap = 16;
  while (cap < entries.size() * 2) cap <<= 1;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  pool_.clear();
  std::size_t bytes = 0;
  for (const auto& entry : entries) bytes += entry.first.size();
  pool_.reserve(bytes);
  for (const auto& [k, id] : entries) {
    if (id < 0) continue;
    const uint64_t h = hash(k);
    Slot& slot = slots_[probe(k, h)];
    if (slot.id >= 0) {  // a repeated key
      if (last_wins) slot.id = id;
      continue;
    }
    slot = Slot{static_cast<uint32_t>(h >> 32), id, static_cast<uint32_t>(pool_.size()), static_cast<uint32_t>(k.size())};
    pool_ += k;
  }
}

// Dense when the largest id is below twice the entries plus this slack: real vocabularies are dense (a few
// gaps at most), and the vector wastes at most that many empty strings; anything sparser is hashed.
constexpr std::size_t kDenseIdSlack = 4096;

VocabIndex::VocabIndex(const Vocab& vocab) : size_(vocab.size()) {
  int32_t max_id = -1;
  for (const auto& entry : vocab) max_id = std::max(max_id, entry.second);
  const auto table_size = static_cast<std::size_t>(max_id) + 1;
  const bool dense = table_size <= 2 * vocab.size() + kDenseIdSlack;
  if (dense) tokens_.resize(table_size);
  std::vector<std::pair<std::string_view, int32_t>> entries;  // views of the vocabulary's keys
  entries.reserve(vocab.size());
  for (const auto& [token, id] : vocab) {
    if (id < 0) continue;
    if (dense) tokens_[static_cast<std::size_t>(id)] = token;
    else sparse_[id] = token;
    entries.emplace_back(token, id);
  }
  ids_.build(entries);
}

}  // namespace embed::text
