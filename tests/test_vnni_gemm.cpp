// embed's VNNI int8 kernel (compute/vnni_gemm) against oneDNN's int8 matmul on the same packed weights:
// the sums are exact integers and the quantization and dequantization around them the same arithmetic, so
// every output must be equal bit for bit, for row counts from one to several row tiles and chunks, column
// counts that are not a multiple of its 64-column panels, k not a multiple of its 64-deep blocks, and 1
// and 2 threads.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "compute/vnni_gemm.hpp"
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
  Linear make(int threads) {
    embed::io::FloatTensor wt, bt;
    wt.shape = {int64_t(out), int64_t(in)};
    wt.data = w.data();
    bt.shape = {int64_t(out)};
    bt.data = b.data();
    return Linear(wt, bt, embed::Precision::INT8, threads);
  }
};

// The layer twice: on embed's kernel and, with EMBED_VNNI=0 while packing, on oneDNN. EMBED_AMX=0 for
// both, so that on an AMX CPU too oneDNN packs the weights (which the VNNI kernel then reads, where oneDNN
// chose its VNNI layout there).
std::pair<Linear, Linear> both_ways(RandomLayer& layer, int threads) {
  ::setenv("EMBED_AMX", "0", 1);
  Linear ours = layer.make(threads);
  ::setenv("EMBED_VNNI", "0", 1);
  Linear onednn = layer.make(threads);
  ::unsetenv("EMBED_VNNI");
  ::unsetenv("EMBED_AMX");
  return {std::move(ours), std::move(onednn)};
}

// Whether `ours` runs on the VNNI kernel. Where it does not and oneDNN's implementation is an AMX one, the
// tests skip (oneDNN's AMX layout is its own); otherwise they fail.
bool runs_vnni_kernel(const Linear& ours) {
  return ours.backend_info().find("embed VNNI kernel") != std::string::npos;
}

}  // namespace

TEST(VnniGemm, SameBitsAsOneDnn) {
  if (!embed::compute::vnni_gemm_available()) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
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
      if (!runs_vnni_kernel(ours) && ours.backend_info().find("amx") != std::string::npos)
        GTEST_SKIP() << "oneDNN packs int8 weights for AMX on this CPU: " << ours.backend_info();
      ASSERT_TRUE(runs_vnni_kernel(ours)) << ours.backend_info();
      ASSERT_EQ(onednn.backend_info().find("embed VNNI kernel"), std::string::npos) << onednn.backend_info();
      for (std::size_t rows : {1, 5, 6, 7, 13, 30, 64, 65, 200, 700}) {
        for (Activation act : {Activation::Identity, Activation::Gelu}) {
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
TEST(VnniGemm, FeedForwardAndBf16OutputSameBitsAsOneDnn) {
  if (!embed::compute::vnni_gemm_available()) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  RandomLayer up(384, 1536, 1), down(1536, 384, 2);
  std::vector<float> x(300 * 384);
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(gen);
  auto [up_ours, up_onednn] = both_ways(up, 1);
  auto [down_ours, down_onednn] = both_ways(down, 1);
  if (!runs_vnni_kernel(up_ours) && up_ours.backend_info().find("amx") != std::string::npos)
    GTEST_SKIP() << "oneDNN packs int8 weights for AMX on this CPU: " << up_ours.backend_info();
  ASSERT_TRUE(runs_vnni_kernel(up_ours) && runs_vnni_kernel(down_ours)) << up_ours.backend_info();
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
