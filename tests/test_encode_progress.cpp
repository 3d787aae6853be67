// EncodeOptions::progress: what a progress bar over Model::encode / encode_tokens is told.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "embed/model.hpp"
#include "support/test_support.hpp"

namespace {

std::vector<std::string> numbered_texts(std::size_t n) {
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < n; ++i) texts.push_back("sentence number " + std::to_string(i) + std::string(i % 7, '!'));
  return texts;
}

// Calls seen by a progress callback, and whether two ever overlapped.
struct ProgressLog {
  std::vector<std::size_t> done;
  std::size_t total = 0;
  std::atomic<int> inside{0};
  bool overlapped = false;
  std::function<void(std::size_t, std::size_t)> callback() {
    return [this](std::size_t d, std::size_t t) {
      if (inside.fetch_add(1) != 0) overlapped = true;
      done.push_back(d);
      total = t;
      inside.fetch_sub(1);
    };
  }
};

void expect_complete(const ProgressLog& log, std::size_t texts, std::size_t batch_size) {
  EXPECT_FALSE(log.overlapped);
  EXPECT_EQ(log.total, texts);
  ASSERT_FALSE(log.done.empty());
  EXPECT_EQ(log.done.back(), texts);
  for (std::size_t i = 1; i < log.done.size(); ++i) EXPECT_GT(log.done[i], log.done[i - 1]) << "call " << i;
  EXPECT_GE(log.done.size(), (texts + batch_size - 1) / batch_size);  // at least one call per forward pass
}

TEST(EncodeProgress, SentenceEmbeddingsReportEveryPassUpToTheTotal) {
  for (int threads : {1, 2}) {
    auto model = embed::Model::load(embed::testing::data_path("models/bert-tiny").string(), {embed::Precision::FP32, threads});
    const auto texts = numbered_texts(45);
    ProgressLog log;
    embed::EncodeOptions o;
    o.batch_size = 4;
    o.progress = log.callback();
    const auto with_progress = model->encode(texts, o);
    expect_complete(log, texts.size(), o.batch_size);
    o.progress = nullptr;
    EXPECT_EQ(model->encode(texts, o).data, with_progress.data) << "threads " << threads;  // reporting changes nothing
  }
}

TEST(EncodeProgress, TokenEmbeddingsReportToo) {
  auto model = embed::Model::load(embed::testing::data_path("models/bert-tiny").string(), {embed::Precision::FP32, 2});
  const auto texts = numbered_texts(10);
  ProgressLog log;
  embed::EncodeOptions o;
  o.batch_size = 3;
  o.progress = log.callback();
  EXPECT_EQ(model->encode_tokens(texts, o).size(), texts.size());
  expect_complete(log, texts.size(), o.batch_size);
}

TEST(EncodeProgress, AnExceptionFromTheCallbackEndsTheCall) {
  auto model = embed::Model::load(embed::testing::data_path("models/bert-tiny").string(), {embed::Precision::FP32, 2});
  embed::EncodeOptions o;
  o.batch_size = 2;
  o.progress = [](std::size_t done, std::size_t) {
    if (done >= 4) throw std::runtime_error("cancelled");
  };
  EXPECT_THROW(model->encode(numbered_texts(20), o), std::runtime_error);
}

}  // namespace
