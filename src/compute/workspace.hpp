#pragma once
// Per-thread scratch memory that is sized once per batch shape and reused: in the steady state an
// encode call allocates nothing (glibc turns each large temporary into an mmap/munmap pair otherwise).
// The model (weights) is shared and read-only; everything mutable lives here, one arena per thread.
#include <cstddef>
#include <memory>

namespace embed::compute {

class Workspace {
 public:
  enum Slot : int {
    kGemmScratch, kGemmInput, kRowScale, kGemmAccum, kAttention,
    kFusedCodes, kFusedRowScale, kRowValues,  // the int8 feed-forward pair's intermediate (Linear::feed_forward)
    kTailSource, kTailDestination,            // a bf16 GEMM's rows past a multiple of 32, padded (Linear)
    kModel0, kModel1, kModel2, kModel3, kModel4, kModel5, kModel6, kModel7,  // for the models' activations
    kSlots
  };
  // A 64-byte aligned buffer of at least `bytes` for this slot; contents survive until the slot grows.
  std::byte* buffer(int slot, std::size_t bytes);
  float* floats(int slot, std::size_t n) { return reinterpret_cast<float*>(buffer(slot, n * sizeof(float))); }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_[kSlots];
  std::size_t size_[kSlots] = {};
};

// The calling thread's workspace.
Workspace& thread_workspace();

}  // namespace embed::compute
