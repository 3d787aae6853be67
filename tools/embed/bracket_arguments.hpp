#pragma once
// CLI11 (2.1) reads an argument written as "[a,b]" as a list: it drops the brackets, splits at the commas
// and drops "[]" altogether, also for texts. This keeps such arguments whole: the arguments are marked
// before parsing and each parsed value restored after.
#include <string>
#include <vector>

namespace embed::cli {

class BracketArguments {
 public:
  BracketArguments(int argc, const char* const* argv);
  // argv for CLI11 (argv[0] first), every "[...]" argument marked; valid while this object lives.
  int argc() const { return static_cast<int>(pointers_.size()); }
  const char* const* argv() const { return pointers_.data(); }
  // A parsed value back as it was given (values that were not marked stay as they are).
  void restore(std::string& value) const;
  void restore(std::vector<std::string>& values) const;

 private:
  std::vector<std::string> args_;
  std::vector<const char*> pointers_;
  std::vector<std::string> marked_;  // the original arguments that were marked
};

}  // namespace embed::cli
