#pragma once
// How a corpus is cut into forward passes ("batches"): texts sorted longest first, as sentence-transformers
// orders them, then grouped. Packed batches have no padding, so the grouping does not change the outputs
// (on AVX-512 CPUs not even their rounding, see EncodeOptions::batch_size), only the activation memory and
// how threads share the work.
#include <cstddef>
#include <vector>

namespace embed::pipeline {

struct BatchRange {
  std::size_t begin, end;  // positions in the length-sorted order
};

// Batches over texts of these lengths (in the order they are to run), each at most `batch_size` texts and,
// beyond its first text, at most `max_tokens` tokens. With `threads` > 1 and work for a batch per thread,
// the batch count is a multiple of the threads and the batches hold about equal tokens, so that threads
// running whole batches finish together instead of one waiting on another's longer share.
std::vector<BatchRange> plan_batches(const std::vector<std::size_t>& lengths, std::size_t batch_size,
                                     std::size_t max_tokens, int threads);

}  // namespace embed::pipeline
