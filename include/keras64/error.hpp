// keras64/error.hpp - the one error type of the public API.
//
// Every failure that keras64 reports is a keras64::Error. It carries, as separate fields:
//
//   - code():    a canonical Errc (what kind of failure); front ends pick their exit status or
//                exception class from it (the CLI maps it to its documented exit codes, Python to
//                OSError / FormatError / NotImplementedError / ValueError / MismatchError / ...);
//   - where():   the context from the outside in - file() (a path as the caller gave it),
//                member() (inside an archive or an output directory), key() (tensor, dataset path
//                or checkpoint key); each may be empty;
//   - message(): what went wrong, without the context;
//   - hint():    what the caller can do about it, as a typed value. Library messages never name a
//                CLI flag or a Python parameter: each front end words the hint in its own terms
//                (the CLI: "(use --force to replace it)", Python: "(pass force=True ...)").
//
// what() is the one-line text built from them, context joined by ':' and then ": " + message:
//
//     model.keras:model.weights.h5:/layers/dense/vars/0: shape mismatch: (10, 5) in file, ...
//
// Context is added at layer boundaries by catching an Error and rethrowing a copy with an outer
// context (Error::within), never by nested exception chains and never by editing what().
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace keras64 {

/// Canonical failure codes (after abseil's). The numeric values are stable.
enum class Errc : int {
  io = 1,           ///< open, read, write, rename, disk full: the OS said no (see sys_errno())
  corrupt = 2,      ///< the input breaks its format (truncated zip, bad header, missing dataset)
  unsupported = 3,  ///< valid input that keras64 does not handle (quantized policy, odd dtype)
  invalid_argument = 4,  ///< bad options or arguments, an output that exists (Hint::force)
  mismatch = 5,          ///< two valid inputs disagree (shape/count/name mismatch when loading)
  interrupted = 6,       ///< the caller cancelled (Ctrl-C); outputs were removed
  internal = 7,          ///< a bug in keras64
};

/// Short lower-case name of a code ("io", "corrupt", ...), as used in --json output.
std::string_view errc_name(Errc code) noexcept;

/// What the caller can change to get past a failure. Front ends word it with their own option
/// names; Hint::none when there is nothing specific to suggest.
enum class Hint : int {
  none = 0,
  force = 1,  ///< the output exists: ask for it to be replaced (SinkOptions::force)
  model = 2,  ///< give the model's architecture file (OpenOptions::model)
};

/// Where a failure happened, from the outside in. Empty strings are absent parts. A bare path
/// converts to a context that names just that file.
struct ErrorContext {
  ErrorContext() = default;
  // NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions): a path is a context
  ErrorContext(std::string file_, std::string member_ = {}, std::string key_ = {})
      : file(std::move(file_)), member(std::move(member_)), key(std::move(key_)) {}
  // NOLINTNEXTLINE(google-explicit-constructor,hicpp-explicit-conversions)
  ErrorContext(const char* file_) : file(file_) {}

  std::string file;    ///< a path as the caller gave it (input or output)
  std::string member;  ///< inside the file: archive member, nested members joined by ':'
  std::string key;     ///< tensor name, HDF5 dataset path ("/layers/.../vars/0"), checkpoint key

  /// "file:member:key" without the empty parts.
  std::string str() const;
};

class Error : public std::runtime_error {
 public:
  /// An error without context yet; `message` says what went wrong, `sys_errno` is the errno of
  /// an io error or 0.
  Error(Errc code, std::string message, int sys_errno = 0, Hint hint = Hint::none);
  /// An error at `where`.
  Error(Errc code, ErrorContext where, std::string message, int sys_errno = 0,
        Hint hint = Hint::none);

  Errc code() const noexcept { return code_; }
  int sys_errno() const noexcept { return errno_; }
  Hint hint() const noexcept { return hint_; }
  const std::string& message() const noexcept { return message_; }
  const ErrorContext& where() const noexcept { return where_; }
  const std::string& file() const noexcept { return where_.file; }
  const std::string& member() const noexcept { return where_.member; }
  const std::string& key() const noexcept { return where_.key; }

  /// A copy of this error that happened inside `outer`: its parts go before this error's. When
  /// both name a file, this error's file (and member) become members of the outer file; keys are
  /// joined outer first. An error that already names outer's file is returned as it is.
  /// `catch (const Error& e) { throw e.within({path}); }`
  Error within(const ErrorContext& outer) const;

  /// A copy whose file is `to` when it is `from` (the member and key are kept, and `to`'s member
  /// goes before them); otherwise within(to). Outputs are written under temporary names that
  /// users never see: sinks rename them to the path the user gave.
  Error renamed(std::string_view from, const ErrorContext& to) const;

 private:
  Errc code_;
  int errno_;
  Hint hint_;
  ErrorContext where_;
  std::string message_;
};

/// An io Error at `file` from errno: message "<what>: <strerror(err)>".
Error io_error(ErrorContext where, std::string_view what, int err);

}  // namespace keras64
