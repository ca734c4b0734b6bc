// Atomic outputs: write under a temporary name beside the target, rename into place on commit.
//
// The temporary name is ".<target name>.keras64-tmp-<pid>-<n>" in the target's directory (same
// file system, so the rename is atomic and a crash leaves only recognisably named leftovers).
// Destroying a PendingOutput that was not committed removes the temporary file or directory.
#pragma once

#include <filesystem>

namespace keras64::detail {

class File;

class PendingOutput {
 public:
  enum class Kind { file, directory };

  /// Refuses (Error{invalid_argument}) an existing target unless `force`; checks the parent
  /// directory exists. For Kind::directory the temporary directory is created here; for
  /// Kind::file the caller creates temp() itself.
  PendingOutput(std::filesystem::path target, bool force, Kind kind);
  ~PendingOutput();
  PendingOutput(const PendingOutput&) = delete;
  PendingOutput& operator=(const PendingOutput&) = delete;

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp() const { return temp_; }
  bool committed() const { return committed_; }

  /// Moves temp() to target(). Without `force`, fails if the target appeared meanwhile (another
  /// writer won); with it, an existing target is replaced only after the new output is in place.
  void commit();

  /// The usual end of a single-file output: fsync and close `file` (which holds temp()), then
  /// commit(). An io error (disk full shows up here on some file systems) names target(), since
  /// users never see temp().
  void commit_file(File& file);

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool force_;
  Kind kind_;
  bool committed_ = false;
};

}  // namespace keras64::detail
