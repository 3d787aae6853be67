// tokenizer.json -> TokenizerPipeline.
//
// HOW TO ADD A COMPONENT TYPE (e.g. the sentencepiece ones: Unigram, Precompiled, Metaspace,
// ByteFallback, Fuse, Strip):
//   1. Write a builder with the matching signature from text/tokenizer_json.hpp, e.g.
//        std::unique_ptr<Normalizer> build_precompiled_normalizer(const JsonNode& node);
//      declared in your own header (text/precompiled.hpp ...). Read fields with node.get_string(),
//      node.get_bool(), node.child("vocab").value() (an io::JsonValue), and report bad input
//      with node.fail("message") -> "tokenizer.json: normalizer.normalizers[2]: message".
//   2. Include that header below and add ONE line to the matching table:
//        {"Precompiled", build_precompiled_normalizer},
// "Sequence" components recurse through build_normalizer() etc., so new types work inside them.
// A "model" without "type" (older files) is recognised by its fields in build_model().
#include "text/tokenizer_json.hpp"

#include <algorithm>
#include <unordered_map>

#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"
// Sentencepiece components (the sentencepiece engineer's headers) go here:
#include "text/metaspace.hpp"
#include "text/precompiled.hpp"
#include "text/sp_decoders.hpp"
#include "text/unigram.hpp"

namespace embed::text {

// ---------------------------------------------------------------- builders (defined below)
namespace {
std::unique_ptr<Normalizer> b_bert_normalizer(const JsonNode&);
std::unique_ptr<Normalizer> b_nfc(const JsonNode&);
std::unique_ptr<Normalizer> b_nfd(const JsonNode&);
std::unique_ptr<Normalizer> b_nfkc(const JsonNode&);
std::unique_ptr<Normalizer> b_nfkd(const JsonNode&);
std::unique_ptr<Normalizer> b_lowercase(const JsonNode&);
std::unique_ptr<Normalizer> b_strip_accents(const JsonNode&);
std::unique_ptr<Normalizer> b_strip(const JsonNode&);
std::unique_ptr<Normalizer> b_replace(const JsonNode&);
std::unique_ptr<Normalizer> b_prepend(const JsonNode&);
std::unique_ptr<Normalizer> b_seq_normalizer(const JsonNode&);
std::unique_ptr<Normalizer> b_nmt(const JsonNode&);
std::unique_ptr<Normalizer> b_byte_level_norm(const JsonNode&);
std::unique_ptr<PreTokenizer> b_char_delimiter(const JsonNode&);

std::unique_ptr<PreTokenizer> b_bert_pre(const JsonNode&);
std::unique_ptr<PreTokenizer> b_whitespace(const JsonNode&);
std::unique_ptr<PreTokenizer> b_whitespace_split(const JsonNode&);
std::unique_ptr<PreTokenizer> b_byte_level_pre(const JsonNode&);
std::unique_ptr<PreTokenizer> b_punctuation(const JsonNode&);
std::unique_ptr<PreTokenizer> b_digits(const JsonNode&);
std::unique_ptr<PreTokenizer> b_split(const JsonNode&);
std::unique_ptr<PreTokenizer> b_seq_pre(const JsonNode&);

std::unique_ptr<TokenModel> b_wordpiece(const JsonNode&);
std::unique_ptr<TokenModel> b_bpe(const JsonNode&);

std::unique_ptr<PostProcessor> b_bert_proc(const JsonNode&);
std::unique_ptr<PostProcessor> b_roberta_proc(const JsonNode&);
std::unique_ptr<PostProcessor> b_template_proc(const JsonNode&);
std::unique_ptr<PostProcessor> b_byte_level_proc(const JsonNode&);
std::unique_ptr<PostProcessor> b_seq_proc(const JsonNode&);

std::unique_ptr<Decoder> b_wordpiece_dec(const JsonNode&);
std::unique_ptr<Decoder> b_byte_level_dec(const JsonNode&);
std::unique_ptr<Decoder> b_bpe_dec(const JsonNode&);
std::unique_ptr<Decoder> b_replace_dec(const JsonNode&);
std::unique_ptr<Decoder> b_seq_dec(const JsonNode&);
}  // namespace

// ---------------------------------------------------------------- registration tables
static const std::unordered_map<std::string, NormalizerBuilder>& normalizer_table() {
  static const std::unordered_map<std::string, NormalizerBuilder> t = {
      {"BertNormalizer", b_bert_normalizer},
      {"NFC", b_nfc},
      {"NFD", b_nfd},
      {"NFKC", b_nfkc},
      {"NFKD", b_nfkd},
      {"Lowercase", b_lowercase},
      {"StripAccents", b_strip_accents},
      {"Strip", b_strip},
      {"Replace", b_replace},
      {"Prepend", b_prepend},
      {"Sequence", b_seq_normalizer},
      {"Nmt", b_nmt},
      {"ByteLevel", b_byte_level_norm},
      {"Precompiled", build_precompiled_normalizer},
  };
  return t;
}

static const std::unordered_map<std::string, PreTokenizerBuilder>& pre_tokenizer_table() {
  static const std::unordered_map<std::string, PreTokenizerBuilder> t = {
      {"BertPreTokenizer", b_bert_pre},
      {"Whitespace", b_whitespace},
      {"WhitespaceSplit", b_whitespace_split},
      {"ByteLevel", b_byte_level_pre},
      {"Punctuation", b_punctuation},
      {"Digits", b_digits},
      {"Split", b_split},
      {"Sequence", b_seq_pre},
      {"CharDelimiterSplit", b_char_delimiter},
      {"Metaspace", build_metaspace_pre_tokenizer},
  };
  return t;
}

static const std::unordered_map<std::string, ModelBuilder>& model_table() {
  static const std::unordered_map<std::string, ModelBuilder> t = {
      {"WordPiece", b_wordpiece},
      {"BPE", b_bpe},
      {"Unigram", build_unigram_model},
  };
  return t;
}

static const std::unordered_map<std::string, PostProcessorBuilder>& post_processor_table() {
  static const std::unordered_map<std::string, PostProcessorBuilder> t = {
      {"BertProcessing", b_bert_proc},
      {"RobertaProcessing", b_roberta_proc},
      {"TemplateProcessing", b_template_proc},
      {"ByteLevel", b_byte_level_proc},
      {"Sequence", b_seq_proc},
  };
  return t;
}

static const std::unordered_map<std::string, DecoderBuilder>& decoder_table() {
  static const std::unordered_map<std::string, DecoderBuilder> t = {
      {"WordPiece", b_wordpiece_dec},
      {"ByteLevel", b_byte_level_dec},
      {"BPEDecoder", b_bpe_dec},
      {"Replace", b_replace_dec},
      {"Sequence", b_seq_dec},
      {"Metaspace", build_metaspace_decoder},
      {"ByteFallback", build_byte_fallback_decoder},
      {"Fuse", build_fuse_decoder},
      {"Strip", build_strip_decoder},
  };
  return t;
}

// ---------------------------------------------------------------- JsonNode
void JsonNode::fail(const std::string& message) const {
  throw Error(file_ + ": " + (path_.empty() ? std::string("top level") : path_) + ": " + message);
}
bool JsonNode::has(const std::string& key) const {
  auto v = value_.find(key);
  return v && !v->is_null();
}
JsonNode JsonNode::child(const std::string& key) const {
  if (!value_.is_object()) fail(std::string("expected a JSON object, found ") + value_.type_name());
  auto v = value_.find(key);
  if (!v || v->is_null()) fail("missing field \"" + key + "\"");
  return JsonNode(*v, file_, path_.empty() ? key : path_ + "." + key);
}
JsonNode JsonNode::at(std::size_t index) const {
  if (!value_.is_array()) fail(std::string("expected an array, found ") + value_.type_name());
  if (index >= value_.size()) fail("index " + std::to_string(index) + " out of range");
  return JsonNode(value_[index], file_, path_ + "[" + std::to_string(index) + "]");
}
std::size_t JsonNode::size() const {
  if (!value_.is_array()) fail(std::string("expected an array, found ") + value_.type_name());
  return value_.size();
}
std::string JsonNode::get_string(const std::string& key) const {
  auto c = child(key);
  if (!c.value().is_string()) c.fail(std::string("expected a string, found ") + c.value().type_name());
  return std::string(c.value().string());
}
std::string JsonNode::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
bool JsonNode::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  auto c = child(key);
  if (!c.value().is_bool()) c.fail(std::string("expected true/false, found ") + c.value().type_name());
  return c.value().boolean();
}
std::optional<bool> JsonNode::get_optional_bool(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_bool(key, false);
}
int64_t JsonNode::get_int(const std::string& key) const {
  auto c = child(key);
  if (!c.value().is_integer()) c.fail(std::string("expected an integer, found ") + c.value().type_name());
  return c.value().integer();
}
int64_t JsonNode::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }
double JsonNode::get_double(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  auto c = child(key);
  if (!c.value().is_number()) c.fail(std::string("expected a number, found ") + c.value().type_name());
  return c.value().number();
}

// ---------------------------------------------------------------- dispatch
template <class Table>
static auto dispatch(const Table& table, const JsonNode& node, const char* kind) {
  if (!node.value().is_object()) node.fail(std::string("expected a JSON object, found ") + node.value().type_name());
  std::string type = node.get_string("type");
  auto it = table.find(type);
  if (it == table.end()) node.fail(std::string("unknown ") + kind + " type \"" + type + "\"");
  return it->second(node);
}

std::unique_ptr<Normalizer> build_normalizer(const JsonNode& n) { return dispatch(normalizer_table(), n, "normalizer"); }
std::unique_ptr<PreTokenizer> build_pre_tokenizer(const JsonNode& n) {
  return dispatch(pre_tokenizer_table(), n, "pre_tokenizer");
}
std::unique_ptr<PostProcessor> build_post_processor(const JsonNode& n) {
  return dispatch(post_processor_table(), n, "post_processor");
}
std::unique_ptr<Decoder> build_decoder(const JsonNode& n) { return dispatch(decoder_table(), n, "decoder"); }

std::unique_ptr<TokenModel> build_model(const JsonNode& n) {
  if (!n.value().is_object()) n.fail(std::string("expected a JSON object, found ") + n.value().type_name());
  std::string type;
  if (n.has("type")) {
    type = n.get_string("type");
  } else {
    // Older serializations: no "type"; recognise the model by its fields (serde untagged order).
    if (n.has("merges")) type = "BPE";
    else if (n.has("vocab") && n.child("vocab").value().is_array()) type = "Unigram";
    else if (n.has("max_input_chars_per_word") || n.has("continuing_subword_prefix")) type = "WordPiece";
    else if (n.has("vocab")) type = "WordLevel";
    else n.fail("cannot tell the model type (no \"type\", \"vocab\" or \"merges\")");
  }
  auto it = model_table().find(type);
  if (it == model_table().end()) n.fail("unknown model type \"" + type + "\"");
  return it->second(n);
}

// ---------------------------------------------------------------- helpers
namespace {

TextPattern parse_pattern(const JsonNode& n) {
  TextPattern p;
  if (n.has("String")) {
    p.literal = n.get_string("String");
  } else if (n.has("Regex")) {
    p.regex = std::make_shared<Regex>(n.get_string("Regex"), n.file() + ": " + n.path());
  } else {
    n.fail("expected {\"String\": ...} or {\"Regex\": ...}");
  }
  return p;
}

SplitBehavior parse_behavior(const JsonNode& n, const std::string& key, SplitBehavior fallback) {
  if (!n.has(key)) return fallback;
  std::string b = n.get_string(key);
  if (b == "Removed") return SplitBehavior::Removed;
  if (b == "Isolated") return SplitBehavior::Isolated;
  if (b == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (b == "Contiguous") return SplitBehavior::Contiguous;
  n.child(key).fail("unknown split behavior \"" + b + "\"");
}

std::pair<std::string, int32_t> parse_token_pair(const JsonNode& n) {
  const auto& v = n.value();
  if (!v.is_array() || v.size() != 2 || !v[0].is_string()) n.fail("expected [\"token\", id]");
  std::string token(v[0].string());
  return {token, read_token_id(n, v[1], "token \"" + token + "\"")};
}

std::unique_ptr<Normalizer> b_bert_normalizer(const JsonNode& n) {
  return std::make_unique<BertNormalizer>(n.get_bool("clean_text", true), n.get_bool("handle_chinese_chars", true),
                                          n.get_optional_bool("strip_accents"), n.get_bool("lowercase", true));
}
std::unique_ptr<Normalizer> b_nfc(const JsonNode&) { return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFC); }
std::unique_ptr<Normalizer> b_nfd(const JsonNode&) { return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFD); }
std::unique_ptr<Normalizer> b_nfkc(const JsonNode&) { return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKC); }
std::unique_ptr<Normalizer> b_nfkd(const JsonNode&) { return std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKD); }
std::unique_ptr<Normalizer> b_lowercase(const JsonNode&) { return std::make_unique<LowercaseNormalizer>(); }
std::unique_ptr<Normalizer> b_strip_accents(const JsonNode&) { return std::make_unique<StripAccentsNormalizer>(); }
std::unique_ptr<Normalizer> b_strip(const JsonNode& n) {
  return std::make_unique<StripNormalizer>(n.get_bool("strip_left", true), n.get_bool("strip_right", true));
}
std::unique_ptr<Normalizer> b_replace(const JsonNode& n) {
  return std::make_unique<ReplaceNormalizer>(parse_pattern(n.child("pattern")), n.get_string("content"));
}
std::unique_ptr<Normalizer> b_prepend(const JsonNode& n) { return std::make_unique<PrependNormalizer>(n.get_string("prepend")); }
std::unique_ptr<Normalizer> b_seq_normalizer(const JsonNode& n) {
  auto list = n.child("normalizers");
  std::vector<std::unique_ptr<Normalizer>> items;
  for (std::size_t i = 0; i < list.size(); ++i) items.push_back(build_normalizer(list.at(i)));
  return std::make_unique<SequenceNormalizer>(std::move(items));
}

std::unique_ptr<Normalizer> b_nmt(const JsonNode&) { return std::make_unique<NmtNormalizer>(); }
std::unique_ptr<Normalizer> b_byte_level_norm(const JsonNode&) { return std::make_unique<ByteLevelNormalizer>(); }
std::unique_ptr<PreTokenizer> b_char_delimiter(const JsonNode& n) {
  std::string d = n.get_string("delimiter");
  std::size_t i = 0;
  if (d.empty() || (next_char(d, i), i != d.size())) n.child("delimiter").fail("expected a single character");
  i = 0;
  return std::make_unique<CharDelimiterSplitPreTokenizer>(next_char(d, i));
}
std::unique_ptr<PreTokenizer> b_bert_pre(const JsonNode&) { return std::make_unique<BertPreTokenizer>(); }
std::unique_ptr<PreTokenizer> b_whitespace(const JsonNode&) { return std::make_unique<WhitespacePreTokenizer>(); }
std::unique_ptr<PreTokenizer> b_whitespace_split(const JsonNode&) { return std::make_unique<WhitespaceSplitPreTokenizer>(); }
std::unique_ptr<PreTokenizer> b_byte_level_pre(const JsonNode& n) {
  return std::make_unique<ByteLevelPreTokenizer>(n.get_bool("add_prefix_space", true), n.get_bool("use_regex", true));
}
std::unique_ptr<PreTokenizer> b_punctuation(const JsonNode& n) {
  return std::make_unique<PunctuationPreTokenizer>(parse_behavior(n, "behavior", SplitBehavior::Isolated));
}
std::unique_ptr<PreTokenizer> b_digits(const JsonNode& n) {
  return std::make_unique<DigitsPreTokenizer>(n.get_bool("individual_digits", false));
}
std::unique_ptr<PreTokenizer> b_split(const JsonNode& n) {
  return std::make_unique<SplitPreTokenizer>(parse_pattern(n.child("pattern")),
                                             parse_behavior(n, "behavior", SplitBehavior::Removed),
                                             n.get_bool("invert", false));
}
std::unique_ptr<PreTokenizer> b_seq_pre(const JsonNode& n) {
  auto list = n.child("pretokenizers");
  std::vector<std::unique_ptr<PreTokenizer>> items;
  for (std::size_t i = 0; i < list.size(); ++i) items.push_back(build_pre_tokenizer(list.at(i)));
  return std::make_unique<SequencePreTokenizer>(std::move(items));
}

}  // namespace

int32_t read_token_id(const JsonNode& where, io::JsonValue value, const std::string& what) {
  const std::string prefix = what.empty() ? "" : what + ": ";
  if (!value.is_integer()) where.fail(prefix + "expected an integer id, found " + value.type_name());
  const int64_t id = value.integer();  // saturates at 2^63 - 1
  if (!is_valid_token_id(id))
    where.fail(prefix + "id " + (id == std::numeric_limits<int64_t>::max() ? ">= 2^63 - 1" : std::to_string(id)) +
               " is outside 0 to " + std::to_string(kMaxTokenId));
  return static_cast<int32_t>(id);
}

Vocab parse_vocab_object(const JsonNode& v) {
  if (!v.value().is_object()) v.fail(std::string("expected an object {token: id}, found ") + v.value().type_name());
  Vocab vocab;
  vocab.reserve(v.value().size());
  v.value().for_each_member([&](std::string_view token, io::JsonValue id) {
    const int32_t value = read_token_id(v, id, "token \"" + std::string(token) + "\"");
    vocab.insert_or_assign(std::string(token), value);  // a repeated token: the last id
  });
  return vocab;
}

namespace {

std::unique_ptr<TokenModel> b_wordpiece(const JsonNode& n) {
  return std::make_unique<WordPieceModel>(parse_vocab_object(n.child("vocab")), n.get_string("unk_token", "[UNK]"),
                                          n.get_string("continuing_subword_prefix", "##"),
                                          static_cast<std::size_t>(n.get_int("max_input_chars_per_word", 100)),
                                          n.file() + ": " + n.path());
}

std::unique_ptr<TokenModel> b_bpe(const JsonNode& n) {
  BpeModel::Options o;
  if (n.has("unk_token")) o.unk_token = n.get_string("unk_token");
  o.continuing_subword_prefix = n.get_string("continuing_subword_prefix", "");
  o.end_of_word_suffix = n.get_string("end_of_word_suffix", "");
  o.fuse_unk = n.get_bool("fuse_unk", false);
  o.byte_fallback = n.get_bool("byte_fallback", false);
  o.ignore_merges = n.get_bool("ignore_merges", false);
  if (n.has("dropout") && n.get_double("dropout", 0.0) != 0.0) n.child("dropout").fail("BPE dropout is not supported");
  std::vector<std::pair<std::string, std::string>> merges;
  if (n.has("merges")) {
    auto m = n.child("merges");
    merges.reserve(m.size());
    std::size_t i = 0;
    m.value().for_each([&](io::JsonValue e) {
      if (e.is_string()) {
        const std::string_view s = e.string();
        auto sp = s.find(' ');
        if (sp == std::string::npos) m.at(i).fail("merge \"" + std::string(s) + "\" is not two tokens separated by a space");
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        merges.emplace_back(e[0].string(), e[1].string());
      } else {
        m.at(i).fail("expected \"a b\" or [\"a\", \"b\"]");
      }
      ++i;
    });
  }
  return std::make_unique<BpeModel>(parse_vocab_object(n.child("vocab")), merges, o, n.file() + ": " + n.path());
}

std::unique_ptr<PostProcessor> b_bert_proc(const JsonNode& n) {
  return std::make_unique<BertProcessing>(parse_token_pair(n.child("sep")), parse_token_pair(n.child("cls")));
}
std::unique_ptr<PostProcessor> b_roberta_proc(const JsonNode& n) {
  return std::make_unique<RobertaProcessing>(parse_token_pair(n.child("sep")), parse_token_pair(n.child("cls")),
                                             n.get_bool("trim_offsets", true), n.get_bool("add_prefix_space", true));
}
std::vector<TemplateProcessing::Piece> parse_template(const JsonNode& n) {
  std::vector<TemplateProcessing::Piece> out;
  if (n.value().is_string()) {
    // "[CLS] $A [SEP]" form
    std::string s(n.value().string());
    std::size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && s[i] == ' ') ++i;
      if (i >= s.size()) break;
      std::size_t j = s.find(' ', i);
      if (j == std::string::npos) j = s.size();
      std::string piece = s.substr(i, j - i);
      i = j;
      int32_t type_id = 0;
      auto colon = piece.rfind(':');
      if (colon != std::string::npos && colon + 1 < piece.size() &&
          std::all_of(piece.begin() + static_cast<std::ptrdiff_t>(colon) + 1, piece.end(), ::isdigit)) {
        type_id = std::stoi(piece.substr(colon + 1));
        piece = piece.substr(0, colon);
      }
      if (piece == "$A" || piece == "$a" || piece == "$") out.push_back({false, "A", type_id});
      else if (piece == "$B" || piece == "$b") out.push_back({false, "B", type_id});
      else if (piece.size() > 1 && piece[0] == '$' && std::all_of(piece.begin() + 1, piece.end(), ::isdigit))
        out.push_back({false, "A", std::stoi(piece.substr(1))});
      else out.push_back({true, piece, type_id});
    }
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    auto p = n.at(i);
    if (p.has("Sequence")) {
      auto q = p.child("Sequence");
      out.push_back({false, q.get_string("id"), static_cast<int32_t>(q.get_int("type_id", 0))});
    } else if (p.has("SpecialToken")) {
      auto q = p.child("SpecialToken");
      out.push_back({true, q.get_string("id"), static_cast<int32_t>(q.get_int("type_id", 0))});
    } else {
      p.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
    }
  }
  return out;
}
std::unique_ptr<PostProcessor> b_template_proc(const JsonNode& n) {
  std::map<std::string, TemplateProcessing::SpecialTokens> specials;
  if (n.has("special_tokens")) {
    auto st = n.child("special_tokens");
    st.value().for_each_member([&](std::string_view key, io::JsonValue value) {
      JsonNode e(value, n.file(), st.path() + "." + std::string(key));
      TemplateProcessing::SpecialTokens t;
      e.child("ids").for_each([&](const JsonNode& id) { t.ids.push_back(read_token_id(id, id.value(), "")); });
      e.child("tokens").for_each([&](const JsonNode& token) {
        if (!token.value().is_string()) token.fail(std::string("expected a string, found ") + token.value().type_name());
        t.tokens.emplace_back(token.value().string());
      });
      if (t.ids.size() != t.tokens.size()) e.fail("\"ids\" and \"tokens\" differ in length");
      specials[e.get_string("id", std::string(key))] = std::move(t);
    });
  }
  auto single = parse_template(n.child("single"));
  auto pair = n.has("pair") ? parse_template(n.child("pair")) : std::vector<TemplateProcessing::Piece>{};
  for (const auto* tpl : {&single, &pair})
    for (const auto& p : *tpl)
      if (p.is_special && !specials.count(p.id)) n.fail("template uses special token \"" + p.id + "\" missing from special_tokens");
  return std::make_unique<TemplateProcessing>(std::move(single), std::move(pair), std::move(specials));
}
std::unique_ptr<PostProcessor> b_byte_level_proc(const JsonNode& n) {
  return std::make_unique<ByteLevelProcessing>(n.get_bool("trim_offsets", true), n.get_bool("add_prefix_space", true));
}
std::unique_ptr<PostProcessor> b_seq_proc(const JsonNode& n) {
  auto list = n.child("processors");
  std::vector<std::unique_ptr<PostProcessor>> items;
  for (std::size_t i = 0; i < list.size(); ++i) items.push_back(build_post_processor(list.at(i)));
  return std::make_unique<SequenceProcessing>(std::move(items));
}

std::unique_ptr<Decoder> b_wordpiece_dec(const JsonNode& n) {
  return std::make_unique<WordPieceDecoder>(n.get_string("prefix", "##"), n.get_bool("cleanup", true));
}
std::unique_ptr<Decoder> b_byte_level_dec(const JsonNode&) { return std::make_unique<ByteLevelDecoder>(); }
std::unique_ptr<Decoder> b_bpe_dec(const JsonNode& n) { return std::make_unique<BpeDecoder>(n.get_string("suffix", "</w>")); }
std::unique_ptr<Decoder> b_replace_dec(const JsonNode& n) {
  return std::make_unique<ReplaceDecoder>(parse_pattern(n.child("pattern")), n.get_string("content"));
}
std::unique_ptr<Decoder> b_seq_dec(const JsonNode& n) {
  auto list = n.child("decoders");
  std::vector<std::unique_ptr<Decoder>> items;
  for (std::size_t i = 0; i < list.size(); ++i) items.push_back(build_decoder(list.at(i)));
  return std::make_unique<SequenceDecoder>(std::move(items));
}

}  // namespace

// ---------------------------------------------------------------- the whole file
std::shared_ptr<TokenizerPipeline> parse_tokenizer_json(io::JsonValue root, const std::string& file) {
  JsonNode top(root, file, "");
  if (!root.is_object()) top.fail("expected a JSON object");
  auto p = std::make_shared<TokenizerPipeline>();
  if (top.has("added_tokens")) {
    top.child("added_tokens").for_each([&](const JsonNode& t) {
      AddedToken a;
      a.content = t.get_string("content");
      const JsonNode id = t.child("id");
      a.id = read_token_id(id, id.value(), "token \"" + a.content + "\"");
      a.single_word = t.get_bool("single_word", false);
      a.lstrip = t.get_bool("lstrip", false);
      a.rstrip = t.get_bool("rstrip", false);
      a.normalized = t.get_bool("normalized", true);
      a.special = t.get_bool("special", false);
      p->added_tokens.push_back(std::move(a));
    });
  }
  p->model = build_model(top.child("model"));
  {
    // tokenizers adds the tokens one by one: a content already known keeps its id (model vocabulary
    // first), a new one gets the next id after the vocabulary; the saved "id" is only checked there.
    std::vector<AddedToken> kept;
    std::unordered_map<std::string, int32_t> seen;
    uint32_t vocab_size = static_cast<uint32_t>(p->model->vocab_size());
    std::optional<uint32_t> max_id;
    for (auto& a : p->added_tokens) {
      if (a.content.empty() || seen.count(a.content)) continue;
      if (auto id = p->model->token_to_id(a.content)) {
        a.id = *id;
      } else {
        const uint64_t next =
            !max_id ? vocab_size : (*max_id >= vocab_size || vocab_size == 0) ? *max_id + 1ull : vocab_size;
        if (!is_valid_token_id(static_cast<int64_t>(next)))
          top.child("added_tokens").fail("token \"" + a.content + "\" would get id " + std::to_string(next) +
                                         ", above " + std::to_string(kMaxTokenId));
        a.id = static_cast<int32_t>(next);
      }
      seen[a.content] = a.id;
      max_id = max_id ? std::max(*max_id, static_cast<uint32_t>(a.id)) : static_cast<uint32_t>(a.id);
      kept.push_back(std::move(a));
    }
    p->added_tokens = std::move(kept);
  }
  if (top.has("normalizer")) p->normalizer = build_normalizer(top.child("normalizer"));
  if (top.has("pre_tokenizer")) p->pre_tokenizer = build_pre_tokenizer(top.child("pre_tokenizer"));
  if (top.has("post_processor")) p->post_processor = build_post_processor(top.child("post_processor"));
  if (top.has("decoder")) p->decoder = build_decoder(top.child("decoder"));
  if (top.has("truncation")) {
    auto t = top.child("truncation");
    TruncationOptions o;
    o.max_length = static_cast<std::size_t>(t.get_int("max_length", 512));
    o.stride = static_cast<std::size_t>(t.get_int("stride", 0));
    std::string s = t.get_string("strategy", "LongestFirst");
    o.strategy = s == "OnlyFirst" ? TruncationStrategy::OnlyFirst
                 : s == "OnlySecond" ? TruncationStrategy::OnlySecond
                                     : TruncationStrategy::LongestFirst;
    o.direction = t.get_string("direction", "Right") == "Left" ? TruncationDirection::Left : TruncationDirection::Right;
    p->default_truncation = o;
  }
  p->finalize();
  return p;
}

std::shared_ptr<TokenizerPipeline> load_tokenizer_json(const std::filesystem::path& path) {
  const io::JsonDocument document(path);
  return parse_tokenizer_json(document.root(), path.string());
}

}  // namespace embed::text
