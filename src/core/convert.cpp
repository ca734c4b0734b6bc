#include "keras64/convert.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include "keras64/error.hpp"

namespace keras64 {

Plan make_plan(Source& source, CastMode cast) {
  Plan plan;
  plan.source = source.info();
  plan.structure = source.structure();
  for (const auto& t : source.tensors()) {
    const bool to_f64 = info(t.dtype).is_float || cast == CastMode::all;
    plan.tensors.push_back({t, to_f64 ? DType::f64 : t.dtype});
  }
  return plan;
}

namespace {

std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string tensor_label(std::size_t i, const TensorInfo& t) {
  return "tensor " + std::to_string(i) + " (" + t.name + ")";
}

// The first element of a chunk that narrowing made infinite (the chunk had an overflow).
std::size_t first_overflow(const double* v, std::size_t n, DType to) {
  unsigned char tmp[8];
  for (std::size_t k = 0; k < n; ++k) {
    RoundingAccount a;
    narrow_from_f64(v + k, 1, to, tmp, a);
    if (a.overflows) return k;
  }
  return 0;
}

}  // namespace

ConvertReport convert(Source& source, Sink& sink, const ConvertOptions& options) {
  return convert(source, sink, make_plan(source, options.cast), options);
}

ConvertReport convert(Source& source, Sink& sink, const Plan& plan, const ConvertOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (plan.tensors.size() != source.tensors().size())
    throw Error(Errc::internal, "convert: plan has " + std::to_string(plan.tensors.size()) +
                                    " tensors, the source " +
                                    std::to_string(source.tensors().size()));
  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const TensorInfo& s = source.tensors()[i];
    const TensorInfo& p = plan.tensors[i].source;
    if (s.dtype != p.dtype || s.elements() != p.elements())
      throw Error(Errc::internal,
                  "convert: plan " + tensor_label(i, p) + " does not match the source");
  }
  ConvertReport report;
  Progress progress;
  progress.tensors = plan.tensors.size();
  for (const auto& t : plan.tensors) progress.bytes_total += t.source.nbytes();

  sink.begin(plan);

  // Two fixed buffers: `in` holds stored bytes, `out` float64. A chunk is sized by its float64
  // form, so neither buffer exceeds chunk_bytes (plus one element when chunk_bytes < 8). Not
  // zeroed: a page is only touched when data pass through it (a float32 input fills half of
  // `in`), and they are freed before the sink commits, which may need memory of its own.
  const std::size_t chunk_elems = std::max<std::size_t>(1, options.chunk_bytes / 8);
  auto in_buf = std::make_unique_for_overwrite<unsigned char[]>(chunk_elems * 8);
  auto out_buf = std::make_unique_for_overwrite<double[]>(chunk_elems);
  unsigned char* const in = in_buf.get();
  double* const out = out_buf.get();

  for (std::size_t i = 0; i < plan.tensors.size(); ++i) {
    const auto& pt = plan.tensors[i];
    const TensorInfo& t = pt.source;
    const std::size_t in_size = info(t.dtype).size;
    const bool widen = pt.dtype != t.dtype;
    const bool narrow = widen && pt.dtype != DType::f64;
    RoundingAccount account;
    const std::uint64_t n = t.elements();
    progress.tensor = i;
    const std::size_t out_size = info(pt.dtype).size;
    for (std::uint64_t first = 0; first < n;) {
      if (options.cancel && options.cancel->load(std::memory_order_relaxed))
        throw Error(Errc::interrupted, "interrupted");
      std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_elems, n - first));
      // Widened or copied values go straight into the sink's buffer where it lends one (an
      // O_DIRECT writer's aligned buffer): no copy from `out`, whose pages then stay untouched.
      // The chunk shrinks to what is lent; doubles need their alignment.
      unsigned char* lent = nullptr;
      if (!narrow) {
        const LentBuffer s = sink.lend(i, count * out_size);
        const bool fits = !widen || reinterpret_cast<std::uintptr_t>(s.data) % 8 == 0;
        if (s.size >= out_size && fits) {
          count = std::min(count, s.size / out_size);
          lent = s.data;
        } else if (s.size > 0) {
          count = std::min(count, std::max<std::size_t>(1, s.size / out_size));
        }
      }
      source.read(i, first, count, !widen && lent != nullptr ? lent : in);
      if (narrow && can_narrow_to(pt.dtype)) {
        // float64 in `out`, rounded into `in` (free again, and at least as large).
        widen_to_f64(t.dtype, in, count, out);
        const std::uint64_t before = account.overflows;
        narrow_from_f64(out, count, pt.dtype, in, account);
        if (account.overflows != before && options.on_overflow == OnOverflow::error) {
          const std::size_t k = first_overflow(out, count, pt.dtype);
          throw Error(Errc::mismatch, tensor_label(i, t) + ": value " + number(out[k]) +
                                          " at element " + std::to_string(first + k) +
                                          " overflows " + std::string(info(pt.dtype).name) + " (" +
                                          std::to_string(account.overflows) +
                                          " so far in this tensor); allow with on-overflow inf");
        }
        sink.write(i, in, count * info(pt.dtype).size);
      } else if (narrow) {
        widen_to_f64(t.dtype, in, count, out);
        const std::size_t ok = integers_from_f64(out, count, pt.dtype, in);
        if (ok != count)
          throw Error(Errc::mismatch, tensor_label(i, t) + ": value " + number(out[ok]) +
                                          " at element " + std::to_string(first + ok) +
                                          " is not representable as " +
                                          std::string(info(pt.dtype).name));
        sink.write(i, in, count * info(pt.dtype).size);
        account.values += count;
      } else if (widen) {
        double* const to = lent != nullptr ? reinterpret_cast<double*>(lent) : out;
        widen_to_f64(t.dtype, in, count, to);
        sink.write(i, to, count * 8);
        account.values += count;
      } else {
        account.values += count;
        sink.write(i, lent != nullptr ? lent : in, count * in_size);
      }
      first += count;
      progress.bytes_done += count * in_size;
      if (options.on_progress) options.on_progress(progress);
    }
    report.rounding.merge(account);
    report.tensors.push_back({t.name, t.dtype, pt.dtype, t.shape, account});
  }
  in_buf.reset();
  out_buf.reset();
  if (options.cancel && options.cancel->load()) throw Error(Errc::interrupted, "interrupted");
  source.verify_checksums();  // a damaged input must not become a committed output
  sink.commit();
  report.bytes_read = progress.bytes_done;
  report.bytes_written = sink.bytes_written();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace keras64
