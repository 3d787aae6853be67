// embed tokenize: one JSON line per input with ids, tokens, offsets and masks.
#include <iostream>

#include "common.hpp"
#include "embed/error.hpp"
#include "io/model_file.hpp"
#include "output.hpp"

namespace embed::cli {

int run_tokenize(const TokenizeArgs& a) {
  auto inputs = gather_texts(a.common, true);
  const std::filesystem::path dir = a.common.model;
  if (!io::model_directory_present(dir)) throw Error(a.common.model + ": not a model directory");
  const Tokenizer tokenizer = Tokenizer::from_directory(transformer_directory(dir));
  TokenizeOptions options;
  std::optional<std::size_t> max_length = a.max_length;
  if (!max_length && !a.no_truncation) max_length = configured_max_length(dir);
  if (max_length) options.truncation = TruncationOptions{*max_length};
  if (a.max_length) warn_if_no_room_for_text(tokenizer, *a.max_length, "--max-length", "tokenize");
  OutputSink sink(a.common.output);
  std::size_t truncated = 0, first = 0;
  std::string line;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& in = inputs[i];
    const Encoding enc = in.is_pair ? tokenizer.encode_pair(in.text, in.text_pair, options)
                                    : tokenizer.encode(in.text, options);
    if (enc.truncated && truncated++ == 0) first = i;
    line = "{\"ids\":";
    append_int_array(line, enc.ids);
    line += ",\"tokens\":";
    append_string_array(line, enc.tokens);
    line += ",\"offsets\":";
    append_offsets(line, enc.offsets);
    line += ",\"attention_mask\":";
    append_int_array(line, enc.attention_mask);
    line += ",\"type_ids\":";
    append_int_array(line, enc.type_ids);
    line += ",\"special_tokens_mask\":";
    append_int_array(line, enc.special_tokens_mask);
    line += "}\n";
    sink.stream() << line;
  }
  sink.finish();
  if (truncated) {
    EncodeReport report;
    report.truncated_texts = truncated;
    report.first_truncated = first;
    report_truncation(report, *max_length, "--max-length", "tokenize");
  }
  return 0;
}

}  // namespace embed::cli
