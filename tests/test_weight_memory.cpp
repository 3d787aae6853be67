// Packed-weight memory (compute/weight_memory): aligned, zero-filled, never shared between two buffers,
// alive while any holder lives, and advised for transparent huge pages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "compute/weight_memory.hpp"
#include "support/test_support.hpp"

namespace {

using embed::compute::allocate_weight_memory;

bool all_zero(const std::byte* p, std::size_t n) {
  return std::all_of(p, p + n, [](std::byte b) { return b == std::byte{0}; });
}

// The VmFlags line of the mapping holding `address` in /proc/self/smaps ("" if none).
std::string mapping_flags(const void* address) {
  for (const auto& m : embed::testing::read_smaps())
    if (m.contains(address)) return m.field("VmFlags:");
  return "";
}

TEST(WeightMemory, BuffersAreAlignedZeroAndSeparate) {
  std::vector<std::shared_ptr<std::byte>> buffers;
  const std::vector<std::size_t> sizes = {1, 100, 589824, 3 << 20, 40u << 20, 64, 2359296};  // one beyond a 32 MB block
  for (std::size_t size : sizes) {
    auto b = allocate_weight_memory(size);
    ASSERT_TRUE(b);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.get()) % 64, 0u) << size;
    EXPECT_TRUE(all_zero(b.get(), size)) << size;
    std::memset(b.get(), 0xab, size);  // a later buffer overlapping this one would not read as zero
    buffers.push_back(std::move(b));
  }
  for (std::size_t i = 0; i < buffers.size(); ++i)
    for (std::size_t j = 0; j < buffers.size(); ++j) {
      if (i == j) continue;
      const auto* a = buffers[i].get();
      const auto* b = buffers[j].get();
      EXPECT_TRUE(a + sizes[i] <= b || b + sizes[j] <= a) << "buffers " << i << " and " << j << " overlap";
    }
}

TEST(WeightMemory, BufferOutlivesTheOthersFromItsBlock) {
  auto kept = allocate_weight_memory(1000);
  std::memset(kept.get(), 7, 1000);
  {
    auto other = allocate_weight_memory(5000);
    std::memset(other.get(), 9, 5000);
  }
  auto later = allocate_weight_memory(1000);
  EXPECT_TRUE(all_zero(later.get(), 1000));  // not the freed bytes of `other`
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(kept.get()[i], std::byte{7});
}

TEST(WeightMemory, AdvisedForHugePages) {
  if (!std::filesystem::exists("/sys/kernel/mm/transparent_hugepage/enabled"))
    GTEST_SKIP() << "no transparent huge pages in this kernel";
  auto b = allocate_weight_memory(4 << 20);
  const std::string flags = mapping_flags(b.get());
  ASSERT_FALSE(flags.empty()) << "no mapping found for the buffer in /proc/self/smaps";
  EXPECT_NE((flags + " ").find(" hg "), std::string::npos) << flags;  // hg: madvise(MADV_HUGEPAGE)
}

}  // namespace
