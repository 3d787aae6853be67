// BPE model (tokenizers' models/bpe): merges by rank with a priority queue, byte fallback,
// unk fusing, continuing-subword prefix / end-of-word suffix, ignore_merges, a word cache.
#include <cstdio>
#include <cstring>
#include <queue>

#include "embed/error.hpp"
#include "text/components.hpp"
#include "text/unicode.hpp"

namespace embed::text {

void MergeTable::reserve(std::size_t count) {
  std::size_t capacity = 16;
  while (capacity < 2 * count) capacity <<= 1;  // at most half full: short probe runs
  if (capacity <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  size_ = 0;
  for (const Slot& s : old)
    if (s.key != kEmpty) insert_or_assign(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xffffffffu), s.merge);
}

void MergeTable::insert_or_assign(int32_t a, int32_t b, Merge merge) {
  if (2 * (size_ + 1) > slots_.size()) reserve(size_ + 1);
  const uint64_t key = pack(a, b);
  std::size_t i = slot_of(key);
  while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
  if (slots_[i].key == kEmpty) ++size_;
  slots_[i] = Slot{key, merge};
}

BpeModel::BpeModel(Vocab vocab, const std::vector<std::pair<std::string, std::string>>& merges, Options options,
                   const std::string& where)
    : vocab_(vocab), opt_(std::move(options)) {
  if (opt_.unk_token) unk_id_ = vocab_.token_to_id(*opt_.unk_token);
  // Merges are looked up in the VocabIndex's flat table rather than the node-based Vocab: 3 lookups per
  // merge, 50,000 merges in GPT-2's tokenizer, and the Vocab's cache misses made them 40 % of its load time.
  const FlatStringTable& ids = vocab_.ids();
  std::size_t prefix_len = opt_.continuing_subword_prefix.size();
  merges_.reserve(merges.size());
  std::string merged;
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const auto& [a, b] = merges[i];
    const int32_t ia = ids.find(a), ib = ids.find(b);
    if (ia < 0) throw Error(where + ": merges[" + std::to_string(i) + "]: token \"" + a + "\" is not in the vocabulary");
    if (ib < 0) throw Error(where + ": merges[" + std::to_string(i) + "]: token \"" + b + "\" is not in the vocabulary");
    merged.assign(a);
    if (b.size() >= prefix_len) merged.append(b, prefix_len);
    const int32_t im = ids.find(merged);
    if (im < 0)
      throw Error(where + ": merges[" + std::to_string(i) + "]: merged token \"" + merged + "\" is not in the vocabulary");
    merges_.insert_or_assign(ia, ib, {static_cast<int32_t>(i), im});
  }
}

std::vector<BpeModel::Symbol> BpeModel::merge_word(std::string_view w) const {
  struct Sym {
    int32_t id;
    int64_t prev, next;
    uint32_t start, len;
  };
  std::vector<Sym> syms;
  syms.reserve(w.size());
  auto add = [&](int32_t id, uint32_t start, uint32_t len) {
    int64_t idx = static_cast<int64_t>(syms.size());
    syms.push_back(Sym{id, idx - 1, idx + 1, start, len});
  };
  // The pending unknown piece (several fused into one with fuse_unk), added once a known piece or the end
  // of the word follows. (A plain struct: GCC 12 warns wrongly about std::optional here.)
  struct Pending {
    bool active = false;
    int32_t id = 0;
    uint32_t start = 0, len = 0;
  } unk;
  std::string s;
  std::size_t i = 0;
  while (i < w.size()) {
    std::size_t b = i;
    std::size_t len = utf8_len_from_lead(static_cast<unsigned char>(w[i]));
    i += len;
    bool is_first = b == 0, is_last = i >= w.size();
    s.clear();
    if (!is_first && !opt_.continuing_subword_prefix.empty()) s += opt_.continuing_subword_prefix;
    s.append(w.substr(b, len));
    if (is_last && !opt_.end_of_word_suffix.empty()) s += opt_.end_of_word_suffix;
    if (const int32_t id = vocab_.ids().find(s); id >= 0) {
      if (unk.active) {
        add(unk.id, unk.start, unk.len);
        unk.active = false;
      }
      add(id, static_cast<uint32_t>(b), static_cast<uint32_t>(len));
      continue;
    }
    if (opt_.byte_fallback) {
      std::vector<int32_t> ids;
      bool ok = true;
      for (unsigned char ch : s) {
        char code[8];
        std::snprintf(code, sizeof code, "<0x%02X>", ch);
        const int32_t id = vocab_.ids().find(code);
        if (id < 0) {
          ok = false;
          break;
        }
        ids.push_back(id);
      }
      if (ok) {
        // tokenizers adds each byte with length 1 (offsets then advance byte by byte)
        uint32_t pos = static_cast<uint32_t>(b);
        for (int32_t id : ids) add(id, pos++, 1);
        continue;
      }
    }
    if (opt_.unk_token) {
      if (!unk_id_) throw Error("BPE: unknown token \"" + *opt_.unk_token + "\" is not in the vocabulary");
      if (unk.active && opt_.fuse_unk) {
        unk.len += static_cast<uint32_t>(len);
      } else {
        if (unk.active) add(unk.id, unk.start, unk.len);
        unk = Pending{true, *unk_id_, static_cast<uint32_t>(b), static_cast<uint32_t>(len)};
      }
    }
  }
  if (unk.active) add(unk.id, unk.start, unk.len);
  if (!syms.empty()) syms.back().next = -1;

  // Positions in syms are not contiguous byte positions when byte_fallback adds pieces or when
  // chars were dropped; tokenizers' Word tracks offsets by accumulating lengths, so do the same.
  {
    uint32_t pos = 0;
    for (auto& sy : syms) {
      sy.start = pos;
      pos += sy.len;
    }
  }

  struct Merge {
    std::size_t pos;
    int32_t rank;
    int32_t new_id;
    bool operator<(const Merge& o) const {  // max-heap -> invert: lowest rank, then lowest pos first
      if (rank != o.rank) return rank > o.rank;
      return pos > o.pos;
    }
  };
  std::priority_queue<Merge> queue;
  for (std::size_t k = 0; k + 1 < syms.size(); ++k) {
    if (const auto* m = merges_.find(syms[k].id, syms[k + 1].id)) queue.push(Merge{k, m->rank, m->id});
  }
  while (!queue.empty()) {
    Merge top = queue.top();
    queue.pop();
    Sym& cur = syms[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    std::size_t next_pos = static_cast<std::size_t>(cur.next);
    Sym right = syms[next_pos];
    const auto* m = merges_.find(cur.id, right.id);
    if (!m || m->id != top.new_id) continue;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    syms[next_pos].len = 0;
    if (right.next > -1 && static_cast<std::size_t>(right.next) < syms.size())
      syms[static_cast<std::size_t>(right.next)].prev = static_cast<int64_t>(top.pos);
    if (cur.prev >= 0) {
      const Sym& prev = syms[static_cast<std::size_t>(cur.prev)];
      if (const auto* pm = merges_.find(prev.id, cur.id)) queue.push(Merge{static_cast<std::size_t>(cur.prev), pm->rank, pm->id});
    }
    if (cur.next >= 0 && static_cast<std::size_t>(cur.next) < syms.size()) {
      const Sym& nx = syms[static_cast<std::size_t>(cur.next)];
      if (const auto* nm = merges_.find(cur.id, nx.id)) queue.push(Merge{top.pos, nm->rank, nm->id});
    }
  }
  std::vector<Symbol> out;
  for (const auto& sy : syms)
    if (sy.len != 0) out.push_back(Symbol{sy.id, sy.start, sy.len});
  return out;
}

std::vector<Token> BpeModel::tokenize(std::string_view seq) const {
  std::vector<Token> out;
  if (seq.empty()) return out;
  if (opt_.ignore_merges) {
    if (const int32_t id = vocab_.ids().find(seq); id >= 0) {
      out.push_back(Token{id, std::string(seq), {0, seq.size()}});
      return out;
    }
  }
  const uint64_t h = FlatStringTable::hash(seq);
  {
    std::shared_lock lock(cache_mutex_);
    if (!cache_slots_.empty()) {
      std::size_t i = static_cast<std::size_t>(h) & (kCacheSlots - 1);
      for (;;) {
        const CacheSlot& s = cache_slots_[i];
        if (!s.used) break;
        if (s.hash == h && s.key_len == seq.size() && std::memcmp(cache_keys_.data() + s.key_off, seq.data(), seq.size()) == 0) {
          out.reserve(s.sym_count);
          for (uint32_t k = 0; k < s.sym_count; ++k) {
            const Symbol& sy = cache_syms_[s.sym_off + k];
            out.push_back(Token{sy.id, vocab_.token(sy.id), {sy.start, sy.start + sy.len}});
          }
          return out;
        }
        i = (i + 1) & (kCacheSlots - 1);
      }
    }
  }
  std::vector<Symbol> word = merge_word(seq);
  out.reserve(word.size());
  for (const auto& sy : word)
    out.push_back(Token{sy.id, vocab_.token(sy.id), {sy.start, sy.start + sy.len}});
  if (seq.size() < 256) {
    std::unique_lock lock(cache_mutex_);
    if (cache_slots_.empty()) cache_slots_.resize(kCacheSlots);
    if (cache_words_ < kCacheMaxWords) {
      std::size_t i = static_cast<std::size_t>(h) & (kCacheSlots - 1);
      bool present = false;
      while (cache_slots_[i].used) {
        const CacheSlot& s = cache_slots_[i];
        if (s.hash == h && s.key_len == seq.size() && std::memcmp(cache_keys_.data() + s.key_off, seq.data(), seq.size()) == 0) {
          present = true;
          break;
        }
        i = (i + 1) & (kCacheSlots - 1);
      }
      if (!present) {
        CacheSlot s;
        s.used = true;
        s.hash = h;
        s.key_off = static_cast<uint32_t>(cache_keys_.size());
        s.key_len = static_cast<uint32_t>(seq.size());
        s.sym_off = static_cast<uint32_t>(cache_syms_.size());
        s.sym_count = static_cast<uint32_t>(word.size());
        cache_keys_.append(seq);
        cache_syms_.insert(cache_syms_.end(), word.begin(), word.end());
        cache_slots_[i] = s;
        ++cache_words_;
      }
    }
  }
  return out;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const { return vocab_.token_to_id(token); }

std::optional<std::string> BpeModel::id_to_token(int32_t id) const { return vocab_.id_to_token(id); }

}  // namespace embed::text
