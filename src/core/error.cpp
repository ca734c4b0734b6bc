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

namespace {

// "a:b" of the non-empty parts, in order.
std::string joined(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const std::string_view p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += ':';
    out += p;
  }
  return out;
}

}  // namespace

std::string ErrorContext::str() const {
  return joined({file, member, key});
}

namespace {

// what(): the context parts joined by ':', then ": " and the message.
std::string one_line(const ErrorContext& w, const std::string& message) {
  std::string out = w.str();
  if (out.empty()) return message;
  out += ": ";
  out += message;
  return out;
}

}  // namespace

Error::Error(Errc code, std::string message, int sys_errno, Hint hint)
    : Error(code, ErrorContext{}, std::move(message), sys_errno, hint) {}

Error::Error(Errc code, ErrorContext where, std::string message, int sys_errno, Hint hint)
    : std::runtime_error(one_line(where, message)),
      code_(code),
      errno_(sys_errno),
      hint_(hint),
      where_(std::move(where)),
      message_(std::move(message)) {}

Error Error::within(const ErrorContext& outer) const {
  if (!outer.file.empty() && outer.file == where_.file) return *this;  // already located there
  ErrorContext w;
  if (outer.file.empty()) {
    w.file = where_.file;
    w.member = joined({outer.member, where_.member});
  } else {
    w.file = outer.file;
    w.member = joined({outer.member, where_.file, where_.member});
  }
  w.key = joined({outer.key, where_.key});
  return Error(code_, std::move(w), message_, errno_, hint_);
}

Error Error::renamed(std::string_view from, const ErrorContext& to) const {
  if (from.empty() || where_.file != from) return within(to);
  ErrorContext w{to.file, joined({to.member, where_.member}), joined({to.key, where_.key})};
  return Error(code_, std::move(w), message_, errno_, hint_);
}

Error io_error(ErrorContext where, std::string_view what, int err) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(Errc::io, std::move(where), std::move(msg), err);
}

}  // namespace keras64
