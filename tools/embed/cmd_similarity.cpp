// embed similarity: the cosine similarity matrix of the texts' sentence embeddings.
#include <cmath>
#include <cstdio>

#include "common.hpp"
#include "embed/error.hpp"
#include "output.hpp"

namespace embed::cli {

int run_similarity(const SimilarityArgs& a) {
  auto texts = plain_texts(gather_texts(a.common, false), "similarity");
  if (texts.size() < 2) throw Error("similarity needs at least two texts");
  auto model = load_model(a.common);
  EncodeReport report;
  EncodeOptions options;
  options.report = &report;
  options.normalize = true;  // cosine = dot product of unit vectors
  const Matrix e = model->encode(texts, options);
  const std::size_t n = e.rows;
  std::vector<float> sim(n * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double dot = 0.0;
      for (std::size_t k = 0; k < e.cols; ++k) dot += static_cast<double>(e.row(i)[k]) * e.row(j)[k];
      sim[i * n + j] = static_cast<float>(dot);
    }
  OutputSink sink(a.common.output);
  if (a.format == "jsonl") {
    std::string line;
    for (std::size_t i = 0; i < n; ++i) {
      line = "{\"index\":" + std::to_string(i) + ",\"similarities\":";
      append_float_array(line, &sim[i * n], n);
      line += "}\n";
      sink.stream() << line;
    }
  } else {
    char buf[32];
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        std::snprintf(buf, sizeof buf, "%s%.4f", j ? " " : "", static_cast<double>(sim[i * n + j]));
        sink.stream() << buf;
      }
      sink.stream() << "\n";
    }
  }
  sink.finish();
  report_truncation(report, model->max_seq_length(), nullptr, "similarity");
  return 0;
}

}  // namespace embed::cli
