#pragma once
// Tiny random model directories written by tests: config.json + model.safetensors (F32) in a temp dir.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace embed::testing {

// name -> (shape, row-major values)
using TinyTensors = std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>>;

// Adds `name` with values base + N(0, std^2) from a generator seeded by `seed` and the name.
void add_random_tensor(TinyTensors& tensors, const std::string& name, std::vector<int64_t> shape, unsigned seed,
                       float base = 0.0f, float std = 0.5f);

// A fresh temp dir (removed at exit) holding config.json and model.safetensors.
std::filesystem::path write_tiny_model(const std::string& tag, const nlohmann::json& config,
                                       const TinyTensors& tensors);

}  // namespace embed::testing
