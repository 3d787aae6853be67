// Metaspace pre-tokenizer / decoder.
#include "text/metaspace.hpp"

#include "text/components.hpp"
#include "text/regex.hpp"
#include "text/tokenizer_json.hpp"
#include "text/unicode.hpp"

namespace embed::text {

MetaspacePreTokenizer::MetaspacePreTokenizer(char32_t replacement, PrependScheme scheme, bool split)
    : replacement_(replacement), str_rep_(to_utf8(replacement)), scheme_(scheme), split_(split) {}

// ' ' -> replacement in one pass. Same result as tokenizers' NormalizedString::replace(' ', rep):
// every byte of a replacement carries the alignment of the space it replaces.
void MetaspacePreTokenizer::replace_spaces(NormalizedString& n) const {
  const std::string& src = n.normalized();
  std::size_t spaces = 0;
  for (char ch : src) spaces += ch == ' ';
  if (spaces == 0) return;
  const auto& al = n.alignments();
  std::string out;
  std::vector<ByteSpan> nal;
  out.reserve(src.size() + spaces * (str_rep_.size() - 1));
  nal.reserve(out.capacity());
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (src[i] == ' ') {
      out += str_rep_;
      nal.insert(nal.end(), str_rep_.size(), al[i]);
    } else {
      out.push_back(src[i]);
      nal.push_back(al[i]);
    }
  }
  n.normalized_mut() = std::move(out);
  n.alignments() = std::move(nal);
}

void MetaspacePreTokenizer::pre_tokenize(PreTokenizedString& pts) const {
  pts.split([&](NormalizedString&& n) {
    replace_spaces(n);
    bool starts = n.normalized().compare(0, str_rep_.size(), str_rep_) == 0;
    if (scheme_ == PrependScheme::Always) {
      if (!starts) n.prepend(str_rep_);
    } else if (scheme_ == PrependScheme::First) {
      if (!starts && n.original_shift() == 0) n.prepend(str_rep_);
    }
    std::vector<NormalizedString> out;
    if (split_) {
      auto matches = find_literal_matches(n.normalized(), str_rep_);
      out = split_normalized(n, matches, SplitBehavior::MergedWithNext);
    } else {
      out.push_back(std::move(n));
    }
    return out;
  });
}

std::vector<std::string> MetaspaceDecoder::decode_chain(std::vector<std::string> tokens) const {
  std::vector<std::string> out;
  out.reserve(tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string t;
    const std::string& s = tokens[i];
    for (std::size_t k = 0; k < s.size();) {
      char32_t c = next_char(s, k);
      if (c == replacement_) {
        if (i == 0 && scheme_ != PrependScheme::Never) continue;
        t.push_back(' ');
      } else {
        append_utf8(t, c);
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

namespace {
char32_t parse_replacement(const JsonNode& n) {
  std::string r = n.get_string("replacement", "\xe2\x96\x81");
  if (r.empty()) n.child("replacement").fail("expected one character, found an empty string");
  std::size_t i = 0;
  char32_t c = next_char(r, i);
  if (i != r.size()) n.child("replacement").fail("expected one character, found \"" + r + "\"");
  return c;
}
PrependScheme parse_scheme(const JsonNode& n) {
  if (n.has("prepend_scheme")) {
    std::string s = n.get_string("prepend_scheme");
    if (s == "always") return PrependScheme::Always;
    if (s == "first") return PrependScheme::First;
    if (s == "never") return PrependScheme::Never;
    n.child("prepend_scheme").fail("unknown prepend_scheme \"" + s + "\" (expected always, first or never)");
  }
  return n.get_bool("add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
}
}  // namespace

std::unique_ptr<PreTokenizer> build_metaspace_pre_tokenizer(const JsonNode& n) {
  return std::make_unique<MetaspacePreTokenizer>(parse_replacement(n), parse_scheme(n), n.get_bool("split", true));
}
std::unique_ptr<Decoder> build_metaspace_decoder(const JsonNode& n) {
  return std::make_unique<MetaspaceDecoder>(parse_replacement(n), parse_scheme(n));
}

}  // namespace embed::text
