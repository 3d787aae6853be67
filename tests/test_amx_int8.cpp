// The AMX int8 kernel (compute/amx_int8): exact int32 products against a plain loop, on every thread
// count, and the int8 Linear that runs on it giving each row the same values whatever the call's row
// count (padding to whole tiles, 64-row chunks). Skipped on CPUs without AMX.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "compute/amx_int8.hpp"
#include "compute/linear.hpp"
#include "compute/threads.hpp"

namespace {

using embed::compute::AmxInt8Weights;

std::vector<int32_t> plain_product(const std::vector<uint8_t>& x, const std::vector<int8_t>& w, std::size_t rows,
                                   std::size_t k, std::size_t n) {
  std::vector<int32_t> y(rows * n, 0);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < n; ++j) {
      int32_t sum = 0;
      for (std::size_t i = 0; i < k; ++i) sum += int32_t{x[r * k + i]} * int32_t{w[j * k + i]};
      y[r * n + j] = sum;
    }
  return y;
}

TEST(AmxInt8, ExactProductsForEveryShapeAndThreadCount) {
  if (!embed::compute::amx_int8_available()) GTEST_SKIP() << "no AMX-INT8 on this CPU (or not allowed by the OS)";
  std::mt19937 gen(5);
  std::uniform_int_distribution<int> u8(0, 255), s8(-127, 127);
  struct Shape {
    std::size_t k, n;
  };
  for (Shape s : {Shape{64, 32}, Shape{384, 1152}, Shape{1536, 384}, Shape{128, 96}}) {
    std::vector<int8_t> w(s.n * s.k);
    for (auto& v : w) v = static_cast<int8_t>(s8(gen));
    // Extremes included: 255 x -127 summed over all of k is the largest magnitude the kernel meets.
    for (std::size_t i = 0; i < s.k; ++i) w[i] = -127;
    const AmxInt8Weights packed(w.data(), s.n, s.k);
    for (std::size_t rows : {16, 32, 48, 64, 96}) {
      std::vector<uint8_t> x(rows * s.k);
      for (auto& v : x) v = static_cast<uint8_t>(u8(gen));
      for (std::size_t i = 0; i < s.k; ++i) x[i] = 255;
      const auto expected = plain_product(x, w, rows, s.k, s.n);
      for (int threads : {1, 2, 3}) {
        embed::compute::ThreadScope scope(threads);
        std::vector<int32_t> y(rows * s.n, -1);
        embed::compute::amx_int8_gemm(x.data(), rows, packed, y.data());
        for (std::size_t i = 0; i < y.size(); ++i)
          ASSERT_EQ(y[i], expected[i]) << "k " << s.k << ", n " << s.n << ", rows " << rows << ", " << threads
                                       << " threads: row " << i / s.n << ", column " << i % s.n;
      }
    }
  }
}

// An int8 Linear pads a call's rows to whole tiles and runs many rows in 64-row chunks; each row is
// quantized, accumulated (exact integers) and dequantized on its own, so it comes out bit for bit the same
// in a call of 1-64 rows as in a call of 200 (three full chunks and a part), with the fused GELU and through
// the feed-forward pair whose intermediate is quantized again.
TEST(AmxInt8, FewRowsEqualTheSameRowsOfALargeCall) {
  if (!embed::compute::amx_int8_available()) GTEST_SKIP() << "no AMX-INT8 on this CPU (or not allowed by the OS)";
  const std::size_t in = 384, hidden = 1536, many = 200;
  std::mt19937 gen(9);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w1(hidden * in), b1(hidden), w2(in * hidden), b2(in), x(many * in);
  for (auto* v : {&w1, &b1, &w2, &b2, &x})
    for (auto& f : *v) f = normal(gen);
  auto tensor = [](std::vector<float>& data, std::vector<int64_t> shape) {
    embed::io::FloatTensor t;
    t.shape = std::move(shape);
    t.data = data.data();
    return t;
  };
  for (int threads : {1, 2}) {
    embed::compute::Linear up(tensor(w1, {int64_t(hidden), int64_t(in)}), tensor(b1, {int64_t(hidden)}),
                              embed::Precision::INT8, threads);
    embed::compute::Linear down(tensor(w2, {int64_t(in), int64_t(hidden)}), tensor(b2, {int64_t(in)}),
                                embed::Precision::INT8, threads);
    using embed::compute::Activation;
    std::vector<float> all_up(many * hidden), all_ff(many * in), scratch(many * hidden);
    up.forward(x.data(), many, all_up.data(), Activation::Gelu);
    embed::compute::Linear::feed_forward(up, down, x.data(), many, scratch.data(), all_ff.data(), Activation::Gelu);
    struct Rows {
      std::size_t first, count;
    };
    for (Rows part : {Rows{0, 1}, Rows{0, 7}, Rows{0, 16}, Rows{0, 30}, Rows{70, 33}, Rows{136, 64}, Rows{190, 10}}) {
      std::vector<float> few_up(part.count * hidden), few_ff(part.count * in);
      const float* xs = x.data() + part.first * in;
      up.forward(xs, part.count, few_up.data(), Activation::Gelu);
      embed::compute::Linear::feed_forward(up, down, xs, part.count, scratch.data(), few_ff.data(), Activation::Gelu);
      for (std::size_t i = 0; i < few_up.size(); ++i)
        ASSERT_EQ(few_up[i], all_up[part.first * hidden + i])
            << threads << " threads, rows " << part.first << " + " << i / hidden << ": up, column " << i % hidden;
      for (std::size_t i = 0; i < few_ff.size(); ++i)
        ASSERT_EQ(few_ff[i], all_ff[part.first * in + i])
            << threads << " threads, rows " << part.first << " + " << i / in << ": feed-forward, column " << i % in;
    }
  }
}

}  // namespace
