#pragma once
// Option checks with messages a user can act on. CLI11's PositiveNumber / NonNegativeNumber report
// "Value 0 not in range 0.000000 to 1797693134862315708...", also for text that is not a number.
#include <limits>
#include <string>

#include <CLI/CLI.hpp>

namespace embed::cli {

// A whole number in [min, max] (also each element of a list option). Its name in --help: POSITIVE for a
// minimum of 1, NONNEGATIVE for 0, else "INT>=min".
CLI::Validator whole_number(long long min, long long max = std::numeric_limits<long long>::max());

}  // namespace embed::cli
