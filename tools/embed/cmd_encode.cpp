// embed encode: sentence embeddings or token embeddings in text, jsonl or npy form.
#include <unistd.h>

#include <iostream>

#include "common.hpp"
#include "embed/error.hpp"
#include "output.hpp"
#include "progress_bar.hpp"

namespace embed::cli {

namespace {

EncodeOptions encode_options(const EncodeArgs& a, EncodeReport* report) {
  EncodeOptions o;
  o.batch_size = a.batch_size;
  o.max_seq_length = a.max_seq_length;
  o.normalize = a.normalize;
  o.report = report;
  if (!a.pooling.empty()) {
    std::vector<PoolingMode> modes;
    for (const auto& name : a.pooling) {
      auto mode = pooling_mode_from_string(name);
      if (!mode)
        throw Error("--pooling: unknown mode \"" + name +
                    "\" (expected cls, mean, max, mean_sqrt_len_tokens, weightedmean or lasttoken)");
      modes.push_back(*mode);
    }
    o.pooling = modes;
  }
  return o;
}

void write_sentence_embeddings(const Matrix& m, const std::string& format, std::ostream& out) {
  if (format == "npy") {
    write_npy(out, {m.rows, m.cols}, m.data.data());
  } else if (format == "jsonl") {
    std::string line;
    for (std::size_t i = 0; i < m.rows; ++i) {
      line = "{\"index\":" + std::to_string(i) + ",\"embedding\":";
      append_float_array(line, m.row(i), m.cols);
      line += "}\n";
      out << line;
    }
  } else {
    out << "# shape: [number_of_texts, embedding_dimension]\n[" << m.rows << ", " << m.cols << "]\n";
    out << "# sentence embeddings\n" << format_matrix(m.data.data(), m.rows, m.cols, 0) << "\n";
  }
}

void write_token_embeddings(const std::vector<TokenEmbeddings>& all, const Model& model, const std::string& format,
                            std::ostream& out) {
  const Tokenizer& tokenizer = model.tokenizer();
  if (format == "npy") {
    // No texts: an empty [0, 0, hidden] array, as for sentence embeddings ([0, dim]).
    const std::size_t len = all.empty() ? 0 : all[0].embeddings.rows, dim = model.hidden_size();
    for (std::size_t i = 1; i < all.size(); ++i)
      if (all[i].embeddings.rows != len)
        throw Error("--format npy: texts 1 and " + std::to_string(i + 1) + " have " + std::to_string(len) + " and " +
                    std::to_string(all[i].embeddings.rows) +
                    " tokens; one .npy array needs equal lengths (encode them separately or use --format jsonl)");
    std::vector<float> data;
    data.reserve(all.size() * len * dim);
    for (const auto& t : all) data.insert(data.end(), t.embeddings.data.begin(), t.embeddings.data.end());
    write_npy(out, {all.size(), len, dim}, data.data());
    return;
  }
  std::string line;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& enc = all[i].encoding;
    const auto& m = all[i].embeddings;
    if (format == "jsonl") {
      line = "{\"index\":" + std::to_string(i) + ",\"tokens\":";
      append_string_array(line, enc.tokens);
      line += ",\"ids\":";
      append_int_array(line, enc.ids);
      line += ",\"offsets\":";
      append_offsets(line, enc.offsets);
      line += ",\"embeddings\":[";
      for (std::size_t r = 0; r < m.rows; ++r) {
        if (r) line += ',';
        append_float_array(line, m.row(r), m.cols);
      }
      line += "]}\n";
      out << line;
    } else {
      if (i) out << "\n";
      out << "# input tokens\n";
      for (int32_t id : enc.ids) out << tokenizer.decode(std::span<const int32_t>(&id, 1)) << "\n";
      out << "\n# output shape: [batch_size, number_of_tokens, embedding_dimension]\n[1, " << m.rows << ", "
          << m.cols << "]\n\n# output embeddings\n"
          << format_matrix(m.data.data(), m.rows, m.cols, 1) << "\n";
    }
  }
}

}  // namespace

int run_encode(const EncodeArgs& a) {
  auto texts = plain_texts(gather_texts(a.common, false), "encode");
  if (a.format == "npy" && a.common.output.empty() && isatty(STDOUT_FILENO))
    throw Error("--format npy writes binary data; give --output FILE or redirect standard output");
  auto model = load_model(a.common);
  if (a.max_seq_length) warn_if_no_room_for_text(model->tokenizer(), *a.max_seq_length, "--max-seq-length", "encode");
  EncodeReport report;
  EncodeOptions options = encode_options(a, &report);
  ProgressBar bar(std::cerr, "encode", "texts");
  if (want_progress(a.progress, texts.size(), a.batch_size))
    options.progress = [&bar](std::size_t done, std::size_t total) { bar.update(done, total); };
  OutputSink sink(a.common.output);
  if (a.output_value == "token_embeddings") {
    const auto all = model->encode_tokens(texts, options);
    bar.finish();
    write_token_embeddings(all, *model, a.format, sink.stream());
  } else {
    const Matrix embeddings = model->encode(texts, options);
    bar.finish();
    write_sentence_embeddings(embeddings, a.format, sink.stream());
  }
  sink.finish();
  report_truncation(report, a.max_seq_length.value_or(model->max_seq_length()), "--max-seq-length", "encode");
  return 0;
}

}  // namespace embed::cli
