#pragma once
// Memory for packed weights, on transparent huge pages (2 MB) where the kernel grants them, and the
// release of the file pages they were packed from.
//
// Why: a short text at batch 1 streams every weight of the model from memory once per text (MiniLM:
// 42 MB), and with 4 KB pages that walk touches a new page, so a new TLB entry, every 4 KB. Huge pages
// take that to one per 2 MB. Paired A/B per text, MiniLM fp32 batch 1: 0.976-0.983 of the time at 1 and
// 2 threads.
//
// Buffers are cut from 32 MB blocks (2 MB aligned, madvise(MADV_HUGEPAGE)), so small layers share huge
// pages instead of each rounding up to 2 MB. A block is returned to the system when the last buffer cut
// from it is freed; pages of a block never written are never made resident.
#include <cstddef>
#include <memory>

namespace embed::compute {

// A 64-byte aligned buffer of `bytes` bytes, zero-filled; it stays valid as long as a copy of the pointer
// lives. Thread-safe.
std::shared_ptr<std::byte> allocate_weight_memory(std::size_t bytes);

// Once packed, a layer never reads its source weights again. When [data, data + bytes) lies in a read-only
// file mapping (the mmapped weights file), its whole pages are dropped from this process (the page cache
// keeps them, so a warm reload stays fast): peak RSS while loading is then about the packed size, not
// mapped + packed. Heap copies are left alone.
void release_source_pages(const void* data, std::size_t bytes);

}  // namespace embed::compute
