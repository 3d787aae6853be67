// embed's dot-product kernels (compute/dot_gemm) against oneDNN's matmul on the same packed weights. int8:
// the sums are exact integers and the quantization and dequantization around them the same arithmetic, so
// every output must be equal bit for bit; bf16: the same bf16 products, summed in another order and with
// another GELU approximation, so within float rounding. For row counts from one to several row tiles and
// chunks, column counts that are not a multiple of the 64-column panels, k not a multiple of the blocks,
// and 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "compute/dot_gemm.hpp"
#include "compute/linear.hpp"

namespace {

using embed::compute::Activation;
using embed::compute::Linear;

struct RandomLayer {
  std::vector<float> w, b;
  std::size_t in, out;
  RandomLayer(std::size_t in_, std::size_t out_, unsigned seed) : w(in_ * out_), b(out_), in(in_), out(out_) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (auto& v : w) v = normal(gen);
    for (auto& v : b) v = normal(gen);
  }
  Linear make(int threads, embed::Precision precision = embed::Precision::INT8) {
    embed::io::FloatTensor wt, bt;
    wt.shape = {int64_t(out), int64_t(in)};
    wt.data = w.data();
    bt.shape = {int64_t(out)};
    bt.data = b.data();
    return Linear(wt, bt, precision, threads);
  }
};

// The layer twice: on embed's kernel and, with EMBED_DOT=0 while packing, on oneDNN. EMBED_AMX=0 for both,
// so that on an AMX CPU too oneDNN packs the weights (which the kernel then reads, where oneDNN chose the
// dot-product layout there).
std::pair<Linear, Linear> both_ways(RandomLayer& layer, int threads,
                                    embed::Precision precision = embed::Precision::INT8) {
  ::setenv("EMBED_AMX", "0", 1);
  Linear ours = layer.make(threads, precision);
  ::setenv("EMBED_DOT", "0", 1);
  Linear onednn = layer.make(threads, precision);
  ::unsetenv("EMBED_DOT");
  ::unsetenv("EMBED_AMX");
  return {std::move(ours), std::move(onednn)};
}

// Whether `ours` runs on embed's kernel. Where it does not and oneDNN's implementation is an AMX one, the
// tests skip (oneDNN's AMX layout is its own); otherwise they fail.
bool runs_dot_kernel(const Linear& ours) { return ours.backend_info().starts_with("embed "); }
bool packed_for_amx(const Linear& ours) { return ours.backend_info().find("amx") != std::string::npos; }

}  // namespace

TEST(DotGemm, Int8SameBitsAsOneDnn) {
  if (!embed::compute::int8_dot_available()) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  struct Shape {
    std::size_t in, out;
  };
  // MiniLM's QKV and FFN layers, and widths off the 64-column panels and the 64-deep k blocks.
  for (Shape s : {Shape{384, 1152}, Shape{1536, 384}, Shape{68, 100}, Shape{128, 40}}) {
    RandomLayer layer(s.in, s.out, static_cast<unsigned>(s.in + s.out));
    std::vector<float> x(700 * s.in);
    std::mt19937 gen(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : x) v = normal(gen);
    for (int threads : {1, 2}) {
      auto [ours, onednn] = both_ways(layer, threads);
      if (!runs_dot_kernel(ours) && packed_for_amx(ours)) GTEST_SKIP() << "AMX layout: " << ours.backend_info();
      ASSERT_TRUE(runs_dot_kernel(ours)) << ours.backend_info();
      ASSERT_FALSE(runs_dot_kernel(onednn)) << onednn.backend_info();
      for (std::size_t rows : {1, 5, 6, 7, 13, 30, 64, 65, 200, 700}) {
        for (Activation act : {Activation::Identity, Activation::Gelu, Activation::Tanh}) {
          std::vector<float> a(rows * s.out), b(rows * s.out);
          ours.forward(x.data(), rows, a.data(), act);
          onednn.forward(x.data(), rows, b.data(), act);
          for (std::size_t i = 0; i < a.size(); ++i)
            ASSERT_EQ(a[i], b[i]) << s.in << "x" << s.out << ", " << threads << " threads, " << rows
                                  << " rows, activation " << static_cast<int>(act) << ", element " << i;
        }
      }
    }
  }
}

// Through the int8 feed-forward pair (the intermediate quantized again row by row, in chunks) and bf16
// output, the paths a transformer layer takes.
TEST(DotGemm, Int8FeedForwardAndBf16OutputSameBitsAsOneDnn) {
  if (!embed::compute::int8_dot_available()) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  RandomLayer up(384, 1536, 1), down(1536, 384, 2);
  std::vector<float> x(300 * 384);
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(gen);
  auto [up_ours, up_onednn] = both_ways(up, 1);
  auto [down_ours, down_onednn] = both_ways(down, 1);
  if (!runs_dot_kernel(up_ours) && packed_for_amx(up_ours)) GTEST_SKIP() << "AMX layout: " << up_ours.backend_info();
  ASSERT_TRUE(runs_dot_kernel(up_ours) && runs_dot_kernel(down_ours)) << up_ours.backend_info();
  for (std::size_t rows : {1, 29, 64, 300}) {  // 300: several chunks of the intermediate
    std::vector<float> a(rows * 384), b(rows * 384), scratch(rows * 1536);
    Linear::feed_forward(up_ours, down_ours, x.data(), rows, scratch.data(), a.data(), Activation::Gelu);
    Linear::feed_forward(up_onednn, down_onednn, x.data(), rows, scratch.data(), b.data(), Activation::Gelu);
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << rows << " rows, element " << i;
    std::vector<uint16_t> ha(rows * 1536), hb(rows * 1536);
    up_ours.forward_bf16(x.data(), rows, ha.data());
    up_onednn.forward_bf16(x.data(), rows, hb.data());
    EXPECT_EQ(ha, hb) << rows << " rows, bf16 output";
  }
}

// bf16: the same bf16 products as oneDNN's, summed in another order (oneDNN splits long k) and with the
// GELU of activation_fast instead of oneDNN's: single layers within 2e-6 (1 + |value|) of oneDNN's fp32
// outputs (a few ulps of sums over up to 1536 products), the feed-forward pair within what a few flipped
// bf16 roundings of the intermediate move (one step of an intermediate near 2 is 2^-7; times a weight of
// ~0.05: ~4e-4 each), and bf16 outputs at most one bf16 step apart.
TEST(DotGemm, Bf16MatchesOneDnn) {
  if (!embed::compute::bf16_dot_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  struct Shape {
    std::size_t in, out;
  };
  for (Shape s : {Shape{384, 1152}, Shape{1536, 384}, Shape{68, 100}, Shape{128, 40}}) {
    RandomLayer layer(s.in, s.out, static_cast<unsigned>(s.in * 3 + s.out));
    std::vector<float> x(700 * s.in);
    std::mt19937 gen(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : x) v = normal(gen);
    for (int threads : {1, 2}) {
      auto [ours, onednn] = both_ways(layer, threads, embed::Precision::BF16);
      if (!runs_dot_kernel(ours) && packed_for_amx(ours)) GTEST_SKIP() << "AMX layout: " << ours.backend_info();
      ASSERT_TRUE(runs_dot_kernel(ours)) << ours.backend_info();
      ASSERT_FALSE(runs_dot_kernel(onednn)) << onednn.backend_info();
      for (std::size_t rows : {1, 5, 7, 30, 64, 65, 200, 700}) {
        for (Activation act : {Activation::Identity, Activation::Gelu}) {
          std::vector<float> a(rows * s.out), b(rows * s.out);
          ours.forward(x.data(), rows, a.data(), act);
          onednn.forward(x.data(), rows, b.data(), act);
          for (std::size_t i = 0; i < a.size(); ++i)
            ASSERT_NEAR(a[i], b[i], 2e-6 * (1 + std::abs(b[i]))) << s.in << "x" << s.out << ", " << threads << " threads, " << rows
                                          << " rows, activation " << static_cast<int>(act) << ", element " << i;
        }
        std::vector<uint16_t> ha(rows * s.out), hb(rows * s.out);
        ours.forward_bf16(x.data(), rows, ha.data());
        onednn.forward_bf16(x.data(), rows, hb.data());
        const auto value = [](uint16_t bits) {
          const uint32_t word = static_cast<uint32_t>(bits) << 16;
          float f;
          std::memcpy(&f, &word, sizeof f);
          return f;
        };
        for (std::size_t i = 0; i < ha.size(); ++i)  // one bf16 step (2^-8 relative) apart at most
          ASSERT_NEAR(value(ha[i]), value(hb[i]), std::abs(value(hb[i])) / 128 + 1e-6)
              << rows << " rows, bf16 output, element " << i;
      }
    }
  }
  RandomLayer up(384, 1536, 5), down(1536, 384, 6);
  std::vector<float> x(300 * 384);
  std::mt19937 gen(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(gen);
  auto [up_ours, up_onednn] = both_ways(up, 1, embed::Precision::BF16);
  auto [down_ours, down_onednn] = both_ways(down, 1, embed::Precision::BF16);
  for (std::size_t rows : {1, 29, 300}) {
    std::vector<float> a(rows * 384), b(rows * 384), scratch(rows * 1536);
    Linear::feed_forward(up_ours, down_ours, x.data(), rows, scratch.data(), a.data(), Activation::Gelu);
    Linear::feed_forward(up_onednn, down_onednn, x.data(), rows, scratch.data(), b.data(), Activation::Gelu);
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 2e-3) << rows << " rows, element " << i;
  }
}
