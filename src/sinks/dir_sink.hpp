// A directory output: one file per tensor, "weight_{i}<ext>" with i the plan index, plus
// manifest.json. Files are created one at a time (so thousands of tensors never need thousands
// of descriptors); every file is fsynced in commit(), before the directory appears at its path.
// The files share one Writeback window, so a file's tail reaches the device while the next file
// is written (waiting at the end of every file cost ~0.3 s per GB of npy output: issue #6).
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "detail/buffered_writer.hpp"
#include "detail/file.hpp"
#include "detail/manifest.hpp"
#include "detail/output_path.hpp"
#include "sinks/ordered_sink.hpp"

namespace keras64::detail {

class DirSink : public OrderedSink {
 protected:
  /// `format` is the manifest's output.format ("npy"); `extension` includes the dot (".npy").
  DirSink(std::filesystem::path target, const SinkOptions& options, std::string format,
          std::string extension);

  /// Bytes written before tensor `index`'s data in its file (e.g. an npy header); default none.
  virtual std::string header(std::size_t index) const;
  /// The manifest's output.note, computed once every tensor is written; default none.
  virtual std::string note() const;

 private:
  void on_begin() final;
  void on_open(std::size_t index) final;
  void on_append(const void* data, std::size_t n) final;
  std::span<unsigned char> on_lend(std::size_t n) final;
  void on_close(std::size_t index) final;
  void on_commit() final;
  [[noreturn]] void rethrow(const std::string& name) const;

  std::filesystem::path target_;
  bool force_;
  std::string format_;
  std::string extension_;
  std::optional<PendingOutput> pending_;
  std::vector<ManifestFile> files_;
  Writeback writeback_;  // shared by the files in turn, drained in commit()
  File file_;
  std::optional<BufferedWriter> out_;  // writes file_
  std::size_t current_ = 0;            // the open tensor
};

}  // namespace keras64::detail
