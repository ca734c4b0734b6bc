// keras64/error.hpp - the one error type of the public API.
//
// Every failure that keras64 reports is a keras64::Error. It carries a canonical code (what kind
// of failure, which also picks the CLI exit status and the Python exception) and a message whose
// context runs from the outside in:
//
//     model.keras:model.weights.h5:/layers/dense/vars/0: shape mismatch: (10, 5) in file, (5, 10)
//     ...
//
// Context is added at layer boundaries by catching an Error and rethrowing it with a longer prefix
// (Error::with_context), never by nested exception chains.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace keras64 {

/// Canonical failure codes (after abseil's). The numeric values are stable.
enum class Errc : int {
  io = 1,           ///< open, read, write, rename, disk full: the OS said no (see sys_errno())
  corrupt = 2,      ///< the input breaks its format (truncated zip, bad header, missing dataset)
  unsupported = 3,  ///< valid input that keras64 does not handle (quantized policy, odd dtype)
  invalid_argument = 4,  ///< bad options or arguments, an output that exists without --force
  mismatch = 5,          ///< two valid inputs disagree (shape/count/name mismatch when loading)
  interrupted = 6,       ///< the caller cancelled (Ctrl-C); outputs were removed
  internal = 7,          ///< a bug in keras64
};

/// Short lower-case name of a code ("io", "corrupt", ...), as used in --json output.
std::string_view errc_name(Errc code) noexcept;

/// Exit status the command-line tool uses for a code. Documented in the README:
/// 2 invalid_argument, 3 io, 4 corrupt, 5 unsupported, 6 mismatch, 130 interrupted, 70 internal.
/// (1 is reserved for "diff found differences".)
int exit_code(Errc code) noexcept;

class Error : public std::runtime_error {
 public:
  /// `message` is the full text (context included); `sys_errno` is the errno of an io error or 0.
  Error(Errc code, std::string message, int sys_errno = 0);

  Errc code() const noexcept { return code_; }
  int sys_errno() const noexcept { return errno_; }

  /// A copy of this error whose message is "<prefix>: <message>". Used to add the file, member or
  /// dataset a failure happened in: `catch (const Error& e) { throw e.with_context(path); }`.
  Error with_context(std::string_view prefix) const;

 private:
  Errc code_;
  int errno_;
};

/// An io Error from errno: "<what>: <strerror(err)>".
Error io_error(std::string_view what, int err);

}  // namespace keras64
