#include "text/regex.hpp"

#include <mutex>

#include <oniguruma.h>

#include "embed/error.hpp"

namespace embed::text {

namespace {
void init_onig() {
  static std::once_flag once;
  std::call_once(once, [] {
    OnigEncoding encs[1] = {ONIG_ENCODING_UTF8};
    onig_initialize(encs, 1);
  });
}
}  // namespace

Regex::Regex(const std::string& pattern, const std::string& what) : pattern_(pattern) {
  init_onig();
  regex_t* reg = nullptr;
  OnigErrorInfo einfo;
  const auto* p = reinterpret_cast<const OnigUChar*>(pattern.data());
  int r = onig_new(&reg, p, p + pattern.size(), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8, ONIG_SYNTAX_RUBY, &einfo);
  if (r != ONIG_NORMAL) {
    OnigUChar buf[ONIG_MAX_ERROR_MESSAGE_LEN];
    onig_error_code_to_str(buf, r, &einfo);
    throw Error(what + ": invalid regex " + pattern + ": " + reinterpret_cast<char*>(buf));
  }
  regex_ = reg;
}

Regex::~Regex() {
  if (regex_) onig_free(static_cast<regex_t*>(regex_));
}

std::vector<ByteSpan> Regex::find_all(std::string_view text) const {
  std::vector<ByteSpan> out;
  auto* reg = static_cast<regex_t*>(regex_);
  OnigRegion* region = onig_region_new();
  const auto* s = reinterpret_cast<const OnigUChar*>(text.data());
  const auto* end = s + text.size();
  std::size_t last_end = 0;
  bool have_last = false;
  std::size_t last_match_end = 0;
  while (last_end <= text.size()) {
    onig_region_clear(region);
    int r = onig_search(reg, s, end, s + last_end, end, region, ONIG_OPTION_NONE);
    if (r < 0) break;
    std::size_t ms = static_cast<std::size_t>(region->beg[0]), me = static_cast<std::size_t>(region->end[0]);
    if (ms == me && have_last && last_match_end == me) {
      if (last_end < text.size()) last_end += utf8_len_from_lead(static_cast<unsigned char>(text[last_end]));
      else last_end += 1;
      continue;
    }
    last_end = me;
    have_last = true;
    last_match_end = me;
    out.push_back({ms, me});
  }
  onig_region_free(region, 1);
  return out;
}

std::vector<PatternMatch> Regex::find_matches(std::string_view text) const {
  std::vector<PatternMatch> out;
  if (text.empty()) {
    out.push_back({{0, 0}, false});
    return out;
  }
  std::size_t prev = 0;
  for (auto [s, e] : find_all(text)) {
    if (prev != s) out.push_back({{prev, s}, false});
    out.push_back({{s, e}, true});
    prev = e;
  }
  if (prev != text.size()) out.push_back({{prev, text.size()}, false});
  return out;
}

std::vector<PatternMatch> find_literal_matches(std::string_view text, std::string_view literal) {
  std::vector<PatternMatch> out;
  if (text.empty() || literal.empty()) {
    out.push_back({{0, text.size()}, false});
    return out;
  }
  std::size_t prev = 0, pos = 0;
  while ((pos = text.find(literal, pos)) != std::string_view::npos) {
    if (prev != pos) out.push_back({{prev, pos}, false});
    out.push_back({{pos, pos + literal.size()}, true});
    pos += literal.size();
    prev = pos;
  }
  if (prev != text.size()) out.push_back({{prev, text.size()}, false});
  return out;
}

}  // namespace embed::text
