// keras64 load WEIGHTS --into MODEL -o OUT: weights back into a model file, with the rounding
// account of the cast to the model's dtypes.
#include "keras64/load.hpp"

#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "text.hpp"

namespace keras64::cli {

namespace {

nlohmann::json account_json(const RoundingAccount& a) {
  return {{"exact", a.exact()},
          {"values", a.values},
          {"changed", a.changed},
          {"max_abs_error", a.max_abs_error},
          {"max_rel_error", a.max_rel_error},
          {"max_ulp_error", a.max_ulp_error},
          {"overflows", a.overflows},
          {"subnormal", a.subnormal},
          {"to_zero", a.to_zero},
          {"nans", a.nans},
          {"infs", a.infs}};
}

std::string account_text(const RoundingAccount& a) {
  if (a.exact()) {
    std::string s = "exact";
    if (a.subnormal) s += ", " + std::to_string(a.subnormal) + " subnormal";
    if (a.nans) s += ", " + std::to_string(a.nans) + " NaN kept";
    return s;
  }
  std::string s = std::to_string(a.changed) + " of " + std::to_string(a.values) +
                  " values changed, max abs error " + g17(a.max_abs_error) + ", max rel error " +
                  g17(a.max_rel_error) + ", max " + g17(a.max_ulp_error) + " ulp";
  if (a.overflows) s += ", " + std::to_string(a.overflows) + " overflowed to inf";
  if (a.subnormal) s += ", " + std::to_string(a.subnormal) + " subnormal";
  if (a.to_zero) s += ", " + std::to_string(a.to_zero) + " became zero";
  if (a.nans) s += ", " + std::to_string(a.nans) + " NaN kept";
  return s;
}

}  // namespace

Runner add_load(CLI::App& app, Common& common) {
  struct Opts {
    std::string weights, model, out, arch, dtype = "model", overflow = "error";
    bool force = false;
    std::size_t chunk = LoadOptions{}.chunk_bytes;
  };
  auto o = std::make_shared<Opts>();
  app.add_option(
         "WEIGHTS", o->weights,
         "Weights in any readable form (npy/memmap directory, npz, safetensors, .weights.h5, "
         ".keras, np.save/np.savez/tofile files)")
      ->required();
  app.add_option("--into", o->model,
                 "The model: .keras, .weights.h5 (with --model), legacy .h5, or a TensorFlow "
                 "checkpoint or SavedModel (OUT is then a checkpoint prefix)")
      ->required();
  app.add_option("-o,--output", o->out, "Output: MODEL's format with WEIGHTS' values")->required();
  app.add_option("--model", o->arch, "A .keras of the same model, for a bare .weights.h5");
  app.add_option("--dtype", o->dtype,
                 "model: cast back to the model's dtypes (default); float64: keep float64")
      ->check(CLI::IsMember({"model", "float64"}));
  app.add_option("--on-overflow", o->overflow,
                 "error: refuse a finite value too large for the model's dtype (default); inf: "
                 "write inf")
      ->check(CLI::IsMember({"error", "inf"}));
  app.add_flag("-f,--force", o->force, "Replace an existing output");
  app.add_option("--chunk-size", o->chunk, "Bytes of float64 data moved per step")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  return [o, &common]() {
    LoadOptions lo;
    lo.model = o->arch;
    lo.dtype = o->dtype == "float64" ? LoadDType::float64 : LoadDType::model;
    lo.on_overflow = o->overflow == "inf" ? OnOverflow::inf : OnOverflow::error;
    lo.force = o->force;
    lo.chunk_bytes = o->chunk;
    lo.on_progress = make_progress(common);
    lo.cancel = &g_cancel;
    const LoadReport r = load_into(o->weights, o->model, o->out, lo);
    end_progress();
    const auto& c = r.convert;
    if (common.json) {
      nlohmann::json j{{"ok", true},
                       {"weights", source_json(r.weights)},
                       {"model", source_json(r.model)},
                       {"output", {{"path", o->out}, {"format", r.output_format}}},
                       {"matched_by", r.by_name ? "name" : "position"},
                       {"bytes_written", c.bytes_written},
                       {"rounding", account_json(c.rounding)},
                       {"tensors", nlohmann::json::array()}};
      for (std::size_t i = 0; i < c.tensors.size(); ++i) {
        const auto& t = c.tensors[i];
        j["tensors"].push_back({{"index", i},
                                {"name", t.name},
                                {"weights_name", r.weights_names[i]},
                                {"from", info(t.from).name},
                                {"to", info(t.to).name},
                                {"shape", t.shape},
                                {"rounding", account_json(t.account)}});
      }
      std::cout << json_text(j) << "\n";
      return 0;
    }
    if (!common.quiet) {
      for (const auto& t : c.tensors)
        if (!t.account.exact())
          std::cout << "  " << t.name << " (" << info(t.from).name << " -> " << info(t.to).name
                    << "): " << account_text(t.account) << "\n";
      std::cout << o->out << ": " << c.tensors.size() << " tensors loaded by "
                << (r.by_name ? "name" : "position") << " from " << o->weights
                << "; rounding: " << account_text(c.rounding) << "\n";
    }
    return 0;
  };
}

}  // namespace keras64::cli
