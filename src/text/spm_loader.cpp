// Sentencepiece model file -> TokenizerPipeline (DebertaV2 / XLMRoberta / T5 / Albert layouts).
#include "text/spm_loader.hpp"

#include <algorithm>
#include <cstring>
#include <map>

#include "embed/error.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "text/components.hpp"
#include "text/metaspace.hpp"
#include "text/sp_decoders.hpp"
#include "text/special_tokens_files.hpp"
#include "text/unicode.hpp"

namespace embed::text {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ protobuf wire format
namespace {

struct Reader {
  std::string_view buf;
  std::size_t pos = 0;
  const std::string& where;
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where + ": malformed sentencepiece model (" + what + " at byte " + std::to_string(pos) + ")");
  }
  bool done() const { return pos >= buf.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= buf.size()) fail("truncated varint");
      auto b = static_cast<unsigned char>(buf[pos++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint too long");
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > buf.size() - pos) fail("length-delimited field runs past the end");
    auto s = buf.substr(pos, n);
    pos += n;
    return s;
  }
  uint32_t fixed32() {
    if (buf.size() - pos < 4) fail("truncated fixed32");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) v |= static_cast<uint32_t>(static_cast<unsigned char>(buf[pos + k])) << (8 * k);
    pos += 4;
    return v;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1:
        if (buf.size() - pos < 8) fail("truncated fixed64");
        pos += 8;
        break;
      case 2: bytes(); break;
      case 5: fixed32(); break;
      default: fail("unsupported wire type " + std::to_string(wire));
    }
  }
};

UnigramPiece parse_piece(std::string_view b, const std::string& where) {
  Reader r{b, 0, where};
  UnigramPiece p;
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) p.piece = std::string(r.bytes());
    else if (field == 2 && wire == 5) {
      uint32_t u = r.fixed32();
      float f;
      std::memcpy(&f, &u, 4);
      p.score = f;
    } else if (field == 3 && wire == 0) {
      int t = static_cast<int>(r.varint());
      if (t < 1 || t > 6) r.fail("unknown piece type " + std::to_string(t));
      p.type = static_cast<PieceType>(t);
    } else r.skip(wire);
  }
  return p;
}

}  // namespace

SpmModelProto parse_spm_model_proto(std::string_view bytes, const std::string& where) {
  SpmModelProto m;
  Reader r{bytes, 0, where};
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      m.pieces.push_back(parse_piece(r.bytes(), where));
    } else if (field == 2 && wire == 2) {  // TrainerSpec
      Reader t{r.bytes(), 0, where};
      while (!t.done()) {
        uint64_t k = t.varint();
        int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (f == 3 && w == 0) m.model_type = static_cast<int>(t.varint());
        else if (f == 35 && w == 0) m.byte_fallback = t.varint() != 0;
        else if (f == 24 && w == 0) m.normalizer.treat_whitespace_as_suffix = t.varint() != 0;
        else t.skip(w);
      }
    } else if (field == 3 && wire == 2) {  // NormalizerSpec
      Reader n{r.bytes(), 0, where};
      while (!n.done()) {
        uint64_t k = n.varint();
        int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (f == 1 && w == 2) m.normalizer_name = std::string(n.bytes());
        else if (f == 2 && w == 2) m.precompiled_charsmap = std::string(n.bytes());
        else if (f == 3 && w == 0) m.normalizer.add_dummy_prefix = n.varint() != 0;
        else if (f == 4 && w == 0) m.normalizer.remove_extra_whitespaces = n.varint() != 0;
        else if (f == 5 && w == 0) m.normalizer.escape_whitespaces = n.varint() != 0;
        else n.skip(w);
      }
    } else {
      r.skip(wire);
    }
  }
  if (m.pieces.empty()) throw Error(where + ": the sentencepiece model has no pieces");
  return m;
}

SpmModelProto read_spm_model(const fs::path& file) {
  return parse_spm_model_proto(io::read_file_bytes(file), file.string());
}

// ------------------------------------------------------------------ the tokenizer layouts
namespace {

enum class Layout { DebertaV2, XLMRoberta, T5, Albert };

struct Ctx {
  fs::path dir;
  std::string model_file;
  std::optional<TokenizerConfig> config;  // tokenizer_config.json with special_tokens_map.json on top
  std::map<std::string, int32_t> added;   // added_tokens.json
  SpmModelProto proto;
  std::vector<UnigramPiece> vocab;  // the pipeline's vocabulary (ids = positions)
  std::unordered_map<std::string, int32_t> index;
  std::vector<AddedToken> added_tokens;
  // Whitespace the slow tokenizer strips next to each added token: (left neighbour's end, right
  // neighbour's start). Tokens given as plain strings strip both; AddedToken dicts per lstrip/rstrip.
  std::unordered_map<int32_t, std::pair<bool, bool>> neighbor_strip;

  std::optional<AddedToken> special(const std::string& key, const std::string& fallback) const {
    if (config->has(key)) return config->special_token(key, NormalizedFlag::Never);
    if (fallback.empty()) return std::nullopt;
    AddedToken t{};
    t.content = fallback;
    t.special = true;
    t.normalized = false;
    return t;
  }
  std::optional<int32_t> id_of(const std::string& content) const {
    if (auto a = added.find(content); a != added.end()) return a->second;
    auto it = index.find(content);
    if (it != index.end()) return it->second;
    return std::nullopt;
  }
  // Registers a special token; returns its id. plain: given as a string (not an AddedToken dict).
  int32_t add(AddedToken t, bool plain = true) {
    auto id = id_of(t.content);
    if (!id) {
      // Not in the vocabulary: appended after it (transformers' add_tokens).
      auto next = static_cast<int64_t>(vocab.size());
      for (const auto& a : added_tokens) next = std::max(next, int64_t{a.id} + 1);
      if (!is_valid_token_id(next))
        throw Error((dir / "added_tokens.json").string() + ": token \"" + t.content + "\" would get id " +
                    std::to_string(next) + ", above " + std::to_string(kMaxTokenId));
      id = static_cast<int32_t>(next);
    }
    t.id = *id;
    for (const auto& a : added_tokens)
      if (a.content == t.content) return a.id;
    added_tokens.push_back(t);
    neighbor_strip[t.id] = plain ? std::make_pair(true, true) : std::make_pair(t.lstrip, t.rstrip);
    return *id;
  }
};

// Python str.isspace (what str.strip removes).
bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Removes leading / trailing Python whitespace, keeping alignments (as NormalizedString::strip).
void python_strip(NormalizedString& s, bool left, bool right) {
  const std::string& t = s.normalized();
  std::vector<char32_t> chars;
  for (std::size_t i = 0; i < t.size();) chars.push_back(next_char(t, i));
  std::size_t lead = 0, trail = 0;
  if (left)
    while (lead < chars.size() && is_python_space(chars[lead])) ++lead;
  if (right)
    while (trail + lead < chars.size() && is_python_space(chars[chars.size() - 1 - trail])) ++trail;
  if (lead == 0 && trail == 0) return;
  if (lead + trail >= chars.size()) {
    s.normalized_mut().clear();
    s.alignments().clear();
    return;
  }
  std::vector<NormalizedString::Change> cs;
  for (std::size_t i = lead; i + trail < chars.size(); ++i)
    cs.push_back({chars[i], i + trail + 1 == chars.size() ? -static_cast<int>(trail) : 0});
  s.transform(cs, lead);
}

// The slow transformers tokenizers: text between added tokens loses the whitespace next to them
// (tokenize(): left.rstrip() / right.lstrip()), then sentencepiece normalizes each piece.
class SlowSpmPreTokenizer : public PreTokenizer {
 public:
  SlowSpmPreTokenizer(std::unique_ptr<SpmNormalizer> spm, std::unordered_map<int32_t, std::pair<bool, bool>> strip)
      : spm_(std::move(spm)), strip_(std::move(strip)) {}
  void pre_tokenize(PreTokenizedString& pts) const override {
    auto& sp = pts.splits();
    auto flags = [&](const Split& s) -> std::pair<bool, bool> {
      if (!s.tokens || s.tokens->size() != 1) return {false, false};
      auto it = strip_.find((*s.tokens)[0].id);
      return it == strip_.end() ? std::make_pair(true, true) : it->second;
    };
    for (std::size_t i = 0; i < sp.size(); ++i) {
      if (sp[i].tokens) continue;
      bool left = i > 0 && flags(sp[i - 1]).second;
      bool right = i + 1 < sp.size() && flags(sp[i + 1]).first;
      if (left || right) python_strip(sp[i].normalized, left, right);
      if (!sp[i].normalized.empty()) spm_->normalize(sp[i].normalized);
    }
    std::vector<Split> kept;
    kept.reserve(sp.size());
    for (auto& s : sp)
      if (s.tokens || !s.normalized.empty()) kept.push_back(std::move(s));
    sp = std::move(kept);
  }

 private:
  std::unique_ptr<SpmNormalizer> spm_;
  std::unordered_map<int32_t, std::pair<bool, bool>> strip_;
};

Layout pick_layout(const Ctx& c) {
  std::string cls = c.config->get_string("tokenizer_class", "");
  auto has = [&](const char* s) { return cls.find(s) != std::string::npos; };
  if (has("DebertaV2")) return Layout::DebertaV2;
  if (has("XLMRoberta")) return Layout::XLMRoberta;
  if (has("T5") || has("MT5")) return Layout::T5;
  if (has("Albert")) return Layout::Albert;
  if (!cls.empty())
    throw Error(c.config->file_of("tokenizer_class") + ": tokenizer_class \"" + cls +
                "\" is not supported for sentencepiece models (supported: DebertaV2Tokenizer, XLMRobertaTokenizer, "
                "T5Tokenizer, AlbertTokenizer)");
  if (c.model_file == "spm.model") return Layout::DebertaV2;
  if (c.model_file == "sentencepiece.bpe.model") return Layout::XLMRoberta;
  if (c.index.count("[CLS]") && c.index.count("[SEP]")) return Layout::Albert;
  return Layout::T5;
}

// T5's extra_ids (<extra_id_N> tokens); bounded so that a stray value cannot add millions of tokens.
int t5_extra_ids(const TokenizerConfig& config) {
  return static_cast<int>(config.get_int("extra_ids", 100, 0, 100000));
}

std::vector<TemplateProcessing::Piece> tpl(std::initializer_list<std::pair<std::string, int32_t>> items) {
  std::vector<TemplateProcessing::Piece> out;
  for (const auto& [id, type] : items) {
    bool seq = id == "A" || id == "B";
    out.push_back(TemplateProcessing::Piece{!seq, id, type});
  }
  return out;
}

}  // namespace

std::shared_ptr<const TokenizerPipeline> load_sentencepiece_tokenizer(const fs::path& dir) {
  Ctx c;
  c.dir = dir;
  for (const char* f : {"spm.model", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"})
    if (io::model_file_present(dir / f)) {
      c.model_file = f;
      break;
    }
  if (c.model_file.empty())
    throw Error(dir.string() + ": no sentencepiece model (spm.model, spiece.model, sentencepiece.bpe.model, tokenizer.model)");
  const fs::path model_path = dir / c.model_file;
  c.proto = read_spm_model(model_path);
  if (c.proto.model_type != 1)
    throw Error(model_path.string() + ": sentencepiece model_type " + std::to_string(c.proto.model_type) +
                (c.proto.model_type == 2 ? " (BPE)" : "") + " is not supported; only unigram models are");
  c.config.emplace(dir);
  c.added = read_added_tokens_json(dir);
  for (std::size_t i = 0; i < c.proto.pieces.size(); ++i) c.index.emplace(c.proto.pieces[i].piece, static_cast<int32_t>(i));
  const Layout layout = pick_layout(c);

  // Vocabulary in the pipeline's id order.
  if (layout == Layout::XLMRoberta) {
    // fairseq ids: <s>=0 <pad>=1 </s>=2 <unk>=3, then sentencepiece ids + 1, <mask> last.
    if (c.proto.pieces.size() < 3) throw Error(model_path.string() + ": too few pieces for an XLM-R vocabulary");
    c.vocab = {{"<s>", 0.0, PieceType::Control},
               {"<pad>", 0.0, PieceType::Control},
               {"</s>", 0.0, PieceType::Control},
               {"<unk>", 0.0, PieceType::Unknown}};
    for (std::size_t i = 3; i < c.proto.pieces.size(); ++i) c.vocab.push_back(c.proto.pieces[i]);
    c.vocab.push_back({"<mask>", 0.0, PieceType::Control});
  } else {
    c.vocab = c.proto.pieces;
    if (layout == Layout::T5) {
      const int extra = t5_extra_ids(*c.config);
      for (int i = extra - 1; i >= 0; --i) c.vocab.push_back({"<extra_id_" + std::to_string(i) + ">", 0.0, PieceType::Control});
    }
  }
  c.index.clear();
  for (std::size_t i = 0; i < c.vocab.size(); ++i) c.index.emplace(c.vocab[i].piece, static_cast<int32_t>(i));

  std::optional<int32_t> unk_id;
  for (std::size_t i = 0; i < c.vocab.size(); ++i)
    if (c.vocab[i].type == PieceType::Unknown) {
      unk_id = static_cast<int32_t>(i);
      break;
    }

  auto p = std::make_shared<TokenizerPipeline>();
  // Special tokens (split off the raw text before normalization, as the slow tokenizers do).
  std::map<std::string, int32_t> ids;
  auto reg = [&](const std::string& key, const std::string& fallback) -> std::optional<std::pair<std::string, int32_t>> {
    auto t = c.special(key, fallback);
    if (!t) return std::nullopt;
    std::string content = t->content;
    bool plain = !c.config->has(key) || c.config->is_plain_string(key);
    int32_t id = c.add(*t, plain);
    return std::make_pair(content, id);
  };
  std::optional<std::pair<std::string, int32_t>> cls, sep, bos, eos;
  switch (layout) {
    case Layout::DebertaV2:
    case Layout::Albert:
      bos = reg("bos_token", "[CLS]");
      eos = reg("eos_token", "[SEP]");
      reg("unk_token", layout == Layout::Albert ? "<unk>" : "[UNK]");
      sep = reg("sep_token", "[SEP]");
      reg("pad_token", layout == Layout::Albert ? "<pad>" : "[PAD]");
      cls = reg("cls_token", "[CLS]");
      reg("mask_token", "[MASK]");
      break;
    case Layout::XLMRoberta:
      bos = reg("bos_token", "<s>");
      eos = reg("eos_token", "</s>");
      sep = reg("sep_token", "</s>");
      cls = reg("cls_token", "<s>");
      reg("unk_token", "<unk>");
      reg("pad_token", "<pad>");
      reg("mask_token", "<mask>");
      break;
    case Layout::T5: {
      eos = reg("eos_token", "</s>");
      reg("unk_token", "<unk>");
      reg("pad_token", "<pad>");
      const int extra = t5_extra_ids(*c.config);
      for (int i = 0; i < extra; ++i) {
        AddedToken t;
        t.content = "<extra_id_" + std::to_string(i) + ">";
        t.special = true;
        t.normalized = false;
        c.add(t);
      }
      break;
    }
  }
  for (auto& [t, plain] : c.config->additional_special_tokens(NormalizedFlag::Never)) c.add(t, plain);
  // Other entries of added_tokens.json (not special).
  for (const auto& [content, id] : c.added) {
    bool known = false;
    for (const auto& a : c.added_tokens) known = known || a.content == content;
    if (known) continue;
    AddedToken t{};
    t.content = content;
    t.id = id;
    t.special = false;
    t.normalized = false;
    c.added_tokens.push_back(t);
    c.neighbor_strip[t.id] = {true, true};
  }
  std::sort(c.added_tokens.begin(), c.added_tokens.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  p->added_tokens = c.added_tokens;

  // Normalizer: the layout's text preprocessing, then sentencepiece's own normalizer.
  std::vector<std::string> user_defined;
  for (const auto& piece : c.proto.pieces)
    if (piece.type == PieceType::UserDefined) user_defined.push_back(piece.piece);
  auto charsmap = c.proto.precompiled_charsmap.empty()
                      ? std::make_shared<const CharsMap>()
                      : std::make_shared<const CharsMap>(c.proto.precompiled_charsmap, model_path.string() + ": normalizer_spec.precompiled_charsmap");
  std::vector<std::unique_ptr<Normalizer>> norms;
  bool lower = c.config->get_bool("do_lower_case", layout == Layout::Albert);
  if (layout == Layout::Albert) {
    TextPattern a, b;
    a.literal = "``";
    b.literal = "''";
    norms.push_back(std::make_unique<ReplaceNormalizer>(a, "\""));
    norms.push_back(std::make_unique<ReplaceNormalizer>(b, "\""));
    if (!c.config->get_bool("keep_accents", false)) {
      norms.push_back(std::make_unique<UnicodeNormalizer>(UnicodeForm::NFKD));
      norms.push_back(std::make_unique<StripAccentsNormalizer>());
    }
  }
  if (lower && layout != Layout::T5 && layout != Layout::XLMRoberta) norms.push_back(std::make_unique<LowercaseNormalizer>());
  // sentencepiece's normalizer runs in the pre-tokenizer, after the whitespace next to added tokens
  // is stripped (which needs to see the neighbouring splits).
  if (norms.size() == 1) p->normalizer = std::move(norms[0]);
  else if (!norms.empty()) p->normalizer = std::make_unique<SequenceNormalizer>(std::move(norms));
  p->pre_tokenizer = std::make_unique<SlowSpmPreTokenizer>(
      std::make_unique<SpmNormalizer>(charsmap, c.proto.normalizer, user_defined), c.neighbor_strip);

  UnigramModel::Options mo;
  mo.unk_id = unk_id;
  mo.byte_fallback = c.proto.byte_fallback;
  mo.spm = true;
  p->model = std::make_unique<UnigramModel>(std::move(c.vocab), mo, model_path.string());

  // Post-processor.
  std::map<std::string, TemplateProcessing::SpecialTokens> sp;
  auto need = [&](const std::optional<std::pair<std::string, int32_t>>& t, const char* what) {
    if (!t) throw Error(dir.string() + ": the tokenizer needs a " + what + " token");
    sp[t->first] = TemplateProcessing::SpecialTokens{{t->second}, {t->first}};
    return t->first;
  };
  switch (layout) {
    case Layout::DebertaV2:
    case Layout::Albert: {
      std::string C = need(cls, "cls"), S = need(sep, "sep");
      p->post_processor = std::make_unique<TemplateProcessing>(tpl({{C, 0}, {"A", 0}, {S, 0}}),
                                                               tpl({{C, 0}, {"A", 0}, {S, 0}, {"B", 1}, {S, 1}}), sp);
      break;
    }
    case Layout::XLMRoberta: {
      std::string C = need(cls, "cls"), S = need(sep, "sep");
      p->post_processor = std::make_unique<TemplateProcessing>(tpl({{C, 0}, {"A", 0}, {S, 0}}),
                                                               tpl({{C, 0}, {"A", 0}, {S, 0}, {S, 0}, {"B", 0}, {S, 0}}), sp);
      break;
    }
    case Layout::T5: {
      std::string E = need(eos, "eos");
      p->post_processor = std::make_unique<TemplateProcessing>(tpl({{"A", 0}, {E, 0}}), tpl({{"A", 0}, {E, 0}, {"B", 0}, {E, 0}}), sp);
      break;
    }
  }
  (void)bos;

  // Decoder.
  std::vector<std::unique_ptr<Decoder>> decs;
  if (c.proto.byte_fallback) decs.push_back(std::make_unique<ByteFallbackDecoder>());
  decs.push_back(std::make_unique<MetaspaceDecoder>(U'\u2581', c.proto.normalizer.add_dummy_prefix ? PrependScheme::Always : PrependScheme::Never));
  if (decs.size() == 1) p->decoder = std::move(decs[0]);
  else p->decoder = std::make_unique<SequenceDecoder>(std::move(decs));

  p->slow_pair_truncation = true;
  p->finalize();
  return p;
}

}  // namespace embed::text
