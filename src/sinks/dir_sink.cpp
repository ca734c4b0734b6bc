#include "sinks/dir_sink.hpp"

#include "keras64/error.hpp"

namespace keras64::detail {

DirSink::DirSink(std::filesystem::path target, const SinkOptions& options, std::string format,
                 std::string extension)
    : target_(std::move(target)),
      force_(options.force),
      format_(std::move(format)),
      extension_(std::move(extension)) {
  check_output_target(target_, force_);
  record_crc32c();
}

std::string DirSink::header(std::size_t) const {
  return {};
}
std::string DirSink::note() const {
  return {};
}

// File names the temporary directory; the user knows the output by the path they gave. The
// error may name another file than `name` (the shared Writeback reports a kept file's failure).
void DirSink::rethrow(const std::string& name) const {
  try {
    throw;
  } catch (const Error& e) {
    const std::string dir = pending_->temp().string() + "/";
    const std::string file = e.file().starts_with(dir) ? e.file().substr(dir.size()) : name;
    throw e.renamed((pending_->temp() / file).string(), (target_ / file).string());
  }
}

void DirSink::on_begin() {
  pending_.emplace(target_, force_, PendingOutput::Kind::directory);
  files_.reserve(plan().tensors.size());
  for (std::size_t i = 0; i < plan().tensors.size(); ++i)
    files_.push_back({"weight_" + std::to_string(i) + extension_, header(i).size()});
}

void DirSink::on_open(std::size_t index) {
  const std::string& name = files_[index].file;
  current_ = index;
  try {
    out_.reset();
    file_ = File::create(pending_->temp() / name);
    out_.emplace(file_, writeback_);
    const std::string h = header(index);
    out_->write(h.data(), h.size());
    bytes_ += h.size();
  } catch (...) {
    rethrow(name);
  }
}

void DirSink::on_append(const void* data, std::size_t n) {
  try {
    out_->write(data, n);
  } catch (...) {
    rethrow(files_[current_].file);
  }
  bytes_ += n;
}

std::span<unsigned char> DirSink::on_lend(std::size_t n) {
  try {
    return out_->lend(n);
  } catch (...) {
    rethrow(files_[current_].file);
  }
}

void DirSink::on_close(std::size_t index) {
  files_[index].crc32c = crc32c(index);
  try {
    out_->finish();
    out_.reset();
    writeback_.keep(std::move(file_));  // closed once its last bytes are on the device
  } catch (...) {
    rethrow(files_[index].file);
  }
}

void DirSink::on_commit() {
  try {
    writeback_.drain();
  } catch (...) {
    rethrow(files_.empty() ? std::string() : files_.back().file);  // (names its own file)
  }
  // One fsync per file, all at the end: the file system can commit their metadata together
  // (ext4: the first fsync commits every file's, the others find nothing left to do), where an
  // fsync after each file cost a journal commit each (about 1 s for 200 files, issue #6).
  std::vector<std::filesystem::path> paths;
  paths.reserve(files_.size());
  for (const auto& f : files_) paths.push_back(pending_->temp() / f.file);
  try {
    sync_files(paths);
  } catch (...) {
    rethrow(std::string());  // (names its own file)
  }
  const std::string text = make_manifest(plan(), format_, files_, note());
  try {
    File f = File::create(pending_->temp() / "manifest.json");
    f.write_all(text.data(), text.size());
    f.sync();
    f.close();
  } catch (...) {
    rethrow("manifest.json");
  }
  bytes_ += text.size();
  sync_directory(pending_->temp());
  pending_->commit();
}

}  // namespace keras64::detail
