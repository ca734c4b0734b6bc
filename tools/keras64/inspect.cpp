// keras64 inspect FILE: the tensors of any readable file, in model.get_weights() order.
#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "keras64/source.hpp"
#include "text.hpp"

namespace keras64::cli {

Runner add_inspect(CLI::App& app, Common& common) {
  struct Opts {
    std::string file;
    std::string model;
    bool include_optimizer = false;
  };
  auto o = std::make_shared<Opts>();
  app.add_option("FILE", o->file, "Weights or model file (format detected from its bytes)")
      ->required();
  app.add_option("--model", o->model,
                 "A .keras file of the same model, giving a bare weights file its architecture");
  app.add_flag("--include-optimizer", o->include_optimizer, "Also list the optimizer's variables");
  return [o, &common]() {
    OpenOptions opts;
    opts.model = o->model;
    opts.include_optimizer = o->include_optimizer;
    auto src = open_source(o->file, opts);
    const auto& si = src->info();
    const auto& ts = src->tensors();
    std::uint64_t total = 0;
    for (const auto& t : ts) total += t.nbytes();
    if (common.json) {
      nlohmann::json j{
          {"ok", true}, {"source", source_json(si)}, {"tensors", nlohmann::json::array()}};
      for (std::size_t i = 0; i < ts.size(); ++i) j["tensors"].push_back(tensor_json(ts[i], i));
      j["total_bytes"] = total;
      std::cout << json_text(j) << "\n";
      return 0;
    }
    std::cout << si.file << ": " << keras64::kind_name(si.kind);
    if (!si.keras_version.empty()) std::cout << ", Keras " << si.keras_version;
    if (!si.model_name.empty()) std::cout << ", model '" << si.model_name << "'";
    std::cout << "\n";
    std::cout << "order: "
              << (si.order_exact ? "model.get_weights()" : "file order (" + note_text(si) + ")")
              << "\n";
    std::size_t w = 4;
    for (const auto& t : ts) w = std::max(w, t.name.size());
    std::printf("%5s  %-*s  %-9s  %-16s  %10s  %s\n", "#", static_cast<int>(w), "name", "dtype",
                "shape", "bytes", "layer");
    for (std::size_t i = 0; i < ts.size(); ++i) {
      const auto& t = ts[i];
      std::printf("%5zu  %-*s  %-9s  %-16s  %10llu  %s%s\n", i, static_cast<int>(w),
                  printable(t.name).c_str(), std::string(info(t.dtype).name).c_str(),
                  shape_string(t.shape).c_str(), static_cast<unsigned long long>(t.nbytes()),
                  printable(t.layer).c_str(), t.role == Role::optimizer ? " (optimizer)" : "");
    }
    std::cout << ts.size() << " tensors, " << human_bytes(total) << "\n";
    if (!si.skipped.empty()) {
      std::cout << si.skipped.size() << " entries skipped (never converted):\n";
      for (const auto& k : si.skipped)
        std::cout << "       " << printable(k.key) << "  (" << k.why << ")\n";
    }
    return 0;
  };
}

}  // namespace keras64::cli
