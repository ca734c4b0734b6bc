// load_into() and match_tensors(): a weight set written back into a model file.
//
// The model's own source gives the structure (Plan::structure, so the structure-preserving sinks
// copy its groups, attributes and config) and the tensor list; a MatchedSource in front of it
// reads each tensor's data from its partner in the weights. convert() then narrows to the planned
// dtypes and accounts for the rounding.
#include "keras64/load.hpp"

#include <map>
#include <regex>

#include "keras64/error.hpp"
#include "keras64/sink.hpp"

namespace fs = std::filesystem;

namespace keras64 {
namespace {

enum class Family { numbered, keras3, other };

Family family(const std::vector<TensorInfo>& ts) {
  static const std::regex numbered(R"((weight|arr)_\d+)");
  static const std::regex keras3(R"((.*/)?vars/\d+)");
  bool all_numbered = true, all_keras3 = true;
  for (const auto& t : ts) {
    all_numbered = all_numbered && std::regex_match(t.name, numbered);
    all_keras3 = all_keras3 && std::regex_match(t.name, keras3);
  }
  if (all_numbered) return Family::numbered;
  return all_keras3 ? Family::keras3 : Family::other;
}

// The model's tensors, each read from its partner in the weights.
class MatchedSource final : public Source {
 public:
  MatchedSource(Source& weights, Source& model, const Matching& m)
      : weights_(weights), model_(model) {
    for (const auto& [w, k] : m.pairs) {
      TensorInfo t = model.tensors()[k];
      t.dtype = weights.tensors()[w].dtype;  // what read() delivers
      tensors_.push_back(std::move(t));
      map_.push_back(w);
    }
  }
  const SourceInfo& info() const override { return model_.info(); }
  const std::vector<TensorInfo>& tensors() const override { return tensors_; }
  void read(std::size_t index, std::uint64_t first, std::uint64_t count, void* dst) override {
    weights_.read(map_.at(index), first, count, dst);
  }
  // The weights' data and the model's structure (which the sink copies) both go into the output.
  void verify_checksums() override {
    weights_.verify_checksums();
    model_.verify_checksums();
  }
  SourceStructure structure() const override { return model_.structure(); }

 private:
  Source& weights_;
  Source& model_;
  std::vector<TensorInfo> tensors_;
  std::vector<std::size_t> map_;
};

// The structure-preserving sink for a model kind.
std::string sink_for(const SourceInfo& m) {
  switch (m.kind) {
    case SourceKind::keras3:
    case SourceKind::tfkeras:
      return "keras";
    case SourceKind::keras3_weights:
    case SourceKind::keras3_sharded:
      return "weights.h5";
    case SourceKind::legacy_h5:
    case SourceKind::legacy_weights_h5:
      return "legacy-h5";
    case SourceKind::tf_checkpoint:
    case SourceKind::tf_savedmodel:
      return "tf-checkpoint";
    default:
      break;
  }
  throw Error(Errc::unsupported, {m.file},
              "cannot load weights into a " + std::string(kind_name(m.kind)) +
                  " input: MODEL must be a .keras, a .weights.h5, a legacy "
                  ".h5 or a TensorFlow checkpoint or SavedModel");
}

}  // namespace

Matching match_tensors(const std::vector<TensorInfo>& a, const std::vector<TensorInfo>& b) {
  Matching m;
  const Family fa = family(a), fb = family(b);
  std::map<std::string, std::size_t> in_a;
  for (std::size_t i = 0; i < a.size(); ++i) in_a.emplace(a[i].name, i);
  bool common = false;
  for (const auto& t : b) common = common || in_a.count(t.name);
  m.by_name = fa == fb && fa != Family::numbered && (fa == Family::keras3 || common);
  if (!m.by_name) {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) m.pairs.emplace_back(i, i);
    for (std::size_t i = n; i < a.size(); ++i) m.only_a.push_back(i);
    for (std::size_t i = n; i < b.size(); ++i) m.only_b.push_back(i);
    return m;
  }
  std::vector<bool> used(a.size(), false);
  for (std::size_t k = 0; k < b.size(); ++k) {
    auto it = in_a.find(b[k].name);
    if (it == in_a.end()) {
      m.only_b.push_back(k);
      continue;
    }
    m.pairs.emplace_back(it->second, k);
    used[it->second] = true;
  }
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!used[i]) m.only_a.push_back(i);
  return m;
}

LoadReport load_into(const fs::path& weights_path, const fs::path& model_path, const fs::path& out,
                     const LoadOptions& options) {
  OpenOptions mo;
  mo.model = options.model;
  auto model = open_source(model_path, mo);
  const SourceInfo& mi = model->info();
  const std::string format = sink_for(mi);

  OpenOptions wo;
  // A bare .weights.h5 of float64 weights takes its order from the same architecture.
  wo.model = !options.model.empty()          ? options.model
             : mi.kind == SourceKind::keras3 ? model_path
                                             : fs::path();
  wo.expected = model->tensors();
  auto weights = open_source(weights_path, wo);

  const auto& wt = weights->tensors();
  const auto& mt = model->tensors();
  const Matching m = match_tensors(wt, mt);
  const std::string wf = weights->info().file, mf = mi.file;
  const SourceInfo& wi = weights->info();
  if (!m.by_name && !wi.order_exact && keras3_layout(wi.kind))
    throw Error(Errc::mismatch, {wf},
                "tensors are in file order (" + wi.note +
                    "), which cannot be matched by position to " + mf + ": give the architecture",
                0, Hint::model);
  if (!m.by_name && wt.size() != mt.size())
    throw Error(
        Errc::mismatch, {wf},
        std::to_string(wt.size()) + " tensors, " + mf + " has " + std::to_string(mt.size()) +
            " (matched by position: " +
            (wt.size() > mt.size() ? "first extra is tensor " + std::to_string(mt.size()) + " '" +
                                         wt[mt.size()].name + "'"
                                   : "first missing is tensor " + std::to_string(wt.size()) + " '" +
                                         mt[wt.size()].name + "'") +
            ")");
  if (!m.only_b.empty()) {
    const TensorInfo& t = mt[m.only_b.front()];
    throw Error(Errc::mismatch, {mf},
                "tensor '" + t.name + "' " + shape_string(t.shape) + " is missing from " + wf +
                    " (" + std::to_string(m.only_b.size()) + " missing)");
  }
  if (!m.only_a.empty())
    throw Error(Errc::mismatch, {wf},
                "tensor '" + wt[m.only_a.front()].name + "' is not in " + mf + " (" +
                    std::to_string(m.only_a.size()) + " unknown)");
  for (const auto& [w, k] : m.pairs)
    if (wt[w].shape != mt[k].shape)
      throw Error(
          Errc::mismatch, {wf},
          "tensor " + std::to_string(w) + " '" + wt[w].name + "': shape " +
              shape_string(wt[w].shape) + ", " + mf + " has " + shape_string(mt[k].shape) +
              (m.by_name ? "" : " for its tensor " + std::to_string(k) + " '" + mt[k].name + "'"));

  MatchedSource src(*weights, *model, m);
  Plan plan;
  plan.source = mi;
  plan.structure = src.structure();
  for (std::size_t i = 0; i < src.tensors().size(); ++i) {
    const DType stored = mt[m.pairs[i].second].dtype;
    const DType to =
        options.dtype == LoadDType::float64 && info(stored).is_float ? DType::f64 : stored;
    plan.tensors.push_back({src.tensors()[i], to});
  }

  SinkOptions so;
  so.force = options.force;
  so.keep_config = options.dtype == LoadDType::model;
  auto sink = open_sink(format, out, so);
  ConvertOptions co;
  co.chunk_bytes = options.chunk_bytes;
  co.on_progress = options.on_progress;
  co.cancel = options.cancel;
  co.on_overflow = options.on_overflow;
  LoadReport r;
  r.convert = convert(src, *sink, plan, co);
  r.weights = weights->info();
  r.model = mi;
  r.output_format = format;
  r.by_name = m.by_name;
  for (const auto& [w, k] : m.pairs) r.weights_names.push_back(wt[w].name);
  return r;
}

}  // namespace keras64
