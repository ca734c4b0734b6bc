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

  /// Puts two files that are one output in place - `body` (a TensorFlow checkpoint's data file)
  /// and `key` (its index: what makes readers take the pair for an output) - so that no reader
  /// ever finds `key` beside a `body` that is not its own. Both temp() files must be complete and
  /// synced. Under an exclusive flock() of their directory (keras64 writers of one directory take
  /// turns; other programs are not held back):
  ///  1. an existing key target is refused unless key's `force`, else moved aside (hidden name);
  ///  2. body's temp() is renamed over body's target (which may be an old body, or one a killed
  ///     run left without its key: `body` is always constructed with force);
  ///  3. key's temp() is renamed into place (RENAME_NOREPLACE), the aside key removed.
  /// So the targets go old pair -> old body alone -> new body alone -> new pair: a kill in
  /// between leaves a body without key (replaced by the next run, force or not) and perhaps the
  /// old key under ".<key name>.keras64-old-<pid>-<n>". A failed step 2 moves the old key back (the
  /// old pair stays); a failed step 3 removes the new body (neither is there).
  static void commit_pair(PendingOutput& body, PendingOutput& key);

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  bool force_;
  Kind kind_;
  bool committed_ = false;
};

}  // namespace keras64::detail
