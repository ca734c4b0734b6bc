// How the command-line tool reports a keras64::Error: its exit status and the hint in the tool's
// own flag names (the library's messages and notes name no flags).
#include <string>

#include "cli.hpp"

namespace keras64::cli {

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

std::string note_text(const SourceInfo& s) {
  if (s.order_hint != Hint::model) return s.note;
  return s.note + " - pass --model ARCH.keras for get_weights() order";
}

std::string error_text(const Error& e) {
  std::string out = e.what();
  switch (e.hint()) {
    case Hint::force:
      out += " (use --force to replace it)";
      break;
    case Hint::model:
      out += " (pass --model ARCH.keras)";
      break;
    case Hint::none:
      break;
  }
  return out;
}

}  // namespace keras64::cli
