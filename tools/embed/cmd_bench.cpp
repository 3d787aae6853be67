// embed bench: end-to-end speed of a model on this machine, measured the way `embed encode` runs it
// (tokenize + encode + pool + Dense + normalize), for every precision x threads x batch size asked for.
//   batch 1: each of the first --latency-texts texts encoded alone; median and min latency per text.
//   batch > 1: the whole corpus per pass, --repeat passes after a warm-up pass; median and best pass, and
//   the warm-up pass's speed (kernel creation for new batch shapes included).
// tokens = non-padding tokens of the model's own tokenization (truncated at max_seq_length).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "commands.hpp"
#include "compute/gemm_peak.hpp"
#include "compute/linear.hpp"
#include "compute/threads.hpp"
#include "embed/error.hpp"
#include "embed/model.hpp"
#include "input.hpp"
#include "io/json.hpp"

namespace embed::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

Precision parse_precision(const std::string& s) {
  if (s == "fp32") return Precision::FP32;
  if (s == "bf16") return Precision::BF16;
  if (s == "int8") return Precision::INT8;
  throw Error("unknown precision '" + s + "' (fp32, bf16, int8)");
}

// The corpus's texts, one per line, blank lines skipped; at most `limit` (0: all).
std::vector<std::string> read_corpus(const std::string& file, std::size_t limit, bool lossy) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file + ": cannot read the corpus file");
  std::vector<std::string> texts;
  for (auto& t : read_texts(in, file, /*jsonl=*/false, /*allow_pairs=*/false, lossy)) {
    if (limit != 0 && texts.size() == limit) break;
    if (t.text.find_first_not_of(" \t\v\f") != std::string::npos) texts.push_back(std::move(t.text));
  }
  if (texts.empty()) throw Error(file + ": the corpus has no non-blank lines");
  return texts;
}

// Without a corpus: 512 sentences of 8-40 whole words drawn (deterministically) from the model's own
// vocabulary, like ../shared/bench/sentences.txt, so `embed bench -m MODEL` works on its own.
std::vector<std::string> synthetic_sentences(const Tokenizer& tokenizer) {
  std::vector<std::string> words;
  for (std::size_t id = 0; id < tokenizer.vocab_size(); ++id) {
    std::string t = tokenizer.id_to_token(static_cast<int32_t>(id));
    for (const char* marker : {"\xE2\x96\x81", "\xC4\xA0"})  // sentencepiece's U+2581, GPT-2's U+0120
      if (t.rfind(marker, 0) == 0) t = t.substr(std::char_traits<char>::length(marker));
    if (t.size() >= 3 && std::all_of(t.begin(), t.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      words.push_back(t);
  }
  if (words.empty()) throw Error("no corpus given and the vocabulary has no plain words: pass --corpus FILE");
  std::vector<std::string> out;
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] { return (state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33; };
  for (int i = 0; i < 512; ++i) {
    std::string s;
    for (std::size_t w = 0, n = 8 + next() % 33; w < n; ++w) s += (w ? " " : "") + words[next() % words.size()];
    out.push_back(std::move(s));
  }
  return out;
}

// Multiply-adds of one token through the encoder (linear layers + attention at the mean length), x2.
double flops_per_token(const std::string& model_dir, double mean_len) {
  const auto file = transformer_directory(model_dir) / "config.json";
  const nlohmann::json c = io::read_json(file);
  const double H = c.value("hidden_size", 0.0), L = c.value("num_hidden_layers", 0.0),
               I = c.value("intermediate_size", 4.0 * H);
  return L * (2.0 * (4 * H * H + 2 * H * I) + 4.0 * mean_len * H);
}

double cosine(const float* a, const float* b, std::size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::max(1e-30, std::sqrt(aa * bb));
}

struct Corpus {
  std::string name;
  std::vector<std::string> texts;
};

// Times one configuration; fills r with texts_per_s, tokens_per_s, latency_ms_* and, for batches, the
// sentence embeddings of the last pass in *embeddings.
void time_configuration(const Model& model, const Corpus& corpus, std::size_t batch, const BenchArgs& a,
                        nlohmann::json& r, Matrix* embeddings) {
  EncodeOptions options;
  options.batch_size = batch;
  std::size_t tokens = 0;
  if (batch == 1) {
    const std::size_t n = std::min(a.latency_texts, corpus.texts.size());
    for (std::size_t i = 0; i < std::min<std::size_t>(n, 10); ++i) model.encode({&corpus.texts[i], 1}, options);
    std::vector<double> latency;
    for (int rep = 0; rep < a.repeat; ++rep)
      for (std::size_t i = 0; i < n; ++i) {
        EncodeReport report;
        options.report = &report;
        const auto t = Clock::now();
        model.encode({&corpus.texts[i], 1}, options);
        latency.push_back(seconds_since(t));
        if (rep == 0) tokens += report.tokens;
      }
    const double per_pass = std::accumulate(latency.begin(), latency.end(), 0.0) / a.repeat;
    r["texts"] = n;
    r["tokens"] = tokens;
    r["texts_per_s"] = n / per_pass;
    r["tokens_per_s"] = tokens / per_pass;
    r["latency_ms_median"] = median(latency) * 1e3;
    r["latency_ms_min"] = *std::min_element(latency.begin(), latency.end()) * 1e3;
    return;
  }
  EncodeReport report;
  options.report = &report;
  // Warm-up: also creates the GEMM kernels for this corpus's batch shapes. Its speed is reported as the
  // first pass: what a one-off `embed encode` of this corpus sees (the kernels' creation included).
  const auto first_start = Clock::now();
  *embeddings = model.encode(corpus.texts, options);
  const double first_pass = seconds_since(first_start);
  tokens = report.tokens;
  options.report = nullptr;
  std::vector<double> passes;
  for (int rep = 0; rep < a.repeat; ++rep) {
    const auto t = Clock::now();
    *embeddings = model.encode(corpus.texts, options);
    passes.push_back(seconds_since(t));
  }
  const double med = median(passes), best = *std::min_element(passes.begin(), passes.end());
  const std::size_t n = corpus.texts.size();
  r["texts"] = n;
  r["tokens"] = tokens;
  r["texts_per_s"] = n / med;
  r["tokens_per_s"] = tokens / med;
  r["texts_per_s_best"] = n / best;
  r["tokens_per_s_best"] = tokens / best;
  r["latency_ms_median"] = med / std::ceil(double(n) / batch) * 1e3;  // per batch of `batch` texts
  r["first_pass_texts_per_s"] = n / first_pass;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// One markdown table row of a configuration's results.
void print_row(const nlohmann::json& r) {
  const auto num = [&](const char* key, int decimals) { return fixed(r[key].get<double>(), decimals); };
  std::string latency = num("latency_ms_median", 2);
  latency += r["batch"].get<std::size_t>() == 1 ? " / " + num("latency_ms_min", 2) : " per batch";
  std::string gflops = num("effective_gflops", 1);
  const auto percent = [&](const char* key) {
    return r.contains(key) ? fixed(100 * r[key].get<double>(), 0) + "%" : std::string("-");
  };
  if (r.contains("fraction_of_gemm_peak") || r.contains("fraction_of_instruction_peak"))
    gflops += " (" + percent("fraction_of_gemm_peak") + " / " + percent("fraction_of_instruction_peak") + ")";
  const std::string cos = r.contains("cosine_to_fp32_min") ? num("cosine_to_fp32_min", 6) : "-";
  std::cout << "| " << r["precision"].get<std::string>() << " | " << r["threads"].get<int>() << " | "
            << r["batch"].get<std::size_t>() << " | " << num("texts_per_s", 1) << " | " << num("tokens_per_s", 0)
            << " | " << latency << " | " << gflops << " | " << cos << " | " << num("load_ms", 0) << " | "
            << num("peak_rss_mb", 0) << " |" << std::endl;
}

}  // namespace

int run_bench(const BenchArgs& a) {
  const bool json = a.format == "jsonl";
  std::vector<Precision> precisions;
  for (const auto& p : a.precisions) precisions.push_back(parse_precision(p));
  std::vector<int> threads_list;
  for (int t : a.threads.empty() ? std::vector<int>{0} : a.threads) threads_list.push_back(compute::resolve_threads(t));

  std::vector<Corpus> corpora;
  for (const auto& file : a.corpora) corpora.push_back({file, read_corpus(file, a.limit, a.lossy)});
  if (corpora.empty()) {
    LoadOptions lo;
    lo.threads = threads_list.front();
    corpora.push_back({"synthetic sentences from the model's vocabulary",
                       synthetic_sentences(Model::load(a.model, lo)->tokenizer())});
  }

  // (precision index, threads) -> GFLOP/s: oneDNN's GEMM, and the multiply-add instruction alone.
  std::map<std::pair<std::size_t, int>, double> peaks, instruction_peaks;
  if (a.gemm_peak) {
    for (int t : threads_list)
      for (std::size_t pi = 0; pi < precisions.size(); ++pi) {
        const double peak = peaks[{pi, t}] = compute::measure_gemm_peak(precisions[pi], t);
        const auto instruction = compute::measure_instruction_peak(precisions[pi], t);
        instruction_peaks[{pi, t}] = instruction.ops_per_s;
        const char* unit = precisions[pi] == Precision::INT8 ? "GOP/s" : "GFLOP/s";
        if (json) {
          std::cout << nlohmann::json{{"gemm_peak", peak}, {"precision", a.precisions[pi]}, {"threads", t}, {"unit", unit}}.dump()
                    << std::endl;
          std::cout << nlohmann::json{{"instruction_peak", instruction.ops_per_s}, {"instruction", instruction.instruction},
                                      {"precision", a.precisions[pi]}, {"threads", t}, {"unit", unit}}
                           .dump()
                    << std::endl;
          continue;
        }
        std::cout << "gemm peak " << a.precisions[pi] << " threads=" << t << ": " << fixed(peak, 1) << " " << unit
                  << " (oneDNN matmul, 2048^3)" << std::endl;
        std::cout << "instruction peak " << a.precisions[pi] << " threads=" << t << ": ";
        if (instruction.ops_per_s > 0)
          std::cout << fixed(instruction.ops_per_s, 1) << " " << unit << " (" << instruction.instruction
                    << " on sums in registers: the core's limit)" << std::endl;
        else
          std::cout << instruction.instruction << std::endl;
      }
  }

  // The kernels each precision runs on this machine (its CPU's features, capped by ONEDNN_MAX_CPU_ISA and
  // EMBED_AMX): a result is only comparable with one from the same kernels.
  for (std::size_t pi = 0; pi < precisions.size(); ++pi) {
    const std::string kernels = compute::gemm_backend_info(precisions[pi]);
    if (json)
      std::cout << nlohmann::json{{"kernels", kernels}, {"precision", a.precisions[pi]}}.dump() << std::endl;
    else
      std::cout << "kernels " << a.precisions[pi] << ": " << kernels << std::endl;
  }

  for (const auto& corpus : corpora) {
    Matrix reference;  // --accuracy: fp32 sentence embeddings of the corpus
    if (a.accuracy) {
      LoadOptions lo;
      lo.threads = threads_list.front();
      reference = Model::load(a.model, lo)->encode(corpus.texts);
    }
    bool header_printed = false;
    for (int threads : threads_list)
      for (std::size_t pi = 0; pi < precisions.size(); ++pi) {
        LoadOptions lo;
        lo.precision = precisions[pi];
        lo.threads = threads;
        const auto t0 = Clock::now();
        auto model = Model::load(a.model, lo);
        const double load_ms = seconds_since(t0) * 1e3;
        std::size_t total_tokens = 0;
        for (const auto& t : corpus.texts) total_tokens += model->tokenize(t).length();
        const double mean_len = double(total_tokens) / corpus.texts.size();
        if (!json && !header_printed) {
          std::cout << "\nmodel " << a.model << " (" << model->model_type() << ", dim " << model->dimension()
                    << ", max_seq_length " << model->max_seq_length() << "); corpus " << corpus.name << ": "
                    << corpus.texts.size() << " texts, " << total_tokens << " tokens (mean " << fixed(mean_len, 1)
                    << ")\n| precision | threads | batch | texts/s | tokens/s | latency ms (median / min) | "
                       "GFLOP/s (of GEMM / instruction peak) | cosine to fp32 (min) | load ms | peak RSS MB |\n"
                       "|---|---|---|---|---|---|---|---|---|---|"
                    << std::endl;
          header_printed = true;
        }
        for (std::size_t batch : a.batch_sizes) {
          nlohmann::json r{{"model", a.model},   {"corpus", corpus.name}, {"precision", a.precisions[pi]},
                           {"threads", threads}, {"batch", batch},        {"load_ms", load_ms}};
          Matrix embeddings;
          time_configuration(*model, corpus, batch, a, r, &embeddings);
          r["effective_gflops"] = r["tokens_per_s"].get<double>() * flops_per_token(a.model, mean_len) / 1e9;
          const double gflops = r["effective_gflops"].get<double>();
          if (peaks[{pi, threads}] > 0) r["fraction_of_gemm_peak"] = gflops / peaks[{pi, threads}];
          if (instruction_peaks[{pi, threads}] > 0)
            r["fraction_of_instruction_peak"] = gflops / instruction_peaks[{pi, threads}];
          if (a.accuracy && batch > 1 && precisions[pi] != Precision::FP32) {
            double lowest = 1.0, mean = 0.0;
            for (std::size_t i = 0; i < reference.rows; ++i) {
              const double c = cosine(embeddings.row(i), reference.row(i), reference.cols);
              lowest = std::min(lowest, c);
              mean += c / reference.rows;
            }
            r["cosine_to_fp32_min"] = lowest;
            r["cosine_to_fp32_mean"] = mean;
          }
          r["peak_rss_mb"] = peak_rss_mb();  // of the whole process so far
          if (json) std::cout << r.dump() << std::endl;
          else print_row(r);
        }
      }
  }
  return 0;
}

}  // namespace embed::cli
