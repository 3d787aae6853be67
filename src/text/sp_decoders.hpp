#pragma once
// Decoders used by sentencepiece-style tokenizers (tokenizers' decoders/byte_fallback.rs, fuse.rs,
// strip.rs).
#include <memory>
#include <string>
#include <vector>

#include "text/pipeline.hpp"

namespace embed::text {

class JsonNode;

// Runs of <0xXX> tokens become the UTF-8 string they spell, or one U+FFFD per byte if invalid.
class ByteFallbackDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;
};

// All tokens joined into one.
class FuseDecoder : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;
};

// Removes up to `start` leading and `stop` trailing `content` chars from every token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, std::size_t start, std::size_t stop) : content_(content), start_(start), stop_(stop) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override;

 private:
  char32_t content_;
  std::size_t start_, stop_;
};

std::unique_ptr<Decoder> build_byte_fallback_decoder(const JsonNode& node);
std::unique_ptr<Decoder> build_fuse_decoder(const JsonNode& node);
std::unique_ptr<Decoder> build_strip_decoder(const JsonNode& node);

}  // namespace embed::text
