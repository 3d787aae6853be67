// The AMX kernels (compute/amx_gemm): int8 gives exact int32 products of a plain loop, bf16 the fp32 sums
// of bf16 products to rounding, on every thread count; the int8 and bf16 Linears that run on them give
// each row the same values whatever the call's row count (padding to whole tiles, 64-row chunks).
// Skipped on CPUs without AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compute/amx_gemm.hpp"
#include "compute/kernels.hpp"
#include "compute/linear.hpp"
#include "compute/threads.hpp"

namespace {

using embed::compute::AmxWeights;

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
    const AmxWeights packed(w.data(), s.n, s.k);
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

float bf16_to_float(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// bf16: each output against a double sum of the same bf16 products, within fp32 rounding of the sum of
// their magnitudes (the tiles add pairs of products in their own order).
TEST(AmxBf16, ProductsMatchAPlainSumForEveryShapeAndThreadCount) {
  if (!embed::compute::amx_bf16_available()) GTEST_SKIP() << "no AMX-BF16 on this CPU (or not allowed by the OS)";
  std::mt19937 gen(6);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  struct Shape {
    std::size_t k, n;
  };
  for (Shape s : {Shape{32, 32}, Shape{384, 1152}, Shape{1536, 384}, Shape{96, 160}}) {
    std::vector<float> wf(s.n * s.k);
    for (auto& v : wf) v = normal(gen);
    std::vector<uint16_t> w(wf.size());
    embed::compute::kernels::to_bf16(wf.data(), w.data(), w.size());
    const AmxWeights packed(w.data(), s.n, s.k);
    for (std::size_t rows : {16, 32, 48, 64, 96}) {
      std::vector<float> xf(rows * s.k);
      for (auto& v : xf) v = normal(gen);
      std::vector<uint16_t> x(xf.size());
      embed::compute::kernels::to_bf16(xf.data(), x.data(), x.size());
      for (int threads : {1, 2, 3}) {
        embed::compute::ThreadScope scope(threads);
        std::vector<float> y(rows * s.n, std::nanf(""));
        embed::compute::amx_bf16_gemm(x.data(), rows, packed, y.data());
        for (std::size_t r = 0; r < rows; ++r)
          for (std::size_t j = 0; j < s.n; ++j) {
            double sum = 0, magnitude = 0;
            for (std::size_t i = 0; i < s.k; ++i) {
              const double product = double(bf16_to_float(x[r * s.k + i])) * bf16_to_float(w[j * s.k + i]);
              sum += product;
              magnitude += std::fabs(product);
            }
            ASSERT_NEAR(y[r * s.n + j], sum, 1e-6 * magnitude + 1e-30)
                << "k " << s.k << ", n " << s.n << ", rows " << rows << ", " << threads << " threads: row " << r
                << ", column " << j;
          }
      }
    }
  }
}

// A random MiniLM-shaped feed-forward pair (384 -> 1536 -> 384, with biases) and 200 input rows.
struct RandomFeedForward {
  static constexpr std::size_t in = 384, hidden = 1536, many = 200;
  std::vector<float> w1, b1, w2, b2, x;
  explicit RandomFeedForward(unsigned seed)
      : w1(hidden * in), b1(hidden), w2(in * hidden), b2(in), x(many * in) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (auto* v : {&w1, &b1, &w2, &b2, &x})
      for (auto& f : *v) f = normal(gen);
  }
  static embed::io::FloatTensor tensor(std::vector<float>& data, std::vector<int64_t> shape) {
    embed::io::FloatTensor t;
    t.shape = std::move(shape);
    t.data = data.data();
    return t;
  }
  embed::compute::Linear up(embed::Precision precision, int threads) {
    return {tensor(w1, {int64_t(hidden), int64_t(in)}), tensor(b1, {int64_t(hidden)}), precision, threads};
  }
  embed::compute::Linear down(embed::Precision precision, int threads) {
    return {tensor(w2, {int64_t(in), int64_t(hidden)}), tensor(b2, {int64_t(in)}), precision, threads};
  }
};

// An int8 / bf16 Linear pads a call's rows to whole tiles and runs many rows in 64-row chunks; each row is
// computed on its own (int8: quantized, accumulated in exact integers, dequantized; bf16: the same tile
// sums whichever tile the row lands in), so it comes out bit for bit the same in a call of 1-64 rows as in
// a call of 200 (three full chunks and a part), with the fused GELU, through the feed-forward pair (whose
// intermediate is quantized again, or written as bf16) and, for bf16, as bf16 output.
void expect_rows_independent_of_the_call(embed::Precision precision) {
  RandomFeedForward f(9);
  const std::size_t in = f.in, hidden = f.hidden, many = f.many;
  const std::vector<float>& x = f.x;
  for (int threads : {1, 2}) {
    const embed::compute::Linear up = f.up(precision, threads), down = f.down(precision, threads);
    ASSERT_NE(up.backend_info().find("AMX"), std::string::npos) << up.backend_info();
    using embed::compute::Activation;
    std::vector<float> all_up(many * hidden), all_ff(many * in), scratch(many * hidden);
    std::vector<uint16_t> all_up16(many * hidden);
    up.forward(x.data(), many, all_up.data(), Activation::Gelu);
    up.forward_bf16(x.data(), many, all_up16.data());
    embed::compute::Linear::feed_forward(up, down, x.data(), many, scratch.data(), all_ff.data(), Activation::Gelu);
    struct Rows {
      std::size_t first, count;
    };
    for (Rows part : {Rows{0, 1}, Rows{0, 7}, Rows{0, 16}, Rows{0, 30}, Rows{70, 33}, Rows{136, 64}, Rows{190, 10}}) {
      std::vector<float> few_up(part.count * hidden), few_ff(part.count * in);
      std::vector<uint16_t> few_up16(part.count * hidden);
      const float* xs = x.data() + part.first * in;
      up.forward(xs, part.count, few_up.data(), Activation::Gelu);
      up.forward_bf16(xs, part.count, few_up16.data());
      embed::compute::Linear::feed_forward(up, down, xs, part.count, scratch.data(), few_ff.data(), Activation::Gelu);
      for (std::size_t i = 0; i < few_up.size(); ++i)
        ASSERT_EQ(few_up[i], all_up[part.first * hidden + i])
            << threads << " threads, rows " << part.first << " + " << i / hidden << ": up, column " << i % hidden;
      for (std::size_t i = 0; i < few_up16.size(); ++i)
        ASSERT_EQ(few_up16[i], all_up16[part.first * hidden + i])
            << threads << " threads, rows " << part.first << " + " << i / hidden << ": bf16 output, column " << i % hidden;
      for (std::size_t i = 0; i < few_ff.size(); ++i)
        ASSERT_EQ(few_ff[i], all_ff[part.first * in + i])
            << threads << " threads, rows " << part.first << " + " << i / in << ": feed-forward, column " << i % in;
    }
  }
}

TEST(AmxInt8, FewRowsEqualTheSameRowsOfALargeCall) {
  if (!embed::compute::amx_int8_available()) GTEST_SKIP() << "no AMX-INT8 on this CPU (or not allowed by the OS)";
  expect_rows_independent_of_the_call(embed::Precision::INT8);
}

TEST(AmxBf16, FewRowsEqualTheSameRowsOfALargeCall) {
  if (!embed::compute::amx_bf16_available()) GTEST_SKIP() << "no AMX-BF16 on this CPU (or not allowed by the OS)";
  expect_rows_independent_of_the_call(embed::Precision::BF16);
}

// The AMX kernels against oneDNN's matmul (EMBED_AMX=0 at packing) on the same layers: int8 bit for bit
// (the same quantization, exact integer sums, the same dequantization), bf16 within what summing the same
// bf16 products in another order changes: sums differ by ~2e-7 here, and an intermediate value rounded to
// bf16 may then round the other way (one such flip moves an output by ~1e-4; measured at most 8.3e-5).
TEST(AmxGemm, SameResultsAsOneDnn) {
  RandomFeedForward f(13);
  const std::size_t in = f.in, hidden = f.hidden;
  const std::vector<float>& x = f.x;
  using embed::compute::Activation;
  using embed::compute::Linear;
  bool ran = false;
  for (embed::Precision precision : {embed::Precision::INT8, embed::Precision::BF16}) {
    const bool exact = precision == embed::Precision::INT8;
    if (!(exact ? embed::compute::amx_int8_available() : embed::compute::amx_bf16_available())) continue;
    auto layers = [&] {
      return std::pair<Linear, Linear>{f.up(precision, 2), f.down(precision, 2)};
    };
    const auto amx = layers();
    ::setenv("EMBED_AMX", "0", 1);
    const auto onednn = layers();
    ::unsetenv("EMBED_AMX");
    ASSERT_NE(amx.first.backend_info().find("AMX"), std::string::npos) << amx.first.backend_info();
    ASSERT_NE(onednn.first.backend_info().find("oneDNN"), std::string::npos) << onednn.first.backend_info();
    ran = true;
    for (std::size_t rows : {1, 30, 64, 200}) {
      std::vector<float> up_a(rows * hidden), up_o(rows * hidden), ff_a(rows * in), ff_o(rows * in), scratch(rows * hidden);
      amx.first.forward(x.data(), rows, up_a.data(), Activation::Gelu);
      onednn.first.forward(x.data(), rows, up_o.data(), Activation::Gelu);
      Linear::feed_forward(amx.first, amx.second, x.data(), rows, scratch.data(), ff_a.data(), Activation::Gelu);
      Linear::feed_forward(onednn.first, onednn.second, x.data(), rows, scratch.data(), ff_o.data(), Activation::Gelu);
      for (std::size_t i = 0; i < up_a.size(); ++i)
        if (exact) ASSERT_EQ(up_a[i], up_o[i]) << rows << " rows, int8 up, element " << i;
        else ASSERT_NEAR(up_a[i], up_o[i], 1e-6) << rows << " rows, bf16 up, element " << i;
      for (std::size_t i = 0; i < ff_a.size(); ++i)
        if (exact) ASSERT_EQ(ff_a[i], ff_o[i]) << rows << " rows, int8 feed-forward, element " << i;
        else ASSERT_NEAR(ff_a[i], ff_o[i], 5e-4) << rows << " rows, bf16 feed-forward, element " << i;
    }
  }
  if (!ran) GTEST_SKIP() << "no AMX on this CPU (or not allowed by the OS)";
}

}  // namespace
