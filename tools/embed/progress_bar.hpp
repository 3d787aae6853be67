#pragma once
// A one-line progress bar on standard error, drawn as tqdm (and so sentence-transformers) draws it:
//   encode:  45%|#############                 | 900/2000 [00:04<00:05, 201.3 texts/s]
#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

namespace embed::cli {

class ProgressBar {
 public:
  // `label` starts the line; `unit` names what is counted ("texts").
  ProgressBar(std::ostream& out, std::string label, std::string unit);
  // Redraws the line (at most ten times a second, and always when done == total).
  void update(std::size_t done, std::size_t total);
  // Ends the line if one was drawn.
  void finish();

  // "MM:SS", or "H:MM:SS" from an hour on.
  static std::string clock(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  std::string label_, unit_;
  Clock::time_point start_, last_draw_{};
  bool drawn_ = false;
  std::size_t drawn_width_ = 0;  // characters of the line last drawn
};

// Whether `embed encode` draws the bar: --progress / --no-progress when given, else when standard error
// is a terminal and the texts need more than one forward pass.
bool want_progress(std::optional<bool> flag, std::size_t texts, std::size_t batch_size);

}  // namespace embed::cli
