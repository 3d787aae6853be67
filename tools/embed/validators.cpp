#include "validators.hpp"

#include <charconv>

namespace embed::cli {

CLI::Validator whole_number(long long min, long long max) {
  const std::string name = min == 1 ? "POSITIVE" : min == 0 ? "NONNEGATIVE" : "INT>=" + std::to_string(min);
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        long long n = 0;
        const char* end = value.data() + value.size();
        const auto [ptr, ec] = std::from_chars(value.data(), end, n);
        const bool too_long = ec == std::errc::result_out_of_range;  // digits beyond long long
        if (value.empty() || ptr != end || (ec != std::errc() && !too_long))
          return "expected a whole number, got \"" + value + "\"";
        if ((too_long && value[0] == '-') || (!too_long && n < min))
          return "must be at least " + std::to_string(min) + ", got " + value;
        if (too_long || n > max) return "must be at most " + std::to_string(max) + ", got " + value;
        return {};
      },
      name);
}

}  // namespace embed::cli
