// diff(): two weight sets compared value by value after exact widening to float64.
#include "keras64/diff.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "keras64/convert.hpp"
#include "keras64/error.hpp"
#include "keras64/load.hpp"

namespace fs = std::filesystem;

namespace keras64 {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double nan_as_inf(double v) {
  if (std::isnan(v)) return kInf;
  return v;
}

// float64 bits on a line where adjacent doubles are adjacent integers (-0 and +0 both at 0).
std::int64_t ordered(double x) {
  const auto b = std::bit_cast<std::int64_t>(x);
  return b < 0 ? std::numeric_limits<std::int64_t>::min() - b : b;
}

std::uint64_t ulp_distance(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<std::uint64_t>::max();
  const std::int64_t x = ordered(a), y = ordered(b);
  return x > y ? static_cast<std::uint64_t>(x) - static_cast<std::uint64_t>(y)
               : static_cast<std::uint64_t>(y) - static_cast<std::uint64_t>(x);
}

void compare(Source& a, Source& b, TensorDiff& d, const DiffOptions& o) {
  const std::size_t n = std::max<std::size_t>(1, o.chunk_bytes / 8);
  std::vector<unsigned char> raw_a(n * 8), raw_b(n * 8);
  std::vector<double> va(n), vb(n);
  const std::uint64_t total = element_count(d.shape_a);
  for (std::uint64_t first = 0; first < total;) {
    const auto count = static_cast<std::size_t>(std::min<std::uint64_t>(n, total - first));
    a.read(d.index_a, first, count, raw_a.data());
    b.read(d.index_b, first, count, raw_b.data());
    widen_to_f64(d.dtype_a, raw_a.data(), count, va.data());
    widen_to_f64(d.dtype_b, raw_b.data(), count, vb.data());
    for (std::size_t k = 0; k < count; ++k) {
      const double x = va[k], y = vb[k];
      if (std::bit_cast<std::uint64_t>(x) != std::bit_cast<std::uint64_t>(y)) ++d.not_identical;
      if (x == y || (std::isnan(x) && std::isnan(y))) continue;
      const double abs = std::isnan(x) || std::isnan(y) ? kInf : std::fabs(x - y);
      const double rel = y != 0 ? abs / std::fabs(y) : kInf;
      const std::uint64_t u = ulp_distance(x, y);
      // NaN (inf - inf) counts as the largest error.
      d.max_abs = std::max(d.max_abs, nan_as_inf(abs));
      d.max_rel = std::max(d.max_rel, nan_as_inf(rel));
      d.max_ulp = std::max(d.max_ulp, u);
      const bool within = abs <= o.atol + o.rtol * std::fabs(y) || (o.ulp > 0 && u <= o.ulp);
      if (!within) {
        if (d.out_of_tolerance == 0) d.first_out = first + k;
        ++d.out_of_tolerance;
      }
    }
    first += count;
  }
  d.elements = total;
}

}  // namespace

bool DiffReport::equal() const {
  if (!only_a.empty() || !only_b.empty()) return false;
  return std::all_of(tensors.begin(), tensors.end(), [](const TensorDiff& t) { return t.ok(); });
}

DiffReport diff(const fs::path& pa, const fs::path& pb, const DiffOptions& options) {
  for (double t : {options.rtol, options.atol})
    if (!(t >= 0)) throw Error(Errc::invalid_argument, "tolerances must be >= 0");
  OpenOptions oa;
  oa.model = options.model;
  auto a = open_source(pa, oa);
  OpenOptions ob;
  ob.model = options.model;
  ob.expected = a->tensors();  // shapes for a raw weight_{i}.dat directory
  auto b = open_source(pb, ob);

  DiffReport r;
  r.a = a->info();
  r.b = b->info();
  Matching m = match_tensors(a->tensors(), b->tensors());
  r.by_name = m.by_name;
  std::sort(m.pairs.begin(), m.pairs.end());
  for (auto i : m.only_a) r.only_a.push_back(a->tensors()[i].name);
  for (auto i : m.only_b) r.only_b.push_back(b->tensors()[i].name);
  for (const auto& [ia, ib] : m.pairs) {
    const TensorInfo& ta = a->tensors()[ia];
    const TensorInfo& tb = b->tensors()[ib];
    TensorDiff d;
    d.index_a = ia;
    d.index_b = ib;
    d.name_a = ta.name;
    d.name_b = tb.name;
    d.dtype_a = ta.dtype;
    d.dtype_b = tb.dtype;
    d.shape_a = ta.shape;
    d.shape_b = tb.shape;
    d.shape_differs = ta.shape != tb.shape;
    if (!d.shape_differs) compare(*a, *b, d, options);
    r.tensors.push_back(std::move(d));
  }
  // A difference found in damaged data is no finding: a damaged input is an error.
  a->verify_checksums();
  b->verify_checksums();
  return r;
}

}  // namespace keras64
