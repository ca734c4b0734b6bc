// The real-Keras golden models under tests/data/golden/ (each with expected/manifest.json).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace keras64::test {

inline const std::filesystem::path kGolden = std::filesystem::path(KERAS64_TEST_DATA) / "golden";

/// Every golden model's folder name, sorted.
inline std::vector<std::string> golden_models() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(kGolden))
    if (std::filesystem::exists(e.path() / "expected" / "manifest.json"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// A model's expected/manifest.json.
inline nlohmann::json golden_manifest(const std::string& model) {
  std::ifstream in(kGolden / model / "expected" / "manifest.json");
  return nlohmann::json::parse(in);
}

}  // namespace keras64::test
