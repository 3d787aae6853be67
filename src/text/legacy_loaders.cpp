#include "text/legacy_loaders.hpp"

#include <fstream>
#include <sstream>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "text/components.hpp"
#include "text/special_tokens_files.hpp"
#include "text/tokenizer_json.hpp"

// ---- HOOK: sentencepiece models (spm.model / spiece.model / sentencepiece.bpe.model) are built by
// the sentencepiece engineer's loader, declared in text/spm_loader.hpp as
//   std::shared_ptr<const TokenizerPipeline> load_sentencepiece_tokenizer(const std::filesystem::path& dir);
#if __has_include("text/spm_loader.hpp")
#include "text/spm_loader.hpp"
#define EMBED_HAVE_SPM_LOADER 1
#endif

namespace embed::text {

namespace fs = std::filesystem;

namespace {

// Added tokens: tokenizer_config.json "added_tokens_decoder" when present (ids and flags as
// saved), else the special tokens of the config with ids from the vocabulary, plus added_tokens.json.
void add_tokens(TokenizerPipeline& p, const TokenizerConfig& c, const fs::path& dir,
                const std::vector<std::pair<std::string, bool>>& defaults /* content, lstrip */) {
  if (auto saved = c.added_tokens_decoder()) {
    p.added_tokens = std::move(*saved);
    return;
  }
  std::vector<AddedToken> list;
  auto push = [&](AddedToken t) {
    for (const auto& e : list)
      if (e.content == t.content) return;
    auto id = p.model->token_to_id(t.content);
    if (!id) return;
    t.id = *id;
    list.push_back(std::move(t));
  };
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"})
    if (auto t = c.special_token(key)) push(*t);
  for (auto& [t, plain] : c.additional_special_tokens(NormalizedFlag::AsSaved)) push(t);
  for (const auto& [content, lstrip] : defaults) {
    AddedToken t{};
    t.content = content;
    t.special = true;
    t.normalized = false;
    t.lstrip = lstrip;
    push(t);
  }
  for (const auto& [content, id] : read_added_tokens_json(dir)) {
    bool known = false;
    for (const auto& e : list) known = known || e.content == content;
    if (known) continue;
    AddedToken t{};
    t.content = content;
    t.id = id;
    t.special = false;
    t.normalized = true;
    list.push_back(t);
  }
  p.added_tokens = std::move(list);
}

// A special token's content: the config's field, else the fallback.
std::string special_content(const TokenizerConfig& c, const std::string& key, const std::string& fallback) {
  auto t = c.special_token(key);
  return t ? t->content : fallback;
}

int32_t require_id(const TokenizerPipeline& p, const std::string& token, const fs::path& file) {
  auto id = p.model->token_to_id(token);
  if (!id) throw Error(file.string() + ": special token \"" + token + "\" is not in the vocabulary");
  return *id;
}

// BERT's template (BertConverter, DebertaConverter): [CLS] A [SEP], and [CLS] A [SEP] B [SEP] with B and
// its [SEP] of token type 1.
std::unique_ptr<TemplateProcessing> bert_template(const std::string& cls, int32_t cls_id, const std::string& sep,
                                                  int32_t sep_id) {
  std::vector<TemplateProcessing::Piece> single{{true, cls, 0}, {false, "A", 0}, {true, sep, 0}};
  std::vector<TemplateProcessing::Piece> pair{{true, cls, 0}, {false, "A", 0}, {true, sep, 0}, {false, "B", 1}, {true, sep, 1}};
  std::map<std::string, TemplateProcessing::SpecialTokens> sp;
  sp[cls] = {{cls_id}, {cls}};
  sp[sep] = {{sep_id}, {sep}};
  return std::make_unique<TemplateProcessing>(single, pair, sp);
}

}  // namespace

std::shared_ptr<TokenizerPipeline> load_wordpiece_vocab_txt(const fs::path& dir) {
  fs::path vocab_file = dir / "vocab.txt";
  std::ifstream in = io::open_model_stream(vocab_file);
  Vocab vocab;
  std::string line;
  int32_t index = 0;
  while (std::getline(in, line)) {
    // transformers' load_vocab: token.rstrip("\n"); keeps other whitespace
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.emplace(line, index++);
  }
  const TokenizerConfig c(dir);
  std::string cls_name = c.get_string("tokenizer_class", "BertTokenizer");
  bool mpnet = cls_name.rfind("MPNet", 0) == 0;
  std::string unk = special_content(c, "unk_token", "[UNK]");
  std::string cls = special_content(c, "cls_token", mpnet ? "<s>" : "[CLS]");
  std::string sep = special_content(c, "sep_token", mpnet ? "</s>" : "[SEP]");

  auto p = std::make_shared<TokenizerPipeline>();
  bool lower = c.get_bool("do_lower_case", true);
  bool chinese = c.get_bool("tokenize_chinese_chars", true);
  std::optional<bool> strip = c.get_optional_bool("strip_accents");
  p->normalizer = std::make_unique<BertNormalizer>(true, chinese, strip, lower);
  p->pre_tokenizer = std::make_unique<BertPreTokenizer>();
  p->model = std::make_unique<WordPieceModel>(std::move(vocab), unk, "##", 100, vocab_file.string());
  int32_t cls_id = require_id(*p, cls, vocab_file), sep_id = require_id(*p, sep, vocab_file);
  if (mpnet) {
    // MPNet: <s> A </s> and <s> A </s></s> B </s>, all type id 0 (as MPNetTokenizer and the
    // published tokenizer.json files, which use RobertaProcessing).
    p->post_processor = std::make_unique<RobertaProcessing>(std::make_pair(sep, sep_id), std::make_pair(cls, cls_id), true, false);
    add_tokens(*p, c, dir, {{"<s>", false}, {"<pad>", false}, {"</s>", false}, {"<unk>", false}, {"[UNK]", false}, {"<mask>", true}});
  } else {
    p->post_processor = bert_template(cls, cls_id, sep, sep_id);
    add_tokens(*p, c, dir, {{"[PAD]", false}, {"[UNK]", false}, {"[CLS]", false}, {"[SEP]", false}, {"[MASK]", false}});
  }
  p->decoder = std::make_unique<WordPieceDecoder>("##", true);
  std::sort(p->added_tokens.begin(), p->added_tokens.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  p->finalize();
  return p;
}

std::shared_ptr<TokenizerPipeline> load_byte_level_bpe(const fs::path& dir) {
  fs::path vocab_file = dir / "vocab.json", merges_file = dir / "merges.txt";
  const io::JsonDocument vocab_json(vocab_file);
  Vocab vocab = parse_vocab_object(JsonNode(vocab_json.root(), vocab_file.string(), ""));
  std::ifstream in = io::open_model_stream(merges_file);
  std::vector<std::pair<std::string, std::string>> merges;
  std::string line;
  std::size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (lineno == 1 && line.rfind("#version", 0) == 0) continue;
    if (line.empty()) continue;
    auto sp = line.find(' ');
    if (sp == std::string::npos)
      throw Error(merges_file.string() + ": line " + std::to_string(lineno) + ": expected two tokens separated by a space");
    merges.emplace_back(line.substr(0, sp), line.substr(sp + 1));
  }
  const TokenizerConfig c(dir);
  std::string cls_name = c.get_string("tokenizer_class", "");
  bool has_cls_sep = vocab.count("[CLS]") && vocab.count("[SEP]");
  bool has_s = vocab.count("<s>") && vocab.count("</s>");
  enum { Gpt2, Roberta, Deberta } kind = Gpt2;
  if (cls_name.rfind("Deberta", 0) == 0 || (cls_name.empty() && has_cls_sep)) kind = Deberta;
  else if (cls_name.rfind("Roberta", 0) == 0 || (cls_name.empty() && has_s)) kind = Roberta;
  bool add_prefix_space = c.get_bool("add_prefix_space", false);

  auto p = std::make_shared<TokenizerPipeline>();
  p->pre_tokenizer = std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, true);
  p->model = std::make_unique<BpeModel>(std::move(vocab), merges, BpeModel::Options{}, merges_file.string());
  p->decoder = std::make_unique<ByteLevelDecoder>();
  if (kind == Roberta) {
    std::string cls = special_content(c, "cls_token", "<s>"), sep = special_content(c, "sep_token", "</s>");
    p->post_processor = std::make_unique<RobertaProcessing>(std::make_pair(sep, require_id(*p, sep, vocab_file)),
                                                            std::make_pair(cls, require_id(*p, cls, vocab_file)), true,
                                                            add_prefix_space);
    add_tokens(*p, c, dir, {{"<s>", false}, {"<pad>", false}, {"</s>", false}, {"<unk>", false}, {"<mask>", true}});
  } else if (kind == Deberta) {
    std::string cls = "[CLS]", sep = "[SEP]";
    int32_t cls_id = require_id(*p, cls, vocab_file), sep_id = require_id(*p, sep, vocab_file);
    p->post_processor = bert_template(cls, cls_id, sep, sep_id);
    add_tokens(*p, c, dir, {{"[CLS]", false}, {"[SEP]", false}, {"[UNK]", false}, {"[PAD]", false}, {"[MASK]", true}});
  } else {
    p->post_processor = std::make_unique<ByteLevelProcessing>(false, true);
    add_tokens(*p, c, dir, {{"<|endoftext|>", false}});
  }
  std::sort(p->added_tokens.begin(), p->added_tokens.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  p->finalize();
  return p;
}

std::shared_ptr<const TokenizerPipeline> load_tokenizer_directory(const fs::path& dir) {
  if (!io::model_directory_present(dir)) throw Error(dir.string() + ": not a directory");
  if (io::model_file_present(dir / "tokenizer.json")) return load_tokenizer_json(dir / "tokenizer.json");
  if (io::model_file_present(dir / "vocab.txt")) return load_wordpiece_vocab_txt(dir);
  if (io::model_file_present(dir / "vocab.json") && io::model_file_present(dir / "merges.txt"))
    return load_byte_level_bpe(dir);
  for (const char* f : {"spm.model", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}) {
    if (io::model_file_present(dir / f)) {
#ifdef EMBED_HAVE_SPM_LOADER
      return load_sentencepiece_tokenizer(dir);
#else
      throw Error((dir / f).string() + ": sentencepiece models are not supported in this build");
#endif
    }
  }
  throw Error(dir.string() +
              ": no tokenizer files found (expected tokenizer.json, vocab.txt, vocab.json + merges.txt, or spm.model)");
}

}  // namespace embed::text
