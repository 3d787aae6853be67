#include "output.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace embed::cli {

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {  // JSON has no NaN/Infinity; null is what a reader can detect.
    out += "null";
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_float_array(std::string& out, const float* v, std::size_t n) {
  out += '[';
  for (std::size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_float(out, v[i]);
  }
  out += ']';
}

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_string_array(std::string& out, const std::vector<std::string>& v) {
  out += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, v[i]);
  }
  out += ']';
}

void append_int_array(std::string& out, const std::vector<int32_t>& v) {
  out += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(v[i]);
  }
  out += ']';
}

void append_offsets(std::string& out, const std::vector<Offsets>& offsets) {
  out += '[';
  for (std::size_t i = 0; i < offsets.size(); ++i) {
    if (i) out += ',';
    out += '[' + std::to_string(offsets[i].first) + ',' + std::to_string(offsets[i].second) + ']';
  }
  out += ']';
}

void write_npy(std::ostream& out, const std::vector<std::size_t>& shape, const float* data) {
  std::string dims;
  std::size_t count = 1;
  for (std::size_t d : shape) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    count *= d;
  }
  if (shape.size() == 1) dims += ",";  // numpy writes a 1-tuple as (n,)
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, '\n'-terminated.
  std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.write("\x93NUMPY\x01\x00", 8);
  char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  out.write(len_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(float)));
}

namespace {
std::string fmt4(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%8.4f", static_cast<double>(v));
  return buf;
}

std::string format_row(const float* row, std::size_t cols) {
  std::string s = "[";
  auto add = [&](std::size_t j) {
    if (s.size() > 1) s += ", ";
    s += fmt4(row[j]);
  };
  if (cols <= 6) {
    for (std::size_t j = 0; j < cols; ++j) add(j);
  } else {
    for (std::size_t j = 0; j < 3; ++j) add(j);
    s += ",      ...";
    for (std::size_t j = cols - 3; j < cols; ++j) add(j);
  }
  return s + "]";
}
}  // namespace

std::string format_matrix(const float* data, std::size_t rows, std::size_t cols, int depth) {
  // depth + 1 brackets around the rows (each row brings its own): [n, d] -> "[[", [1, n, d] -> "[[[".
  const std::size_t outer = static_cast<std::size_t>(depth) + 1;
  const std::string indent(outer, ' ');
  std::string s(outer, '[');
  std::vector<std::size_t> shown;
  if (rows <= 6) {
    for (std::size_t r = 0; r < rows; ++r) shown.push_back(r);
  } else {
    for (std::size_t r : {std::size_t{0}, std::size_t{1}, std::size_t{2}, rows - 3, rows - 2, rows - 1}) shown.push_back(r);
  }
  for (std::size_t i = 0; i < shown.size(); ++i) {
    if (i) s += ",\n" + indent;
    if (rows > 6 && i == 3) s += "...,\n" + indent;
    s += format_row(data + shown[i] * cols, cols);
  }
  return s + std::string(outer, ']');
}

}  // namespace embed::cli
