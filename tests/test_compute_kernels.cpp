// compute kernels against straightforward double-precision references: attention (every path: AVX-512
// head_dim % 16 == 0, generic otherwise, bf16 products; packed and per sequence; with bias), layer norm,
// softmax, and the reduced-precision paths' fast GELU, int8 row quantizer and bfloat16 conversion.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <random>

#include <cblas.h>

#include "compute/amx_gemm.hpp"
#include "compute/avx512_math.hpp"
#include "compute/cpu_features.hpp"
#include "compute/kernels.hpp"
#include "compute/linear.hpp"
#include "compute/ops.hpp"
#include "compute/relative_position.hpp"
#include "compute/small_gemm.hpp"
#include "compute/threads.hpp"
#include "embed/error.hpp"

namespace {

std::vector<float> random_vector(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Reference attention of one sequence; q/k/v rows ld apart; bias [heads, len, len] or null.
std::vector<double> reference_attention(const float* q, const float* k, const float* v, std::size_t ld,
                                        std::size_t len, std::size_t heads, std::size_t d, float scale,
                                        const float* bias) {
  std::vector<double> out(len * heads * d, 0.0);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < len; ++i) {
      std::vector<double> s(len);
      double m = -1e300;
      for (std::size_t j = 0; j < len; ++j) {
        double acc = 0;
        for (std::size_t c = 0; c < d; ++c) acc += double(q[i * ld + h * d + c]) * k[j * ld + h * d + c];
        s[j] = acc * scale + (bias ? bias[(h * len + i) * len + j] : 0.0);
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (auto& x : s) sum += (x = std::exp(x - m));
      for (std::size_t j = 0; j < len; ++j)
        for (std::size_t c = 0; c < d; ++c) out[i * heads * d + h * d + c] += s[j] / sum * v[j * ld + h * d + c];
    }
  return out;
}

// reduced_precision lets both products take bf16 inputs on AVX512-BF16 CPUs (head_dim % 32 == 0): the
// tolerance is then bf16's, inputs rounded to 8 significant bits (errors seen: up to 1e-2 on N(0, 1) data);
// elsewhere the fp32 kernels run and the fp32 tolerance holds.
TEST(ComputeKernels, AttentionMatchesReference) {
  const bool bf16_cpu = embed::compute::cpu_features().avx512_bf16;
  for (std::size_t d : {8u, 16u, 32u, 48u, 64u}) {
    // Lengths 1-8 and beyond: every size of the kernels' last row block (1-8 rows).
    for (std::size_t len : {1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 17u, 33u, 70u}) {
      const std::size_t heads = 3, H = heads * d, ld = 3 * H;
      auto qkv = random_vector(len * ld, static_cast<unsigned>(d * 1000 + len));
      auto bias = random_vector(heads * len * len, 5);
      const float scale = 1.0f / std::sqrt(float(d));
      for (bool reduced : {false, true})
        for (bool with_bias : {false, true}) {
          std::vector<float> out(len * H, -7.0f), scratch;
          embed::compute::attention({qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, len, heads, d, scale,
                                     with_bias ? bias.data() : nullptr, out.data(), H, reduced},
                                    scratch);
          auto ref = reference_attention(qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, len, heads, d, scale,
                                         with_bias ? bias.data() : nullptr);
          const bool bf16_ran = reduced && bf16_cpu && d % 32 == 0;
          double max_err = 0;
          for (std::size_t i = 0; i < out.size(); ++i) max_err = std::max(max_err, std::fabs(out[i] - ref[i]));
          EXPECT_LT(max_err, bf16_ran ? 3e-2 : 2e-5)
              << "d " << d << " len " << len << " bias " << with_bias << " reduced " << reduced;
          // Where the CPU has the instructions, the bf16 kernels really ran.
          if (bf16_ran) EXPECT_GT(max_err, 2e-5) << "d " << d << " len " << len << " bias " << with_bias;
        }
    }
  }
}

TEST(ComputeKernels, PackedAttentionEqualsPerSequence) {
  const std::size_t heads = 12, d = 32, H = heads * d, ld = 3 * H;
  const std::vector<std::size_t> offsets = {0, 40, 41, 58, 90};
  const std::size_t T = offsets.back();
  auto qkv = random_vector(T * ld, 11);
  std::vector<float> packed(T * H);
  embed::compute::ThreadScope threads(2);
  embed::compute::attention_packed({qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, offsets.data(),
                                    offsets.size() - 1, heads, d, 0.17f, packed.data(), H});
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
    const std::size_t off = offsets[s], len = offsets[s + 1] - off;
    auto ref = reference_attention(qkv.data() + off * ld, qkv.data() + off * ld + H, qkv.data() + off * ld + 2 * H,
                                   ld, len, heads, d, 0.17f, nullptr);
    for (std::size_t i = 0; i < len * H; ++i) ASSERT_NEAR(packed[off * H + i], ref[i], 2e-5) << "sequence " << s;
  }
}

// The packed entry point passes reduced_precision on: the same values as sequence by sequence.
TEST(ComputeKernels, PackedAttentionPassesReducedPrecisionOn) {
  const std::size_t heads = 12, d = 32, H = heads * d, ld = 3 * H;
  const std::vector<std::size_t> offsets = {0, 40, 41, 58};
  auto qkv = random_vector(offsets.back() * ld, 12);
  std::vector<float> packed(offsets.back() * H), single(offsets.back() * H), scratch;
  embed::compute::attention_packed({qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, offsets.data(),
                                    offsets.size() - 1, heads, d, 0.17f, packed.data(), H, true});
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
    const std::size_t off = offsets[s];
    embed::compute::attention({qkv.data() + off * ld, qkv.data() + off * ld + H, qkv.data() + off * ld + 2 * H, ld,
                               offsets[s + 1] - off, heads, d, 0.17f, nullptr, single.data() + off * H, H, true},
                              scratch);
  }
  EXPECT_EQ(packed, single);
}

// Q, K, V handed over in bf16 (as a bf16 / int8 projection writes them) give exactly what the kernels
// compute from the fp32 matrices, which they round the same way: packed, with an odd-length sequence (V's
// key pairs then end in a zero), and per sequence with a position bias.
TEST(ComputeKernels, AttentionTakesBf16InputsExactly) {
  const std::size_t heads = 12, d = 32, H = heads * d, ld = 3 * H;
  if (!embed::compute::attention_takes_bf16(d)) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const std::vector<std::size_t> offsets = {0, 40, 41, 58};
  const std::size_t T = offsets.back();
  auto qkv = random_vector(T * ld, 13);
  std::vector<uint16_t> qkv16(qkv.size());
  embed::compute::kernels::to_bf16(qkv.data(), qkv16.data(), qkv.size());
  std::vector<float> from_fp32(T * H), from_bf16(T * H, -7.0f);
  embed::compute::ThreadScope threads(2);
  embed::compute::attention_packed({qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, offsets.data(),
                                    offsets.size() - 1, heads, d, 0.17f, from_fp32.data(), H, true});
  embed::compute::attention_packed({nullptr, nullptr, nullptr, ld, offsets.data(), offsets.size() - 1, heads, d,
                                    0.17f, from_bf16.data(), H, true, qkv16.data(), qkv16.data() + H,
                                    qkv16.data() + 2 * H});
  EXPECT_EQ(from_bf16, from_fp32);

  const std::size_t len = 17;
  auto bias = random_vector(heads * len * len, 6);
  std::vector<float> a(len * H), b(len * H, -7.0f), scratch;
  embed::compute::attention({qkv.data(), qkv.data() + H, qkv.data() + 2 * H, ld, len, heads, d, 0.17f, bias.data(),
                             a.data(), H, true},
                            scratch);
  embed::compute::attention({nullptr, nullptr, nullptr, ld, len, heads, d, 0.17f, bias.data(), b.data(), H, true,
                             qkv16.data(), qkv16.data() + H, qkv16.data() + 2 * H},
                            scratch);
  EXPECT_EQ(a, b);
}

// bf16 Q, K, V only go to the bf16 kernels: handed to the fp32 path (reduced_precision off), the call says why
// it cannot run instead of reading the unset fp32 matrices.
TEST(ComputeKernels, AttentionRejectsBf16InputsWithoutBf16Products) {
  const std::size_t heads = 2, d = 32, H = heads * d, ld = 3 * H, len = 3;
  std::vector<uint16_t> qkv16(len * ld, 0x3f80);  // bf16 1.0
  std::vector<float> out(len * H), scratch;
  const std::vector<std::size_t> offsets = {0, len};
  const embed::compute::PackedAttentionArgs packed{nullptr, nullptr, nullptr, ld, offsets.data(), 1, heads, d, 0.17f,
                                                   out.data(), H, false, qkv16.data(), qkv16.data() + H,
                                                   qkv16.data() + 2 * H};
  embed::compute::ThreadScope threads(2);  // the heads would run on two threads
  const std::vector<float> table(heads * (2 * len - 1), 0.0f);
  const std::function<void()> calls[] = {
      [&] {
        embed::compute::attention({nullptr, nullptr, nullptr, ld, len, heads, d, 0.17f, nullptr, out.data(), H, false,
                                   qkv16.data(), qkv16.data() + H, qkv16.data() + 2 * H},
                                  scratch);
      },
      [&] { embed::compute::attention_packed(packed); },
      [&] { embed::compute::attention_packed_relative(packed, table.data(), len); }};
  for (const auto& call : calls) {
    try {
      call();
      ADD_FAILURE() << "expected an error";
    } catch (const embed::Error& e) {
      EXPECT_NE(std::string(e.what()).find("given in bf16"), std::string::npos) << e.what();
    }
  }
}

TEST(ComputeKernels, LayerNormAndSoftmax) {
  for (std::size_t dim : {1u, 7u, 16u, 37u, 384u}) {
    const std::size_t rows = 5;
    auto x = random_vector(rows * dim, 3, 4.0f), res = random_vector(rows * dim, 4), g = random_vector(dim, 6),
         b = random_vector(dim, 7);
    // Without a residual: the same rows with the residual already added.
    auto y = x, y_added = x;
    for (std::size_t i = 0; i < y_added.size(); ++i) y_added[i] += res[i];
    embed::compute::add_layer_norm(y.data(), res.data(), rows, dim, g.data(), b.data(), 1e-12f);
    embed::compute::add_layer_norm(y_added.data(), nullptr, rows, dim, g.data(), b.data(), 1e-12f);
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y_added[i], y[i]) << "dim " << dim << " at " << i;
    for (std::size_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (std::size_t j = 0; j < dim; ++j) mean += double(x[r * dim + j]) + res[r * dim + j];
      mean /= dim;
      for (std::size_t j = 0; j < dim; ++j) {
        const double t = double(x[r * dim + j]) + res[r * dim + j] - mean;
        var += t * t;
      }
      var /= dim;
      for (std::size_t j = 0; j < dim; ++j) {
        const double e = (double(x[r * dim + j]) + res[r * dim + j] - mean) / std::sqrt(var + 1e-12) * g[j] + b[j];
        ASSERT_NEAR(y[r * dim + j], e, 1e-4 * (1 + std::fabs(e))) << "dim " << dim;
      }
    }
    auto s = random_vector(dim, 9, 10.0f), t = s;
    embed::compute::softmax(t.data(), dim);
    double m = *std::max_element(s.begin(), s.end()), sum = 0;
    for (float v : s) sum += std::exp(v - m);
    for (std::size_t j = 0; j < dim; ++j) ASSERT_NEAR(t[j], std::exp(s[j] - m) / sum, 1e-6) << "dim " << dim;
  }
}

}  // namespace

// Rows of every tail length around the 16-lane width, values across GELU's range (both erf tails,
// where the polynomial meets the limits -1 / 1, and exact zeros).
TEST(ComputeKernels, FastGeluMatchesErfForm) {
  for (std::size_t n : {1, 7, 15, 16, 17, 33, 1536}) {
    auto x = random_vector(n, static_cast<unsigned>(n), 4.0f);
    x[0] = 0.0f;
    if (n > 4) x[1] = 12.0f, x[2] = -12.0f, x[3] = 1e30f, x[4] = -1e30f;
    auto y = x;
    embed::compute::kernels::activation_fast(embed::compute::Activation::Gelu, y.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[i], expected = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      EXPECT_NEAR(y[i], expected, 1e-6 * std::max(1.0, std::fabs(v))) << "n " << n << " x " << v;
      EXPECT_TRUE(std::isfinite(y[i])) << "n " << n << " x " << v;
    }
  }
}

// The int8 layers' GELU (its outputs are quantized next): within 2.1e-4 of the erf form over a dense grid
// of [-12, 12] (both clamps of the polynomial at +-4 included), exactly x far above and 0 far below, finite
// for huge inputs; every tail length, as activation_fast. Where AVX-512 does not run it is activation_fast.
TEST(ComputeKernels, Int8GeluWithinItsBoundOfErfForm) {
  std::vector<float> x;
  for (int i = -120000; i <= 120000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  for (float v : {40.0f, -40.0f, 1e30f, -1e30f, 0.0f}) x.push_back(v);
  for (std::size_t n : {x.size(), std::size_t{1}, std::size_t{17}}) {
    auto y = x;
    embed::compute::kernels::activation_int8(embed::compute::Activation::Gelu, y.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = x[i], expected = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      ASSERT_TRUE(std::isfinite(y[i])) << "x " << v;
      if (std::fabs(v) >= 40) {
        EXPECT_EQ(y[i], v > 0 ? x[i] : 0.0f) << "x " << v;
        continue;
      }
      ASSERT_NEAR(y[i], expected, 2.1e-4) << "n " << n << " x " << v;
    }
  }
  // Other activations are activation_fast's.
  auto a = random_vector(37, 5, 3.0f), b = a;
  embed::compute::kernels::activation_int8(embed::compute::Activation::Tanh, a.data(), a.size());
  embed::compute::kernels::activation_fast(embed::compute::Activation::Tanh, b.data(), b.size());
  EXPECT_EQ(a, b);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) void exp16_both(const float* x, float* fine, float* coarse) {
  _mm512_storeu_ps(fine, embed::compute::avx512::exp16_nonpositive(_mm512_loadu_ps(x)));
  _mm512_storeu_ps(coarse, embed::compute::avx512::exp16_coarse(_mm512_loadu_ps(x)));
}

// exp16_nonpositive to about 1 ulp; exp16_coarse (softmax arguments <= 0, rounded to bf16 next) to 1e-5 relative, and
// finite, non-negative, at most e^-100 far below.
__attribute__((target("avx512f"))) void gelu_precise16(const float* x, float* y) {
  _mm512_storeu_ps(y, embed::compute::avx512::gelu_erf16_precise(_mm512_loadu_ps(x)));
}

// The fp32 small-rows GEMM's fused GELU: within float rounding of the erf form everywhere, and for negative
// inputs (GELU = 0.5 x erfc(|x| / sqrt 2), small) accurate relative to the value, not only absolutely.
TEST(ComputeKernels, PreciseGeluKeepsRelativeAccuracyOfNegativeInputs) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 on this CPU";
  double worst_abs = 0, worst_rel_negative = 0;
  for (int i = -200000; i < 200000; i += 16) {
    alignas(64) float xs[16], ys[16];
    for (int k = 0; k < 16; ++k) xs[k] = static_cast<float>(i + k) * 5e-5f;  // [-10, 10)
    gelu_precise16(xs, ys);
    for (int k = 0; k < 16; ++k) {
      const double x = xs[k], ref = 0.5 * x * std::erfc(-x / std::sqrt(2.0));
      worst_abs = std::max(worst_abs, std::fabs(ys[k] - ref) / std::max(1.0, std::fabs(x)));
      if (x < 0 && x >= -6) worst_rel_negative = std::max(worst_rel_negative, std::fabs(ys[k] - ref) / std::fabs(ref));
    }
  }
  EXPECT_LT(worst_abs, 2e-7);
  EXPECT_LT(worst_rel_negative, 5e-3);  // computing 1 + erf instead loses all of it near x = -6
  std::printf("precise GELU: max |error| / max(1, |x|) %.3g, max relative error for x in [-6, 0) %.3g\n", worst_abs,
              worst_rel_negative);
}

TEST(ComputeKernels, VectorExponentials) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512";
  std::vector<float> x;
  for (float v = -87.0f; v <= 0.0f; v += 0.01371f) x.push_back(v);
  x.push_back(0.0f);
  x.push_back(-1e30f);
  x.push_back(-1000.0f);
  while (x.size() % 16) x.push_back(-0.5f);
  std::vector<float> fine(x.size()), coarse(x.size());
  for (std::size_t i = 0; i < x.size(); i += 16) exp16_both(x.data() + i, fine.data() + i, coarse.data() + i);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] < -87.0f) {
      EXPECT_TRUE(coarse[i] >= 0.0f && coarse[i] <= 4e-44f) << x[i];
      continue;
    }
    const double e = std::exp(double(x[i]));
    EXPECT_NEAR(fine[i], e, 3e-7 * e) << x[i];
    EXPECT_NEAR(coarse[i], e, 1e-5 * e) << x[i];
  }
}
#endif

// Every row length across the 64-, 16-lane and scalar parts of the quantizer, both code ranges: each code
// is round(x / scale) + zero_point clamped to [0, qmax], 0 is exact, and the range spans the row.
TEST(ComputeKernels, RowQuantizerCodes) {
  for (int qmax : {127, 255})
    for (std::size_t n = 1; n <= 200; n += (n < 70 ? 1 : 13)) {
      auto x = random_vector(n, static_cast<unsigned>(n * 3 + qmax), 2.0f);
      if (n > 3) x[3] = 0.0f;
      std::vector<uint8_t> q(n);
      float scale = 0.0f;
      int32_t zp = -1;
      embed::compute::kernels::quantize_u8(x.data(), n, qmax, q.data(), &scale, &zp);
      ASSERT_GT(scale, 0.0f);
      ASSERT_GE(zp, 0);
      ASSERT_LE(zp, qmax);
      for (std::size_t i = 0; i < n; ++i) {
        const long expected = std::clamp(std::lround(std::nearbyint(x[i] * (1.0f / scale))) + zp, 0L, long(qmax));
        EXPECT_EQ(q[i], expected) << "qmax " << qmax << " n " << n << " i " << i;
        EXPECT_NEAR(scale * (q[i] - zp), x[i], 0.51 * scale) << "qmax " << qmax << " n " << n << " i " << i;
      }
      if (n > 3) EXPECT_EQ(q[3], zp);
    }
}

// bfloat16 = the float's upper 16 bits rounded to nearest, ties to even, for every tail length.
TEST(ComputeKernels, Bfloat16RoundsToNearestEven) {
  for (std::size_t n : {1, 5, 16, 17, 40, 384}) {
    auto x = random_vector(n, static_cast<unsigned>(n + 11), 3.0f);
    if (n > 2) {
      x[0] = std::bit_cast<float>(0x3f808000u);  // a tie: stays at the even 0x3f80
      x[1] = std::bit_cast<float>(0x3f818000u);  // a tie: rounds up to the even 0x3f82
      x[2] = -0.0f;
    }
    std::vector<uint16_t> y(n);
    embed::compute::kernels::to_bf16(x.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const uint32_t u = std::bit_cast<uint32_t>(x[i]);
      const uint32_t lower = u & 0xffffu, upper = u >> 16;
      const uint32_t expected = lower > 0x8000u || (lower == 0x8000u && (upper & 1u)) ? upper + 1 : upper;
      EXPECT_EQ(y[i], expected) << "n " << n << " i " << i << " x " << x[i];
    }
  }
}

// Under an ONEDNN_MAX_CPU_ISA below AVX-512 (AVX2 in the "avx2." copies of the numeric suites; SSE41,
// AVX, ...) no AVX-512 code may run: neither embed's kernels nor oneDNN's. Otherwise the engine uses
// what the CPU has.
TEST(CpuFeatures, FollowOneDnnInstructionSetCap) {
  const auto& f = embed::compute::cpu_features();
  std::string cap = std::getenv("ONEDNN_MAX_CPU_ISA") ? std::getenv("ONEDNN_MAX_CPU_ISA") : "";
  std::transform(cap.begin(), cap.end(), cap.begin(), [](unsigned char c) { return std::toupper(c); });
  const bool below_avx512 = !cap.empty() && cap != "ALL" && cap.rfind("AVX512", 0) != 0;
  if (below_avx512) {
    EXPECT_FALSE(f.avx512);
    EXPECT_FALSE(f.avx512_bf16);
    EXPECT_FALSE(embed::compute::amx_int8_available());
    EXPECT_FALSE(embed::compute::amx_bf16_available());
    EXPECT_FALSE(embed::compute::small_gemm_available());
    EXPECT_EQ(embed::compute::gemm_backend_info(embed::Precision::FP32).find("avx512"), std::string::npos)
        << embed::compute::gemm_backend_info(embed::Precision::FP32);
  } else {
    const bool cpu_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    EXPECT_EQ(f.avx512, cpu_avx512);
    EXPECT_EQ(f.avx512_bf16, cpu_avx512 && __builtin_cpu_supports("avx512bf16"));
    EXPECT_EQ(embed::compute::small_gemm_available(), cpu_avx512);
  }
  // OpenBLAS (attention without AVX-512, DeBERTa's position products) picks its kernels by itself: the
  // avx2 suites set OPENBLAS_CORETYPE=Haswell alongside.
  if (const char* core = std::getenv("OPENBLAS_CORETYPE")) EXPECT_STRCASEEQ(openblas_get_corename(), core);
}

// The attention's small products call OpenBLAS from inside the engine's own OpenMP threads: the build must
// link its OpenMP variant (thread-safe there, and no thread pool of its own to oversubscribe the cores).
TEST(ThreadPool, OpenBlasRunsOnTheEnginesOpenMpPool) { EXPECT_EQ(openblas_get_parallel(), 2); }

TEST(ThreadPool, ParallelTasksRunEveryTaskOnceAndRethrowTheFirstError) {
  std::vector<int> runs(100, 0);
  std::vector<int> nested_threads(100, 0);
  embed::compute::parallel_tasks(runs.size(), 2, [&](std::size_t i) {
    ++runs[i];
    nested_threads[i] = embed::compute::current_threads();  // work inside a task is serial
  });
  for (std::size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i], 1) << "task " << i;
    EXPECT_EQ(nested_threads[i], 1) << "task " << i;
  }
  EXPECT_THROW(embed::compute::parallel_tasks(50, 2,
                                              [](std::size_t i) {
                                                if (i == 7) throw std::runtime_error("task 7 failed");
                                              }),
               std::runtime_error);
}
