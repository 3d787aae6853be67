#include "pipeline/batch_plan.hpp"

#include <algorithm>
#include <numeric>

namespace embed::pipeline {

std::vector<BatchRange> plan_batches(const std::vector<std::size_t>& lengths, std::size_t batch_size,
                                     std::size_t max_tokens, int threads) {
  batch_size = std::max<std::size_t>(1, batch_size);
  max_tokens = std::max<std::size_t>(1, max_tokens);
  const std::size_t texts = lengths.size();
  const std::size_t total = std::accumulate(lengths.begin(), lengths.end(), std::size_t{0});
  // The fewest batches the two limits allow, then, when every thread can have one, rounded up to a
  // multiple of the threads.
  std::size_t planned = std::max((texts + batch_size - 1) / batch_size, (total + max_tokens - 1) / max_tokens);
  const auto t = static_cast<std::size_t>(std::max(threads, 1));
  if (t > 1 && planned >= t) planned = (planned + t - 1) / t * t;
  planned = std::min(planned, texts);

  // Batch i ends where the running token count comes nearest to (i + 1) / planned of the total; the limits
  // can end it earlier, and texts left after the planned batches go into further ones.
  std::vector<BatchRange> batches;
  std::size_t done_tokens = 0;
  for (std::size_t start = 0, end = 0; start < texts; start = end) {
    const std::size_t i = batches.size();
    const double goal = i + 1 < planned
                            ? static_cast<double>(total) * static_cast<double>(i + 1) / static_cast<double>(planned)
                            : static_cast<double>(total);
    std::size_t tokens = lengths[start];
    end = start + 1;
    while (end < texts && end - start < batch_size && tokens + lengths[end] <= max_tokens &&
           static_cast<double>(done_tokens + tokens) + 0.5 * static_cast<double>(lengths[end]) <= goal)
      tokens += lengths[end++];
    done_tokens += tokens;
    batches.push_back({start, end});
  }
  return batches;
}

}  // namespace embed::pipeline
