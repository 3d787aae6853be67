#include "compute/threads.hpp"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#include "embed/error.hpp"

namespace embed::compute {

namespace {

int count_physical_cores() {
  cpu_set_t set;
  int logical = 0;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) logical = CPU_COUNT(&set);
  if (logical <= 0) logical = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  if (logical <= 0) logical = 1;
  // Hyper-threads share a core's FMA units: count distinct (package, core) pairs among allowed CPUs.
  std::set<std::pair<std::string, std::string>> cores;
  bool ok = true;
  for (int cpu = 0; cpu < CPU_SETSIZE && ok; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    const std::string base = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream p(base + "physical_package_id"), c(base + "core_id");
    std::string pk, co;
    if (!(p >> pk) || !(c >> co)) {
      ok = false;
      break;
    }
    cores.emplace(pk, co);
  }
  if (!ok || cores.empty()) return logical;
  return std::max(1, std::min(logical, static_cast<int>(cores.size())));
}

thread_local ComputeSettings t_load_settings{};

}  // namespace

int default_threads() {
  static const int n = count_physical_cores();
  return n;
}

int resolve_threads(int n) {
  if (n < 0 || n > kMaxThreads)
    throw Error("threads: " + std::to_string(n) + " is not a thread count embed runs on (1 to " +
                std::to_string(kMaxThreads) + ", or 0 for the machine's cores)");
  return n > 0 ? n : default_threads();
}

int current_threads() { return omp_in_parallel() ? 1 : omp_get_max_threads(); }

ThreadScope::ThreadScope(int threads) : previous_(omp_get_max_threads()) {
  omp_set_num_threads(omp_in_parallel() ? 1 : resolve_threads(threads));
}
ThreadScope::~ThreadScope() { omp_set_num_threads(previous_); }

void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t, int)>& fn) {
  if (n == 0) return;
  grain = std::max<std::size_t>(grain, 1);
  const int threads = static_cast<int>(std::min<std::size_t>(current_threads(), (n + grain - 1) / grain));
  if (threads <= 1) {
    fn(0, n, 0);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::size_t begin = n * t / nt, end = n * (t + 1) / nt;
    if (begin < end) fn(begin, end, t);
  }
}

void parallel_tasks(std::size_t n, int threads, const std::function<void(std::size_t)>& fn) {
  const auto team = static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(resolve_threads(threads))));
  if (team <= 1 || omp_in_parallel()) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(n); ++i) {
    if (failed.load(std::memory_order_relaxed)) continue;
    try {
      ThreadScope serial(1);
      fn(static_cast<std::size_t>(i));
    } catch (...) {  // an exception must not leave an OpenMP region: keep the first, rethrow below
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (error) std::rethrow_exception(error);
}

const ComputeSettings& load_settings() {
  if (t_load_settings.threads <= 0) t_load_settings.threads = default_threads();
  return t_load_settings;
}

LoadSettingsScope::LoadSettingsScope(const LoadOptions& options) : previous_(t_load_settings) {
  t_load_settings.precision = options.precision;
  t_load_settings.threads = resolve_threads(options.threads);
}
LoadSettingsScope::~LoadSettingsScope() { t_load_settings = previous_; }

}  // namespace embed::compute
