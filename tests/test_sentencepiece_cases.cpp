// Sentencepiece tokenizers: golden cases (tests/data/tokenizers/<model>/cases.jsonl) for the
// tokenizer.json models with Unigram + Precompiled + Metaspace, and the spm.model loader.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <gtest/gtest.h>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"
#include "support/test_support.hpp"
#include "text/metaspace.hpp"
#include "text/pipeline.hpp"
#include "text/precompiled.hpp"
#include "text/sp_decoders.hpp"
#include "text/spm_loader.hpp"
#include "text/unigram.hpp"
#include "tokenizer_case_check.hpp"

namespace fs = std::filesystem;
using embed::Tokenizer;
using embed::testing::check_tokenizer_cases;
using embed::testing::data_path;

TEST(SentencepieceJson, T5Small) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/t5-small/tokenizer.json"));
  auto r = check_tokenizer_cases("t5-small", tok, 40);
  std::cout << "[tokenizer.json] t5-small: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

TEST(SentencepieceJson, ParaphraseAlbertSmallV2) {
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/paraphrase-albert-small-v2/tokenizer.json"));
  auto r = check_tokenizer_cases("paraphrase-albert-small-v2", tok, 40);
  std::cout << "[tokenizer.json] paraphrase-albert-small-v2: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

namespace {

// A copy of tests/data/<rel> without tokenizer.json (and the golden files), so the loader is used.
fs::path copy_without_tokenizer_json(const std::string& rel, const std::string& tag) {
  fs::path src = data_path(rel);
  fs::path dst = embed::testing::make_temp_dir(tag);
  for (const auto& e : fs::directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    auto name = e.path().filename().string();
    if (name == "tokenizer.json" || name == "cases.jsonl" || name == "cases.meta.json" || name.rfind("expected", 0) == 0 ||
        name.find(".safetensors") != std::string::npos)
      continue;
    fs::copy_file(e.path(), dst / name);
  }
  return dst;
}

}  // namespace

// deberta-v3-xsmall ships spm.model only; its golden cases come from sentencepiece 0.1.97 with the
// slow DebertaV2Tokenizer rules (offsets = sentencepiece surface spans).
TEST(SentencepieceLoader, DebertaV3XsmallSpmModel) {
  auto tok = Tokenizer::from_directory(copy_without_tokenizer_json("tokenizers/deberta-v3-xsmall", "spm-deberta"));
  auto r = check_tokenizer_cases("deberta-v3-xsmall", tok, 40);
  std::cout << "[spm.model] deberta-v3-xsmall: " << r.passed << "/" << r.total << " cases pass\n";
  EXPECT_EQ(r.failed, 0u) << r.report;
}

// t5-small through spiece.model: plain sentencepiece ids must equal the golden (Rust) ids wherever
// cases.meta.json's spm_crosscheck says sentencepiece and tokenizers agree.
TEST(SentencepieceLoader, T5SmallSpieceModelIdsWhereSentencepieceAgrees) {
  auto dir = copy_without_tokenizer_json("tokenizers/t5-small", "spm-t5");
  auto tok = Tokenizer::from_directory(dir);
  auto meta = embed::testing::read_json_file(data_path("tokenizers/t5-small/cases.meta.json"));
  std::set<std::string> differ;
  for (const auto& id : meta["spm_crosscheck"]["id_mismatches"]) differ.insert(id.get<std::string>());
  ASSERT_FALSE(differ.empty());
  auto cases = embed::testing::read_jsonl_file(data_path("tokenizers/t5-small/cases.jsonl"));
  std::size_t checked = 0, passed = 0;
  for (const auto& c : cases) {
    std::string id = c["id"].get<std::string>();
    if (c["kind"].get<std::string>().find("trunc") != std::string::npos) continue;  // compared untruncated
    if (differ.count(id)) continue;
    ++checked;
    auto e = c.contains("text2") && !c["text2"].is_null()
                 ? tok.encode_pair(c["text"].get<std::string>(), c["text2"].get<std::string>())
                 : tok.encode(c["text"].get<std::string>());
    bool ok = nlohmann::json(e.ids) == c["ids"] && nlohmann::json(e.type_ids) == c["type_ids"] &&
              nlohmann::json(e.special_tokens_mask) == c["special_tokens_mask"];
    EXPECT_TRUE(ok) << id << ": ids " << nlohmann::json(e.ids).dump() << " expected " << c["ids"].dump();
    passed += ok;
  }
  std::cout << "[spiece.model] t5-small: " << passed << "/" << checked << " cases (where sentencepiece agrees) pass\n";
  EXPECT_GT(checked, 300u);
}

// tests/data/models/<m>/expected.json (reference: the slow transformers tokenizer = sentencepiece).
// Through tokenizer.json the Rust library's ids are expected (fast_input_ids where they differ).
void check_model_fixture(const std::string& model, bool use_loader) {
  fs::path dir = data_path("models/" + model);
  auto expected = embed::testing::read_json_file(dir / "expected.json");
  Tokenizer tok = use_loader ? Tokenizer::from_directory(copy_without_tokenizer_json("models/" + model, "spm-fixture-" + model))
                             : Tokenizer::from_tokenizer_json(dir / "tokenizer.json");
  embed::TokenizeOptions opt;
  embed::TruncationOptions trunc;
  trunc.max_length = expected["pipeline"]["max_seq_length"].get<std::size_t>();
  opt.truncation = trunc;
  std::size_t checked = 0, passed = 0;
  for (const auto& item : expected["texts"]) {
    std::string text = item.contains("input_text") ? item["input_text"].get<std::string>() : item["text"].get<std::string>();
    auto e = tok.encode(text, opt);
    const auto& want_ids = (!use_loader && item.contains("fast_input_ids")) ? item["fast_input_ids"] : item["input_ids"];
    const auto& want_tokens = (!use_loader && item.contains("fast_tokens")) ? item["fast_tokens"] : item["tokens"];
    bool ok = nlohmann::json(e.ids) == want_ids && nlohmann::json(e.tokens) == want_tokens &&
              nlohmann::json(e.special_tokens_mask) == item["special_tokens_mask"] &&
              nlohmann::json(e.attention_mask) == item["attention_mask"];
    if (!item["token_type_ids"].is_null()) ok = ok && nlohmann::json(e.type_ids) == item["token_type_ids"];
    EXPECT_TRUE(ok) << model << (use_loader ? " (spm loader)" : " (tokenizer.json)") << " text " << item["index"] << ": got "
                    << nlohmann::json(e.tokens).dump() << " " << nlohmann::json(e.ids).dump() << "\nexpected "
                    << want_tokens.dump() << " " << want_ids.dump();
    ++checked;
    passed += ok;
  }
  std::cout << "[" << (use_loader ? "spm loader" : "tokenizer.json") << "] models/" << model << ": " << passed << "/"
            << checked << " texts pass\n";
  EXPECT_GT(checked, 0u);
}

TEST(SentencepieceModelFixtures, DebertaV3TinySpmModel) { check_model_fixture("deberta-v3-tiny", true); }
TEST(SentencepieceModelFixtures, MultilingualTinyTokenizerJson) { check_model_fixture("multilingual-tiny", false); }
TEST(SentencepieceModelFixtures, MultilingualTinySentencepieceBpeModel) { check_model_fixture("multilingual-tiny", true); }

// ---------------------------------------------------------------- unit tests
using embed::text::NormalizedString;
using embed::text::PieceType;
using embed::text::UnigramModel;
using embed::text::UnigramPiece;

namespace {
std::vector<std::string> values(const std::vector<embed::text::Token>& t) {
  std::vector<std::string> v;
  for (const auto& x : t) v.push_back(x.value);
  return v;
}
std::vector<int32_t> ids_of(const std::vector<embed::text::Token>& t) {
  std::vector<int32_t> v;
  for (const auto& x : t) v.push_back(x.id);
  return v;
}
std::vector<UnigramPiece> tiny_vocab() {
  return {{"<unk>", 0.0, PieceType::Unknown}, {"a", -2.0, PieceType::Normal},  {"b", -2.0, PieceType::Normal},
          {"ab", -3.0, PieceType::Normal},    {"abc", -10.0, PieceType::Normal}, {"c", -5.0, PieceType::Normal},
          {"<0x64>", 0.0, PieceType::Byte},   {"bc", -6.5, PieceType::Normal}};
}
}  // namespace

TEST(UnigramUnit, ViterbiPicksBestSegmentation) {
  UnigramModel::Options o;
  o.unk_id = 0;
  UnigramModel m(tiny_vocab(), o);
  // a+b+c = -9, ab+c = -8, a+bc = -8.5, abc = -10
  auto t = m.tokenize("abc");
  EXPECT_EQ(values(t), (std::vector<std::string>{"ab", "c"}));
  EXPECT_EQ(ids_of(t), (std::vector<int32_t>{3, 5}));
  EXPECT_EQ(t[1].offsets, (embed::text::ByteSpan{2, 3}));
  EXPECT_TRUE(m.tokenize("").empty());
}

TEST(UnigramUnit, UnknownCharsAreFusedWithTheUnkPenalty) {
  UnigramModel::Options o;
  o.unk_id = 0;
  UnigramModel m(tiny_vocab(), o);
  // 'x' and 'é' have no piece: one fused unk token carrying the original text.
  auto t = m.tokenize("xé\xc3\xa9" "ab");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].id, 0);
  EXPECT_EQ(t[0].value, "x\xc3\xa9\xc3\xa9");
  EXPECT_EQ(t[0].offsets, (embed::text::ByteSpan{0, 5}));
  EXPECT_EQ(t[1].value, "ab");
  // unk costs min_score - 10 = -20: "d" (unknown) + "c" is worse than nothing else possible.
  UnigramModel::Options none;
  UnigramModel no_unk(tiny_vocab(), none);
  EXPECT_THROW(no_unk.tokenize("x"), embed::Error);
}

TEST(UnigramUnit, ByteFallback) {
  UnigramModel::Options o;
  o.unk_id = 0;
  o.byte_fallback = true;
  UnigramModel m(tiny_vocab(), o);
  auto t = m.tokenize("dab");
  EXPECT_EQ(values(t), (std::vector<std::string>{"<0x64>", "ab"}));
  EXPECT_EQ(t[0].id, 6);
  // a byte without a piece: the whole unknown string becomes unk
  auto u = m.tokenize("xa");
  EXPECT_EQ(ids_of(u), (std::vector<int32_t>{0, 1}));
  // sentencepiece mode: byte pieces are not matchable as text, every byte gets its own span
  o.spm = true;
  UnigramModel s(tiny_vocab(), o);
  auto v = s.tokenize("\xc3\xa9");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].value, "<0xC3>");
  EXPECT_EQ(v[0].id, 0);  // no <0xC3> piece -> unk
  EXPECT_EQ(v[1].offsets, (embed::text::ByteSpan{1, 2}));
  EXPECT_EQ(ids_of(s.tokenize("<0x64>")).size(), 6u);  // "<0x64>" is not a matchable piece in spm mode
}

TEST(UnigramUnit, TieBreakingFollowsEachLibrary) {
  // "aa" = a + a (-2 + -2) = aa (-4): an exact tie. tokenizers keeps the first candidate found for
  // an end position (the longer piece starting earlier); so does sentencepiece when the sums are exact.
  std::vector<UnigramPiece> v = {{"<unk>", 0, PieceType::Unknown}, {"a", -2, PieceType::Normal}, {"aa", -4, PieceType::Normal}};
  UnigramModel::Options o;
  o.unk_id = 0;
  EXPECT_EQ(values(UnigramModel(v, o).tokenize("aa")), (std::vector<std::string>{"aa"}));
  o.spm = true;
  EXPECT_EQ(values(UnigramModel(v, o).tokenize("aa")), (std::vector<std::string>{"aa"}));
}

TEST(UnigramUnit, SpmModeSkipsControlAndUnusedPieces) {
  std::vector<UnigramPiece> v = {{"<unk>", 0, PieceType::Unknown}, {"<s>", 0, PieceType::Control},
                                 {"a", -2, PieceType::Normal},     {"b", -2, PieceType::Unused},
                                 {"ab", -1, PieceType::Unused},    {"<", -3, PieceType::Normal}};
  UnigramModel::Options o;
  o.unk_id = 0;
  o.spm = true;
  UnigramModel m(v, o);
  auto t = m.tokenize("ab<s>");
  // b is unused -> unknown; "s>" unknown too, and unknown runs are merged
  EXPECT_EQ(values(t), (std::vector<std::string>{"a", "b", "<", "s>"}));
  EXPECT_EQ(ids_of(t), (std::vector<int32_t>{2, 0, 5, 0}));
}

namespace {
std::shared_ptr<const embed::text::CharsMap> t5_charsmap() {
  auto j = embed::testing::read_json_file(data_path("tokenizers/t5-small/tokenizer.json"));
  std::string b64 = j["normalizer"]["precompiled_charsmap"].get<std::string>();
  return std::make_shared<const embed::text::CharsMap>(embed::text::base64_decode(b64, "t5"), "t5");
}
}  // namespace

TEST(PrecompiledUnit, CharsmapFromFixture) {
  auto map = t5_charsmap();
  embed::text::PrecompiledNormalizer n(map);
  EXPECT_EQ(n.normalize_string("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3"), "ABC");  // fullwidth ABC (NFKC)
  EXPECT_EQ(n.normalize_string("\xef\xac\x81x"), "fix");                         // U+FB01 ligature
  EXPECT_EQ(n.normalize_string("plain text"), "plain text");
  EXPECT_EQ(n.normalize_string("e\xcc\x81"), "\xc3\xa9");  // e + U+0301 composed as one grapheme
  // Offsets: "ﬁx" -> "fix"; 'f' and 'i' both come from the 3-byte ligature.
  NormalizedString s("\xef\xac\x81x");
  n.normalize(s);
  EXPECT_EQ(s.normalized(), "fix");
  EXPECT_EQ(s.original_span(0, 1), (embed::text::ByteSpan{0, 3}));
  EXPECT_EQ(s.original_span(2, 3), (embed::text::ByteSpan{3, 4}));
  // longest vs shortest rule lookup agree on single chars
  auto l = map->longest("\xef\xbc\xa1rest");
  EXPECT_EQ(l.second, 3u);
  EXPECT_EQ(std::string(l.first), "A");
  EXPECT_EQ(map->longest("abc").second, 0u);
}

TEST(PrecompiledUnit, SentencepieceNormalizerWhitespaceAndOffsets) {
  embed::text::SpmNormalizer n(t5_charsmap(), embed::text::SpmNormalizerSpec{});
  std::string out;
  std::vector<std::size_t> n2o;
  n.normalize_raw("  Hello \xef\xbc\xa1  world ", out, n2o);
  EXPECT_EQ(out, "\xe2\x96\x81Hello\xe2\x96\x81" "A\xe2\x96\x81world");
  ASSERT_EQ(n2o.size(), out.size() + 1);
  EXPECT_EQ(n2o[0], 2u);   // dummy prefix maps to the first kept char
  EXPECT_EQ(n2o.back(), 18u);  // trailing space dropped
  NormalizedString s("  Hello \xef\xbc\xa1  world ");
  n.normalize(s);
  EXPECT_EQ(s.normalized(), out);
  // "▁world" -> original [11, 18): the first space of the collapsed run (the rest are dropped), then "world"
  std::size_t w = out.find("\xe2\x96\x81world");
  EXPECT_EQ(s.original_span(w, out.size()), (embed::text::ByteSpan{11, 18}));
  n.normalize_raw("   ", out, n2o);
  EXPECT_TRUE(out.empty());
}

TEST(SpDecoders, MetaspaceByteFallbackFuseStrip) {
  embed::text::ByteFallbackDecoder bf;
  // an invalid run gives one U+FFFD per byte
  EXPECT_EQ(bf.decode_chain({"a", "<0xC3>", "<0xFF>", "b"}),
            (std::vector<std::string>{"a", "\xef\xbf\xbd", "\xef\xbf\xbd", "b"}));
  EXPECT_EQ(bf.decode_chain({"<0xC3>", "<0xA9>", "x"}), (std::vector<std::string>{"\xc3\xa9", "x"}));
  EXPECT_EQ(bf.decode_chain({"<0xC3>", "x"}), (std::vector<std::string>{"\xef\xbf\xbd", "x"}));
  embed::text::FuseDecoder fuse;
  EXPECT_EQ(fuse.decode_chain({"a", "b", "c"}), (std::vector<std::string>{"abc"}));
  embed::text::StripDecoder strip(U' ', 1, 0);
  EXPECT_EQ(strip.decode_chain({"  a ", "b"}), (std::vector<std::string>{" a ", "b"}));
  embed::text::MetaspaceDecoder ms(U'\u2581', embed::text::PrependScheme::Always);
  EXPECT_EQ(ms.decode_chain({"\xe2\x96\x81Hello", "\xe2\x96\x81world"}), (std::vector<std::string>{"Hello", " world"}));
  auto tok = Tokenizer::from_tokenizer_json(data_path("tokenizers/t5-small/tokenizer.json"));
  auto e = tok.encode("Hello world, how are you?");
  EXPECT_EQ(tok.decode(e.ids, true), "Hello world, how are you?");
}

TEST(SentencepieceLoader, ProtoFieldsAndErrors) {
  auto m = embed::text::read_spm_model(data_path("tokenizers/deberta-v3-xsmall/spm.model"));
  EXPECT_EQ(m.pieces.size(), 128000u);
  EXPECT_TRUE(m.byte_fallback);
  EXPECT_EQ(m.model_type, 1);
  EXPECT_FALSE(m.precompiled_charsmap.empty());
  EXPECT_EQ(m.pieces[0].piece, "[PAD]");
  EXPECT_EQ(m.pieces[0].type, PieceType::Control);
  auto t5 = embed::text::read_spm_model(data_path("tokenizers/t5-small/spiece.model"));
  EXPECT_FALSE(t5.byte_fallback);
  EXPECT_EQ(t5.pieces[2].piece, "<unk>");
  EXPECT_EQ(t5.pieces[2].type, PieceType::Unknown);
  std::string bad = "\x0a\xff\xff\xff\x0f";
  try {
    embed::text::parse_spm_model_proto(bad, "x.model");
    FAIL() << "expected an error";
  } catch (const embed::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.model: malformed sentencepiece model"), std::string::npos) << e.what();
  }
  auto tok = Tokenizer::from_directory(copy_without_tokenizer_json("tokenizers/deberta-v3-xsmall", "spm-deberta-api"));
  EXPECT_EQ(tok.token_to_id("[MASK]"), 128000);
  EXPECT_EQ(tok.token_to_id("[CLS]"), 1);
  EXPECT_EQ(tok.num_special_tokens_to_add(false), 2u);
  EXPECT_EQ(tok.num_special_tokens_to_add(true), 3u);
  EXPECT_EQ(tok.vocab_size(), 128001u);  // transformers: len(DebertaV2Tokenizer)
  auto xlmr = Tokenizer::from_directory(copy_without_tokenizer_json("models/multilingual-tiny", "spm-xlmr-api"));
  EXPECT_EQ(xlmr.vocab_size(), 852u);
  EXPECT_EQ(xlmr.token_to_id("<mask>"), 851);
  EXPECT_EQ(xlmr.token_to_id("<pad>"), 1);
  EXPECT_EQ(xlmr.num_special_tokens_to_add(true), 4u);
  auto t5tok = Tokenizer::from_directory(copy_without_tokenizer_json("tokenizers/t5-small", "spm-t5-api"));
  EXPECT_EQ(t5tok.vocab_size(), 32100u);
  EXPECT_EQ(t5tok.token_to_id("<extra_id_0>"), 32099);
  EXPECT_EQ(t5tok.token_to_id("<extra_id_99>"), 32000);
  auto e = tok.encode("Hello world \xf0\x90\x8c\xb1!");
  EXPECT_EQ(tok.decode(e.ids, true), "Hello world \xf0\x90\x8c\xb1!");
}

// ---------------------------------------------------------------- libsentencepiece cross-check
namespace {
struct SpmPiece {
  int id;
  std::size_t begin, end;
};
uint64_t read_varint(const std::string& s, std::size_t& i) {
  uint64_t v = 0;
  for (int sh = 0; i < s.size(); sh += 7) {
    auto b = static_cast<unsigned char>(s[i++]);
    v |= static_cast<uint64_t>(b & 0x7F) << sh;
    if (!(b & 0x80)) break;
  }
  return v;
}
// SentencePieceText {2: repeated SentencePiece {2: id, 4: begin, 5: end}}
std::vector<SpmPiece> parse_spt(const std::string& s) {
  std::vector<SpmPiece> out;
  std::size_t i = 0;
  while (i < s.size()) {
    uint64_t key = read_varint(s, i);
    int wire = key & 7;
    if (wire == 0) {
      read_varint(s, i);
    } else if (wire == 5) {
      i += 4;
    } else if (wire == 2) {
      std::size_t n = read_varint(s, i);
      if ((key >> 3) == 2) {
        std::string m = s.substr(i, n);
        SpmPiece p{0, 0, 0};
        std::size_t k = 0;
        while (k < m.size()) {
          uint64_t kk = read_varint(m, k);
          int w = kk & 7, f = static_cast<int>(kk >> 3);
          if (w == 0) {
            uint64_t v = read_varint(m, k);
            if (f == 2) p.id = static_cast<int>(v);
            if (f == 4) p.begin = v;
            if (f == 5) p.end = v;
          } else if (w == 2) {
            k += read_varint(m, k);
          } else if (w == 5) {
            k += 4;
          }
        }
        out.push_back(p);
      }
      i += n;
    }
  }
  return out;
}

// The loader's text path without added tokens: its normalizer, then its pre-tokenizer (which runs
// sentencepiece's normalizer on the single split).
NormalizedString spm_normalize(const embed::text::TokenizerPipeline& p, const std::string& text) {
  NormalizedString ns(text);
  if (p.normalizer) p.normalizer->normalize(ns);
  std::vector<embed::text::Split> v;
  v.push_back(embed::text::Split{std::move(ns), std::nullopt});
  embed::text::PreTokenizedString pts(std::move(v));
  if (p.pre_tokenizer) p.pre_tokenizer->pre_tokenize(pts);
  if (pts.splits().empty()) return NormalizedString();
  EXPECT_EQ(pts.splits().size(), 1u);
  return std::move(pts.splits()[0].normalized);
}

// The loader's normalizer + model on `text`: ids with their byte spans in the original text.
std::vector<SpmPiece> loader_pieces(const embed::text::TokenizerPipeline& p, const std::string& text) {
  NormalizedString ns = spm_normalize(p, text);
  std::vector<SpmPiece> pieces;
  for (const auto& t : p.model->tokenize(ns.normalized())) {
    auto span = ns.original_span(t.offsets.first, t.offsets.second);
    pieces.push_back(SpmPiece{t.id, span.first, span.second});
  }
  return pieces;
}

bool same_pieces(const std::vector<SpmPiece>& a, const std::vector<SpmPiece>& b) {
  bool same = a.size() == b.size();
  for (std::size_t i = 0; same && i < a.size(); ++i)
    same = a[i].id == b[i].id && a[i].begin == b[i].begin && a[i].end == b[i].end;
  return same;
}
}  // namespace

// Every text of the golden cases, plus some edge cases, through libsentencepiece (the reference of
// the loader) and through the loader's normalizer + model: same ids, same byte spans.
TEST(SentencepieceLoader, AgreesWithLibsentencepiece) {
  struct M {
    const char* dir;
    const char* file;
    const char* cases;
  };
  for (M m : {M{"tokenizers/deberta-v3-xsmall", "spm.model", "deberta-v3-xsmall"}, M{"tokenizers/t5-small", "spiece.model", "t5-small"},
              M{"tokenizers/t5-small", "spiece.model", "paraphrase-albert-small-v2"}}) {
    sentencepiece::SentencePieceProcessor sp;
    ASSERT_TRUE(sp.Load((data_path(m.dir) / m.file).string()).ok());
    auto tok = Tokenizer::from_directory(copy_without_tokenizer_json(m.dir, std::string("spm-x-") + m.file));
    const auto& p = tok.pipeline();
    std::vector<std::string> texts = {"", " ", "a", "  many   spaces\there  ", "\xe2\x80\x83\xe3\x80\x80x", "a\xcc\x81\xcc\x81",
                                      "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", "\xef\xac\x81\xef\xac\x82 \xe2\x91\xa0\xe3\x8d\xbf"};
    for (const auto& c : embed::testing::read_jsonl_file(data_path(std::string("tokenizers/") + m.cases + "/cases.jsonl"))) {
      texts.push_back(c["text"].get<std::string>());
      if (c.contains("text2") && !c["text2"].is_null()) texts.push_back(c["text2"].get<std::string>());
    }
    std::size_t n = 0, same = 0;
    for (const auto& text : texts) {
      // Only the model + normalizer (the loader's special-token splitting is not sentencepiece's).
      const auto got = loader_pieces(p, text);
      const auto want = parse_spt(sp.EncodeAsSerializedProto(text));
      const bool ok = same_pieces(got, want);
      ++n;
      same += ok;
      if (!ok) {
        std::string g, w;
        for (auto x : got) g += std::to_string(x.id) + "[" + std::to_string(x.begin) + "," + std::to_string(x.end) + ") ";
        for (auto x : want) w += std::to_string(x.id) + "[" + std::to_string(x.begin) + "," + std::to_string(x.end) + ") ";
        ADD_FAILURE() << m.file << ": " << nlohmann::json(text).dump() << "\n got  " << g << "\n want " << w;
      }
    }
    std::cout << "[libsentencepiece] " << m.file << " (" << m.cases << " texts): " << same << "/" << n << " agree\n";
  }
}

// ---------------------------------------------------------------- synthetic tokenizer.json variants
// tests/data/tokenizers/sp_synthetic: Metaspace prepend schemes / split, legacy fields, Unigram with
// byte_fallback over the deberta vocabulary, and the Replace/ByteFallback/Fuse/Strip decoders; golden
// outputs (encode and decode) from Hugging Face tokenizers (make_cases.js there).
namespace {
std::string base64_encode(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out.push_back(tbl[(v >> (6 * k)) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out.push_back(tbl[(v >> 18) & 63]);
    out.push_back(tbl[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}
}  // namespace

TEST(SentencepieceSynthetic, VariantsMatchHuggingFaceTokenizers) {
  auto variants = embed::testing::read_json_file(data_path("tokenizers/sp_synthetic/variants.json"));
  auto cases = embed::testing::read_jsonl_file(data_path("tokenizers/sp_synthetic/cases.jsonl"));
  auto dir = embed::testing::make_temp_dir("sp-synthetic");
  for (auto it = variants.begin(); it != variants.end(); ++it) {
    const std::string name = it.key();
    const auto& v = it.value();
    auto j = embed::testing::read_json_file(data_path("tokenizers/" + v["base"].get<std::string>() + "/tokenizer.json"));
    std::string ov = v["override"].dump();
    if (v.contains("unigram_from_spm")) {
      auto m = embed::text::read_spm_model(data_path("tokenizers/" + v["unigram_from_spm"].get<std::string>()));
      std::string b64 = base64_encode(m.precompiled_charsmap);
      for (std::size_t p; (p = ov.find("$SPM_CHARSMAP")) != std::string::npos;) ov.replace(p, 13, b64);
      nlohmann::json vocab = nlohmann::json::array();
      for (const auto& piece : m.pieces) vocab.push_back({piece.piece, piece.score});
      j["model"] = {{"type", "Unigram"}, {"unk_id", 3}, {"vocab", vocab}, {"byte_fallback", true}};
    }
    for (auto o = nlohmann::json::parse(ov); auto& [k, val] : o.items()) j[k] = val;
    fs::path file = dir / (name + ".json");
    std::ofstream(file) << j.dump();
    auto tok = Tokenizer::from_tokenizer_json(file);
    std::vector<nlohmann::json> mine;
    for (const auto& c : cases)
      if (c["variant"] == name) mine.push_back(c);
    ASSERT_FALSE(mine.empty()) << name;
    auto r = embed::testing::check_tokenizer_case_list(mine, tok, 20);
    std::size_t decode_ok = 0;
    for (const auto& c : mine) {
      auto ids = c["ids"].get<std::vector<int32_t>>();
      std::string d = tok.decode(ids, false), ds = tok.decode(ids, true);
      bool ok = d == c["decoded"].get<std::string>() && ds == c["decoded_skip_special"].get<std::string>();
      decode_ok += ok;
      EXPECT_TRUE(ok) << name << " " << c["id"] << ": decode " << nlohmann::json(d).dump() << " / " << nlohmann::json(ds).dump()
                      << " expected " << c["decoded"].dump() << " / " << c["decoded_skip_special"].dump();
    }
    std::cout << "[sp_synthetic] " << name << ": " << r.passed << "/" << r.total << " cases pass, " << decode_ok << "/"
              << mine.size() << " decodes\n";
    EXPECT_EQ(r.failed, 0u) << name << "\n" << r.report;
  }
}

// Models trained here with libsentencepiece's trainer exercise options the fixtures do not:
// user-defined symbols, byte fallback, no dummy prefix, kept whitespace, nfkc_cf, control symbols.
TEST(SentencepieceLoader, TrainedModelsAgreeWithLibsentencepiece) {
  auto dir = embed::testing::make_temp_dir("spm-trained");
  std::vector<std::string> texts;
  for (const auto& c : embed::testing::read_jsonl_file(data_path("tokenizers/deberta-v3-xsmall/cases.jsonl"))) {
    texts.push_back(c["text"].get<std::string>());
    if (c.contains("text2") && !c["text2"].is_null()) texts.push_back(c["text2"].get<std::string>());
  }
  {
    std::ofstream corpus(dir / "corpus.txt");
    for (auto t : texts) {
      for (auto& ch : t)
        if (ch == '\n' || ch == '\r') ch = ' ';
      corpus << t << "\n";
    }
  }
  const std::vector<std::string> extra = {"foo bar <sep> abab fooab", "xx<sep>yy", "a  foo  b", "  ab ab  ", "<ctl> x", ""};
  struct Variant {
    const char* name;
    const char* flags;
  };
  for (Variant v : {Variant{"ud_bytes", "--user_defined_symbols=<sep>,foo,ab --byte_fallback=true"},
                    Variant{"raw_ws", "--user_defined_symbols=<sep>,foo --control_symbols=<ctl> --remove_extra_whitespaces=false "
                                      "--add_dummy_prefix=false --normalization_rule_name=nfkc_cf"}}) {
    fs::path md = dir / v.name;
    fs::create_directories(md);
    std::string args = "--input=" + (dir / "corpus.txt").string() + " --model_prefix=" + (md / "spm").string() +
                       " --vocab_size=800 --hard_vocab_limit=false --model_type=unigram --character_coverage=0.98 "
                       "--minloglevel=2 " + v.flags;
    auto st = sentencepiece::SentencePieceTrainer::Train(args);
    ASSERT_TRUE(st.ok()) << st.ToString();
    std::ofstream(md / "tokenizer_config.json") << R"({"tokenizer_class": "DebertaV2Tokenizer"})";
    sentencepiece::SentencePieceProcessor sp;
    ASSERT_TRUE(sp.Load((md / "spm.model").string()).ok());
    auto tok = Tokenizer::from_directory(md);
    const auto& p = tok.pipeline();
    std::size_t n = 0, same = 0;
    auto all = texts;
    all.insert(all.end(), extra.begin(), extra.end());
    for (const auto& text : all) {
      const bool ok = same_pieces(loader_pieces(p, text), parse_spt(sp.EncodeAsSerializedProto(text)));
      ++n;
      same += ok;
      EXPECT_TRUE(ok) << v.name << ": " << nlohmann::json(text).dump();
    }
    std::cout << "[libsentencepiece, trained " << v.name << "] " << same << "/" << n << " agree\n";
  }
}

// The slow tokenizers strip Python whitespace next to special tokens before sentencepiece sees the
// text; U+0085 is the one such char sentencepiece itself keeps (as bytes).
TEST(SentencepieceLoader, WhitespaceNextToSpecialTokensIsStrippedLikeTheSlowTokenizer) {
  auto tok = Tokenizer::from_directory(copy_without_tokenizer_json("tokenizers/deberta-v3-xsmall", "spm-deberta-strip"));
  auto a = tok.encode("[CLS]\xc2\x85hello\xc2\x85[SEP]");
  auto b = tok.encode("[CLS]hello[SEP]");
  EXPECT_EQ(a.ids, b.ids);
  ASSERT_EQ(a.ids.size(), 5u);
  EXPECT_EQ(a.offsets[2], (embed::Offsets{6, 11}));  // "▁hello" starts at the 'h'
  // without a special token next to it, U+0085 stays (byte pieces)
  auto c = tok.encode("hello\xc2\x85");
  EXPECT_GT(c.ids.size(), 3u);
}
