#pragma once
// The engine's one thread pool. It is the OpenMP runtime that oneDNN (the GEMM library) runs on, so
// our loops (attention, layer norms, activations) and the GEMMs share the same threads and never
// oversubscribe the cores. The thread count is per calling thread (ThreadScope), set from
// LoadOptions.threads; 0 means the machine's cores.
#include <cstddef>
#include <functional>

#include "embed/model.hpp"

namespace embed::compute {

// The most threads a model runs on: more than the largest servers have cores, and far below the counts at
// which the OpenMP runtime fails (on a 2-core VM here, 50,000 made libgomp exit and 100,000 crashed it).
constexpr int kMaxThreads = 1024;
// Physical cores available to this process (at least 1).
int default_threads();
// n in [1, kMaxThreads]: n; 0: default_threads(). Throws embed::Error naming `threads` for anything else.
int resolve_threads(int n);
// Threads the next parallel region of this calling thread uses.
int current_threads();

// Sets the calling thread's thread count for its lifetime (restores the previous on exit). Inside a
// parallel region (e.g. a parallel_tasks task) it sets 1: the task's GEMMs and loops then run serially on
// the task's own thread, and oneDNN plans its kernels for one thread.
class ThreadScope {
 public:
  explicit ThreadScope(int threads);
  ~ThreadScope();
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int previous_;
};

// Runs fn(begin, end, thread_index) over [0, n) split in contiguous chunks of at least `grain` items,
// on current_threads() threads (serially when n is small or inside another parallel region).
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t begin, std::size_t end, int thread)>& fn);

// Runs fn(task) for every task in [0, n), each task whole on one of up to `threads` threads (0: the
// machine's cores), handed out in index order as threads become free. Work inside a task runs serially.
// Unlike splitting every operation across threads, tasks never wait for each other, so a thread that the
// OS preempts (a shared, loaded machine) delays only its own task. The first exception a task throws is
// rethrown here once all threads have stopped; tasks not yet started are then skipped.
void parallel_tasks(std::size_t n, int threads, const std::function<void(std::size_t task)>& fn);

// Load-time settings the layers read while a model is being built (precision, threads). Set by
// models::load_encoder for the duration of an encoder's construction, so every architecture's
// load_linear picks up LoadOptions without passing it through by hand.
struct ComputeSettings {
  Precision precision = Precision::FP32;
  int threads = 0;  // resolved (> 0)
};
const ComputeSettings& load_settings();
class LoadSettingsScope {
 public:
  explicit LoadSettingsScope(const LoadOptions& options);
  ~LoadSettingsScope();
  LoadSettingsScope(const LoadSettingsScope&) = delete;
  LoadSettingsScope& operator=(const LoadSettingsScope&) = delete;

 private:
  ComputeSettings previous_;
};

}  // namespace embed::compute
