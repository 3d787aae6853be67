#pragma once
// Tests of bad input: the message an embed::Error carries, and a substring check that prints the whole
// message when it fails.
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "embed/error.hpp"
#include "embed/model.hpp"

#define EXPECT_CONTAINS(haystack, needle) EXPECT_NE((haystack).find(needle), std::string::npos) << (haystack)

namespace embed::testing {

// The message of the embed::Error `f` throws; "" and a test failure when it throws none.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an embed::Error";
  return "";
}

// The message of loading the model directory `dir` (a test failure when it loads).
inline std::string model_load_error(const std::string& dir) {
  return error_message([&] { Model::load(dir); });
}

}  // namespace embed::testing
