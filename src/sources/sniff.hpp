// What open_source() learns about a path before choosing a format, and the format table's row.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "keras64/source.hpp"

namespace keras64::detail {

struct Sniff {
  std::filesystem::path path;
  bool is_dir = false;
  std::string head;  ///< the first bytes (up to 4 KiB) of a file
  std::uint64_t size = 0;
  bool is_json = false;  ///< head starts with '{' (after white space)
  bool is_zip = false;
  std::set<std::string> zip_members;
  bool is_hdf5 = false;
  std::set<std::string> h5_root_attrs;
  std::set<std::string> h5_root_groups;
};

/// Reads what every probe needs. Throws for unreadable paths and damaged zip/HDF5 containers.
Sniff sniff(const std::filesystem::path& path);

struct SourceFormat {
  const char* name;
  std::function<bool(const Sniff&)> probe;
  std::function<std::unique_ptr<Source>(const std::filesystem::path&, const OpenOptions&)> open;
};

}  // namespace keras64::detail
