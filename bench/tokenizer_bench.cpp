// Tokenizer throughput, single thread: chars/s and tokens/s per tokenizer on ~10 MB of text.
//   tokenizer_bench [TEXT_FILE] [TOKENIZERS_DIR] [TARGET_MB] [MODEL,MODEL...]
// Defaults: /work/shared/bench/passages.txt, <repo>/tests/data/tokenizers, 10. Each line is one text
// (no truncation, special tokens added), as a batch of documents would be tokenized.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  fs::path text_file = argc > 1 ? fs::path(argv[1]) : fs::path("/work/shared/bench/passages.txt");
  fs::path tok_dir = argc > 2 ? fs::path(argv[2]) : fs::path(__FILE__).parent_path().parent_path() / "tests/data/tokenizers";
  double target_mb = argc > 3 ? std::stod(argv[3]) : 10.0;
  std::string only = argc > 4 ? std::string(",") + argv[4] + "," : std::string();

  std::ifstream in(text_file);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", text_file.c_str());
    return 1;
  }
  std::vector<std::string> base;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) base.push_back(line);
  if (base.empty()) {
    std::fprintf(stderr, "%s: no text\n", text_file.c_str());
    return 1;
  }
  std::vector<std::string> texts;
  std::size_t bytes = 0, chars = 0;
  while (bytes < target_mb * 1e6) {
    for (const auto& t : base) {
      texts.push_back(t);
      bytes += t.size();
      for (unsigned char c : t) chars += (c & 0xC0) != 0x80;
    }
  }
  std::printf("input: %zu texts, %.1f MB, %zu chars (%s repeated)\n", texts.size(), bytes / 1e6, chars,
              text_file.filename().c_str());
  std::printf("%-24s %10s %12s %12s %10s\n", "tokenizer", "loader", "Mchars/s", "Mtokens/s", "seconds");
  const char* models[] = {"all-MiniLM-L6-v2", "all-mpnet-base-v2", "bge-small-en-v1.5", "roberta-base", "gpt2",
                          "t5-small", "paraphrase-albert-small-v2"};
  embed::TokenizeOptions opt;
  for (const char* m : models) {
    if (!only.empty() && only.find(std::string(",") + m + ",") == std::string::npos) continue;
    fs::path dir = tok_dir / m;
    if (!fs::exists(dir / "tokenizer.json")) continue;
    try {
      auto tok = embed::Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
      // warm-up (BPE caches, page faults)
      for (std::size_t i = 0; i < std::min<std::size_t>(texts.size(), 64); ++i) tok.encode(texts[i], opt);
      auto t0 = std::chrono::steady_clock::now();
      std::size_t tokens = 0;
      for (const auto& t : texts) tokens += tok.encode(t, opt).ids.size();
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-24s %10s %12.2f %12.3f %10.2f\n", m, "json", chars / s / 1e6, tokens / s / 1e6, s);
    } catch (const embed::Error& e) {
      std::printf("%-24s skipped: %s\n", m, e.what());
    }
  }
  return 0;
}
