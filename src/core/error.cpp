#include "keras64/error.hpp"

#include <cstring>

namespace keras64 {

std::string_view errc_name(Errc code) noexcept {
  switch (code) {
    case Errc::io:
      return "io";
    case Errc::corrupt:
      return "corrupt";
    case Errc::unsupported:
      return "unsupported";
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::mismatch:
      return "mismatch";
    case Errc::interrupted:
      return "interrupted";
    case Errc::internal:
      return "internal";
  }
  return "internal";
}

int exit_code(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
      return 2;
    case Errc::io:
      return 3;
    case Errc::corrupt:
      return 4;
    case Errc::unsupported:
      return 5;
    case Errc::mismatch:
      return 6;
    case Errc::interrupted:
      return 130;  // what a shell reports for SIGINT
    case Errc::internal:
      return 70;  // EX_SOFTWARE
  }
  return 70;
}

// std::runtime_error copies its message whatever we pass; the by-value parameter is the public
// signature (callers move their messages in) and is kept for when the message becomes a field.
// NOLINTBEGIN(performance-unnecessary-value-param,performance-move-const-arg)
Error::Error(Errc code, std::string message, int sys_errno)
    : std::runtime_error(std::move(message)), code_(code), errno_(sys_errno) {}
// NOLINTEND(performance-unnecessary-value-param,performance-move-const-arg)

Error Error::with_context(std::string_view prefix) const {
  if (prefix.empty()) return *this;
  std::string msg(prefix);
  msg += ": ";
  msg += what();
  return Error(code_, std::move(msg), errno_);
}

Error io_error(std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(Errc::io, std::move(msg), err);
}

}  // namespace keras64
