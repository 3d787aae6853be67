#include "compute/relative_position.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "compute/threads.hpp"

namespace embed::compute {

int relative_position_bucket(int64_t relative_position, int num_buckets, int max_distance, bool bidirectional) {
  int64_t ret = 0;
  int64_t n = -relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    if (n < 0) ret += num_buckets;
    n = n < 0 ? -n : n;
  } else {
    n = std::max<int64_t>(n, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return static_cast<int>(ret + n);
  // float32 throughout, as torch: log(n.float() / max_exact) / math.log(max_distance / max_exact) * (nb - me),
  // truncated toward zero by .to(torch.long).
  const float ratio = static_cast<float>(n) / static_cast<float>(max_exact);
  const float log_range = static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = std::log(ratio) / log_range * static_cast<float>(num_buckets - max_exact);
  int64_t large = max_exact + static_cast<int64_t>(scaled);
  large = std::min<int64_t>(large, num_buckets - 1);
  return static_cast<int>(ret + large);
}

namespace {
// Head h of the bias of a len-token sequence: [len, len]. Row i holds distances -i .. len-1-i, a
// contiguous slice of the table starting at index max_len-1-i.
void expand_head(const float* table, std::size_t h, std::size_t max_len, std::size_t len, float* out) {
  const float* th = table + h * (2 * max_len - 1) + (max_len - 1);
  for (std::size_t i = 0; i < len; ++i) std::memcpy(out + i * len, th - i, len * sizeof(float));
}
}  // namespace

void expand_relative_bias(const float* table, std::size_t heads, std::size_t max_len, std::size_t len, float* out) {
  for (std::size_t h = 0; h < heads; ++h) expand_head(table, h, max_len, len, out + h * len * len);
}

void attention_packed_relative(const PackedAttentionArgs& a, const float* table, std::size_t max_len) {
  check_bf16_inputs(a.q16 || a.k16 || a.v16, a.reduced_precision, a.head_dim);
  const std::size_t items = a.sequences * a.heads;
  parallel_for(items, 1, [&](std::size_t b, std::size_t e, int) {
    // Per worker thread, reused across calls: no allocation in the steady state.
    thread_local std::vector<float> bias, scratch;
    for (std::size_t i = b; i < e; ++i) {
      const std::size_t s = i / a.heads, h = i % a.heads;
      const std::size_t off = a.offsets[s], len = a.offsets[s + 1] - off;
      if (len == 0) continue;
      bias.resize(std::max(bias.size(), len * len));
      expand_head(table, h, max_len, len, bias.data());
      const std::size_t col = h * a.head_dim;
      const std::size_t at = off * a.ld + col;
      attention({offset_or_null(a.q, at), offset_or_null(a.k, at), offset_or_null(a.v, at), a.ld, len, 1,
                 a.head_dim, a.scale, bias.data(), a.out + off * a.ld_out + col, a.ld_out, a.reduced_precision,
                 offset_or_null(a.q16, at), offset_or_null(a.k16, at), offset_or_null(a.v16, at)},
                scratch);
    }
  });
}

}  // namespace embed::compute
