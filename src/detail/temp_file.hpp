// A scratch file in the system temporary directory ($TMPDIR or /tmp), removed when destroyed.
#pragma once

#include <filesystem>
#include <string>

namespace keras64::detail {

class TempFile {
 public:
  /// Creates an empty file "keras64-<hint>-XXXXXX" (mode 0600).
  explicit TempFile(const std::string& hint);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace keras64::detail
