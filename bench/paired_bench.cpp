// Paired A/B of two load settings of one model, in one process: which is faster, measured so that a noisy
// machine (here whole-process runs swing by 2x) cannot decide it. Both models are loaded; every text
// (batch 1) or every pass over the corpus (batch > 1) runs A B B A, and the ratio of B's time to A's is
// taken per pair of calls; the median of those ratios is the answer.
//
//   paired_bench -m MODEL_DIR --a SETTINGS --b SETTINGS [--corpus FILE] [--limit N] [--batch-size N]
//                [--rounds N]
// SETTINGS: comma-separated precision=fp32|bf16|int8, threads=N, amx=0|1 (amx=0: EMBED_AMX=0 while the
// model loads, so oneDNN runs the int8 / bf16 layers), env=NAME:VALUE (set while the model loads).
// Defaults: ../shared/bench/sentences.txt, 200 texts, batch 1, 1 round (batch > 1: 10 rounds).
// Example: paired_bench -m bench/work/minilm-l6 --a precision=int8 --b precision=int8,amx=0
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "embed/error.hpp"
#include "embed/model.hpp"

namespace {

struct Settings {
  embed::LoadOptions load;
  bool amx = true;
  std::vector<std::pair<std::string, std::string>> env;  // set while the model loads
  std::string text;
};

Settings parse_settings(const std::string& text) {
  Settings s;
  s.text = text;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const auto colon = value.find(':');  // env=NAME:VALUE
    if (key == "precision" && value == "fp32") s.load.precision = embed::Precision::FP32;
    else if (key == "precision" && value == "bf16") s.load.precision = embed::Precision::BF16;
    else if (key == "precision" && value == "int8") s.load.precision = embed::Precision::INT8;
    else if (key == "threads") s.load.threads = std::stoi(value);
    else if (key == "amx" && (value == "0" || value == "1")) s.amx = value == "1";
    else if (key == "env" && colon != std::string::npos && colon > 0)
      s.env.emplace_back(value.substr(0, colon), value.substr(colon + 1));
    else throw embed::Error("settings \"" + text + "\": cannot read \"" + item +
                            "\" (expected precision=fp32|bf16|int8, threads=N, amx=0|1 or env=NAME:VALUE)");
  }
  return s;
}

// Loads with the settings' environment (amx=0: EMBED_AMX=0, amx=1: no EMBED_AMX, env=NAME:VALUE), then puts
// the caller's environment back.
std::shared_ptr<const embed::Model> load(const std::string& dir, const Settings& s) {
  std::vector<std::pair<std::string, std::optional<std::string>>> wanted{
      {"EMBED_AMX", s.amx ? std::nullopt : std::optional<std::string>("0")}};
  for (const auto& [name, value] : s.env) wanted.emplace_back(name, value);
  struct RestoreEnvironment {
    std::vector<std::pair<std::string, std::optional<std::string>>> saved;
    ~RestoreEnvironment() {
      for (auto it = saved.rbegin(); it != saved.rend(); ++it)
        if (it->second) ::setenv(it->first.c_str(), it->second->c_str(), 1);
        else ::unsetenv(it->first.c_str());
    }
  } restore;
  for (const auto& [name, value] : wanted) {
    const char* before = std::getenv(name.c_str());
    restore.saved.emplace_back(name, before ? std::optional<std::string>(before) : std::nullopt);
    if (value) ::setenv(name.c_str(), value->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
  return embed::Model::load(dir, s.load);
}

double seconds_of(const embed::Model& model, std::span<const std::string> texts, const embed::EncodeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  model.encode(texts, options);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, a_text, b_text, corpus = "../shared/bench/sentences.txt";
  std::size_t limit = 200, batch = 1, rounds = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "-m") model_dir = value;
    else if (flag == "--a") a_text = value;
    else if (flag == "--b") b_text = value;
    else if (flag == "--corpus") corpus = value;
    else if (flag == "--limit") limit = std::stoul(value);
    else if (flag == "--batch-size") batch = std::stoul(value);
    else if (flag == "--rounds") rounds = std::stoul(value);
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of bench/paired_bench.cpp)\n", argv[i]);
      return 2;
    }
  }
  if (model_dir.empty() || a_text.empty() || b_text.empty() || batch == 0) {
    std::fprintf(stderr, "usage: paired_bench -m MODEL_DIR --a SETTINGS --b SETTINGS [--corpus FILE] [--limit N] "
                         "[--batch-size N] [--rounds N]\n");
    return 2;
  }
  if (rounds == 0) rounds = batch == 1 ? 1 : 10;
  try {
    const Settings a = parse_settings(a_text), b = parse_settings(b_text);
    std::ifstream in(corpus);
    if (!in) throw embed::Error("cannot open corpus " + corpus);
    std::vector<std::string> texts;
    for (std::string line; texts.size() < limit && std::getline(in, line);)
      if (!line.empty()) texts.push_back(line);
    if (texts.empty()) throw embed::Error(corpus + ": no text");
    const auto model_a = load(model_dir, a), model_b = load(model_dir, b);
    embed::EncodeOptions options;
    options.batch_size = batch;
    // One unit: a text at batch 1, the whole corpus otherwise.
    const std::size_t units = batch == 1 ? texts.size() : 1;
    auto unit = [&](std::size_t u) {
      return batch == 1 ? std::span<const std::string>(&texts[u], 1) : std::span<const std::string>(texts);
    };
    for (std::size_t u = 0; u < std::min<std::size_t>(units, 4); ++u) {  // warm-up: kernels, workspaces
      seconds_of(*model_a, unit(u), options);
      seconds_of(*model_b, unit(u), options);
    }
    std::vector<double> ratios;
    double total_a = 0, total_b = 0;
    for (std::size_t r = 0; r < rounds; ++r)
      for (std::size_t u = 0; u < units; ++u) {
        const double a1 = seconds_of(*model_a, unit(u), options), b1 = seconds_of(*model_b, unit(u), options);
        const double b2 = seconds_of(*model_b, unit(u), options), a2 = seconds_of(*model_a, unit(u), options);
        ratios.push_back((b1 + b2) / (a1 + a2));
        total_a += a1 + a2;
        total_b += b1 + b2;
      }
    std::sort(ratios.begin(), ratios.end());
    auto at = [&](double q) { return ratios[static_cast<std::size_t>(q * static_cast<double>(ratios.size() - 1))]; };
    const double calls = 2.0 * static_cast<double>(ratios.size());
    std::printf("A: %s\nB: %s\n%zu texts, batch %zu, %zu pairs of calls (A B B A)\n", a.text.c_str(), b.text.c_str(),
                texts.size(), batch, ratios.size());
    std::printf("time B / time A: median %.3f (quartiles %.3f - %.3f, range %.3f - %.3f)\n", at(0.5), at(0.25),
                at(0.75), ratios.front(), ratios.back());
    std::printf("mean per call: A %.3f ms, B %.3f ms\n", total_a / calls * 1e3, total_b / calls * 1e3);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "paired_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
