// embed::Model: a sentence-transformers pipeline read from modules.json
//   Transformer -> Pooling -> (Dense | Normalize)*, the last ones in the file's order
// or, for a plain transformers directory, Transformer -> mean pooling (as sentence-transformers does).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <numeric>

#include "embed/error.hpp"
#include "embed/model.hpp"
#include "compute/threads.hpp"
#include "io/json.hpp"
#include "io/model_file.hpp"
#include "io/tensor_data.hpp"
#include "models/encoder.hpp"
#include "pipeline/batch_plan.hpp"
#include "pipeline/dense.hpp"
#include "pipeline/pooling.hpp"
#include "pipeline/text_prep.hpp"

namespace embed {

namespace fs = std::filesystem;

struct Model::Impl {
  fs::path dir;
  models::LoadedEncoder transformer;
  std::unique_ptr<Tokenizer> tokenizer;
  std::size_t max_seq_length = 0;
  std::string max_seq_length_from;  // the file that set it, for messages (empty: the model's positions)
  bool do_lower_case = false;
  pipeline::PoolingConfig pooling{{PoolingMode::Mean}, true, std::nullopt};
  std::vector<pipeline::DenseModule> dense;
  // What follows pooling, in modules.json's order: Dense module dense[dense_index], or Normalize.
  struct Step {
    bool normalize;
    std::size_t dense_index;
  };
  std::vector<Step> after_pooling;
  bool has_normalize() const {
    return std::any_of(after_pooling.begin(), after_pooling.end(), [](const Step& s) { return s.normalize; });
  }
  std::string similarity_fn_name = "cosine";
  int threads = 1;  // LoadOptions.threads, resolved

  // Tokenizes one text as sentence-transformers does: strip, optional lower-casing, truncation.
  Encoding tokenize(const std::string& text, std::size_t max_len) const {
    std::string input = pipeline::python_strip(text);
    if (do_lower_case) input = pipeline::python_lower(input);
    TokenizeOptions opts;
    opts.truncation = TruncationOptions{max_len, TruncationStrategy::LongestFirst, TruncationDirection::Right, 0};
    return tokenizer->encode(input, opts);
  }

  std::size_t effective_max_len(const EncodeOptions& o) const {
    std::size_t len = o.max_seq_length.value_or(max_seq_length);
    if (len == 0) throw Error("max_seq_length must be at least 1");
    return len;
  }

  // A max_seq_length beyond the position table matters only for texts that reach it: as in
  // sentence-transformers, shorter texts encode. A text that would run past the table is named before any
  // text is encoded (sentence-transformers fails inside the model with an index error).
  void require_within_positions(const std::vector<Encoding>& encodings, std::size_t max_len,
                                const EncodeOptions& o) const {
    const std::size_t positions = transformer.encoder->max_positions();
    if (positions == 0 || max_len <= positions) return;
    for (std::size_t i = 0; i < encodings.size(); ++i)
      if (encodings[i].length() > positions)
        throw Error("texts[" + std::to_string(i) + "] has " + std::to_string(encodings[i].length()) +
                    " tokens, more than the model's " + std::to_string(positions) + " positions: max_seq_length " +
                    std::to_string(max_len) +
                    (o.max_seq_length || max_seq_length_from.empty() ? "" : " (" + max_seq_length_from + ")") +
                    " exceeds them; set max_seq_length to " + std::to_string(positions) + " or less");
  }

  // Runs the encoder over texts in batches (longest first, as sentence-transformers orders them) and
  // hands each text's token embeddings to `sink(index, encoding, tokens[len, hidden])`. The sink may be
  // called from several threads at once, never twice for the same index. Unless `token_details`, the
  // encodings handed over hold only ids and type ids: a corpus's token strings and offsets are not kept.
  template <typename Sink>
  void run(std::span<const std::string> texts, const EncodeOptions& o, bool token_details, Sink&& sink) const {
    const std::size_t max_len = effective_max_len(o);
    if (o.batch_size == 0) throw Error("batch_size must be at least 1");
    std::vector<Encoding> encodings(texts.size());
    constexpr std::size_t kTextsPerTokenizeTask = 64;
    compute::parallel_tasks((texts.size() + kTextsPerTokenizeTask - 1) / kTextsPerTokenizeTask, threads,
                            [&](std::size_t task) {
                              const std::size_t end = std::min(texts.size(), (task + 1) * kTextsPerTokenizeTask);
                              for (std::size_t i = task * kTextsPerTokenizeTask; i < end; ++i) {
                                encodings[i] = tokenize(texts[i], max_len);
                                if (!token_details) keep_only_model_inputs(encodings[i]);
                              }
                            });
    require_within_positions(encodings, max_len, o);
    if (o.report) {
      for (std::size_t i = 0; i < texts.size(); ++i) {
        o.report->tokens += encodings[i].length();
        if (encodings[i].truncated && o.report->truncated_texts++ == 0) o.report->first_truncated = i;
      }
    }
    std::vector<std::size_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return encodings[a].length() > encodings[b].length(); });
    std::vector<std::size_t> lengths(order.size());
    for (std::size_t i = 0; i < order.size(); ++i) lengths[i] = encodings[order[i]].length();
    const auto batches = pipeline::plan_batches(lengths, o.batch_size, kMaxBatchTokens, threads);
    const std::size_t H = transformer.encoder->hidden_size();
    ProgressCounter progress(o.progress, texts.size());
    auto run_batch = [&](const pipeline::BatchRange& range) {
      models::PackedBatch batch;
      for (std::size_t i = range.begin; i < range.end; ++i)
        batch.add(encodings[order[i]].ids, encodings[order[i]].type_ids);
      thread_local std::vector<float> hidden;  // reused: one buffer per thread, sized by its largest batch
      hidden.resize(batch.tokens() * H);
      transformer.encoder->forward(batch, hidden.data());
      for (std::size_t i = range.begin; i < range.end; ++i) {
        const std::size_t s = i - range.begin;
        sink(order[i], encodings[order[i]], hidden.data() + batch.offsets[s] * H, batch.length(s));
      }
      progress.add(range.end - range.begin);
    };
    // Whole batches per thread while there is one for every thread (no waiting between threads), then
    // the remaining few batches each split across all threads.
    const std::size_t per_thread = threads > 1 ? batches.size() / threads * threads : 0;
    compute::parallel_tasks(per_thread, threads, [&](std::size_t b) { run_batch(batches[b]); });
    for (std::size_t b = per_thread; b < batches.size(); ++b) run_batch(batches[b]);
  }

  // Texts finished so far, passed to EncodeOptions::progress one call at a time.
  class ProgressCounter {
   public:
    ProgressCounter(const std::function<void(std::size_t, std::size_t)>& report, std::size_t total)
        : report_(report), total_(total) {}
    void add(std::size_t texts) {
      if (!report_) return;
      std::lock_guard<std::mutex> lock(mutex_);
      done_ += texts;
      report_(done_, total_);
    }

   private:
    const std::function<void(std::size_t, std::size_t)>& report_;
    std::size_t total_, done_ = 0;
    std::mutex mutex_;
  };

  // What the encoder reads of an encoding: ids and type ids (and the truncation flag for the report).
  static void keep_only_model_inputs(Encoding& e) {
    Encoding kept;
    kept.ids = std::move(e.ids);
    kept.type_ids = std::move(e.type_ids);
    kept.truncated = e.truncated;
    e = std::move(kept);
  }

  // At most kMaxBatchTokens tokens per forward pass (beyond its first text): 512 keep a layer's activations in
  // L2 (e.g. QKV: 512 x 1152 floats for MiniLM) and give the threads several batches to share. Measured
  // against 16384 on the MiniLM shape, batch 32: +3-17 % for int8, +2-8 % bf16, 0-5 % fp32 (the most with 2
  // threads); MPNet-base int8 +5-10 %, fp32 equal.
  static constexpr std::size_t kMaxBatchTokens = 512;
};

namespace {

// "[i]": where item i of a JSON array is, for error messages. (Built by appending: GCC 12 warns wrongly
// about "[" + std::string&&, -Wrestrict.)
std::string array_item(std::size_t i) {
  std::string where = "[";
  where += std::to_string(i);
  where += ']';
  return where;
}

std::string module_kind(const std::string& type) {
  // "sentence_transformers.models.Pooling" -> "Pooling"
  auto p = type.rfind('.');
  return p == std::string::npos ? type : type.substr(p + 1);
}

// sentence_bert_config.json: max_seq_length (when present) and do_lower_case.
std::optional<std::size_t> read_sentence_bert_config(const fs::path& transformer_dir, bool* do_lower_case) {
  const fs::path file = transformer_dir / "sentence_bert_config.json";
  if (!io::model_file_present(file)) return std::nullopt;
  nlohmann::json j = io::read_json(file);
  io::JsonObject o(j, file.string());
  if (do_lower_case) *do_lower_case = o.get_bool("do_lower_case", false);
  if (!o.has("max_seq_length")) return std::nullopt;
  auto v = o.get_int("max_seq_length");
  if (v <= 0) o.fail("max_seq_length", "expected a positive integer, found " + std::to_string(v));
  return static_cast<std::size_t>(v);
}

// tokenizer_config.json's model_max_length, ignoring transformers' "no limit" sentinel (~1e30).
std::optional<std::size_t> tokenizer_model_max_length(const fs::path& transformer_dir) {
  const fs::path file = transformer_dir / "tokenizer_config.json";
  if (!io::model_file_present(file)) return std::nullopt;
  nlohmann::json j = io::read_json(file);
  auto it = j.find("model_max_length");
  if (it == j.end() || !it->is_number() || it->get<double>() < 1 || it->get<double>() > 1e9) return std::nullopt;
  return static_cast<std::size_t>(it->get<double>());
}

void load_transformer(Model::Impl& m, const fs::path& dir, const LoadOptions& options) {
  m.transformer = models::load_encoder(dir, options);
  m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_directory(dir));
  // As sentence-transformers: max_seq_length from sentence_bert_config.json, else the smaller of the
  // model's positions and the tokenizer's model_max_length.
  const std::size_t positions = m.transformer.encoder->max_positions();
  if (auto configured = read_sentence_bert_config(dir, &m.do_lower_case)) {
    m.max_seq_length = *configured;
    m.max_seq_length_from = (dir / "sentence_bert_config.json").string();
  } else {
    m.max_seq_length = tokenizer_model_max_length(dir).value_or(positions == 0 ? 512 : positions);
    if (positions > 0) m.max_seq_length = std::min(m.max_seq_length, positions);
  }
}

void read_similarity_config(Model::Impl& m) {
  const fs::path file = m.dir / "config_sentence_transformers.json";
  if (!io::model_file_present(file)) return;
  nlohmann::json j = io::read_json(file);
  io::JsonObject o(j, file.string());
  m.similarity_fn_name = o.get_string("similarity_fn_name", "cosine");
}

}  // namespace

fs::path transformer_directory(const fs::path& dir) {
  const fs::path modules_file = dir / "modules.json";
  if (!io::model_file_present(modules_file)) return dir;
  nlohmann::json modules = io::read_json(modules_file);
  if (!modules.is_array()) throw Error(modules_file.string() + ": expected a JSON array of modules");
  for (std::size_t i = 0; i < modules.size(); ++i) {
    io::JsonObject mod(modules[i], modules_file.string(), array_item(i));
    if (module_kind(mod.get_string("type")) == "Transformer") return dir / mod.get_string("path", "");
  }
  return dir;
}

std::optional<std::size_t> configured_max_length(const fs::path& dir) {
  const fs::path t = transformer_directory(dir);
  if (auto configured = read_sentence_bert_config(t, nullptr)) return configured;
  return tokenizer_model_max_length(t);
}

std::shared_ptr<const Model> Model::load(const std::string& path_or_id, const LoadOptions& options) {
  auto m = std::make_unique<Impl>();
  m->dir = fs::path(path_or_id);
  m->threads = compute::resolve_threads(options.threads);
  if (!io::model_directory_present(m->dir))
    throw Error(path_or_id + ": not a model directory (no such directory; a Hub id such as " +
                "sentence-transformers/all-MiniLM-L6-v2 cannot be fetched yet: give the path of its downloaded files)");
  const fs::path modules_file = m->dir / "modules.json";
  if (!io::model_file_present(modules_file)) {
    load_transformer(*m, m->dir, options);  // plain transformers directory: mean pooling, no normalize
  } else {
    nlohmann::json modules = io::read_json(modules_file);
    if (!modules.is_array()) throw Error(modules_file.string() + ": expected a JSON array of modules");
    bool have_transformer = false, have_pooling = false;
    for (std::size_t i = 0; i < modules.size(); ++i) {
      io::JsonObject mod(modules[i], modules_file.string(), array_item(i));
      const std::string kind = module_kind(mod.get_string("type"));
      const fs::path path = m->dir / mod.get_string("path", "");
      // The modules run in the file's order; embed runs Transformer, then Pooling, then Dense / Normalize.
      const bool in_order = kind == "Transformer" ? i == 0 : kind == "Pooling" ? have_transformer && !have_pooling
                                                                               : have_pooling;
      if (!in_order && (kind == "Transformer" || kind == "Pooling" || kind == "Dense" || kind == "Normalize"))
        mod.fail("type", kind + " module at position " + std::to_string(i + 1) +
                             ": supported orders are Transformer, Pooling, then Dense / Normalize modules");
      if (kind == "Transformer") {
        load_transformer(*m, path, options);
        have_transformer = true;
      } else if (kind == "Pooling") {
        m->pooling = pipeline::read_pooling_config((path / "config.json").string());
        have_pooling = true;
      } else if (kind == "Dense") {
        m->after_pooling.push_back({false, m->dense.size()});
        m->dense.emplace_back(path);
      } else if (kind == "Normalize") {
        m->after_pooling.push_back({true, 0});
      } else {
        mod.fail("type", "unsupported sentence-transformers module \"" + mod.get_string("type") +
                             "\" (supported: Transformer, Pooling, Dense, Normalize)");
      }
    }
    if (!have_transformer) throw Error(modules_file.string() + ": no sentence_transformers.models.Transformer module");
  }
  read_similarity_config(*m);
  const std::size_t hidden = m->transformer.encoder->hidden_size();
  if (m->pooling.word_embedding_dimension && *m->pooling.word_embedding_dimension != static_cast<int64_t>(hidden))
    throw Error(m->dir.string() + ": the Pooling module's word_embedding_dimension is " +
                std::to_string(*m->pooling.word_embedding_dimension) + " but the transformer's hidden size is " +
                std::to_string(hidden));
  // Check that the Dense chain fits the pooled width.
  std::size_t width = m->pooling.modes.size() * hidden;
  for (const auto& d : m->dense) {
    if (d.in_features() != width)
      throw Error(m->dir.string() + ": Dense module expects " + std::to_string(d.in_features()) +
                  " inputs but the pooled embedding has " + std::to_string(width));
    width = d.out_features();
  }
  return std::make_shared<Model>(std::move(m));
}

namespace {
// Each row divided by its L2 norm (at least 1e-12), as torch.nn.functional.normalize.
void l2_normalize_rows(Matrix& m) {
  for (std::size_t r = 0; r < m.rows; ++r) {
    float* row = m.row(r);
    double norm = 0.0;
    for (std::size_t j = 0; j < m.cols; ++j) norm += static_cast<double>(row[j]) * row[j];
    const double inv = 1.0 / std::max(std::sqrt(norm), 1e-12);
    for (std::size_t j = 0; j < m.cols; ++j) row[j] = static_cast<float>(row[j] * inv);
  }
}
}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const Tokenizer& Model::tokenizer() const { return *impl_->tokenizer; }
std::size_t Model::hidden_size() const { return impl_->transformer.encoder->hidden_size(); }
std::size_t Model::dimension() const {
  return impl_->dense.empty() ? impl_->pooling.modes.size() * hidden_size() : impl_->dense.back().out_features();
}
std::size_t Model::max_seq_length() const { return impl_->max_seq_length; }
std::string Model::model_type() const { return impl_->transformer.model_type; }
const std::vector<PoolingMode>& Model::default_pooling() const { return impl_->pooling.modes; }
bool Model::normalizes() const { return impl_->has_normalize(); }

Encoding Model::tokenize(const std::string& text, const EncodeOptions& options) const {
  return impl_->tokenize(text, impl_->effective_max_len(options));
}

Matrix Model::encode(std::span<const std::string> texts, const EncodeOptions& options) const {
  const auto modes = pipeline::canonical_order(options.pooling.value_or(impl_->pooling.modes));
  if (modes.empty()) throw Error("no pooling mode given");
  const bool normalize = options.normalize.value_or(impl_->has_normalize());
  const std::size_t H = hidden_size(), pooled_width = modes.size() * H;
  // Custom pooling changes the width; the Dense chain only applies to the width it was trained on.
  const bool apply_dense = pooled_width == impl_->pooling.modes.size() * H;
  if (!impl_->dense.empty() && !apply_dense)
    throw Error("this model has a Dense module after pooling, trained on " +
                std::to_string(impl_->pooling.modes.size()) + " pooling mode(s); the pooling given (--pooling, " +
                "EncodeOptions::pooling) has " + std::to_string(modes.size()) + ", a different width");
  Matrix pooled;
  pooled.rows = texts.size();
  pooled.cols = pooled_width;
  pooled.data.assign(pooled.rows * pooled.cols, 0.0f);
  impl_->run(texts, options, false, [&](std::size_t index, const Encoding&, const float* tokens, std::size_t len) {
    pipeline::pool(tokens, len, H, modes, pooled.row(index));
  });
  Matrix result = std::move(pooled);
  // The modules after pooling in their order; EncodeOptions::normalize false skips the Normalize ones, true
  // adds one at the end of a model that has none.
  for (const auto& step : impl_->after_pooling) {
    if (step.normalize) {
      if (normalize) l2_normalize_rows(result);
      continue;
    }
    const auto& d = impl_->dense[step.dense_index];
    Matrix next;
    next.rows = result.rows;
    next.cols = d.out_features();
    next.data.resize(next.rows * next.cols);
    d.forward(result.data.data(), result.rows, next.data.data());
    result = std::move(next);
  }
  if (normalize && !impl_->has_normalize()) l2_normalize_rows(result);
  return result;
}

std::vector<TokenEmbeddings> Model::encode_tokens(std::span<const std::string> texts,
                                                  const EncodeOptions& options) const {
  std::vector<TokenEmbeddings> out(texts.size());
  const std::size_t H = hidden_size();
  impl_->run(texts, options, true, [&](std::size_t index, const Encoding& enc, const float* tokens, std::size_t len) {
    out[index].encoding = enc;
    out[index].embeddings.rows = len;
    out[index].embeddings.cols = H;
    out[index].embeddings.data.assign(tokens, tokens + len * H);
  });
  return out;
}

}  // namespace embed
