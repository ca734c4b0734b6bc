#include "keras64/convert.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "keras64/error.hpp"

namespace keras64 {

Plan make_plan(Source& source, CastMode cast) {
  Plan plan;
  plan.source = source.info();
  plan.origin = &source;
  for (const auto& t : source.tensors()) {
    const bool to_f64 = info(t.dtype).is_float || cast == CastMode::all;
    plan.tensors.push_back({t, to_f64 ? DType::f64 : t.dtype});
  }
  return plan;
}

ConvertReport convert(Source& source, Sink& sink, const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const Plan plan = make_plan(source, options.cast);
  ConvertReport report;
  Progress progress;
  progress.tensors = plan.tensors.size();
  for (const auto& t : plan.tensors) progress.bytes_total += t.source.nbytes();

  sink.begin(plan);

  // Two fixed buffers: `in` holds stored bytes, `out` float64. A chunk is sized by its float64
  // form, so neither buffer exceeds chunk_bytes (plus one element when chunk_bytes < 8).
  const std::size_t chunk_elems = std::max<std::size_t>(1, options.chunk_bytes / 8);
  std::vector<unsigned char> in(chunk_elems * 8);
  std::vector<double> out(chunk_elems);

  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const auto& pt = plan.tensors[i];
    const TensorInfo& t = pt.source;
    const std::size_t in_size = info(t.dtype).size;
    const bool widen = pt.dtype != t.dtype;
    const std::uint64_t n = t.elements();
    progress.tensor = i;
    for (std::uint64_t first = 0; first < n;) {
      if (options.cancel && options.cancel->load(std::memory_order_relaxed))
        throw Error(Errc::interrupted, "interrupted");
      const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_elems, n - first));
      source.read(i, first, count, in.data());
      if (widen) {
        widen_to_f64(t.dtype, in.data(), count, out.data());
        sink.write(i, out.data(), count * 8);
      } else {
        sink.write(i, in.data(), count * in_size);
      }
      first += count;
      progress.bytes_done += count * in_size;
      if (options.on_progress) options.on_progress(progress);
    }
    report.tensors.push_back({t.name, t.dtype, pt.dtype, t.shape});
  }
  if (options.cancel && options.cancel->load()) throw Error(Errc::interrupted, "interrupted");
  sink.commit();
  report.bytes_read = progress.bytes_done;
  report.bytes_written = sink.bytes_written();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace keras64
