#include "detail/temp_file.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "keras64/error.hpp"

namespace keras64::detail {

TempFile::TempFile(const std::string& hint) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string tmpl = (dir / ("keras64-" + hint + "-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw io_error({tmpl}, "cannot create temporary file", errno);
  ::close(fd);
  path_ = tmpl;
}

TempFile::~TempFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace keras64::detail
