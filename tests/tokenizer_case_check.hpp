#pragma once
// Checks a tokenizer against the golden cases in tests/data/tokenizers/<model>/cases.jsonl
// (produced by Hugging Face tokenizers), field by field. Header-only so any test can use it:
//   auto r = embed::testing::check_tokenizer_cases("t5-small", tokenizer);
//   EXPECT_EQ(r.failed, 0u) << r.report;
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "embed/error.hpp"
#include "embed/tokenizer.hpp"
#include "support/test_support.hpp"

namespace embed::testing {

struct CaseCheckResult {
  std::size_t total = 0, passed = 0, failed = 0;
  std::string report;  // the first mismatches, one per line
};

inline std::string show_case_value(const nlohmann::json& j) {
  std::string s = j.dump();
  return s.size() > 200 ? s.substr(0, 200) + "..." : s;
}

// Runs every case of `cases` through `tok`. A case with an "error" field must fail to encode.
inline CaseCheckResult check_tokenizer_case_list(const std::vector<nlohmann::json>& cases, const Tokenizer& tok,
                                                 std::size_t max_reported = 15) {
  CaseCheckResult r;
  std::ostringstream rep;
  std::size_t reported = 0;
  for (const auto& c : cases) {
    ++r.total;
    const std::string id = c.value("id", std::string("?"));
    TokenizeOptions opt;
    opt.add_special_tokens = c.value("add_special_tokens", true);
    if (c.contains("truncation") && !c["truncation"].is_null()) {
      const auto& t = c["truncation"];
      TruncationOptions to;
      to.max_length = t.value("max_length", 0);
      std::string strategy = t.value("strategy", std::string("longest_first"));
      to.strategy = strategy == "only_first"    ? TruncationStrategy::OnlyFirst
                    : strategy == "only_second" ? TruncationStrategy::OnlySecond
                                                : TruncationStrategy::LongestFirst;
      to.direction = t.value("direction", std::string("right")) == "left" ? TruncationDirection::Left
                                                                          : TruncationDirection::Right;
      to.stride = t.value("stride", 0);
      opt.truncation = to;
    }
    Encoding e;
    const bool want_error = c.contains("error");
    try {
      if (c.contains("text2") && !c["text2"].is_null())
        e = tok.encode_pair(c["text"].get<std::string>(), c["text2"].get<std::string>(), opt);
      else
        e = tok.encode(c["text"].get<std::string>(), opt);
    } catch (const std::exception& ex) {
      if (want_error) {
        ++r.passed;
        continue;
      }
      ++r.failed;
      if (reported++ < max_reported) rep << id << ": threw " << ex.what() << "\n";
      continue;
    }
    if (want_error) {
      ++r.failed;
      if (reported++ < max_reported) rep << id << ": expected an error (" << c["error"].dump() << "), got an encoding\n";
      continue;
    }
    nlohmann::json got;
    got["ids"] = e.ids;
    got["tokens"] = e.tokens;
    auto pairs = [](const std::vector<Offsets>& v) {
      nlohmann::json a = nlohmann::json::array();
      for (auto [s, t] : v) a.push_back({s, t});
      return a;
    };
    got["offsets"] = pairs(e.offsets);
    got["byte_offsets"] = pairs(e.byte_offsets);
    got["attention_mask"] = e.attention_mask;
    got["type_ids"] = e.type_ids;
    got["special_tokens_mask"] = e.special_tokens_mask;
    nlohmann::json seq = nlohmann::json::array();
    for (int32_t s : e.sequence_ids) seq.push_back(s < 0 ? nlohmann::json(nullptr) : nlohmann::json(s));
    got["sequence_ids"] = seq;
    bool ok = true;
    for (const char* field : {"ids", "tokens", "offsets", "byte_offsets", "attention_mask", "type_ids",
                              "special_tokens_mask", "sequence_ids"}) {
      if (!c.contains(field)) continue;
      const auto& want = c[field];
      const auto& have = got[field];
      if (want == have) continue;
      ok = false;
      if (reported < max_reported) {
        std::size_t i = 0;
        while (i < want.size() && i < have.size() && want[i] == have[i]) ++i;
        rep << id << " (" << c.value("kind", std::string()) << "): " << field << " differs at index " << i
            << " (len want " << want.size() << ", got " << have.size() << "): want "
            << (i < want.size() ? show_case_value(want[i]) : "<end>") << " got "
            << (i < have.size() ? show_case_value(have[i]) : "<end>") << "; text " << show_case_value(c["text"])
            << "\n";
      }
    }
    if (ok) {
      ++r.passed;
    } else {
      ++r.failed;
      ++reported;
    }
  }
  r.report = rep.str();
  return r;
}

// Runs every case of tests/data/tokenizers/<model>/cases.jsonl through `tok`.
inline CaseCheckResult check_tokenizer_cases(const std::string& model, const Tokenizer& tok,
                                             std::size_t max_reported = 15) {
  return check_tokenizer_case_list(read_jsonl_file(data_path("tokenizers/" + model + "/cases.jsonl")), tok,
                                   max_reported);
}

}  // namespace embed::testing
