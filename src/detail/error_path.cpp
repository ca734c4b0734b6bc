#include "detail/error_path.hpp"

#include <string>

namespace keras64::detail {

Error replace_context(const Error& e, std::string_view from, std::string_view to) {
  std::string_view msg = e.what();
  if (!from.empty() && msg.size() > from.size() + 2 && msg.substr(0, from.size()) == from &&
      msg.substr(from.size(), 2) == ": ")
    msg.remove_prefix(from.size() + 2);
  std::string out(to);
  out += ": ";
  out += msg;
  return Error(e.code(), std::move(out), e.sys_errno());
}

}  // namespace keras64::detail
