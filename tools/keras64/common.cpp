#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "cli.hpp"

namespace keras64::cli {
namespace {
bool g_drawn = false;
}

std::string human_bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::function<void(const Progress&)> make_progress(const Common& common) {
  if (common.quiet || common.json || !::isatty(STDERR_FILENO)) return {};
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto last = start - std::chrono::seconds(1);
  return [start, last](const Progress& p) mutable {
    const auto now = clock::now();
    if (now - last < std::chrono::milliseconds(100) && p.bytes_done < p.bytes_total) return;
    last = now;
    const double secs = std::chrono::duration<double>(now - start).count();
    const double rate = secs > 0 ? static_cast<double>(p.bytes_done) / secs : 0;
    const double pct = p.bytes_total ? 100.0 * static_cast<double>(p.bytes_done) /
                                           static_cast<double>(p.bytes_total)
                                     : 100.0;
    const double eta = rate > 0 ? static_cast<double>(p.bytes_total - p.bytes_done) / rate : 0;
    std::fprintf(stderr, "\r\033[K%5.1f%%  %s / %s  %s/s  ETA %.0fs  tensor %zu/%zu", pct,
                 human_bytes(p.bytes_done).c_str(), human_bytes(p.bytes_total).c_str(),
                 human_bytes(static_cast<std::uint64_t>(rate)).c_str(), eta, p.tensor + 1,
                 p.tensors);
    g_drawn = true;
  };
}

void end_progress() {
  if (g_drawn) std::fprintf(stderr, "\r\033[K");
  g_drawn = false;
}

nlohmann::json tensor_json(const TensorInfo& t, std::size_t index) {
  return {{"index", index},
          {"name", t.name},
          {"layer", t.layer},
          {"keras_path", t.keras_path},
          {"key", t.key},
          {"role", role_name(t.role)},
          {"dtype", info(t.dtype).name},
          {"shape", t.shape},
          {"nbytes", t.nbytes()},
          {"file", t.file},
          {"dataset", t.dataset}};
}

nlohmann::json skipped_json(const SourceInfo& s) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& k : s.skipped) a.push_back({{"key", k.key}, {"why", k.why}});
  return a;
}

nlohmann::json source_json(const SourceInfo& s) {
  return {{"file", s.file},
          {"kind", std::string(keras64::kind_name(s.kind))},
          {"keras_version", s.keras_version},
          {"model_name", s.model_name},
          {"order_exact", s.order_exact},
          {"note", note_text(s)},
          {"skipped", skipped_json(s)}};
}

}  // namespace keras64::cli
