// Reduced-precision modes (bf16, int8) against fp32: sentence embeddings of the bert-tiny fixture, and the
// compute::Linear kernels on random data. Also: thread count and fused layers do not change fp32 results.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>

#include "compute/kernels.hpp"
#include "compute/linear.hpp"
#include "compute/small_gemm.hpp"
#include "compute/threads.hpp"
#include "models/encoder.hpp"
#include "pipeline/pooling.hpp"
#include "support/fixture.hpp"

namespace {

using embed::Precision;
using embed::testing::ModelFixture;

std::vector<std::vector<float>> sentence_embeddings(const ModelFixture& fx, Precision precision, int threads = 0) {
  embed::LoadOptions options;
  options.precision = precision;
  options.threads = threads;
  auto loaded = embed::models::load_encoder(fx.dir(), options);
  const std::size_t H = loaded.encoder->hidden_size();
  std::vector<std::vector<float>> out;
  embed::models::PackedBatch all;
  for (std::size_t i = 0; i < fx.num_texts(); ++i) {
    const auto& t = fx.text(i);
    auto ids = t["input_ids"].get<std::vector<int32_t>>();
    auto types = t.contains("token_type_ids") ? t["token_type_ids"].get<std::vector<int32_t>>()
                                              : std::vector<int32_t>(ids.size(), 0);
    all.add(ids, types);
  }
  std::vector<float> tokens(all.tokens() * H);
  loaded.encoder->forward(all, tokens.data());
  for (std::size_t s = 0; s < all.sequences(); ++s) {
    std::vector<float> pooled(H);
    embed::pipeline::pool(tokens.data() + all.offsets[s] * H, all.length(s), H, {embed::PoolingMode::Mean},
                          pooled.data());
    out.push_back(pooled);
  }
  return out;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

bool runs_in(Precision p) {
  std::vector<float> w(16 * 16, 0.5f);
  embed::io::FloatTensor t;
  t.shape = {16, 16};
  t.data = w.data();
  return embed::compute::Linear(t, std::nullopt, p).precision() == p;
}

void expect_close_embeddings(Precision p, double min_cosine) {
  if (!runs_in(p)) GTEST_SKIP() << "this CPU has no kernels for the mode (the engine falls back to fp32)";
  ModelFixture fx("bert-tiny");
  auto ref = sentence_embeddings(fx, Precision::FP32);
  auto got = sentence_embeddings(fx, p);
  ASSERT_EQ(ref.size(), got.size());
  for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_GE(cosine(ref[i], got[i]), min_cosine) << "text " << i;
}

TEST(Precision, Bf16SentenceEmbeddingsMatchFp32) { expect_close_embeddings(Precision::BF16, 0.999); }
TEST(Precision, Int8SentenceEmbeddingsMatchFp32) { expect_close_embeddings(Precision::INT8, 0.99); }

TEST(Precision, ThreadCountDoesNotChangeFp32) {
  ModelFixture fx("bert-tiny");
  auto one = sentence_embeddings(fx, Precision::FP32, 1);
  auto two = sentence_embeddings(fx, Precision::FP32, 2);
  for (std::size_t i = 0; i < one.size(); ++i)
    for (std::size_t j = 0; j < one[i].size(); ++j) EXPECT_NEAR(one[i][j], two[i][j], 1e-5) << "text " << i;
}

struct RandomLayer {
  std::vector<float> w, b, x;
  embed::io::FloatTensor wt, bt;
  RandomLayer(std::size_t rows, std::size_t in, std::size_t out, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    w.resize(out * in);
    b.resize(out);
    x.resize(rows * in);
    for (auto& v : w) v = 0.05f * nd(rng);
    for (auto& v : b) v = 0.1f * nd(rng);
    for (auto& v : x) v = nd(rng);
    wt.shape = {static_cast<int64_t>(out), static_cast<int64_t>(in)};
    wt.data = w.data();
    bt.shape = {static_cast<int64_t>(out)};
    bt.data = b.data();
  }
  // Double-precision reference of gelu(x W^T + b).
  std::vector<double> reference(std::size_t rows, std::size_t in, std::size_t out, bool gelu) const {
    std::vector<double> y(rows * out);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t n = 0; n < out; ++n) {
        double acc = b[n];
        for (std::size_t k = 0; k < in; ++k) acc += double(x[r * in + k]) * w[n * in + k];
        y[r * out + n] = gelu ? 0.5 * acc * (1.0 + std::erf(acc / std::sqrt(2.0))) : acc;
      }
    return y;
  }
};

TEST(Precision, LinearWithFusedGeluPerPrecision) {
  const std::size_t rows = 37, in = 96, out = 80;
  RandomLayer L(rows, in, out, 7);
  auto ref = L.reference(rows, in, out, true);
  const std::pair<Precision, double> modes[] = {{Precision::FP32, 1e-5}, {Precision::BF16, 2e-2}, {Precision::INT8, 3e-2}};
  for (const auto& [p, tol] : modes) {
    embed::compute::Linear lin(L.wt, L.bt, p, 2);
    if (lin.precision() != p) continue;
    std::vector<float> y(rows * out);
    lin.forward(L.x.data(), rows, y.data(), embed::compute::Activation::Gelu);
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - ref[i]));
    EXPECT_LE(worst, tol) << "precision " << static_cast<int>(p);
  }
}

// The feed-forward pair gives exactly what its two layers give one after the other, in every precision
// (int8 quantizes the intermediate rows while they are in cache instead of reading them back from memory).
// 300 rows: more than one chunk of the int8 accumulators.
TEST(Precision, FeedForwardPairEqualsItsTwoLayers) {
  const std::size_t rows = 300, in = 64, inner = 1536;
  RandomLayer up(rows, in, inner, 11), down(rows, inner, in, 12);
  for (Precision p : {Precision::FP32, Precision::BF16, Precision::INT8}) {
    embed::compute::Linear lu(up.wt, up.bt, p, 2), ld(down.wt, down.bt, p, 2);
    std::vector<float> inter(rows * inner), expected(rows * in), got(rows * in), scratch(rows * inner);
    lu.forward(up.x.data(), rows, inter.data(), embed::compute::Activation::Gelu);
    ld.forward(inter.data(), rows, expected.data());
    embed::compute::Linear::feed_forward(lu, ld, up.x.data(), rows, scratch.data(), got.data(),
                                         embed::compute::Activation::Gelu);
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], expected[i]) << "precision " << static_cast<int>(p) << " element " << i;
  }
}

// A few rows (a short text at batch 1) take embed's own fp32 kernel over oneDNN's packed weights
// (compute/small_gemm), more rows embed's tiled kernel (compute/dot_gemm, f32_dot_gemm) over the same
// weights. Checked against a double reference and against oneDNN's GEMM (EMBED_DOT=0) on more rows, and
// each row equal bit for bit to the same row of a larger call (the two kernels sum in the same order, so
// a text's outputs do not depend on what it is batched with), with the shapes' edges: rows not a multiple
// of a register tile (up to 7 rows), in / out not multiples of 16 / 64 (padded weights, masked columns),
// an odd in (a k step left over from the two-step loop), in above one 384-step chunk, several panels per
// thread; GELU, no activation, and tanh (applied after the sums, as small_gemm does).
TEST(Precision, SmallRowsKernelMatchesReferenceAndLargeRows) {
  struct Shape {
    std::size_t in, out;
  };
  constexpr std::size_t big_rows = 80;  // beyond small_gemm
  static_assert(big_rows > embed::compute::kSmallGemmMaxRows);
  using embed::compute::Activation;
  for (const Shape& shape : {Shape{100, 70}, Shape{101, 70}, Shape{384, 384}, Shape{1000, 200}, Shape{64, 1152}}) {
    RandomLayer L(big_rows, shape.in, shape.out, 21);
    for (Activation act : {Activation::Identity, Activation::Gelu, Activation::Tanh}) {
      std::vector<double> ref;
      if (act != Activation::Tanh) ref = L.reference(big_rows, shape.in, shape.out, act == Activation::Gelu);
      for (int threads : {1, 2}) {
        embed::compute::Linear lin(L.wt, L.bt, Precision::FP32, threads);
        ::setenv("EMBED_DOT", "0", 1);
        embed::compute::Linear onednn(L.wt, L.bt, Precision::FP32, threads);
        ::unsetenv("EMBED_DOT");
        if (lin.backend_info().find("small-rows kernel") == std::string::npos)
          GTEST_SKIP() << "no small-rows kernel on this CPU: " << lin.backend_info();
        ASSERT_EQ(onednn.backend_info().find("FMA kernels"), std::string::npos) << onednn.backend_info();
        std::vector<float> all(big_rows * shape.out), all_onednn(big_rows * shape.out);
        lin.forward(L.x.data(), big_rows, all.data(), act);
        onednn.forward(L.x.data(), big_rows, all_onednn.data(), act);
        for (std::size_t rows : {std::size_t{1}, std::size_t{5}, std::size_t{6}, std::size_t{7}, std::size_t{8}, std::size_t{13}, std::size_t{30}, std::size_t{50}, embed::compute::kSmallGemmMaxRows}) {
          std::vector<float> y(rows * shape.out);
          lin.forward(L.x.data(), rows, y.data(), act);
          for (std::size_t i = 0; i < y.size(); ++i)
            ASSERT_EQ(y[i], all[i]) << shape.in << "x" << shape.out << " rows " << rows << " activation "
                                    << static_cast<int>(act) << " element " << i;
          if (ref.empty()) continue;
          // As accurate as oneDNN on the same rows (the two sum in different orders).
          double small_error = 0, onednn_error = 0;
          for (std::size_t i = 0; i < y.size(); ++i) {
            small_error = std::max(small_error, std::fabs(y[i] - ref[i]));
            onednn_error = std::max(onednn_error, std::fabs(all_onednn[i] - ref[i]));
          }
          EXPECT_LE(small_error, 2e-5) << shape.in << "x" << shape.out << " rows " << rows;
          EXPECT_LE(small_error, 2 * onednn_error + 1e-6) << shape.in << "x" << shape.out << " rows " << rows;
        }
      }
    }
  }
}

// The small-rows kernel deals its panels out to the threads, and threads done early take panels from the
// others' ranges: whichever thread computes a panel, it is computed the same way, once. Outputs equal the
// single-threaded ones bit for bit with 2-8 threads (more threads than this machine's cores: the OS
// preempts some, so others take over their panels), every output written (NaN-filled beforehand).
TEST(Precision, SmallRowsKernelSameForEveryThreadCount) {
  const std::size_t rows = 30, in = 1000, out = 1152;  // 18 panels of 64 columns; k in three chunks
  RandomLayer L(rows, in, out, 23);
  embed::compute::Linear single(L.wt, L.bt, Precision::FP32, 1);
  if (single.backend_info().find("small-rows kernel") == std::string::npos)
    GTEST_SKIP() << "no small-rows kernel on this CPU: " << single.backend_info();
  std::vector<float> expected(rows * out);
  single.forward(L.x.data(), rows, expected.data(), embed::compute::Activation::Gelu);
  for (int threads : {2, 3, 4, 8}) {
    embed::compute::Linear lin(L.wt, L.bt, Precision::FP32, threads);
    for (int call = 0; call < 20; ++call) {
      std::vector<float> y(rows * out, std::numeric_limits<float>::quiet_NaN());
      lin.forward(L.x.data(), rows, y.data(), embed::compute::Activation::Gelu);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(expected[i]))
            << threads << " threads, call " << call << ", row " << i / out << ", column " << i % out;
    }
  }
}

// A layer learns which layer's small-rows GEMM runs after it and prefetches that layer's weights: only a
// hint. Outputs stay the same bit for bit before the order is known, once it is, after the layer that
// followed is destroyed, and when the layer that ran before is destroyed.
TEST(Precision, SmallRowsLayerOrderHintDoesNotChangeResults) {
  const std::size_t rows = 30, in = 384, out = 1152;
  RandomLayer L(rows, in, out, 29), M(rows, out, in, 31);
  for (int threads : {1, 2}) {
    auto first = std::make_unique<embed::compute::Linear>(L.wt, L.bt, Precision::FP32, threads);
    auto second = std::make_unique<embed::compute::Linear>(M.wt, M.bt, Precision::FP32, threads);
    if (first->backend_info().find("small-rows kernel") == std::string::npos)
      GTEST_SKIP() << "no small-rows kernel on this CPU: " << first->backend_info();
    auto run_first = [&] {
      std::vector<float> y(rows * out, std::numeric_limits<float>::quiet_NaN());
      first->forward(L.x.data(), rows, y.data(), embed::compute::Activation::Gelu);
      return y;
    };
    const auto expected = run_first();  // nothing learned yet
    std::vector<float> h(rows * out), z(rows * in);
    for (int call = 0; call < 3; ++call) {
      h = run_first();  // from the second call on, `first` prefetches `second`'s weights
      EXPECT_EQ(0, std::memcmp(h.data(), expected.data(), h.size() * sizeof(float))) << threads << " threads";
      second->forward(h.data(), rows, z.data());
    }
    second.reset();  // the layer `first` learned to prefetch is gone
    h = run_first();
    EXPECT_EQ(0, std::memcmp(h.data(), expected.data(), h.size() * sizeof(float))) << threads << " threads";
    auto before = std::make_unique<embed::compute::Linear>(M.wt, M.bt, Precision::FP32, threads);
    before->forward(h.data(), rows, z.data());
    before.reset();  // the layer that ran last is gone when `first` runs
    h = run_first();
    EXPECT_EQ(0, std::memcmp(h.data(), expected.data(), h.size() * sizeof(float))) << threads << " threads";
  }
}

// forward_bf16 (the projection feeding attention's bf16 products) writes forward's values rounded to bf16,
// in every precision: bf16 layers through the GEMM's bf16 output, int8 rows as they are dequantized.
TEST(Precision, Bf16OutputIsForwardRounded) {
  const std::size_t rows = 300, in = 96, out = 144;
  RandomLayer L(rows, in, out, 31);
  for (Precision p : {Precision::FP32, Precision::BF16, Precision::INT8}) {
    embed::compute::Linear lin(L.wt, L.bt, p, 2);
    std::vector<float> y(rows * out);
    std::vector<uint16_t> expected(rows * out), got(rows * out);
    lin.forward(L.x.data(), rows, y.data());
    embed::compute::kernels::to_bf16(y.data(), expected.data(), y.size());
    lin.forward_bf16(L.x.data(), rows, got.data());
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], expected[i]) << "precision " << static_cast<int>(p) << " element " << i;
  }
}

// bf16 GEMMs run rows past a multiple of 32 as one padded 32-row block (Linear: bounded primitive
// creation; above 64 rows). Every row must come out as it does when the whole row count runs in one
// primitive: the rows of a 71-row call equal the first 71 rows of a 96-row call (a multiple), bit for bit,
// with GELU fused, for fp32 and bf16 outputs, single- and multi-threaded.
TEST(Precision, Bf16RowsPastTheGranuleEqualOnePrimitive) {
  if (!runs_in(Precision::BF16)) GTEST_SKIP() << "this CPU has no bf16 kernels (the engine falls back to fp32)";
  const std::size_t rows = 71, whole = 96, in = 96, out = 160;
  RandomLayer L(whole, in, out, 41);
  for (int threads : {1, 2}) {
    embed::compute::Linear lin(L.wt, L.bt, Precision::BF16, threads);
    std::vector<float> part(rows * out), all(whole * out);
    lin.forward(L.x.data(), rows, part.data(), embed::compute::Activation::Gelu);
    lin.forward(L.x.data(), whole, all.data(), embed::compute::Activation::Gelu);
    for (std::size_t i = 0; i < part.size(); ++i)
      ASSERT_EQ(part[i], all[i]) << threads << " threads, row " << i / out << " column " << i % out;
    std::vector<uint16_t> part16(rows * out), all16(whole * out);
    lin.forward_bf16(L.x.data(), rows, part16.data());
    lin.forward_bf16(L.x.data(), whole, all16.data());
    for (std::size_t i = 0; i < part16.size(); ++i)
      ASSERT_EQ(part16[i], all16[i]) << threads << " threads, bf16 output, row " << i / out << " column " << i % out;
  }
}

TEST(Precision, ConcatenatedLayerEqualsParts) {
  const std::size_t rows = 5, in = 64;
  RandomLayer a(rows, in, 48, 1), b(rows, in, 16, 2);
  b.x = a.x;
  embed::compute::Linear la(a.wt, a.bt, Precision::FP32), lb(b.wt, b.bt, Precision::FP32);
  auto both = embed::compute::Linear::concat({&la, &lb});
  ASSERT_EQ(both.out_features(), 64u);
  std::vector<float> ya(rows * 48), yb(rows * 16), y(rows * 64);
  la.forward(a.x.data(), rows, ya.data());
  lb.forward(a.x.data(), rows, yb.data());
  both.forward(a.x.data(), rows, y.data());
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t j = 0; j < 48; ++j) EXPECT_NEAR(y[r * 64 + j], ya[r * 48 + j], 1e-5);
    for (std::size_t j = 0; j < 16; ++j) EXPECT_NEAR(y[r * 64 + 48 + j], yb[r * 16 + j], 1e-5);
  }
}

}  // namespace
