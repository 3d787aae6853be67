#pragma once
// Errors a user can act on: every failure says which file, which field, what was expected.
#include <stdexcept>
#include <string>

namespace embed {

// Any failure of the library (bad model files, bad input text, unsupported options).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace embed
