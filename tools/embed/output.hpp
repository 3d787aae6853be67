#pragma once
// Output formats of the CLI: JSON lines (floats in shortest round-trip form), .npy, readable text.
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "embed/tokenizer.hpp"

namespace embed::cli {

// Appends `v` in the shortest form that reads back as the same float32.
void append_float(std::string& out, float v);
void append_float_array(std::string& out, const float* v, std::size_t n);
void append_json_string(std::string& out, const std::string& s);
void append_string_array(std::string& out, const std::vector<std::string>& v);
void append_int_array(std::string& out, const std::vector<int32_t>& v);
void append_offsets(std::string& out, const std::vector<Offsets>& offsets);

// Writes a little-endian float32 .npy array (format version 1.0).
void write_npy(std::ostream& out, const std::vector<std::size_t>& shape, const float* data);

// A readable, PyTorch-style print of a [rows, cols] block: up to 3 leading and trailing rows/columns
// with "..." between, 4 decimals; `depth` extra brackets wrap it (1 for a [1, rows, cols] tensor).
std::string format_matrix(const float* data, std::size_t rows, std::size_t cols, int depth);

}  // namespace embed::cli
