#include "progress_bar.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace embed::cli {

namespace {
constexpr std::size_t kBarWidth = 30;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
}  // namespace

ProgressBar::ProgressBar(std::ostream& out, std::string label, std::string unit)
    : out_(out), label_(std::move(label)), unit_(std::move(unit)), start_(Clock::now()) {}

std::string ProgressBar::clock(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

void ProgressBar::update(std::size_t done, std::size_t total) {
  const auto now = Clock::now();
  if (drawn_ && done < total && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  drawn_ = true;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const auto filled = static_cast<std::size_t>(std::floor(fraction * kBarWidth));
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const std::string remaining = rate > 0 ? clock(static_cast<double>(total - done) / rate) : "?";
  char head[32], tail[64];
  std::snprintf(head, sizeof head, "%3d%%|", static_cast<int>(std::floor(fraction * 100)));
  std::snprintf(tail, sizeof tail, ", %.1f %s/s]", rate, unit_.c_str());
  std::string line = label_ + ": " + head + std::string(filled, '#') + std::string(kBarWidth - filled, ' ') + "| " +
                     std::to_string(done) + '/' + std::to_string(total) + " [" + clock(elapsed) + '<' + remaining + tail;
  // \r returns to the line's start; spaces cover what a longer line drew before.
  const std::size_t width = line.size();
  if (width < drawn_width_) line.append(drawn_width_ - width, ' ');
  drawn_width_ = std::max(drawn_width_, width);
  out_ << '\r' << line << std::flush;
}

void ProgressBar::finish() {
  if (drawn_) out_ << '\n' << std::flush;
  drawn_ = false;
  drawn_width_ = 0;
}

bool want_progress(std::optional<bool> flag, std::size_t texts, std::size_t batch_size) {
  if (flag) return *flag;
  return texts > batch_size && isatty(STDERR_FILENO);
}

}  // namespace embed::cli
