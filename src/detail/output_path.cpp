#include "detail/output_path.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "detail/file.hpp"
#include "keras64/error.hpp"

namespace fs = std::filesystem;

namespace keras64::detail {
namespace {

fs::path sibling(const fs::path& target, const char* tag) {
  static std::atomic<unsigned> counter{0};
  fs::path dir = target.parent_path();
  std::string name = "." + target.filename().string() + ".keras64-" + tag + "-" +
                     std::to_string(::getpid()) + "-" + std::to_string(counter++);
  return dir.empty() ? fs::path(name) : dir / name;
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);  // best effort: some file systems refuse fsync on directories
    ::close(fd);
  }
}

Error output_exists(const fs::path& target) {
  return Error(Errc::invalid_argument, {target.string()}, "output exists", 0, Hint::force);
}

// An exclusive flock() of a directory while it is held; best effort (a file system without
// flock leaves the writers unserialised, as they are everywhere without this lock).
class DirLock {
 public:
  explicit DirLock(const fs::path& dir)
      : fd_(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0)
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_;
};

}  // namespace

PendingOutput::PendingOutput(fs::path target, bool force, Kind kind)
    : target_(std::move(target)), force_(force), kind_(kind) {
  const std::string t = target_.string();
  if (t.empty()) throw Error(Errc::invalid_argument, "output path is empty");
  std::error_code ec;
  if (fs::symlink_status(target_, ec).type() != fs::file_type::not_found && !ec && !force_)
    throw output_exists(target_);
  fs::path parent = target_.parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw io_error({t}, "cannot create output in " + parent.string(), ENOENT);
  temp_ = sibling(target_, "tmp");
  if (kind_ == Kind::directory && ::mkdir(temp_.c_str(), 0755) != 0)
    throw io_error({temp_.string()}, "cannot create directory", errno);
}

PendingOutput::~PendingOutput() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);  // nothing useful to do if this fails during unwinding
}

void PendingOutput::commit() {
  if (committed_) return;
  const fs::path parent = target_.parent_path();
  // RENAME_NOREPLACE: without force, a target that appeared since we checked is not clobbered.
  if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) == 0) {
    committed_ = true;
    fsync_dir(parent);
    return;
  }
  int err = errno;
  if (err != EEXIST && err != ENOTEMPTY)
    throw io_error({target_.string()}, "cannot rename output into place", err);
  if (!force_) throw output_exists(target_);
  // Replace: a file over a file is one atomic rename. Anything involving a directory is moved
  // aside first, so that at every instant the target is either the old or the new output.
  std::error_code ec;
  const bool old_is_dir = fs::is_directory(fs::symlink_status(target_, ec));
  if (kind_ == Kind::file && !old_is_dir) {
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      throw io_error({target_.string()}, "cannot rename output into place", errno);
    committed_ = true;
    fsync_dir(parent);
    return;
  }
  if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_EXCHANGE) != 0)
    throw io_error({target_.string()}, "cannot replace output", errno);
  committed_ = true;
  fsync_dir(parent);
  fs::remove_all(temp_, ec);  // temp_ now names the old output
}

void PendingOutput::commit_file(File& file) {
  try {
    file.sync();
    file.close();
  } catch (const Error& e) {
    throw e.renamed(temp_.string(), target_.string());
  }
  commit();
}

void PendingOutput::commit_pair(PendingOutput& body, PendingOutput& key) {
  if (body.committed_ || key.committed_)
    throw Error(Errc::internal, key.target_.string() + ": output pair committed twice");
  const fs::path parent = key.target_.parent_path();
  DirLock lock(parent);
  // 1. No key in place from here until the new one: the old key goes aside first.
  std::error_code ec;
  fs::path aside;
  if (fs::symlink_status(key.target_, ec).type() != fs::file_type::not_found) {
    if (!key.force_) throw output_exists(key.target_);  // another writer won
    aside = sibling(key.target_, "old");
    if (::rename(key.target_.c_str(), aside.c_str()) != 0)
      throw io_error({key.target_.string()}, "cannot move the old output aside", errno);
  }
  // 2. The body, over an old body or one left without its key.
  if (::rename(body.temp_.c_str(), body.target_.c_str()) != 0) {
    const int err = errno;
    if (!aside.empty()) ::rename(aside.c_str(), key.target_.c_str());  // the old pair again
    throw io_error({body.target_.string()}, "cannot rename output into place", err);
  }
  body.committed_ = true;
  // 3. The key, last.
  if (::renameat2(AT_FDCWD, key.temp_.c_str(), AT_FDCWD, key.target_.c_str(), RENAME_NOREPLACE) !=
      0) {
    const int err = errno;
    ::unlink(body.target_.c_str());  // no body without its key
    if (!aside.empty()) ::unlink(aside.c_str());
    fsync_dir(parent);
    if (err == EEXIST) throw output_exists(key.target_);  // not a keras64 writer: no lock
    throw io_error({key.target_.string()}, "cannot rename output into place", err);
  }
  key.committed_ = true;
  fsync_dir(parent);
  if (!aside.empty() && ::unlink(aside.c_str()) == 0) fsync_dir(parent);
}

}  // namespace keras64::detail
