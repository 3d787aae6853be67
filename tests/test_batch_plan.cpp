// The batch planner: every text in exactly one batch, in order; the count and token limits hold; with
// several threads and enough work, a multiple of the threads of about equal batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "pipeline/batch_plan.hpp"

namespace {

using embed::pipeline::BatchRange;
using embed::pipeline::plan_batches;

// n lengths in [lo, hi], longest first (the order the encoder runs texts in).
std::vector<std::size_t> sorted_lengths(std::size_t n, std::size_t lo, std::size_t hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> d(lo, hi);
  std::vector<std::size_t> v(n);
  for (auto& x : v) x = d(rng);
  std::sort(v.begin(), v.end(), std::greater<>());
  return v;
}

std::size_t tokens_of(const std::vector<std::size_t>& lengths, const BatchRange& b) {
  std::size_t t = 0;
  for (std::size_t i = b.begin; i < b.end; ++i) t += lengths[i];
  return t;
}

// Contiguous, non-empty, covering [0, n) once; within the limits.
void expect_valid(const std::vector<std::size_t>& lengths, const std::vector<BatchRange>& batches,
                  std::size_t batch_size, std::size_t max_tokens) {
  std::size_t next = 0;
  for (const auto& b : batches) {
    EXPECT_EQ(b.begin, next);
    EXPECT_LT(b.begin, b.end);
    EXPECT_LE(b.end - b.begin, batch_size);
    if (b.end - b.begin > 1) EXPECT_LE(tokens_of(lengths, b), max_tokens);
    next = b.end;
  }
  EXPECT_EQ(next, lengths.size());
}

TEST(BatchPlan, TwoThreadsGetEqualShares) {
  // Short sentences as in the benchmark: 128 texts of 8-60 tokens, batch 32, 512 tokens.
  const auto lengths = sorted_lengths(128, 8, 60, 1);
  const auto batches = plan_batches(lengths, 32, 512, 2);
  expect_valid(lengths, batches, 32, 512);
  ASSERT_EQ(batches.size() % 2, 0u);
  std::size_t lo = SIZE_MAX, hi = 0;
  for (const auto& b : batches) {
    lo = std::min(lo, tokens_of(lengths, b));
    hi = std::max(hi, tokens_of(lengths, b));
  }
  // Batches differ by at most about one text (the longest is 60 tokens).
  EXPECT_LE(hi - lo, 60u) << "smallest batch " << lo << " tokens, largest " << hi;
}

TEST(BatchPlan, LimitsHoldForEveryThreadCount) {
  for (unsigned seed = 1; seed <= 20; ++seed)
    for (int threads : {1, 2, 3, 8})
      for (std::size_t batch_size : {1u, 4u, 32u, 1000u}) {
        const auto lengths = sorted_lengths(5 + seed * 37, 1, 300, seed);
        const auto batches = plan_batches(lengths, batch_size, 512, threads);
        SCOPED_TRACE("seed " + std::to_string(seed) + " threads " + std::to_string(threads) + " batch " +
                     std::to_string(batch_size));
        expect_valid(lengths, batches, batch_size, 512);
      }
}

TEST(BatchPlan, CountLimitAloneGivesEvenBatches) {
  // 100 one-token texts, batch 32, 3 threads: 4 batches by count, 6 for three threads, of 16-17 texts.
  const std::vector<std::size_t> lengths(100, 1);
  const auto batches = plan_batches(lengths, 32, 512, 3);
  expect_valid(lengths, batches, 32, 512);
  ASSERT_EQ(batches.size(), 6u);
  for (const auto& b : batches) EXPECT_TRUE(b.end - b.begin == 16 || b.end - b.begin == 17);
}

TEST(BatchPlan, FewerBatchesThanThreadsStayWhole) {
  // Two short texts and four threads: one batch (its layers then split across the threads).
  const std::vector<std::size_t> lengths{12, 9};
  const auto batches = plan_batches(lengths, 32, 512, 4);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].end, 2u);
}

TEST(BatchPlan, TextLongerThanTheTokenLimitRunsAlone) {
  const std::vector<std::size_t> lengths{900, 300, 250, 10};
  const auto batches = plan_batches(lengths, 32, 512, 1);
  expect_valid(lengths, batches, 32, 512);
  ASSERT_GE(batches.size(), 2u);
  EXPECT_EQ(batches[0].begin, 0u);
  EXPECT_EQ(batches[0].end, 1u);
}

TEST(BatchPlan, NoTextsNoBatches) { EXPECT_TRUE(plan_batches({}, 32, 512, 2).empty()); }

}  // namespace
