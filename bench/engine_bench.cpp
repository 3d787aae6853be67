// engine_bench: end-to-end throughput and latency of embed::Model (tokenize + encode + pool + normalize).
//
//   engine_bench --model DIR [--corpus FILE[,FILE]] [--precision fp32[,bf16,int8]] [--threads N[,N]]
//                [--batch-size N[,N]] [--repeat R] [--limit N] [--latency-texts N] [--gemm-peak]
//                [--accuracy] [--encoder-only]
//
// Prints, per configuration (corpus x precision x threads x batch), one human-readable line and one JSON
// line (keys texts_per_s, tokens_per_s, latency_ms_median, ...) that bench/peers/run_matrix.py reads.
// tokens = non-padding tokens (the model's own tokenization, truncated at max_seq_length).
// batch 1: every text encoded alone (the first --latency-texts texts): latency median / min, texts/s.
// batch > 1: the whole corpus per pass (sorted by length and batched by the engine), --repeat passes
// after one warm-up pass; median and best pass.
// --gemm-peak: oneDNN matmul GFLOP/s on a 2048^3 problem per precision, and the engine's effective FLOP/s
// on useful tokens as a fraction of it. --accuracy: cosine of bf16/int8 sentence embeddings to fp32.
// --encoder-only: time the transformer alone on the tokenized corpus (no tokenizer / pooling).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <oneapi/dnnl/dnnl.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "compute/threads.hpp"
#include "embed/model.hpp"
#include "models/encoder.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

embed::Precision parse_precision(const std::string& s) {
  if (s == "fp32") return embed::Precision::FP32;
  if (s == "bf16") return embed::Precision::BF16;
  if (s == "int8") return embed::Precision::INT8;
  throw std::runtime_error("unknown precision '" + s + "' (fp32, bf16, int8)");
}

std::vector<std::string> read_lines(const std::string& file, std::size_t limit) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read corpus " + file);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line) && lines.size() < limit)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// Measured peak of oneDNN matmul (M = N = K = 2048) in GFLOP/s (GOP/s for int8) on `threads` threads.
double gemm_peak(embed::Precision p, int threads) {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  embed::compute::ThreadScope scope(threads);
  const memory::dim n = 2048;
  const dt s = p == embed::Precision::FP32 ? dt::f32 : p == embed::Precision::BF16 ? dt::bf16 : dt::u8;
  const dt w = p == embed::Precision::FP32 ? dt::f32 : p == embed::Precision::BF16 ? dt::bf16 : dt::s8;
  const dt d = p == embed::Precision::INT8 ? dt::s32 : dt::f32;
  engine eng(engine::kind::cpu, 0);
  stream str(eng);
  try {
    matmul::primitive_desc pd(matmul::desc(memory::desc({n, n}, s, tag::ab), memory::desc({n, n}, w, tag::any),
                                           memory::desc({n, n}, d, tag::ab)),
                              eng);
    memory a(pd.src_desc(), eng), b(pd.weights_desc(), eng), c(pd.dst_desc(), eng);
    std::memset(a.get_data_handle(), 0, pd.src_desc().get_size());
    std::memset(b.get_data_handle(), 0, pd.weights_desc().get_size());
    matmul mm(pd);
    std::vector<double> t;
    for (int r = 0; r < 7; ++r) {
      auto t0 = Clock::now();
      mm.execute(str, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
      str.wait();
      if (r > 0) t.push_back(seconds_since(t0));
    }
    return 2.0 * n * n * n / *std::min_element(t.begin(), t.end()) / 1e9;
  } catch (const std::exception&) {
    return 0.0;
  }
}

// FLOPs per token of a BERT-like encoder at a typical sequence length (linear layers + attention).
double flops_per_token(const std::string& model_dir, double mean_len) {
  try {
    std::ifstream in(model_dir + "/config.json");
    nlohmann::json c = nlohmann::json::parse(in);
    const double H = c.value("hidden_size", 0), L = c.value("num_hidden_layers", 0),
                 I = c.value("intermediate_size", 4 * H);
    return L * (2.0 * (4 * H * H + 2 * H * I) + 4.0 * mean_len * H);
  } catch (...) {
    return 0.0;
  }
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

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir;
  std::vector<std::string> corpora, precisions{"fp32"}, threads_list{"0"}, batches{"32"};
  int repeat = 3;
  std::size_t limit = static_cast<std::size_t>(-1), latency_texts = 200;
  bool peak = false, accuracy = false, encoder_only = false;
  std::string dump_ids;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "engine_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model" || a == "-m") model_dir = next();
    else if (a == "--corpus") for (auto& c : split(next())) corpora.push_back(c);
    else if (a == "--precision") precisions = split(next());
    else if (a == "--threads") threads_list = split(next());
    else if (a == "--batch-size") batches = split(next());
    else if (a == "--repeat") repeat = std::max(1, std::atoi(next().c_str()));
    else if (a == "--limit") limit = std::stoul(next());
    else if (a == "--latency-texts") latency_texts = std::stoul(next());
    else if (a == "--gemm-peak") peak = true;
    else if (a == "--accuracy") accuracy = true;
    else if (a == "--encoder-only") encoder_only = true;
    else if (a == "--dump-ids") dump_ids = next();
    else {
      std::cerr << "engine_bench: unknown argument " << a << "\n";
      return 2;
    }
  }
  if (model_dir.empty()) {
    std::cerr << "usage: engine_bench --model DIR [--corpus FILE] [--precision fp32,bf16,int8] [--threads N] "
                 "[--batch-size N] [--repeat R] [--limit N] [--gemm-peak] [--accuracy] [--encoder-only]\n";
    return 2;
  }
  if (corpora.empty()) corpora.push_back("../shared/bench/sentences.txt");
  try {
    for (const auto& corpus : corpora) {
      const auto texts = read_lines(corpus, limit);
      std::vector<embed::Matrix> fp32_reference;
      for (const auto& tstr : threads_list) {
        const int threads = embed::compute::resolve_threads(std::atoi(tstr.c_str()));
        std::vector<double> peaks(3, 0.0);
        if (peak) {
          const char* names[] = {"fp32", "bf16", "int8"};
          for (int p = 0; p < 3; ++p) {
            peaks[p] = gemm_peak(static_cast<embed::Precision>(p), threads);
            std::printf("gemm peak %s threads=%d: %.1f %s\n", names[p], threads, peaks[p], p == 2 ? "GOP/s" : "GFLOP/s");
          }
        }
        for (const auto& pstr : precisions) {
          embed::LoadOptions lo;
          lo.precision = parse_precision(pstr);
          lo.threads = threads;
          auto t0 = Clock::now();
          auto model = embed::Model::load(model_dir, lo);
          const double load_ms = seconds_since(t0) * 1e3;
          std::unique_ptr<embed::models::LoadedEncoder> encoder;
          if (encoder_only) {
            encoder = std::make_unique<embed::models::LoadedEncoder>(embed::models::load_encoder(model_dir, lo));
          }
          // Token counts (non-padding, truncated) and the encodings for --encoder-only.
          std::vector<embed::Encoding> encodings(texts.size());
          std::size_t total_tokens = 0;
          for (std::size_t i = 0; i < texts.size(); ++i) {
            encodings[i] = model->tokenize(texts[i]);
            total_tokens += encodings[i].length();
          }
          if (!dump_ids.empty()) {  // one line of token ids per text (for benchmarking other builds)
            std::ofstream f(dump_ids);
            for (const auto& e : encodings) {
              for (std::size_t k = 0; k < e.ids.size(); ++k) f << (k ? " " : "") << e.ids[k];
              f << "\n";
            }
          }
          const double mean_len = texts.empty() ? 0.0 : double(total_tokens) / texts.size();
          for (const auto& bstr : batches) {
            const std::size_t batch = std::max<std::size_t>(1, std::stoul(bstr));
            embed::EncodeOptions eo;
            eo.batch_size = batch;
            nlohmann::json r;
            r["model"] = model_dir;
            r["corpus"] = corpus;
            r["precision"] = pstr;
            r["threads"] = threads;
            r["batch"] = batch;
            r["load_ms"] = load_ms;
            r["mode"] = encoder_only ? "encoder" : "end_to_end";
            if (batch == 1) {
              const std::size_t n = std::min(latency_texts, texts.size());
              std::vector<double> lat;
              std::size_t toks = 0;
              for (std::size_t i = 0; i < std::min<std::size_t>(n, 10); ++i) model->encode({&texts[i], 1}, eo);  // warm-up
              for (int rep = 0; rep < repeat; ++rep)
                for (std::size_t i = 0; i < n; ++i) {
                  auto t1 = Clock::now();
                  if (encoder_only) {
                    embed::models::PackedBatch b;
                    b.add(encodings[i].ids, encodings[i].type_ids);
                    std::vector<float> out(b.tokens() * encoder->encoder->hidden_size());
                    encoder->encoder->forward(b, out.data());
                  } else {
                    model->encode({&texts[i], 1}, eo);
                  }
                  lat.push_back(seconds_since(t1));
                  if (rep == 0) toks += encodings[i].length();
                }
              const double sum = std::accumulate(lat.begin(), lat.end(), 0.0) / repeat;
              r["texts"] = n;
              r["tokens"] = toks;
              r["texts_per_s"] = sum > 0 ? n / sum : 0.0;
              r["tokens_per_s"] = sum > 0 ? toks / sum : 0.0;
              r["latency_ms_median"] = median(lat) * 1e3;
              r["latency_ms_min"] = lat.empty() ? 0.0 : *std::min_element(lat.begin(), lat.end()) * 1e3;
            } else {
              std::vector<double> times, cpu;
              embed::Matrix result;
              auto pass = [&]() {
                if (!encoder_only) {
                  result = model->encode(texts, eo);
                  return;
                }
                const std::size_t H = encoder->encoder->hidden_size();
                std::vector<std::size_t> order(texts.size());
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                  return encodings[a].length() > encodings[b].length();
                });
                std::vector<float> out;
                for (std::size_t s = 0; s < order.size(); s += batch) {
                  embed::models::PackedBatch b;
                  for (std::size_t i = s; i < std::min(order.size(), s + batch); ++i)
                    b.add(encodings[order[i]].ids, encodings[order[i]].type_ids);
                  out.resize(b.tokens() * H);
                  encoder->encoder->forward(b, out.data());
                }
              };
              pass();  // warm-up (also creates the GEMM kernels for this corpus' batch shapes)
              for (int rep = 0; rep < repeat; ++rep) {
                auto t1 = Clock::now();
                const double c1 = cpu_seconds();
                pass();
                times.push_back(seconds_since(t1));
                cpu.push_back(cpu_seconds() - c1);
              }
              const double med = median(times), best = *std::min_element(times.begin(), times.end());
              r["texts"] = texts.size();
              r["tokens"] = total_tokens;
              r["texts_per_s"] = texts.size() / med;
              r["tokens_per_s"] = total_tokens / med;
              r["texts_per_s_best"] = texts.size() / best;
              r["tokens_per_s_best"] = total_tokens / best;
              r["cpu_s_per_pass_median"] = median(cpu);  // all threads; robust when the machine is shared
              r["tokens_per_cpu_s"] = total_tokens / median(cpu);
              r["latency_ms_median"] = med / std::ceil(double(texts.size()) / batch) * 1e3;  // per batch
              if (accuracy && !encoder_only) {
                if (pstr == "fp32") {
                  fp32_reference.push_back(result);
                } else if (!fp32_reference.empty()) {
                  const auto& ref = fp32_reference.front();
                  double mn = 1.0, mean = 0.0;
                  for (std::size_t i = 0; i < result.rows; ++i) {
                    const double c = cosine(result.row(i), ref.row(i), result.cols);
                    mn = std::min(mn, c);
                    mean += c / result.rows;
                  }
                  r["cosine_to_fp32_min"] = mn;
                  r["cosine_to_fp32_mean"] = mean;
                }
              }
            }
            {
              rusage u{};
              getrusage(RUSAGE_SELF, &u);
              r["peak_rss_mb"] = u.ru_maxrss / 1024.0;  // whole process so far (all configurations run before)
            }
            const double fpt = flops_per_token(model_dir, mean_len);
            if (fpt > 0) {
              r["effective_gflops"] = r["tokens_per_s"].get<double>() * fpt / 1e9;
              const int pi = static_cast<int>(lo.precision);
              if (peak && peaks[pi] > 0) r["fraction_of_gemm_peak"] = r["effective_gflops"].get<double>() / peaks[pi];
            }
            std::printf("%s %s %s threads=%d batch=%zu: %.1f texts/s, %.0f tokens/s, median %.3f ms%s\n",
                        encoder_only ? "encoder" : "embed", corpus.c_str(), pstr.c_str(), threads, batch,
                        r["texts_per_s"].get<double>(), r["tokens_per_s"].get<double>(),
                        r["latency_ms_median"].get<double>(), batch == 1 ? " per text" : " per batch");
            std::printf("%s\n", r.dump().c_str());
            std::fflush(stdout);
          }
        }
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "engine_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
