// keras64 convert FILE -o OUT --to FORMAT: the main job.
#include "keras64/convert.hpp"

#include <cstdio>
#include <iostream>

#include "cli.hpp"
#include "keras64/sink.hpp"
#include "keras64/source.hpp"
#include "text.hpp"

namespace keras64::cli {

Runner add_convert(CLI::App& app, Common& common) {
  struct Opts {
    std::string file, out, to, model, cast = "floats";
    bool include_optimizer = false, force = false, compress = false;
    std::size_t chunk = ConvertOptions{}.chunk_bytes;
    int level = -1;
    unsigned threads = 0;
  };
  auto o = std::make_shared<Opts>();
  std::string formats;
  for (const auto& f : sink_formats()) formats += (formats.empty() ? "" : ", ") + f;
  app.add_option("FILE", o->file,
                 "Input: .keras, .weights.h5, sharded .weights.json, legacy .h5, ...")
      ->required();
  app.add_option("-o,--output", o->out, "Output path (a directory for npy and memmap)")->required();
  app.add_option("--to", o->to, "Output format: " + formats)->required();
  app.add_option("--model", o->model,
                 "A .keras file of the same model, giving a bare weights file its architecture");
  app.add_option("--cast", o->cast,
                 "floats: only float tensors become float64 (default); all: integers too")
      ->check(CLI::IsMember({"floats", "all"}));
  app.add_flag("--include-optimizer", o->include_optimizer,
               "Also convert the optimizer's variables");
  app.add_flag("-f,--force", o->force, "Replace an existing output");
  app.add_flag("--compress", o->compress, "HDF5 outputs: shuffle + deflate chunked datasets");
  app.add_option("--level", o->level, "Compression level for compressing formats");
  app.add_option("--threads", o->threads, "Compression threads (0: one per core)");
  app.add_option("--chunk-size", o->chunk,
                 "Bytes of float64 data moved per step (tests use tiny values)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 32));
  return [o, &common]() {
    OpenOptions opts;
    opts.model = o->model;
    opts.include_optimizer = o->include_optimizer;
    auto src = open_source(o->file, opts);
    SinkOptions so;
    so.force = o->force;
    so.level = o->level;
    so.threads = o->threads;
    so.compress = o->compress;
    auto sink = open_sink(o->to, o->out, so);
    ConvertOptions co;
    co.cast = o->cast == "all" ? CastMode::all : CastMode::floats;
    co.chunk_bytes = o->chunk;
    co.on_progress = make_progress(common);
    co.cancel = &g_cancel;
    const ConvertReport r = convert(*src, *sink, co);
    end_progress();
    const auto& si = src->info();
    // --compress: bytes written against the raw size of the tensors written (float64 mostly).
    std::uint64_t raw_bytes = 0;
    for (const auto& t : r.tensors) raw_bytes += element_count(t.shape) * info(t.to).size;
    const double ratio = raw_bytes ? static_cast<double>(r.bytes_written) / raw_bytes : 1.0;
    if (common.json) {
      nlohmann::json j{{"ok", true},
                       {"source", source_json(si)},
                       {"output", {{"path", o->out}, {"format", o->to}}},
                       {"bytes_read", r.bytes_read},
                       {"bytes_written", r.bytes_written},
                       {"seconds", r.seconds},
                       {"tensors", nlohmann::json::array()}};
      for (std::size_t i = 0; i < r.tensors.size(); ++i) {
        const auto& t = r.tensors[i];
        j["tensors"].push_back({{"index", i},
                                {"name", t.name},
                                {"from", info(t.from).name},
                                {"to", info(t.to).name},
                                {"shape", t.shape}});
      }
      if (o->compress) {
        j["raw_bytes"] = raw_bytes;
        j["ratio"] = ratio;
      }
      std::cout << json_text(j) << "\n";
      return 0;
    }
    if (!si.order_exact)
      std::cerr << "keras64: note: tensors are in file order: " << note_text(si) << "\n";
    if (!common.quiet) {
      std::size_t widened = 0, kept = 0;
      for (const auto& t : r.tensors) (t.from == t.to && t.to != DType::f64 ? kept : widened)++;
      std::cout << o->out << ": " << r.tensors.size() << " tensors (" << widened << " float64";
      if (kept) std::cout << ", " << kept << " integer kept";
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2f", r.seconds);
      std::cout << "), " << human_bytes(r.bytes_written) << " written in " << secs << " s";
      if (r.seconds > 0 && r.bytes_read >= (1u << 20))  // a rate is noise for tiny models
        std::cout << " ("
                  << human_bytes(
                         static_cast<std::uint64_t>(static_cast<double>(r.bytes_read) / r.seconds))
                  << "/s read)";
      if (o->compress)
        std::cout << " (compressed to " << static_cast<int>(ratio * 1000 + 0.5) / 10.0 << "% of "
                  << human_bytes(raw_bytes) << ")";
      std::cout << "\n";
    }
    return 0;
  };
}

}  // namespace keras64::cli
