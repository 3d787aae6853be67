// embed: text embeddings from Hugging Face / sentence-transformers model directories.
// Exit codes: 0 ok, 1 runtime error, 2 usage error. Results on stdout, errors on stderr.
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "bracket_arguments.hpp"
#include "compute/threads.hpp"
#include "embed/error.hpp"
#include "validators.hpp"

using namespace embed::cli;

namespace {

void add_common(CLI::App* cmd, CommonArgs& c, bool model_compute) {
  cmd->add_option("-m,--model", c.model, "Model directory (Hugging Face / sentence-transformers layout)")->required();
  cmd->add_option("texts", c.texts, "Texts; none: read standard input, one text per line");
  cmd->footer("A text that starts with '-' goes after `--`, e.g. embed " + cmd->get_name() +
              " -m DIR -- \"-5 degrees\".");
  cmd->add_flag("--jsonl", c.jsonl, "Standard input lines are JSON strings (so texts may contain newlines)");
  cmd->add_flag("--lossy", c.lossy, "Replace invalid UTF-8 with U+FFFD instead of failing");
  cmd->add_option("-o,--output", c.output, "Write results to this file instead of standard output");
  if (model_compute) {
    cmd->add_option("--threads", c.threads, "Threads (default: the machine's cores)")
        ->check(whole_number(0, embed::compute::kMaxThreads));
    cmd->add_option("--precision", c.precision, "Compute precision: fp32 (exact, default), bf16 or int8")
        ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  }
}

// What the parsed options ask for that cannot be done together; none when they fit.
std::optional<std::string> usage_error(const EncodeArgs& encode, const TokenizeArgs& tokenize,
                                       const SimilarityArgs& similarity, const CLI::App* enc, const CLI::App* tok,
                                       const CLI::App* sim) {
  const std::pair<const CommonArgs*, const CLI::App*> commands[] = {
      {&encode.common, enc}, {&tokenize.common, tok}, {&similarity.common, sim}};
  for (const auto& [common, cmd] : commands)
    if (cmd->parsed() && common->jsonl && !common->texts.empty())
      return cmd->get_name() + ": --jsonl reads standard input; texts given as arguments are taken as they are";
  if (enc->parsed() && encode.output_value == "token_embeddings" && (!encode.pooling.empty() || encode.normalize))
    return std::string("encode: --pooling and --normalize apply to sentence embeddings, not to ") +
           "--output-value token_embeddings";
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"embed: exact, fast text embeddings from Hugging Face / sentence-transformers models.\n"
               "MODEL is a local model directory as published on the Hub (config.json, model.safetensors or\n"
               "pytorch_model.bin, tokenizer files, modules.json, 1_Pooling, 2_Dense, 2_Normalize).",
               "embed"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "embed 0.1.0");

  EncodeArgs encode;
  auto* enc = app.add_subcommand("encode", "Sentence embeddings [n, dim] or token embeddings per text");
  add_common(enc, encode.common, true);
  enc->add_option("--output-value", encode.output_value, "sentence_embedding (default) or token_embeddings")
      ->check(CLI::IsMember({"sentence_embedding", "token_embeddings"}));
  enc->add_option("--pooling", encode.pooling,
                  "Pooling mode(s), overriding 1_Pooling/config.json: cls, mean, max, mean_sqrt_len_tokens, "
                  "weightedmean, lasttoken (several: comma-separated, concatenated)")
      ->delimiter(',')
      ->allow_extra_args(false);  // one argument: the texts after it stay texts
  auto* normalize = enc->add_flag_callback("--normalize", [&] { encode.normalize = true; },
                                           "L2-normalize sentence embeddings");
  enc->add_flag_callback("--no-normalize", [&] { encode.normalize = false; }, "Do not L2-normalize")
      ->excludes(normalize);
  enc->add_option("--batch-size", encode.batch_size,
                  "Texts per forward pass (default 32); a pass also holds at most 512 tokens (fp32 and int8 "
                  "outputs do not depend on it; bf16 ones may differ in the last bits)")
      ->check(whole_number(1));
  enc->add_option("--max-seq-length", encode.max_seq_length,
                  "Truncate texts to this many tokens (default: the model's max_seq_length)")
      ->check(whole_number(1));
  enc->add_option("--format", encode.format, "Output format: text (readable, default), jsonl or npy")
      ->check(CLI::IsMember({"text", "jsonl", "npy"}));
  auto* progress = enc->add_flag_callback("--progress", [&] { encode.progress = true; },
                                          "Draw a progress bar on standard error (default: when it is a terminal "
                                          "and the texts need more than one forward pass)");
  enc->add_flag_callback("--no-progress", [&] { encode.progress = false; }, "Never draw the progress bar")
      ->excludes(progress);

  TokenizeArgs tokenize;
  auto* tok = app.add_subcommand("tokenize", "Token ids, tokens and offsets, one JSON line per input");
  add_common(tok, tokenize.common, false);
  auto* max_length = tok->add_option("--max-length", tokenize.max_length,
                                     "Truncate to N tokens, special tokens included (longest_first)")
                         ->check(whole_number(1));
  tok->add_flag("--no-truncation", tokenize.no_truncation, "Never truncate")->excludes(max_length);
  tok->footer("With --jsonl, a line may also be a 2-element array [text, text_pair] to tokenize a pair.\n"
              "Offsets are [start, end) in Unicode code points of the input; [0,0] for added special tokens.");

  SimilarityArgs similarity;
  auto* sim = app.add_subcommand("similarity", "Cosine similarity matrix of the texts' sentence embeddings");
  add_common(sim, similarity.common, true);
  sim->add_option("--format", similarity.format, "Output format: text (default) or jsonl")
      ->check(CLI::IsMember({"text", "jsonl"}));

  BenchArgs bench;
  auto* ben = app.add_subcommand("bench", "Throughput and latency of a model on this machine (end to end)");
  ben->add_option("-m,--model", bench.model, "Model directory")->required();
  ben->add_option("--corpus", bench.corpora,
                  "Text file(s), one text per line, blank lines skipped (e.g. ../shared/bench/sentences.txt); "
                  "default: 512 synthetic sentences of 8-40 words from the model's vocabulary")
      ->check(CLI::ExistingFile);
  ben->add_option("--precision", bench.precisions, "Precision(s) to measure, e.g. fp32,bf16,int8 (default fp32)")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  ben->add_option("--threads", bench.threads, "Thread count(s), e.g. 1,2 (default: the machine's cores)")
      ->delimiter(',')
      ->check(whole_number(0, embed::compute::kMaxThreads));
  ben->add_option("--batch-size", bench.batch_sizes, "Batch size(s); 1 = latency of single texts (default 32,1)")
      ->delimiter(',')
      ->check(whole_number(1));
  ben->add_option("--repeat", bench.repeat, "Timed passes per configuration, after one warm-up (default 3)")
      ->check(whole_number(1, std::numeric_limits<int>::max()));
  ben->add_option("--limit", bench.limit, "Use only the first N texts of each corpus file")->check(whole_number(1));
  ben->add_option("--latency-texts", bench.latency_texts, "Batch 1: texts timed one by one (default 200)")
      ->check(whole_number(1));
  ben->add_flag("--lossy", bench.lossy, "Replace invalid UTF-8 in the corpus with U+FFFD instead of failing");
  ben->add_flag("--gemm-peak", bench.gemm_peak,
                "Also measure this machine's peaks per precision (oneDNN's GEMM, and the multiply-add instruction "
                "alone: the core's limit) and report the model's share of each");
  ben->add_flag("--accuracy", bench.accuracy, "Cosine of bf16/int8 sentence embeddings to fp32 (batch > 1 rows)");
  ben->add_option("--format", bench.format, "text (a markdown table, default) or jsonl (one JSON object per row)")
      ->check(CLI::IsMember({"text", "jsonl"}));
  ben->footer("First, per precision, the kernels it runs on this CPU (\"kernels int8: int8 embed AMX int8 kernel\"; a\n"
              "precision the CPU cannot run says fp32). ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell runs as on a\n"
              "CPU without AVX-512; EMBED_AMX=0 leaves int8/bf16 to oneDNN.\n"
              "Every row is end to end as `embed encode` runs it: tokenize + encode + pool + normalize.\n"
              "Batch > 1: the whole corpus per pass (sorted by length, batched), median of --repeat passes;\n"
              "latency is per batch; jsonl also gives the warm-up pass's speed (first_pass_texts_per_s: GEMM\n"
              "kernels created for each new batch shape, as in a one-off `embed encode`).\n"
              "Batch 1: each text alone, median / min latency per text.\n"
              "tokens = non-padding tokens; GFLOP/s counts only useful work (no padding).\n"
              "The peer comparison (ONNX Runtime, PyTorch) is bench/run_bench.sh.");

  const BracketArguments args(argc, argv);
  try {
    app.parse(args.argc(), args.argv());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  for (CommonArgs* c : {&encode.common, &tokenize.common, &similarity.common}) {
    args.restore(c->model);
    args.restore(c->texts);
    args.restore(c->output);
  }
  args.restore(encode.pooling);
  args.restore(bench.model);
  args.restore(bench.corpora);
  if (const auto why = usage_error(encode, tokenize, similarity, enc, tok, sim)) {
    std::cerr << "embed: " << *why << "\n";
    return 2;
  }
  try {
    if (enc->parsed()) return run_encode(encode);
    if (tok->parsed()) return run_tokenize(tokenize);
    if (sim->parsed()) return run_similarity(similarity);
    if (ben->parsed()) return run_bench(bench);
  } catch (const embed::Error& e) {
    std::cerr << "embed: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {  // a path embed's own checks missed: the files, not a bug
    std::cerr << "embed: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "embed: internal error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
