#include "bracket_arguments.hpp"

#include <algorithm>

namespace embed::cli {

namespace {
// Appended to a marked argument: its last character is then not ']'. A byte that is never part of valid
// UTF-8, and a value is only restored when it is a marked argument (see restore).
const std::string kMark = "\xff";
bool bracketed(const std::string& s) { return s.size() >= 2 && s.front() == '[' && s.back() == ']'; }
}  // namespace

BracketArguments::BracketArguments(int argc, const char* const* argv) {
  args_.reserve(static_cast<std::size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i > 0 && bracketed(a)) {
      marked_.push_back(a);
      a += kMark;
    }
    args_.push_back(std::move(a));
  }
  for (const auto& a : args_) pointers_.push_back(a.c_str());
}

void BracketArguments::restore(std::string& value) const {
  if (value.size() <= kMark.size() || value.compare(value.size() - kMark.size(), kMark.size(), kMark) != 0) return;
  const std::string original = value.substr(0, value.size() - kMark.size());
  if (std::find(marked_.begin(), marked_.end(), original) != marked_.end()) value = original;
}

void BracketArguments::restore(std::vector<std::string>& values) const {
  for (auto& v : values) restore(v);
}

}  // namespace embed::cli
