#include "support/tiny_model.hpp"

#include <fstream>
#include <functional>
#include <random>

#include "support/test_support.hpp"

namespace embed::testing {

void add_random_tensor(TinyTensors& tensors, const std::string& name, std::vector<int64_t> shape, unsigned seed,
                       float base, float std) {
  std::mt19937 rng(seed ^ static_cast<unsigned>(std::hash<std::string>{}(name)));
  std::normal_distribution<float> normal(0.0f, std);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = base + normal(rng);
  tensors[name] = {std::move(shape), std::move(v)};
}

std::filesystem::path write_tiny_model(const std::string& tag, const nlohmann::json& config,
                                       const TinyTensors& tensors) {
  const auto dir = make_temp_dir(tag);
  std::ofstream(dir / "config.json") << config.dump(2);
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& [name, t] : tensors) {
    const std::size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(t.second.data()), t.second.size() * sizeof(float));
    header[name] = {{"dtype", "F32"}, {"shape", t.first}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // keep the tensor data 8-byte aligned
  const uint64_t n = h.size();
  std::ofstream f(dir / "model.safetensors", std::ios::binary);
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << h << data;
  return dir;
}

}  // namespace embed::testing
